import type { ColumnType, Generated, Selectable } from 'kysely';

/** Same conventions as db/database.ts: timestamps as Date, jsonb written as a JSON string. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export type ReconciliationKind = 'incremental' | 'full' | 'duplicates';
export type ReconciliationMode = 'report' | 'repair';
export type ReconciliationStatus = 'running' | 'completed' | 'failed';
/**
 * drift: a linked record's Stripe fields differ; missing-record: linked, but the CRM record is gone;
 * unlinked: a Stripe customer with no CRM record; orphan: a CRM record naming a Stripe customer that
 * does not exist; duplicate-*: CRM records to merge.
 */
export type DiscrepancyKind = 'drift' | 'missing-record' | 'unlinked' | 'orphan' | 'duplicate-stripe-id' | 'duplicate-email' | 'duplicate-domain';
/**
 * open: found (report mode, or not repaired yet); repair-requested: a resync went to the customer
 * workflow; repair-failed: that request failed; needs-review: in the review queue (`details.reviewId`);
 * ignored: a person already dismissed this finding in the review queue, so it was not queued again.
 */
export type DiscrepancyStatus = 'open' | 'repair-requested' | 'repair-failed' | 'needs-review' | 'ignored';

export interface ReconciliationRunTable {
  id: Generated<string>;
  accountId: string;
  kind: ReconciliationKind;
  mode: ReconciliationMode;
  status: Generated<ReconciliationStatus>;
  workflowId: string;
  /** Incremental runs: customers with Stripe events since then. */
  since: Timestamp | null;
  summary: ColumnType<unknown, string | undefined, string>;
  error: string | null;
  startedAt: Generated<Date>;
  finishedAt: Timestamp | null;
}

export interface ReconciliationDiscrepancyTable {
  id: Generated<string>;
  runId: string;
  kind: DiscrepancyKind;
  customerId: string | null;
  crmRecordId: string | null;
  fields: Json<unknown>;
  details: Json<unknown>;
  status: DiscrepancyStatus;
  createdAt: Generated<Date>;
  updatedAt: Generated<Date>;
}

/** Staging rows of a run in progress (deleted when it ends). */
export interface ReconciliationStripeCustomerTable {
  runId: string;
  customerId: string;
  snapshot: Json<unknown>;
}
export interface ReconciliationStripeSubscriptionTable {
  runId: string;
  subscriptionId: string;
  customerId: string;
  snapshot: Json<unknown>;
}
export interface ReconciliationCrmRecordTable {
  runId: string;
  recordId: string;
  customerId: string | null;
  email: string | null;
  domain: string | null;
  properties: Json<Record<string, string | null>>;
}
/** A charge or refund of the account-wide lists, as a payment snapshot. */
export interface ReconciliationStripePaymentTable {
  runId: string;
  paymentId: string;
  customerId: string;
  snapshot: Json<unknown>;
}
export interface ReconciliationCandidateTable {
  runId: string;
  customerId: string;
}

export interface ReconciliationTables {
  reconciliationRuns: ReconciliationRunTable;
  reconciliationDiscrepancies: ReconciliationDiscrepancyTable;
  reconciliationStripeCustomers: ReconciliationStripeCustomerTable;
  reconciliationStripeSubscriptions: ReconciliationStripeSubscriptionTable;
  reconciliationStripePayments: ReconciliationStripePaymentTable;
  reconciliationCrmRecords: ReconciliationCrmRecordTable;
  reconciliationCandidates: ReconciliationCandidateTable;
}

export type ReconciliationRun = Selectable<ReconciliationRunTable>;
export type ReconciliationDiscrepancy = Selectable<ReconciliationDiscrepancyTable>;
