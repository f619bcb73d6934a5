import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { Hono } from 'hono';
import type { CrmFieldValues } from '../../domain/crm-fields.js';
import { rollUpAccountFields } from '../../domain/rollup.js';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import type { IdentityReview } from '../../db/identity-tables.js';
import { TASK_QUEUES } from '../../domain/temporal-names.js';
import { customerWorkflowId, reviewActionWorkflowId } from '../../domain/workflow-ids.js';
import type { CustomerSyncInput, ReviewResolution } from '../../workflows/customer-sync.js';
import type { ReviewActionInput } from '../../workflows/review-action.js';
import { ApiError } from '../errors.js';

const present = (r: IdentityReview) => ({
  id: String(r.id), kind: r.kind, source: r.source, status: r.status, reason: r.reason, accountId: r.accountId, customerId: r.customerId,
  subject: r.subject, provider: r.provider, customer: r.customer, candidates: r.candidates, details: r.details,
  resolution: r.resolution, createdAt: r.createdAt, resolvedAt: r.resolvedAt,
});

/**
 * What a person may decide, by review kind:
 * - match, unlinked (which record is this Stripe customer): link to a record, create one, or ignore
 *   (leave the customer out of the CRM);
 * - orphan (a record naming a Stripe customer that does not exist): ignore (keep it as it is), unlink
 *   (clear its Stripe id: the record and its history stay), or link it to an existing customer;
 * - duplicate-merge: ignore (not duplicates), or, for records sharing one Stripe id, keep one: the
 *   customer is linked to it and the others are released (merge them in the CRM afterwards).
 */
type Action =
  | { action: 'link'; recordId: string }
  | { action: 'link'; customerId: string; recordId: string }
  | { action: 'create' }
  | { action: 'ignore' }
  | { action: 'unlink' }
  | { action: 'keep'; recordId: string };

const ACTIONS: Record<string, string[]> = {
  match: ['link', 'create', 'ignore'],
  unlinked: ['link', 'create', 'ignore'],
  orphan: ['ignore', 'unlink', 'link'],
  'duplicate-merge': ['ignore', 'keep'],
};

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function parseAction(review: IdentityReview, body: unknown): Action & { note?: string } {
  const b = (body ?? {}) as { action?: unknown; recordId?: unknown; customerId?: unknown; note?: unknown };
  const allowed = ACTIONS[review.kind] ?? ['ignore'];
  const action = typeof b.action === 'string' ? b.action : '';
  if (!allowed.includes(action)) throw new ApiError(400, 'invalid_resolution', `a ${review.kind} review is resolved with action ${allowed.join(', ')}`);
  const note = text(b.note);
  const withNote = <T extends Action>(a: T) => (note ? { ...a, note } : a);
  const candidates = review.candidates.map((c) => c.recordId);
  const recordId = text(b.recordId);
  switch (action) {
    case 'link': {
      if (review.kind === 'orphan') {
        const customerId = text(b.customerId);
        if (!customerId || !/^cus_/.test(customerId)) throw new ApiError(400, 'invalid_resolution', 'link needs customerId: the existing Stripe customer (cus_...) the record belongs to');
        const record = recordId ?? (candidates.length === 1 ? candidates[0]! : null);
        if (!record || !candidates.includes(record)) throw new ApiError(400, 'invalid_resolution', `link needs recordId, one of ${candidates.join(', ')}`);
        return withNote({ action: 'link', customerId, recordId: record });
      }
      if (!recordId) throw new ApiError(400, 'invalid_resolution', 'link needs recordId: the CRM record to link this customer to');
      return withNote({ action: 'link', recordId });
    }
    case 'keep': {
      if (review.reason !== 'duplicate-stripe-id') {
        throw new ApiError(400, 'invalid_resolution', 'keep applies to records sharing one Stripe id; records of different customers sharing an email or domain are merged in the CRM, or ignored');
      }
      if (!recordId || !candidates.includes(recordId)) throw new ApiError(400, 'invalid_resolution', `keep needs recordId, one of ${candidates.join(', ')}`);
      return withNote({ action: 'keep', recordId });
    }
    default:
      return withNote({ action: action as 'create' | 'ignore' | 'unlink' });
  }
}

