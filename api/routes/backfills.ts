import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { Hono } from 'hono';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { BackfillRun } from '../../db/backfill-tables.js';
import type { Database } from '../../db/database.js';
import {
  BACKFILL_OBJECTS,
  BACKFILL_OUTCOMES,
  backfillWorkflowId,
  emptyCounts,
  rateAndEta,
  type BackfillObject,
} from '../../domain/backfill.js';
import { TASK_QUEUES } from '../../domain/temporal-names.js';
import type { BackfillFilters, BackfillInput, BackfillProgress, backfillWorkflow } from '../../workflows/backfill.js';
import { ApiError } from '../errors.js';

/** A date (2024-01-01), an ISO datetime or unix seconds. */
const instant = z.union([z.number().int().nonnegative(), z.string().min(1)]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: 'must be a date (2024-01-01), an ISO datetime or unix seconds' });
    return z.NEVER;
  }
  return Math.floor(ms / 1000);
});

const startBody = z.object({
  since: instant.optional(),
  until: instant.optional(),
  objects: z.array(z.enum(BACKFILL_OBJECTS)).min(1).default([...BACKFILL_OBJECTS]),
  dryRun: z.boolean().default(false),
  concurrency: z.number().int().min(1).max(64).optional(),
});

const ACTIVE = new Set(['running', 'paused']);

function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `bf_${stamp}_${randomBytes(3).toString('hex')}`;
}

