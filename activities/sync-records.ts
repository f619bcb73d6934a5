import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { CrmLinks, SyncSettings } from '../domain/crm-plan.js';
import { rollupMembersOf } from './rollup.js';

export interface RecordSyncResultInput {
  accountId: string;
  customerId: string;
  links: CrmLinks;
  /** Newest Stripe state written (seconds). */
  stripeStateAt: number;
  eventIds: string[];
  oldestReceivedAtMs: number | null;
  productIds: string[];
  /** Dead letters this successful write supersedes. */
  resolvedDeadLetterIds: string[];
  /**
   * How the CRM record was found: external-id, email, domain-name, review, created, unlinked. Null: this
   * workflow matched nothing itself (it started from a stored link, e.g. a backfill's): the stored method stays.
   */
  matchMethod: string | null;
  /**
   * crm_links.backfill_seq as this workflow last saw it (from getSyncSettings before its first write, then
   * from each record). Absent: not compared (histories from before the check).
   */
  knownBackfillSeq?: number;
  /** The account fields written this round (kept for roll-up records, see activities/rollup.ts). */
  accountFields?: Record<string, unknown> | null;
}

export interface RecordSyncResultOutput {
  productNames: Record<string, string>;
  /** Backfill writes to this customer so far. */
  backfillSeq: number;
  /**
   * A backfill wrote this customer's records since `knownBackfillSeq`. Its write may have landed after this
   * round's (a backfill write of older Stripe state than the workflow's), so the CRM may not hold what the
   * workflow last wrote: it must write its whole state again.
   */
  rewrite: boolean;
  /** Another customer is linked to the same CRM record: it is a roll-up record (see activities/rollup.ts). */
  sharedRecord: boolean;
}

export interface DeadLetterInput {
  accountId: string;
  customerId: string;
  workflowId: string;
  operation: string;
  errorType: string;
  reason: string;
  payload: unknown;
  eventIds: string[];
}

/** Bookkeeping in Postgres, run as local activities so a sync round adds one marker to history, not a task. */
export function createSyncRecordActivities(deps: { db: Kysely<Database>; provider: string; settings: SyncSettings; crmTaskQueue: string }) {
  return {
    /**
     * Read once per workflow run, so configuration changes reach running workflows at their next
     * continue-as-new. With a customer, also the backfill writes it has had so far (read before the
     * workflow's first write, so any backfill write after it is seen when the round is recorded).
     */
    async getSyncSettings(customer?: { accountId: string; customerId: string }): Promise<SyncSettings & { provider: string; crmTaskQueue: string; backfillSeq: number }> {
      const link = customer
        ? await deps.db.selectFrom('crmLinks').select('backfillSeq').where('accountId', '=', customer.accountId).where('customerId', '=', customer.customerId).executeTakeFirst()
        : undefined;
      return { ...deps.settings, provider: deps.provider, crmTaskQueue: deps.crmTaskQueue, backfillSeq: link?.backfillSeq ?? 0 };
    },

    recordSyncResult: (input: RecordSyncResultInput) => recordSyncResult(deps, input),

    async recordDeadLetter(input: DeadLetterInput): Promise<{ id: string }> {
      const row = await deps.db.insertInto('deadLetters').values({
        accountId: input.accountId,
        customerId: input.customerId,
        workflowId: input.workflowId,
        operation: input.operation,
        errorType: input.errorType,
        reason: input.reason,
        payload: JSON.stringify(input.payload),
        eventIds: input.eventIds,
      }).returning('id').executeTakeFirstOrThrow();
      return { id: String(row.id) };
    },
  };
}

/**
 * Records the round and returns the catalog's current names of the customer's products. A rename
 * that lands before this customer's products are recorded misses the catalog fan-out; reading the
 * names back in the statement that records the products narrows that gap to a rename committed while
 * this statement runs (it reads the snapshot it started with), which the next round or the
 * reconciliation's plan_name comparison repairs.
 *
 * One statement (data-modifying CTEs), not a transaction of six: it runs once per Stripe event, and
 * each round trip to PostgreSQL costs both sides a wake-up. The link's upsert takes the row lock a
 * backfill records its writes under, and RETURNING reads the backfill count as of that lock.
 */
