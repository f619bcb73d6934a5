import { ScheduleNotFoundError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Hono } from 'hono';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import type { ReconciliationDiscrepancy, ReconciliationRun } from '../../db/reconciliation-tables.js';
import { isReconciliationKind, RECONCILIATION_KINDS, reconciliationScheduleId } from '../../domain/reconciliation-ids.js';
import type { ReconciliationProgress } from '../../workflows/reconciliation.js';
import { ApiError } from '../errors.js';

const DISCREPANCY_KINDS = ['drift', 'missing-record', 'unlinked', 'orphan', 'duplicate-stripe-id', 'duplicate-email', 'duplicate-domain'];
const DISCREPANCY_STATUSES = ['open', 'repair-requested', 'repair-failed', 'needs-review', 'ignored'];
const RUN_STATUSES = ['running', 'completed', 'failed'];

function presentRun(row: ReconciliationRun) {
  return {
    id: String(row.id), accountId: row.accountId, kind: row.kind, mode: row.mode, status: row.status, workflowId: row.workflowId,
    since: row.since, startedAt: row.startedAt, finishedAt: row.finishedAt, error: row.error, summary: row.summary,
  };
}

function presentDiscrepancy(row: ReconciliationDiscrepancy) {
  return {
    id: String(row.id), kind: row.kind, status: row.status, customerId: row.customerId, crmRecordId: row.crmRecordId,
    fields: row.fields, details: row.details, createdAt: row.createdAt, updatedAt: row.updatedAt,
  };
}

function oneOf(value: string | undefined, allowed: readonly string[], name: string): string | undefined {
  if (value !== undefined && !allowed.includes(value)) throw new ApiError(400, `invalid_${name}`, `${name} must be one of ${allowed.join(', ')}`);
  return value;
}

function limitOf(value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new ApiError(400, 'invalid_limit', `limit must be a whole number from 1 to ${max}`);
  return Math.min(Number(value), max);
}

function idOf(value: string | undefined, name: string): string | undefined {
  if (value !== undefined && !/^\d+$/.test(value)) throw new ApiError(400, `invalid_${name}`, `${name} must be an id`);
  return value;
}

/**
 * Reconciliation runs and their discrepancies (from Postgres), live progress of a running one (its
 * workflow's query), and the schedules: list, pause, resume, trigger now.
 */