/** Backfills: start one, follow it (counts by outcome, rate, ETA), pause, resume, cancel, retry its failures. */
export function backfillRoutes(deps: { temporal: Client; db: Kysely<Database>; workflowTaskQueue?: string; stripe: { primaryAccountId: string } }) {
  const app = new Hono();

  async function start(input: { filters: BackfillFilters; dryRun: boolean; concurrency?: number; retryOf?: string }) {
    const accountId = deps.stripe.primaryAccountId;
    const runId = newRunId();
    const workflowId = backfillWorkflowId(accountId, runId);
    const row = await deps.db.insertInto('backfillRuns').values({
      id: runId, accountId, provider: 'pending', workflowId, status: 'running', dryRun: input.dryRun,
      filters: JSON.stringify({ ...input.filters, ...(input.retryOf ? { retryOf: input.retryOf } : {}) }), summary: null, finishedAt: null,
    }).returningAll().executeTakeFirstOrThrow();
    const args: BackfillInput = {
      runId, accountId, dryRun: input.dryRun, filters: input.filters,
      ...(input.concurrency ? { concurrency: input.concurrency } : {}),
      ...(input.retryOf ? { retryOf: input.retryOf } : {}),
    };
    await deps.temporal.workflow.start<typeof backfillWorkflow>('backfillWorkflow', { workflowId, taskQueue: deps.workflowTaskQueue ?? TASK_QUEUES.main, args: [args] });
    return row;
  }

  app.post('/', async (c) => {
    const raw: unknown = await c.req.json().catch(() => {
      throw new ApiError(400, 'invalid_json', 'the body must be JSON');
    });
    const parsed = startBody.safeParse(raw ?? {});
    if (!parsed.success) throw new ApiError(400, 'invalid_request', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    const body = parsed.data;
    if (body.since !== undefined && body.until !== undefined && body.since >= body.until) throw new ApiError(400, 'invalid_range', 'since must be before until');
    const filters: BackfillFilters = {
      objects: [...new Set(body.objects)] as BackfillObject[],
      ...(body.since !== undefined ? { createdFrom: body.since } : {}),
      ...(body.until !== undefined ? { createdTo: body.until } : {}),
    };
    const row = await start({ filters, dryRun: body.dryRun, ...(body.concurrency ? { concurrency: body.concurrency } : {}) });
    return c.json(await present(row), 202);
  });

  app.get('/', async (c) => {
    const rows = await deps.db.selectFrom('backfillRuns').selectAll().orderBy('createdAt', 'desc').limit(50).execute();
    return c.json({ data: rows.map((r) => ({ id: r.id, status: r.status, dryRun: r.dryRun, filters: r.filters, createdAt: r.createdAt, finishedAt: r.finishedAt })) });
  });

  app.get('/:id', async (c) => c.json(await present(await find(c.req.param('id')))));

  app.get('/:id/records', async (c) => {
    const row = await find(c.req.param('id'));
    const outcome = c.req.query('outcome');
    if (outcome && !(BACKFILL_OUTCOMES as readonly string[]).includes(outcome)) throw new ApiError(400, 'invalid_outcome', `outcome must be one of ${BACKFILL_OUTCOMES.join(', ')}`);
    const limit = Math.min(Number(c.req.query('limit') ?? '100') || 100, 1000);
    const after = c.req.query('after');
    const rows = await deps.db.selectFrom('backfillRecords').selectAll().where('runId', '=', row.id)
      .$if(Boolean(outcome), (q) => q.where('outcome', '=', outcome as 'failed'))
      .$if(Boolean(after), (q) => q.where('stripeId', '>', after!))
      .orderBy('stripeId').limit(limit + 1).execute();
    const page = rows.slice(0, limit);
    return c.json({
      data: page.map((r) => ({ objectType: r.objectType, stripeId: r.stripeId, customerId: r.customerId, outcome: r.outcome, reason: r.reason, crmRecordId: r.crmRecordId, attempts: r.attempts, updatedAt: r.updatedAt })),
      hasMore: rows.length > limit,
      nextAfter: rows.length > limit ? page.at(-1)?.stripeId ?? null : null,
    });
  });

  for (const [action, signal] of [['pause', 'pauseBackfill'], ['resume', 'resumeBackfill'], ['cancel', 'cancelBackfill']] as const) {
    app.post(`/:id/${action}`, async (c) => {
      const row = await find(c.req.param('id'));
      if (!ACTIVE.has(row.status)) throw new ApiError(409, 'not_active', `backfill ${row.id} is ${row.status}`);
      await deps.temporal.workflow.getHandle(row.workflowId).signal(signal);
      return c.json(await present(row), 202);
    });
  }

  /** Re-processes the run's failed records in a new run; the original log shows their new outcome. */
  app.post('/:id/retry', async (c) => {
    const row = await find(c.req.param('id'));
    if (ACTIVE.has(row.status)) throw new ApiError(409, 'still_active', `backfill ${row.id} is ${row.status}: retry once it has finished`);
    if (row.dryRun) throw new ApiError(409, 'dry_run', 'a dry run wrote nothing; start a real run instead');
    const failed = await deps.db.selectFrom('backfillRecords').select((eb) => eb.fn.countAll<string>().as('n')).where('runId', '=', row.id).where('outcome', '=', 'failed').executeTakeFirstOrThrow();
    if (Number(failed.n) === 0) throw new ApiError(409, 'nothing_failed', `backfill ${row.id} has no failed records`);
    const filters = row.filters as BackfillFilters;
    const retry = await start({ filters: { objects: filters.objects }, dryRun: false, retryOf: row.id });
    return c.json(await present(retry), 202);
  });

  async function find(id: string): Promise<BackfillRun> {
    const row = await deps.db.selectFrom('backfillRuns').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new ApiError(404, 'not_found', `no backfill ${id}`);
    return row;
  }

  /** The run with its counts by outcome from the migration log, and live rate and ETA from the workflow. */
  async function present(row: BackfillRun) {
    const rows = await deps.db.selectFrom('backfillRecords').select(['objectType', 'outcome', (eb) => eb.fn.countAll<string>().as('n')])
      .where('runId', '=', row.id).groupBy(['objectType', 'outcome']).execute();
    const counts = emptyCounts();
    // By what was written: customer (company/Account; the contact in B2C), contact, subscription, invoice, charge, refund, dispute.
    const byObject: Record<string, ReturnType<typeof emptyCounts>> = {};
    for (const r of rows) {
      counts[r.outcome] += Number(r.n);
      (byObject[r.objectType] ??= emptyCounts())[r.outcome] += Number(r.n);
    }
    const processed = Object.values(counts).reduce((a, b) => a + b, 0);
    let live: BackfillProgress | null = null;
    if (ACTIVE.has(row.status)) {
      try {
        live = await deps.temporal.workflow.getHandle(row.workflowId).query<BackfillProgress>('backfillProgress');
      } catch {
        // Not yet picked up by a worker, or finishing: the database figures stand alone.
        live = null;
      }
    }
    const summary = (row.summary ?? null) as BackfillProgress | null;
    const progress = live ?? summary;
    const eta = progress ? rateAndEta(progress.processed, progress.activeSeconds, progress.fraction) : null;
    return {
      id: row.id,
      workflowId: row.workflowId,
      status: live?.status === 'cancelling' ? 'cancelling' : row.status,
      dryRun: row.dryRun,
      filters: row.filters,
      processed,
      counts,
      byObject,
      fraction: progress?.fraction ?? (row.status === 'completed' ? 1 : 0),
      rate: eta?.rate ?? 0,
      etaSeconds: eta?.etaSeconds ?? null,
      estimatedTotal: eta?.estimatedTotal ?? null,
      estimatedRunSeconds: progress?.estimatedRunSeconds ?? null,
      stripeReads: progress?.stripeReads ?? null,
      crmRequests: progress?.crmRequests ?? null,
      repairs: progress?.repairs ?? 0,
      identityIndex: progress?.identityIndex ?? null,
      createdAt: row.createdAt,
      finishedAt: row.finishedAt,
      summary: row.summary,
    };
  }

  return app;
}
