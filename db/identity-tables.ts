import type { ColumnType, Generated, Selectable } from 'kysely';

type Json<T> = ColumnType<T, string, string>;

export interface IdentityReviewTable {
  id: Generated<string>;
  accountId: string;
  /** The Stripe customer the review is about; null for a duplicate group of several customers. */
  customerId: string | null;
  provider: string;
  /**
   * 'match' (which record is this customer; from the customer's workflow), or a reconciliation
   * finding: 'unlinked' (a Stripe customer with no CRM record), 'orphan' (a CRM record naming a
   * Stripe customer that does not exist), 'duplicate-merge' (CRM records to merge).
   */
  kind: string;
  /**
   * match: the matcher's reason (duplicate-records, several-email-matches, ambiguous-name, no-candidate);
   * reconciliation: no-crm-record, stripe-customer-missing, duplicate-stripe-id, duplicate-email, duplicate-domain.
   */
  reason: string;
  /** 'identity' (the customer workflow's matcher), 'backfill' (the same matcher, in a backfill) or 'reconciliation'. */
  source: Generated<string>;
  /** What a reconciliation finding is about (customer id or duplicate group), so a later run does not queue it twice. */
  subject: string | null;
  /** what the matcher saw of the customer: id, email, name (null for a duplicate group) */
  customer: Json<{ id: string; email: string | null; name: string | null } | null>;
  candidates: Json<Array<{ recordId: string; method: string; score: number; name?: string | null; domain?: string | null; customerId?: string | null }>>;
  /** Reconciliation: the run and discrepancy that queued it, the duplicate key. */
  details: ColumnType<unknown, string | undefined, string>;
  /** 'open' | 'resolved' */
  status: Generated<string>;
  /** { action: 'link', recordId } | { action: 'create' } | { action: 'ignore' } | ... (see api/routes/reviews.ts) */
  resolution: Json<unknown> | null;
  createdAt: Generated<Date>;
  resolvedAt: ColumnType<Date | null, Date | string | null, Date | string | null>;
}

export interface FieldConflictTable {
  id: Generated<string>;
  accountId: string;
  customerId: string;
  provider: string;
  recordId: string;
  field: string;
  stripeValue: string | null;
  crmValue: string | null;
  /** 'stripe' | 'crm' */
  winner: string;
  rule: string;
  createdAt: Generated<Date>;
}

export interface LinkAuditTable {
  id: Generated<string>;
  accountId: string;
  customerId: string;
  provider: string;
  fromRecordId: string | null;
  toRecordId: string | null;
  /** 'link' | 'relink' | 'unlink' */
  reason: string;
  createdAt: Generated<Date>;
}

export interface IdentityTables {
  identityReviews: IdentityReviewTable;
  linkAudit: LinkAuditTable;
  fieldConflicts: FieldConflictTable;
}

export type IdentityReview = Selectable<IdentityReviewTable>;
