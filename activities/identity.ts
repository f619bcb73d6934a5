import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { MatchDecision, ReviewCandidate } from '../domain/identity.js';

export interface IdentityReviewInput {
  accountId: string;
  customerId: string;
  provider: string;
  reason: Extract<MatchDecision, { kind: 'review' }>['reason'];
  customer: { id: string; email: string | null; name: string | null };
  /** Scored candidates, with what an operator needs to choose between them. */
  candidates: ReviewCandidate[];
  /** Who asked: the customer's workflow (default) or a backfill, whose customer has no workflow waiting. */
  source?: 'identity' | 'backfill';
}

/** The review queue's writes, as local activities of the customer workflow. */
export function createIdentityActivities(deps: { db: Kysely<Database> }) {
  return {
    /** Opens a review, or returns the one already open for this customer (a retried workflow task asks twice). */
    async recordIdentityReview(input: IdentityReviewInput): Promise<{ id: string }> {
      const open = await deps.db.selectFrom('identityReviews').select('id')
        .where('accountId', '=', input.accountId).where('customerId', '=', input.customerId).where('kind', '=', 'match').where('status', '=', 'open')
        .executeTakeFirst();
      if (open) return { id: String(open.id) };
      const row = await deps.db.insertInto('identityReviews').values({
        accountId: input.accountId,
        customerId: input.customerId,
        provider: input.provider,
        kind: 'match',
        reason: input.reason,
        customer: JSON.stringify(input.customer),
        candidates: JSON.stringify(input.candidates),
        resolution: null,
        resolvedAt: null,
        ...(input.source ? { source: input.source } : {}),
      }).returning('id').executeTakeFirstOrThrow();
      return { id: String(row.id) };
    },

    async recordLinkChange(input: { accountId: string; customerId: string; provider: string; fromRecordId: string | null; toRecordId: string | null; reason: string }): Promise<void> {
      await deps.db.insertInto('linkAudit').values(input).execute();
    },

    /** Logs disagreements over fields both sides may edit; a conflict's own `recordId` (a deal's) overrides the input's. */
    async recordFieldConflicts(input: {
      accountId: string; customerId: string; provider: string; recordId?: string;
      conflicts: Array<{ field: string; stripeValue: string | null; crmValue: string | null; winner: string; rule: string; recordId?: string }>;
    }): Promise<void> {
      if (input.conflicts.length === 0) return;
      await deps.db.insertInto('fieldConflicts').values(input.conflicts.map((c) => {
        const recordId = c.recordId ?? input.recordId;
        if (recordId === undefined) throw new TypeError(`field conflict on ${c.field} names no CRM record`);
        return { accountId: input.accountId, customerId: input.customerId, provider: input.provider, ...c, recordId };
      })).execute();
    },
  };
}


