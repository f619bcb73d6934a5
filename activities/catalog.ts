import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { CustomerEvent } from '../domain/customer-events.js';
import { customerWorkflowId } from '../domain/workflow-ids.js';

const PAGE = 500;

/** Catalog fan-out: a renamed product reaches every customer workflow whose subscriptions use it. */
export function createCatalogActivities(deps: { db: Kysely<Database> }) {
  return {
    async notifyProductSubscribers(input: { accountId: string; productId: string; name: string; created: number; eventId: string }): Promise<{ notified: number }> {
      const ctx = Context.current();
      // Resume after the last customer a previous attempt reached (customers are visited in id order).
      let after = (ctx.info.heartbeatDetails as { after?: string } | undefined)?.after ?? '';
      let notified = 0;
      for (;;) {
        const rows = await deps.db.selectFrom('crmLinks').select('customerId')
          .where('accountId', '=', input.accountId)
          .where((eb) => eb('productIds', '@>', eb.val([input.productId])))
          .where('customerId', '>', after).orderBy('customerId').limit(PAGE).execute();
        for (const { customerId } of rows) {
          const event: CustomerEvent = {
            eventId: input.eventId, type: 'product.updated', created: input.created, receivedAtMs: Date.now(),
            accountId: input.accountId, customerId, objectId: input.productId,
            payload: { kind: 'product', productId: input.productId, name: input.name },
          };
          try {
            await ctx.client.workflow.getHandle(customerWorkflowId(input.accountId, customerId)).signal('stripeEvent', event);
            notified++;
          } catch (err) {
            // A customer whose workflow has finished reads the name from the catalog table on its next start.
            if (!(err instanceof WorkflowNotFoundError)) throw err;
          }
          after = customerId;
        }
        ctx.heartbeat({ after });
        if (rows.length < PAGE) return { notified };
      }
    },
  };
}
