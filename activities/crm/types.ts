import type { CrmFieldName } from '../../domain/crm-field-names.js';
import type { CrmCandidate } from '../../domain/identity.js';
import type { CrmFieldValue } from '../../domain/crm-fields.js';
import type { TimelineEntry } from '../../domain/customer-events.js';
import type { ScanInput, ScanPage } from './scan.js';

/**
 * The one interface every CRM provider implements; each provider is a folder beside this file
 * holding its adapter and nothing else. Methods are idempotent (upserts by the Stripe ids, timeline
 * entries by their key) and each makes as few requests as it can — ideally one — because the CRM
 * task queue's rate limit counts activities, and each call runs as its own activity.
 */
export interface CrmAdapter {
  readonly provider: CrmProvider;
  /** B2B: the company (HubSpot) or Account (Salesforce) for a Stripe customer, upserted by `stripe_customer_id`. */
  upsertAccount(input: AccountInput): Promise<UpsertResult>;
  /** The customer's contact, upserted by email (HubSpot's unique key) and carrying the Stripe id. */
  upsertContact(input: ContactInput): Promise<UpsertResult>;
  /** One deal / Opportunity per subscription, upserted by the subscription id. Returns subscription id → record id. */
  upsertDeals(input: DealsInput): Promise<Record<string, string>>;
  /** Writes timeline activities (notes or tasks); entries whose key exists are not written again. Returns the keys now present. */
  writeTimeline(input: TimelineInput): Promise<{ keys: string[] }>;
  /** Creates or verifies the custom properties/fields; idempotent. */
  provision(): Promise<ProvisionReport>;
  /** Reads back a company/Account's Stripe fields (reconciliation and tests). */
  readAccount(customerId: string): Promise<CrmRecord | null>;
  /**
   * Identity: companies/Accounts that may be this customer — carrying its Stripe id, at its email
   * (through contacts) or at its company domain. A few requests, made once per customer.
   */
  findAccountCandidates(input: { customerId: string; email: string | null; domain: string | null }): Promise<CrmCandidate[]>;
  /**
   * Identity: stamps the Stripe id on an existing record, so upserts by it reach that record from now
   * on; `customerId: null` releases a record (unlinking), clearing the id it carried.
   */
  claimAccount(input: { recordId: string; customerId: string | null }): Promise<void>;
  /** Reconciliation: one page of every record carrying a Stripe customer id (one request per page). */
  scanAccounts?(input: ScanInput): Promise<ScanPage>;
  /**
   * Backfill: upserts one batch of accounts (HubSpot: up to 100 in one batch upsert; Salesforce: up to
   * 200 in one sObject Collections call plus one query). A record the CRM refuses is reported in its
   * result, never dropped; a rate limit or transient failure throws for the whole batch (upserts make
   * the retry safe). Optional: a provider without it cannot run backfills.
   */
  upsertAccountsBatch?(inputs: AccountInput[]): Promise<BatchUpsertResult[]>;
  /** Backfill dry run: record ids of the accounts already carrying these customer ids, in one request. */
  findAccountsBatch?(customerIds: string[]): Promise<Record<string, string>>;
  /**
   * Backfill of a large run: one bulk job (Salesforce Bulk API 2.0) for many accounts. `resume.jobId`
   * collects the results of a job an earlier attempt submitted instead of submitting another;
   * `resume.onJobCreated` is told the id as soon as the job exists, so the caller can heartbeat it.
   */
  upsertAccountsBulk?(inputs: AccountInput[], resume?: { jobId?: string; onJobCreated?(jobId: string): void }): Promise<BatchUpsertResult[]>;
}

export type CrmProvider = 'hubspot' | 'salesforce';

/** Field values keyed by logical name; the adapter maps them to its property names (overridable). */
export type CrmFields = Partial<Record<CrmFieldName, CrmFieldValue>>;

export interface AccountInput {
  customerId: string;
  /** Shared fields: written only when empty in the CRM or still what we last wrote (ownership rules). */
  name: string | null;
  domain: string | null;
  fields: CrmFields;
  /** When known, the record to update directly (saves a lookup). */
  recordId?: string | null;
}

export interface ContactInput {
  customerId: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  /** B2C mode writes the Stripe fields on the contact; B2B leaves them on the company. */
  fields: CrmFields;
  /** Associate with this company / Account when given. */
  accountId: string | null;
  recordId?: string | null;
}

export type DealStage = 'open' | 'won' | 'lost';

export interface DealInput {
  subscriptionId: string;
  name: string;
  /** Annualised? No: the subscription's MRR in major units, for the deal amount. */
  amount: number;
  currency: string | null;
  stage: DealStage;
  /** YYYY-MM-DD */
  closeDate: string;
  status: string;
  recordId?: string | null;
}

export interface DealsInput {
  customerId: string;
  accountId: string | null;
  contactId: string | null;
  deals: DealInput[];
}

export interface TimelineInput {
  customerId: string;
  accountId: string | null;
  contactId: string | null;
  entries: TimelineEntry[];
}

export interface UpsertResult {
  id: string;
  created: boolean;
}

/** One record of a batch upsert: its id and whether it was created, or why the CRM refused it. */
export type BatchUpsertResult =
  | { customerId: string; ok: true; id: string; created: boolean }
  | { customerId: string; ok: false; reason: string };

export interface CrmRecord {
  id: string;
  properties: Record<string, string | null>;
}

export interface ProvisionReport {
  created: string[];
  existing: string[];
  /** Salesforce cannot create fields through its data API: what an admin must add. */
  missing: string[];
}

/** The CRM refused the request as invalid: retrying will not help. */
export class CrmValidationError extends Error {
  override name = 'CrmValidationError';
  constructor(message: string, readonly details?: unknown) {
    super(message);
  }
}

/** The CRM asked us to slow down; `retryAfterMs` is what it said (or a safe default). */
export class CrmRateLimitError extends Error {
  override name = 'CrmRateLimitError';
  constructor(message: string, readonly retryAfterMs: number) {
    super(message);
  }
}

/** A record we expected to exist does not (deleted or merged in the CRM). */
export class CrmNotFoundError extends Error {
  override name = 'CrmNotFoundError';
}
