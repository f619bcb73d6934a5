import type { CrmFieldName } from '../../domain/crm-field-names.js';
import type { CrmCandidate, FieldOwner } from '../../domain/identity.js';
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
  /**
   * Writes Stripe fields on a record by its id, leaving its Stripe id and shared fields alone: how a
   * roll-up record (several Stripe customers, see activities/rollup.ts) is written. A record that no
   * longer exists is a CrmNotFoundError.
   */
  updateAccountFields(recordId: string, fields: CrmFields): Promise<void>;
  /** The customer's contact, upserted by email (HubSpot's unique key) and carrying the Stripe id. */
  upsertContact(input: ContactInput): Promise<UpsertResult>;
  /**
   * One deal / Opportunity per subscription — or one record of the configured custom object
   * (CRM_SUBSCRIPTION_OBJECT) — upserted by the subscription id. Returns subscription id → record id.
   */
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
  /** Batch writes for the historical backfill; a provider without them cannot run backfills. */
  readonly backfill?: CrmBackfillWriter;
}

export type CrmProvider = 'hubspot' | 'salesforce';

/**
 * Waits for permission to send one request to the CRM. Adapters call it before every request, so a
 * shared budget (workers/services.ts) keeps all workers together within the CRM's rate limit
 * however many requests one activity makes.
 */
export interface RequestGate {
  acquire(): Promise<void>;
}

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
  /**
   * The email we last wrote to this contact. The email is a shared field: on a known contact it is
   * changed only while the CRM still shows this value (or nothing), so a person's edit survives.
   */
  previousEmail?: string | null;
  /** Who decides the email of a known contact (FIELD_OWNERSHIP; default shared). */
  emailOwner?: FieldOwner;
}

export type DealStage = 'open' | 'won' | 'lost';

export interface DealInput {
  subscriptionId: string;
  name: string;
  /** Annualised? No: the subscription's MRR in major units, for the deal amount. */
  amount: number;
  currency: string | null;
  stage: DealStage;
  /** YYYY-MM-DD: the subscription's start (a custom subscription object's start date). */
  closeDate: string;
  status: string;
  /** Planned for a custom subscription object only (domain/crm-plan.ts); YYYY-MM-DD, null when none. */
  nextRenewalDate?: string | null;
  trialEndDate?: string | null;
  endDate?: string | null;
  recordId?: string | null;
  /**
   * Stripe's stage at our last write of this deal, when it exists as far as we know: with DealsInput.stageOwner
   * it decides whether the stage is written (domain/identity.ts decideDealStage). Absent: the stage is
   * written. A custom subscription object's stage is a Stripe field and always written.
   */
  lastStage?: DealStage;
}

export interface DealsInput {
  customerId: string;
  accountId: string | null;
  contactId: string | null;
  deals: DealInput[];
  /** Who decides the stage of an existing deal (FIELD_OWNERSHIP `deal_stage`; default shared, see decideDealStage). */
  stageOwner?: FieldOwner;
  /** Told of every deal whose CRM stage disagreed with Stripe's (see DealInput.lastStage), whoever won. */
  onStageConflict?: (conflict: StageConflict) => void;
}

export interface StageConflict {
  subscriptionId: string;
  recordId: string;
  /** In the CRM's terms: stage ids (HubSpot), StageName (Salesforce). */
  stripeValue: string;
  crmValue: string | null;
  winner: 'stripe' | 'crm';
  rule: string;
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
  /** The contact's email disagreed with Stripe's (see ContactInput.previousEmail): what the CRM had and who won. */
  emailConflict?: { crmValue: string; winner: 'stripe' | 'crm'; rule: string };
}

/**
 * One record of a batch write, by its Stripe key (customer id, subscription id, timeline entry key):
 * its CRM id and whether this write created it, or why the CRM refused it.
 */
export type BatchWriteResult =
  | { key: string; ok: true; id: string; created: boolean }
  | { key: string; ok: false; reason: string };

/** A Bulk API 2.0 job: `jobId` collects the results of a job an earlier attempt submitted instead of submitting another. */
export interface BulkResume {
  jobId?: string;
  /** Told the job id as soon as the job is submitted, so the caller can heartbeat it. */
  onJobCreated?(jobId: string): void;
}

/** What the backfill knows of a contacts batch beforehand (its identity index): lets a writer skip a request that would fail. */
export interface ContactBatchHints {
  /** Emails (trimmed, lower-cased) the CRM is known to hold already. */
  existingEmails?: ReadonlySet<string>;
}

