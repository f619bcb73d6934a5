import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { IdentityTables } from './identity-tables.js';
import type { BackfillBatchTable, BackfillIdentityAccountTable, BackfillIdentityContactTable, BackfillRecordTable, BackfillRunTable, RateBudgetTable } from './backfill-tables.js';
import type { ReconciliationTables } from './reconciliation-tables.js';

/** Timestamps are written as Date and read back as Date (pg and PGlite both parse timestamptz). */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** jsonb columns are read as parsed JSON and written as a JSON string, which both drivers accept. */
type Json<T> = ColumnType<T, string, string>;

/** Every Stripe event the API received, for audit and delivery metrics. */
export interface StripeEventTable {
  eventId: string;
  type: string;
  /** Stripe's `event.created` */
  createdAt: Timestamp;
  accountId: string;
  customerId: string | null;
  livemode: boolean;
  /** first time we saw it */
  receivedAt: Timestamp;
  /** when the customer workflow applied it; null until then */
  processedAt: Timestamp | null;
  deliveries: Generated<number>;
  /** 'routed' | 'ignored-livemode' | 'unhandled-type' | 'catalog' */
  disposition: string;
  workflowId: string | null;
}

export interface CrmLinkTable {
  accountId: string;
  customerId: string;
  provider: string;
  companyId: string | null;
  contactId: string | null;
  /** subscription id → deal / Opportunity id */
  dealIds: Json<Record<string, string>>;
  /** which identity step made the link, e.g. 'external-id' */
  matchMethod: string;
  productIds: ColumnType<string[], string[] | undefined, string[]>;
  stripeStateAt: Timestamp | null;
  lastSyncedAt: Timestamp | null;
  /** The customer's latest account fields (roll-up records combine those of every linked customer). */
  accountFields: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  /** Backfill writes to this customer's records so far (customer workflows compare it; see sync-records). */
  backfillSeq: Generated<number>;
  createdAt: Generated<Date>;
  updatedAt: Generated<Date>;
}

export interface DeadLetterTable {
  id: Generated<string>;
  accountId: string;
  customerId: string | null;
  workflowId: string;
  /** what failed, e.g. 'crm-sync' */
  operation: string;
  /** the failure category (ApplicationFailure type), e.g. 'CrmValidationError' */
  errorType: string;
  reason: string;
  payload: Json<unknown>;
  eventIds: ColumnType<string[], string[] | undefined, string[]>;
  /** 'open' | 'retrying' | 'resolved' */
  status: Generated<string>;
  retryCount: Generated<number>;
  createdAt: Generated<Date>;
  updatedAt: Generated<Date>;
}

export interface StripeChargeOwnerTable {
  accountId: string;
  chargeId: string;
  customerId: string;
}

export interface StripeProductTable {
  accountId: string;
  productId: string;
  name: string;
  active: boolean;
  stateAt: Timestamp;
}

export interface Database extends ReconciliationTables, IdentityTables {
  stripeEvents: StripeEventTable;
  crmLinks: CrmLinkTable;
  deadLetters: DeadLetterTable;
  stripeChargeOwners: StripeChargeOwnerTable;
  stripeProducts: StripeProductTable;
  backfillRuns: BackfillRunTable;
  backfillRecords: BackfillRecordTable;
  backfillBatches: BackfillBatchTable;
  backfillIdentityAccounts: BackfillIdentityAccountTable;
  backfillIdentityContacts: BackfillIdentityContactTable;
  rateBudgets: RateBudgetTable;
}

export type StripeEvent = Selectable<StripeEventTable>;
export type NewStripeEvent = Insertable<StripeEventTable>;
export type CrmLink = Selectable<CrmLinkTable>;
export type DeadLetter = Selectable<DeadLetterTable>;
export type { Json };
