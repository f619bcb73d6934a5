import type { Client } from '@temporalio/client';
import { Hono } from 'hono';
import type { Kysely } from 'kysely';
import type { Database, DeadLetter } from '../../db/database.js';
import { TASK_QUEUES } from '../../domain/temporal-names.js';
import { parseCustomerWorkflowId } from '../../domain/workflow-ids.js';
import type { customerSyncWorkflow } from '../../workflows/customer-sync.js';
import { ApiError } from '../errors.js';

const STATUSES = ['open', 'retrying', 'resolved'] as const;

function present(row: DeadLetter) {
  return {
    id: String(row.id), status: row.status, operation: row.operation, errorType: row.errorType, reason: row.reason,
    accountId: row.accountId, customerId: row.customerId, workflowId: row.workflowId, eventIds: row.eventIds,
    retryCount: row.retryCount, payload: row.payload, createdAt: row.createdAt, updatedAt: row.updatedAt,
  };
}

/** Permanent sync failures: listed for operators, retried through the customer's workflow. */
export function deadLetterRoutes(deps: { temporal: Client; db: Kysely<Database>; workflowTaskQueue?: string }) {
  const app = new Hono();

  app.get('/', async (c) => {
    const status = c.req.query('status');
    if (status && !(STATUSES as readonly string[]).includes(status)) throw new ApiError(400, 'invalid_status', `status must be one of ${STATUSES.join(', ')}`);
    const limit = Math.min(Number(c.req.query('limit') ?? '50') || 50, 500);
    const before = c.req.query('before');
    let query = deps.db.selectFrom('deadLetters').selectAll().orderBy('id', 'desc').limit(limit + 1);
    if (status) query = query.where('status', '=', status);
    if (c.req.query('customerId')) query = query.where('customerId', '=', c.req.query('customerId')!);
    if (before) {
      if (!/^\d+$/.test(before)) throw new ApiError(400, 'invalid_cursor', 'before must be a dead letter id');
      query = query.where('id', '<', before);
    }
    const rows = await query.execute();
    const page = rows.slice(0, limit);
    return c.json({ data: page.map(present), hasMore: rows.length > limit, nextBefore: rows.length > limit ? String(page.at(-1)?.id) : null });
  });

  app.get('/:id', async (c) => {
    const row = await find(deps.db, c.req.param('id'));
    return c.json(present(row));
  });

  app.post('/:id/retry', async (c) => {
    const row = await find(deps.db, c.req.param('id'));
    if (row.status === 'resolved') throw new ApiError(409, 'already_resolved', `dead letter ${row.id} is already resolved`);
    const ids = parseCustomerWorkflowId(row.workflowId);
    if (!ids) throw new ApiError(422, 'not_retryable', `dead letter ${row.id} does not belong to a customer workflow`);
    // Signal-with-start: the customer's workflow may have continued as new or finished since.
    await deps.temporal.workflow.signalWithStart<typeof customerSyncWorkflow, [{ deadLetterId?: string }]>('customerSyncWorkflow', {
      workflowId: row.workflowId,
      taskQueue: deps.workflowTaskQueue ?? TASK_QUEUES.main,
      args: [ids],
      signal: 'adminRetry',
      signalArgs: [{ deadLetterId: String(row.id) }],
    });
    const updated = await deps.db.updateTable('deadLetters')
      .set((eb) => ({ status: 'retrying', retryCount: eb('retryCount', '+', 1), updatedAt: new Date() }))
      .where('id', '=', row.id).returningAll().executeTakeFirstOrThrow();
    return c.json(present(updated), 202);
  });

  return app;
}

async function find(db: Kysely<Database>, id: string): Promise<DeadLetter> {
  if (!/^\d+$/.test(id)) throw new ApiError(404, 'not_found', `no dead letter ${id}`);
  const row = await db.selectFrom('deadLetters').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new ApiError(404, 'not_found', `no dead letter ${id}`);
  return row;
}
