import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { CrmLinks, SyncSettings } from '../domain/crm-plan.js';

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
  writes: string[];
  round: number;
  /** How the CRM record was found: external-id, email, domain-name, review, created, unlinked. */
  matchMethod: string;
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
    /** Read once per workflow run, so configuration changes reach running workflows at their next continue-as-new. */
    async getSyncSettings(): Promise<SyncSettings & { provider: string; crmTaskQueue: string }> {
      return { ...deps.settings, provider: deps.provider, crmTaskQueue: deps.crmTaskQueue };
    },

    /**
     * Records the round and returns the catalog's current names of the customer's products. A rename
     * that lands before this customer's products are recorded misses the catalog fan-out; reading the
     * names back here, in the same transaction that records the products, closes that gap.
     */
    async recordSyncResult(input: RecordSyncResultInput): Promise<{ productNames: Record<string, string> }> {
      const now = new Date();
      const stripeStateAt = input.stripeStateAt > 0 ? new Date(input.stripeStateAt * 1000) : null;
      return deps.db.transaction().execute(async (trx) => {
        await trx.insertInto('crmLinks').values({
          accountId: input.accountId,
          customerId: input.customerId,
          provider: deps.provider,
          companyId: input.links.accountId,
          contactId: input.links.contactId,
          dealIds: JSON.stringify(input.links.dealIds),
          matchMethod: input.matchMethod,
          productIds: input.productIds,
          stripeStateAt,
          lastSyncedAt: now,
        }).onConflict((oc) => oc.columns(['accountId', 'customerId']).doUpdateSet((eb) => ({
          provider: eb.ref('excluded.provider'),
          companyId: eb.ref('excluded.companyId'),
          contactId: eb.ref('excluded.contactId'),
          dealIds: eb.ref('excluded.dealIds'),
          productIds: eb.ref('excluded.productIds'),
          matchMethod: eb.ref('excluded.matchMethod'),
          // Never move the recorded Stripe state age backwards (a backfill may have written newer).
          stripeStateAt: sql`greatest(crm_links.stripe_state_at, excluded.stripe_state_at)`,
          lastSyncedAt: eb.ref('excluded.lastSyncedAt'),
          updatedAt: now,
        }))).execute();
        if (input.eventIds.length > 0) {
          await trx.updateTable('stripeEvents').set({ processedAt: now })
            .where('eventId', 'in', input.eventIds).where('processedAt', 'is', null).execute();
        }
        if (input.resolvedDeadLetterIds.length > 0) {
          await trx.updateTable('deadLetters').set({ status: 'resolved', updatedAt: now })
            .where('id', 'in', input.resolvedDeadLetterIds).where('status', '!=', 'resolved').execute();
        }
        const products = input.productIds.length === 0 ? [] : await trx.selectFrom('stripeProducts').select(['productId', 'name'])
          .where('accountId', '=', input.accountId).where('productId', 'in', input.productIds).execute();
        return { productNames: Object.fromEntries(products.map((p) => [p.productId, p.name])) };
      });
    },

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