/**
 * The review queue: customers the matcher would not link on its own (`match`, their workflow waits
 * for the answer), and what reconciliation found for a person to decide (`unlinked`, `orphan`,
 * `duplicate-merge`). Resolving one carries the decision out through Temporal: the customer's
 * workflow (started if it has none) for anything about a customer's record, a review-action
 * workflow for records no customer owns.
 */
export function reviewRoutes(deps: { temporal: Client; db: Kysely<Database>; workflowTaskQueue?: string }) {
  const app = new Hono();
  const taskQueue = deps.workflowTaskQueue ?? TASK_QUEUES.main;

  app.get('/', async (c) => {
    const status = c.req.query('status');
    if (status && !['open', 'resolved'].includes(status)) throw new ApiError(400, 'invalid_status', 'status must be open or resolved');
    const limit = Math.min(Number(c.req.query('limit') ?? '50') || 50, 500);
    let query = deps.db.selectFrom('identityReviews').selectAll().orderBy('id', 'desc').limit(limit);
    if (status) query = query.where('status', '=', status);
    const kind = c.req.query('kind');
    if (kind) query = query.where('kind', '=', kind);
    const source = c.req.query('source');
    if (source) query = query.where('source', '=', source);
    // Several Stripe accounts may feed one CRM.
    const accountId = c.req.query('accountId');
    if (accountId) query = query.where('accountId', '=', accountId);
    const customerId = c.req.query('customerId');
    if (customerId) query = query.where('customerId', '=', customerId);
    return c.json({ data: (await query.execute()).map(present) });
  });

  app.get('/:id', async (c) => c.json(present(await find(deps.db, c.req.param('id')))));

  app.post('/:id/resolve', async (c) => {
    const review = await find(deps.db, c.req.param('id'));
    if (review.status !== 'open') throw new ApiError(409, 'already_resolved', `review ${review.id} is already resolved`);
    const action = parseAction(review, await c.req.json().catch(() => null));
    // Claimed before acting, so two people resolving at once cannot both act; released if acting fails.
    const claimed = await deps.db.updateTable('identityReviews')
      .set({ status: 'resolved', resolution: JSON.stringify(action), resolvedAt: new Date() })
      .where('id', '=', review.id).where('status', '=', 'open').returningAll().executeTakeFirst();
    if (!claimed) throw new ApiError(409, 'already_resolved', `review ${review.id} is already resolved`);
    try {
      await carryOut(review, action);
    } catch (err) {
      await deps.db.updateTable('identityReviews').set({ status: 'open', resolution: null, resolvedAt: null }).where('id', '=', review.id).execute();
      throw err;
    }
    return c.json(present(claimed));
  });

  async function carryOut(review: IdentityReview, action: Action): Promise<void> {
    const reviewId = String(review.id);
    const { accountId } = review;
    /** Signals the customer's workflow, starting it when the customer has none yet (reconciliation findings). */
    const toCustomer = async (customerId: string, signal: 'reviewResolved' | 'relink', arg: ReviewResolution | { recordId: string | null }) => {
      const args: [CustomerSyncInput] = [{ accountId, customerId }];
      await deps.temporal.workflow.signalWithStart('customerSyncWorkflow', { workflowId: customerWorkflowId(accountId, customerId), taskQueue, args, signal, signalArgs: [arg] });
    };
    const release = async (recordIds: string[]) => {
      if (recordIds.length === 0) return;
      const args: [ReviewActionInput] = [{ reviewId, releaseRecordIds: recordIds }];
      try {
        await deps.temporal.workflow.start('reviewActionWorkflow', { workflowId: reviewActionWorkflowId(accountId, reviewId), taskQueue, args });
      } catch (err) {
        // Already carried out by an earlier attempt at resolving this review.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    };
    const candidates = review.candidates.map((c) => c.recordId);

    switch (review.kind) {
      case 'match': {
        // The workflow waiting on it takes the decision; one that is not waiting (a backfill queued the review,
        // or the workflow moved on) applies it at its next round, and none running is started with it (it
        // reads the customer from Stripe and syncs it to the chosen record).
        const source = review.source === 'backfill' ? 'backfill' : 'identity';
        await toCustomer(review.customerId!, 'reviewResolved', { reviewId, source, ...action } as ReviewResolution);
        return;
      }
      case 'unlinked':
        await toCustomer(review.customerId!, 'reviewResolved', { reviewId, source: 'reconciliation', ...action } as ReviewResolution);
        // Had the workflow started waiting on its matcher's review meanwhile, this decision answered that one too.
        await deps.db.updateTable('identityReviews')
          .set({ status: 'resolved', resolution: JSON.stringify({ ...action, by: `review ${reviewId}` }), resolvedAt: new Date() })
          .where('accountId', '=', accountId).where('customerId', '=', review.customerId).where('kind', '=', 'match').where('status', '=', 'open')
          .execute();
        return;
      case 'orphan':
        if (action.action === 'unlink') await release(candidates);
        else if (action.action === 'link' && 'customerId' in action) await toCustomer(action.customerId, 'relink', { recordId: action.recordId });
        return;
      case 'duplicate-merge':
        if (action.action === 'keep') {
          await toCustomer(review.customerId!, 'relink', { recordId: action.recordId });
          await release(candidates.filter((id) => id !== action.recordId));
        }
        return;
      default:
        return;
    }
  }

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
    // Customers whose workflow waits on the matcher's review; reconciliation findings are counted by reconciliation.
    let open = deps.db.selectFrom('identityReviews').select(sql<number>`count(distinct (account_id, customer_id))::int`.as('n')).where('status', '=', 'open').where('kind', '=', 'match');
    if (accountId) open = open.where('accountId', '=', accountId);
    const awaiting = await open.executeTakeFirstOrThrow();
    const byMethod = Object.fromEntries(rows.map((r) => [r.matchMethod, r.linked]));
    const linked = rows.reduce((sum, r) => sum + r.linked, 0);
    const customers = rows.reduce((sum, r) => sum + r.n, 0) + awaiting.n;
    return c.json({ customers, linked, rate: customers === 0 ? null : linked / customers, byMethod, awaitingReview: awaiting.n, unlinked: rows.find((r) => r.matchMethod === 'unlinked')?.n ?? 0 });
  });

  /**
   * `GET /identity/records/:provider/:recordId`: the Stripe customers linked to one CRM record and,
   * for a roll-up record, their sums in every currency (the CRM shows the main currency's).
   */
  app.get('/records/:provider/:recordId', async (c) => {
    const rows = await deps.db.selectFrom('crmLinks').select(['accountId', 'customerId', 'matchMethod', 'accountFields', 'lastSyncedAt'])
      .where('provider', '=', c.req.param('provider')).where('companyId', '=', c.req.param('recordId')).orderBy('customerId').execute();
    if (rows.length === 0) throw new ApiError(404, 'not_found', `no Stripe customer is linked to ${c.req.param('provider')} record ${c.req.param('recordId')}`);
    const withFields = rows.filter((r) => r.accountFields !== null);
    const rollup = withFields.length === 0 ? null : rollUpAccountFields(withFields.map((r) => ({ customerId: `${r.accountId}/${r.customerId}`, fields: r.accountFields as unknown as CrmFieldValues })));
    return c.json({
      recordId: c.req.param('recordId'),
      members: rows.map((r) => ({ accountId: r.accountId, customerId: r.customerId, matchMethod: r.matchMethod, lastSyncedAt: r.lastSyncedAt })),
      rollup: rows.length > 1 && rollup ? { fields: rollup.fields, byCurrency: rollup.byCurrency } : null,
    });
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