export function reconciliationRoutes(deps: { temporal: Client; db: Kysely<Database>; stripe: { primaryAccountId: string } }) {
  const app = new Hono();
  const accountId = deps.stripe.primaryAccountId;

  app.get('/', async (c) => {
    const kind = oneOf(c.req.query('kind'), RECONCILIATION_KINDS, 'kind');
    const status = oneOf(c.req.query('status'), RUN_STATUSES, 'status');
    const limit = limitOf(c.req.query('limit'), 20, 100);
    const before = idOf(c.req.query('before'), 'cursor');
    let query = deps.db.selectFrom('reconciliationRuns').selectAll().where('accountId', '=', accountId).orderBy('id', 'desc').limit(limit + 1);
    if (kind) query = query.where('kind', '=', kind as ReconciliationRun['kind']);
    if (status) query = query.where('status', '=', status as ReconciliationRun['status']);
    if (before) query = query.where(sql<boolean>`id < ${before}::bigint`);
    const rows = await query.execute();
    const page = rows.slice(0, limit);
    return c.json({ data: page.map(presentRun), hasMore: rows.length > limit, nextBefore: rows.length > limit ? String(page.at(-1)?.id) : null });
  });

  /** Metrics: per kind, the latest finished run's figures, and discrepancies still waiting for someone. */
  app.get('/metrics', async (c) => {
    const latest = await sql<ReconciliationRun>`
      select distinct on (kind) * from reconciliation_runs where account_id = ${accountId} and status <> 'running'
      order by kind, started_at desc`.execute(deps.db);
    const running = await deps.db.selectFrom('reconciliationRuns').select(['kind', sql<number>`count(*)::int`.as('n')])
      .where('accountId', '=', accountId).where('status', '=', 'running').groupBy('kind').execute();
    const waiting = await sql<{ kind: string; status: string; n: number }>`
      select d.kind, d.status, count(*)::int as n from reconciliation_discrepancies d
      join reconciliation_runs r on r.id = d.run_id
      where r.account_id = ${accountId} and r.id in (select distinct on (kind) id from reconciliation_runs where account_id = ${accountId} and status = 'completed' order by kind, started_at desc)
      group by 1, 2`.execute(deps.db);
    const byKind: Record<string, Record<string, number>> = {};
    for (const w of waiting.rows) (byKind[w.kind] ??= {})[w.status] = w.n;
    return c.json({
      latest: Object.fromEntries(latest.rows.map((r) => [r.kind, {
        id: String(r.id), status: r.status, startedAt: r.startedAt, finishedAt: r.finishedAt,
        durationSeconds: r.finishedAt ? (new Date(r.finishedAt).getTime() - new Date(r.startedAt).getTime()) / 1000 : null, summary: r.summary,
      }])),
      running: Object.fromEntries(running.map((r) => [r.kind, r.n])),
      discrepanciesInLatestRuns: byKind,
    });
  });

  app.get('/schedules', async (c) => {
    const data = [];
    for (const kind of RECONCILIATION_KINDS) {
      const scheduleId = reconciliationScheduleId(accountId, kind);
      try {
        const d = await deps.temporal.schedule.getHandle(scheduleId).describe();
        data.push({ kind, scheduleId, paused: d.state.paused, note: d.state.note ?? null, nextActionTimes: d.info.nextActionTimes.slice(0, 3), recentActions: d.info.recentActions.slice(-3).map((a) => ({ scheduledAt: a.scheduledAt, workflowId: a.action.workflow.workflowId })) });
      } catch (err) {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
        data.push({ kind, scheduleId, missing: true });
      }
    }
    return c.json({ data });
  });

  app.post('/schedules/:kind/:action', async (c) => {
    const kind = c.req.param('kind');
    const action = c.req.param('action');
    if (!isReconciliationKind(kind)) throw new ApiError(404, 'not_found', `no reconciliation schedule ${kind}; kinds: ${RECONCILIATION_KINDS.join(', ')}`);
    if (!['pause', 'resume', 'trigger'].includes(action)) throw new ApiError(404, 'not_found', 'actions: pause, resume, trigger');
    const handle = deps.temporal.schedule.getHandle(reconciliationScheduleId(accountId, kind));
    const note = c.req.query('note') ?? `${action}d through the API`;
    try {
      if (action === 'pause') await handle.pause(note);
      else if (action === 'resume') await handle.unpause(note);
      // Triggering runs now even if another run of this kind is going: asked for explicitly.
      else await handle.trigger();
      const d = await handle.describe();
      return c.json({ kind, scheduleId: handle.scheduleId, paused: d.state.paused, note: d.state.note ?? null }, action === 'trigger' ? 202 : 200);
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) throw new ApiError(404, 'not_found', 'the schedule does not exist (schedules are created when the worker or `npm start` starts)');
      throw err;
    }
  });

  app.get('/:id', async (c) => {
    const id = idOf(c.req.param('id'), 'id')!;
    const run = await deps.db.selectFrom('reconciliationRuns').selectAll().where(sql<boolean>`id = ${id}::bigint`).where('accountId', '=', accountId).executeTakeFirst();
    if (!run) throw new ApiError(404, 'not_found', `no reconciliation run ${id}`);
    const kind = oneOf(c.req.query('kind'), DISCREPANCY_KINDS, 'kind');
    const status = oneOf(c.req.query('status'), DISCREPANCY_STATUSES, 'status');
    const field = c.req.query('field');
    const limit = limitOf(c.req.query('limit'), 100, 1000);
    const after = idOf(c.req.query('after'), 'cursor');
    let query = deps.db.selectFrom('reconciliationDiscrepancies').selectAll().where(sql<boolean>`run_id = ${id}::bigint`).orderBy('id').limit(limit + 1);
    if (kind) query = query.where('kind', '=', kind as ReconciliationDiscrepancy['kind']);
    if (status) query = query.where('status', '=', status as ReconciliationDiscrepancy['status']);
    if (c.req.query('customerId')) query = query.where('customerId', '=', c.req.query('customerId')!);
    if (field) query = query.where(sql<boolean>`fields ? ${field}`);
    if (after) query = query.where(sql<boolean>`id > ${after}::bigint`);
    const rows = await query.execute();
    const page = rows.slice(0, limit);
    let progress: ReconciliationProgress | null = null;
    if (run.status === 'running') {
      try {
        progress = await deps.temporal.workflow.getHandle(run.workflowId).query<ReconciliationProgress>('reconciliationProgress');
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    }
    return c.json({
      run: presentRun(run), progress,
      discrepancies: { data: page.map(presentDiscrepancy), hasMore: rows.length > limit, nextAfter: rows.length > limit ? String(page.at(-1)?.id) : null },
    });
  });

  return app;
}
