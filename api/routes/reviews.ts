import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Hono } from 'hono';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import type { IdentityReview } from '../../db/identity-tables.js';
import { customerWorkflowId } from '../../domain/workflow-ids.js';
import type { ReviewResolution } from '../../workflows/customer-sync.js';
import { ApiError } from '../errors.js';

const present = (r: IdentityReview) => ({
  id: String(r.id), kind: r.kind, status: r.status, reason: r.reason, accountId: r.accountId, customerId: r.customerId,
  provider: r.provider, customer: r.customer, candidates: r.candidates, resolution: r.resolution, createdAt: r.createdAt, resolvedAt: r.resolvedAt,
});

type Action = { action: 'link'; recordId: string } | { action: 'create' } | { action: 'ignore' };

function parseAction(body: unknown): Action {
  const b = (body ?? {}) as { action?: unknown; recordId?: unknown };
  if (b.action === 'link') {
    if (typeof b.recordId !== 'string' || b.recordId.trim() === '') throw new ApiError(400, 'invalid_resolution', 'link needs recordId: the CRM record to link this customer to');
    return { action: 'link', recordId: b.recordId.trim() };
  }
  if (b.action === 'create' || b.action === 'ignore') return { action: b.action };
  throw new ApiError(400, 'invalid_resolution', 'action must be link (with recordId), create or ignore');
}

/**
 * The identity review queue: customers the matcher would not link on its own. Resolving one
 * signals the customer's workflow, which is waiting for exactly that.
 */
export function reviewRoutes(deps: { temporal: Client; db: Kysely<Database> }) {
  const app = new Hono();

  app.get('/', async (c) => {
    const status = c.req.query('status');
    if (status && !['open', 'resolved'].includes(status)) throw new ApiError(400, 'invalid_status', 'status must be open or resolved');
    const limit = Math.min(Number(c.req.query('limit') ?? '50') || 50, 500);
    let query = deps.db.selectFrom('identityReviews').selectAll().orderBy('id', 'desc').limit(limit);
    if (status) query = query.where('status', '=', status);
    const kind = c.req.query('kind');
    if (kind) query = query.where('kind', '=', kind);
    const customerId = c.req.query('customerId');
    if (customerId) query = query.where('customerId', '=', customerId);
    return c.json({ data: (await query.execute()).map(present) });
  });

  app.get('/:id', async (c) => c.json(present(await find(deps.db, c.req.param('id')))));

  app.post('/:id/resolve', async (c) => {
    const review = await find(deps.db, c.req.param('id'));
    if (review.status !== 'open') throw new ApiError(409, 'already_resolved', `review ${review.id} is already resolved`);
    const action = parseAction(await c.req.json().catch(() => null));
    const resolution: ReviewResolution = { reviewId: String(review.id), ...action };
    try {
      await deps.temporal.workflow.getHandle(customerWorkflowId(review.accountId, review.customerId)).signal('reviewResolved', resolution);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(409, 'workflow_not_running', `the sync workflow of ${review.customerId} is not running; resync the customer first`);
      throw err;
    }
    const updated = await deps.db.updateTable('identityReviews')
      .set({ status: 'resolved', resolution: JSON.stringify(action), resolvedAt: new Date() })
      .where('id', '=', review.id).returningAll().executeTakeFirstOrThrow();
    return c.json(present(updated));
  });

  return app;
}

/** `GET /identity/match-rate`: the share of Stripe customers linked, overall and by method. */
export function identityRoutes(deps: { db: Kysely<Database> }) {
  const app = new Hono();
  app.get('/match-rate', async (c) => {
    // Optionally for one Stripe account (several accounts may feed one CRM).
    const accountId = c.req.query('accountId');
    let links = deps.db.selectFrom('crmLinks')
      .select(['matchMethod', sql<number>`count(*)::int`.as('n'), sql<number>`count(*) filter (where company_id is not null or contact_id is not null)::int`.as('linked')])
      .groupBy('matchMethod');
    if (accountId) links = links.where('accountId', '=', accountId);
    const rows = await links.execute();
    let open = deps.db.selectFrom('identityReviews').select(sql<number>`count(distinct (account_id, customer_id))::int`.as('n')).where('status', '=', 'open');
    if (accountId) open = open.where('accountId', '=', accountId);
    const awaiting = await open.executeTakeFirstOrThrow();
    const byMethod = Object.fromEntries(rows.map((r) => [r.matchMethod, r.linked]));
    const linked = rows.reduce((sum, r) => sum + r.linked, 0);
    const customers = rows.reduce((sum, r) => sum + r.n, 0) + awaiting.n;
    return c.json({ customers, linked, rate: customers === 0 ? null : linked / customers, byMethod, awaitingReview: awaiting.n, unlinked: rows.find((r) => r.matchMethod === 'unlinked')?.n ?? 0 });
  });
  return app;
}

async function find(db: Kysely<Database>, id: string): Promise<IdentityReview> {
  if (!/^\d+$/.test(id)) throw new ApiError(404, 'not_found', `no review ${id}`);
  const row = await db.selectFrom('identityReviews').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new ApiError(404, 'not_found', `no review ${id}`);
  return row;
}

/** `GET /conflicts`: every disagreement over a shared field, who won and by which rule. */
export function conflictRoutes(deps: { db: Kysely<Database> }) {
  const app = new Hono();
  app.get('/', async (c) => {
    const limit = Math.min(Number(c.req.query('limit') ?? '100') || 100, 1000);
    let query = deps.db.selectFrom('fieldConflicts').selectAll().orderBy('id', 'desc').limit(limit);
    const customerId = c.req.query('customerId');
    if (customerId) query = query.where('customerId', '=', customerId);
    const field = c.req.query('field');
    if (field) query = query.where('field', '=', field);
    const winner = c.req.query('winner');
    if (winner) query = query.where('winner', '=', winner);
    const rows = await query.execute();
    return c.json({ data: rows.map((r) => ({ ...r, id: String(r.id) })) });
  });
  return app;
}
