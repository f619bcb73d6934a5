import type { ColumnType, Generated, Selectable } from 'kysely';

/** Same conventions as db/database.ts: timestamps as Date, jsonb written as a JSON string. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export type BackfillStatus = 'running' | 'paused' | 'completed' | 'canceled' | 'failed';
export type BackfillOutcome = 'created' | 'matched' | 'updated' | 'skipped' | 'failed';

export interface BackfillRunTable {
  id: string;
  accountId: string;
  provider: string;
  workflowId: string;
  status: BackfillStatus;
  dryRun: boolean;
  filters: Json<unknown>;
  summary: Json<unknown> | null;
  createdAt: Generated<Date>;
  updatedAt: Generated<Date>;
  finishedAt: Timestamp | null;
}

export interface BackfillRecordTable {
  runId: string;
  /**
   * What was written: 'customer' (the company/Account, or the contact in B2C), 'contact' (B2B), 'subscription'
   * (deal/Opportunity), or a timeline activity's source: 'invoice', 'charge', 'refund', 'dispute'.
   */
  objectType: string;
  /** The Stripe id; for a timeline activity its key (`invoice_paid:in_1`), as one invoice may give several. */
  stripeId: string;
  customerId: string;
  outcome: BackfillOutcome;
  reason: string | null;
  crmRecordId: string | null;
  attempts: Generated<number>;
  updatedAt: Generated<Date>;
}

/** A page read from Stripe, waiting for its CRM writes (see the 2026-11-27T1600 migration). */
export interface BackfillBatchTable {
  id: string;
  runId: string;
  stream: string;
  records: Json<unknown>;
  results: ColumnType<Record<string, Record<string, string>>, string | undefined, string>;
  createdAt: Generated<Date>;
}

/**
 * A backfill run's identity index (see the 2026-11-27T1620 migration): the CRM's companies/Accounts as
 * they were when the run started, keyed for the matcher's three lookups (Stripe id, domain, and the
 * contacts' emails below).
 */
export interface BackfillIdentityAccountTable {
  runId: string;
  recordId: string;
  name: string | null;
  /** Normalised (domain/identity.ts normalizeDomain); null when the record has none. */
  domain: string | null;
  /** The Stripe customer id the record carried when it was read. */
  stripeCustomerId: string | null;
  /** The customer this run linked the record to: no other customer of the run may take it. */
  claimedBy: string | null;
}

/** A contact's email (trimmed, lower-cased) and one company/Account it belongs to. */
export interface BackfillIdentityContactTable {
  runId: string;
  contactId: string;
  accountId: string;
  email: string;
}

/** A token bucket shared by every worker (Stripe reads). */
export interface RateBudgetTable {
  name: string;
  tokens: number;
  updatedAt: Timestamp;
}

export type BackfillRun = Selectable<BackfillRunTable>;
export type BackfillRecord = Selectable<BackfillRecordTable>;
