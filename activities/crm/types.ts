import type { CrmFieldName } from '../../domain/crm-field-names.js';
import type { CrmFieldValue } from '../../domain/crm-fields.js';
import type { TimelineEntry } from '../../domain/customer-events.js';

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