export async function recordSyncResult(deps: { db: Kysely<Database>; provider: string }, input: RecordSyncResultInput): Promise<RecordSyncResultOutput> {
  const now = new Date();
  const stripeStateAt = input.stripeStateAt > 0 ? new Date(input.stripeStateAt * 1000) : null;
  const row = await deps.db
    .with('link', (db) => db.insertInto('crmLinks').values({
      accountId: input.accountId,
      customerId: input.customerId,
      provider: deps.provider,
      companyId: input.links.accountId,
      contactId: input.links.contactId,
      dealIds: JSON.stringify(input.links.dealIds),
      matchMethod: input.matchMethod ?? 'external-id',
      productIds: input.productIds,
      stripeStateAt,
      lastSyncedAt: now,
      ...(input.accountFields ? { accountFields: JSON.stringify(input.accountFields) } : {}),
    }).onConflict((oc) => oc.columns(['accountId', 'customerId']).doUpdateSet((eb) => ({
      ...(input.accountFields ? { accountFields: eb.ref('excluded.accountFields') } : {}),
      provider: eb.ref('excluded.provider'),
      companyId: eb.ref('excluded.companyId'),
      contactId: eb.ref('excluded.contactId'),
      dealIds: eb.ref('excluded.dealIds'),
      productIds: eb.ref('excluded.productIds'),
      // A workflow that found the record by the Stripe id a link stamped on it (a backfill's, a review's)
      // keeps the method that made the link: that is how the customer was matched.
      ...(input.matchMethod !== null
        ? { matchMethod: sql<string>`case when excluded.match_method = 'external-id' and crm_links.company_id is not distinct from excluded.company_id then crm_links.match_method else excluded.match_method end` }
        : {}),
      // Never move the recorded Stripe state age backwards (a retried round may record after a newer one).
      stripeStateAt: sql`greatest(crm_links.stripe_state_at, excluded.stripe_state_at)`,
      lastSyncedAt: eb.ref('excluded.lastSyncedAt'),
      updatedAt: now,
    }))).returning('backfillSeq'))
    // Data-modifying CTEs run to completion whether or not the final select reads them.
    .with('events', (db) => db.updateTable('stripeEvents').set({ processedAt: now })
      .where('eventId', 'in', input.eventIds.length > 0 ? input.eventIds : [''])
      .where('processedAt', 'is', null).returning('eventId'))
    .with('letters', (db) => db.updateTable('deadLetters').set({ status: 'resolved', updatedAt: now })
      .where('id', 'in', input.resolvedDeadLetterIds.length > 0 ? input.resolvedDeadLetterIds : ['0'])
      .where('status', '!=', 'resolved').returning('id'))
    .selectNoFrom((eb) => [
      eb.selectFrom('link').select('backfillSeq').as('backfillSeq'),
      eb.selectFrom('stripeProducts').select(sql<Record<string, string> | null>`json_object_agg(product_id, name)`.as('names'))
        .where('accountId', '=', input.accountId).where('productId', 'in', input.productIds.length > 0 ? input.productIds : ['']).as('productNames'),
      input.links.accountId === null ? sql<boolean>`false`.as('sharedRecord') : eb.exists(rollupMembersOf(deps.db, deps.provider, input.links.accountId, input)).as('sharedRecord'),
    ])
    .executeTakeFirstOrThrow();
  const backfillSeq = Number(row.backfillSeq ?? 0);
  return {
    productNames: row.productNames ?? {},
    sharedRecord: Boolean(row.sharedRecord),
    backfillSeq,
    rewrite: input.knownBackfillSeq !== undefined && backfillSeq > input.knownBackfillSeq,
  };
}