/** A deal of the backfill: the subscription's deal and the records it hangs from. */
export interface BackfillDealInput extends DealInput {
  customerId: string;
  accountId: string | null;
  contactId: string | null;
}

/** A timeline activity of the backfill and the records whose timelines show it. */
export interface BackfillActivityInput {
  customerId: string;
  accountId: string | null;
  contactId: string | null;
  entry: TimelineEntry;
}

/**
 * Batch writes for the backfill, by the same keys as the single-record methods (so the two paths
 * share records): each call is one batch request in the common case (HubSpot: 100 inputs; Salesforce:
 * a collection of 200, plus a lookup where Salesforce cannot key by the Stripe id alone). A record the CRM
 * refuses is reported in its result, never dropped; a rate limit or a transient failure throws for the
 * whole call (the keys make the retry safe). With `bulk` (Salesforce, large runs) the call is one
 * Bulk API 2.0 job.
 */
export interface CrmBackfillWriter {
  /** Records per request (HubSpot 100, Salesforce 200). */
  readonly batchLimit: number;
  /** Notes and tasks are different objects (HubSpot): written in separate requests. */
  readonly separateTaskObjects: boolean;
  /** Bulk API 2.0 jobs for large runs (Salesforce). */
  readonly supportsBulk: boolean;
  /** Reads `hints.existingEmails` (HubSpot: a contacts batch holding a known email skips a create bound to fail); Salesforce looks contacts up itself. */
  readonly usesExistingEmails: boolean;
  /** Companies / Accounts by `stripe_customer_id`; keys are customer ids. */
  upsertAccounts(inputs: AccountInput[], bulk?: BulkResume): Promise<BatchWriteResult[]>;
  /** Contacts as the real-time path keys them (HubSpot: email; Salesforce: the customer id, adopting an unlinked contact with the email); keys are customer ids. */
  upsertContacts(inputs: ContactInput[], bulk?: BulkResume, hints?: ContactBatchHints): Promise<BatchWriteResult[]>;
  /** Deals / Opportunities by subscription id, associated with the account (B2B) or contact (B2C); keys are subscription ids. */
  upsertDeals(inputs: BackfillDealInput[], bulk?: BulkResume): Promise<BatchWriteResult[]>;
  /** Timeline activities guarded by their key: one that exists is left as it is (`created: false`); keys are entry keys. */
  writeActivities(inputs: BackfillActivityInput[], bulk?: BulkResume): Promise<BatchWriteResult[]>;
  /** Dry run and lookups of records a page attaches to: customer id → record id, one request per batch. */
  findAccounts(customerIds: string[]): Promise<Record<string, string>>;
  /** Customer id → contact id: by email where given (what an upsert would match), else by the customer id. */
  findContacts(inputs: Array<{ customerId: string; email: string | null }>): Promise<Record<string, string>>;
  findDeals(subscriptionIds: string[]): Promise<Record<string, string>>;
  findActivities(keys: string[]): Promise<Record<string, string>>;
  /**
   * Identity index of a B2B backfill: one page of every company/Account (HubSpot 100 per request,
   * Salesforce up to 2,000), with the list APIs rather than search (search is limited to 5 requests/s on
   * HubSpot and stops at 10,000 results). `cursor` is null for the first page, then the previous `next`.
   */
  listAccountsForIdentity(cursor: string | null): Promise<IdentityIndexPage<IdentityIndexAccount>>;
  /** Identity index: one page of every contact, with its email and the companies/Accounts it belongs to. */
  listContactsForIdentity(cursor: string | null): Promise<IdentityIndexPage<IdentityIndexContact>>;
  /**
   * Records the matcher linked a customer to (by email or domain, or carrying its Stripe id already):
   * writes the Stripe fields on each by its id and stamps the customer id on it, so upserts by the id
   * land there from now on. `name` and `domain` are written only when given (the caller gives them when
   * the record has none). Keys are customer ids; a record that no longer exists fails with its reason.
   */
  updateAccounts(inputs: AccountUpdateInput[]): Promise<BatchWriteResult[]>;
}

export interface IdentityIndexPage<T> {
  rows: T[];
  /** Null after the last page. */
  next: string | null;
}

export interface IdentityIndexAccount {
  recordId: string;
  name: string | null;
  /** As stored in the CRM (domain, or Website). */
  domain: string | null;
  stripeCustomerId: string | null;
}

export interface IdentityIndexContact {
  contactId: string;
  email: string;
  accountIds: string[];
}

export interface AccountUpdateInput {
  customerId: string;
  recordId: string;
  /** Shared fields: given only for a record that has none (the CRM owns them). */
  name: string | null;
  domain: string | null;
  fields: CrmFields;
}

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
