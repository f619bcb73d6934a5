import type { ColumnType, Generated, Selectable } from 'kysely';

type Json<T> = ColumnType<T, string, string>;

export interface IdentityReviewTable {
  id: Generated<string>;
  accountId: string;
  customerId: string;
  provider: string;
  /** 'match' (which record is this customer) */
  kind: string;
  /** the matcher's reason: duplicate-records, several-email-matches, ambiguous-name, no-candidate */
  reason: string;
  /** what the matcher saw of the customer: id, email, name */
  customer: Json<{ id: string; email: string | null; name: string | null }>;
  candidates: Json<Array<{ recordId: string; method: string; score: number; name?: string | null; domain?: string | null }>>;
  /** 'open' | 'resolved' */
  status: Generated<string>;
  /** { action: 'link', recordId } | { action: 'create' } | { action: 'ignore' } */
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
