import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Hono } from 'hono';
import { customerWorkflowId } from '../../domain/workflow-ids.js';
import type { SyncStatus } from '../../workflows/customer-sync.js';
import { ApiError } from '../errors.js';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.js';

/** A customer's sync: status from the workflow's query, resync through its update, links set by a person. */
export function customerRoutes(deps: { temporal: Client; db: Kysely<Database> }) {
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

  /** Link to another CRM record (`{"recordId": "..."}`) or unlink (`{"recordId": null}`); applied by the workflow and audited. */
  app.post('/:accountId/:customerId/link', async (c) => {
    const body = (await c.req.json().catch(() => null)) as { recordId?: unknown } | null;
    if (!body || !('recordId' in body) || (body.recordId !== null && (typeof body.recordId !== 'string' || body.recordId.trim() === ''))) {
      throw new ApiError(400, 'invalid_link', 'body must be {"recordId": "<CRM record id>"} to link, or {"recordId": null} to unlink');
    }
    const recordId = body.recordId === null ? null : (body.recordId as string).trim();
    try {
      await handle(c.req.param('accountId'), c.req.param('customerId')).signal('relink', { recordId });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'not_found', 'no sync workflow for this customer yet');
      throw err;
    }
    return c.json({ accepted: true, recordId }, 202);
  });

  app.get('/:accountId/:customerId/link-history', async (c) => {
    const rows = await deps.db.selectFrom('linkAudit').selectAll()
      .where('accountId', '=', c.req.param('accountId')).where('customerId', '=', c.req.param('customerId')).orderBy('id', 'asc').execute();
    return c.json({ data: rows.map((r) => ({ ...r, id: String(r.id) })) });
  });

  return app;
}
