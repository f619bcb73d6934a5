import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Hono } from 'hono';
import { customerWorkflowId } from '../../domain/workflow-ids.js';
import type { SyncStatus } from '../../workflows/customer-sync.js';
import { ApiError } from '../errors.js';

/** A customer's sync: status from the workflow's query, resync through its update. */
export function customerRoutes(deps: { temporal: Client }) {
  const app = new Hono();
  const handle = (accountId: string, customerId: string) => deps.temporal.workflow.getHandle(customerWorkflowId(accountId, customerId));

  app.get('/:accountId/:customerId/sync', async (c) => {
    try {
      const status: SyncStatus = await handle(c.req.param('accountId'), c.req.param('customerId')).query<SyncStatus>('syncStatus');
      return c.json(status);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'not_found', 'no sync workflow for this customer yet (it starts with the customer\'s first event)');
      throw err;
    }
  });

  app.post('/:accountId/:customerId/resync', async (c) => {
    const full = c.req.query('full') === 'true';
    try {
      const status = await handle(c.req.param('accountId'), c.req.param('customerId')).executeUpdate<SyncStatus, [{ full?: boolean }]>('resync', { args: [{ full }] });
      return c.json(status);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'not_found', 'no sync workflow for this customer yet');
      throw err;
    }
  });

  return app;
}
