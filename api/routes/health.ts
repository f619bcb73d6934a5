import type { Client } from '@temporalio/client';
import { Hono } from 'hono';
import type { Kysely } from 'kysely';
import { pingDatabase } from '../../db/connect.js';
import type { Database } from '../../db/database.js';
import { TASK_QUEUES } from '../../domain/temporal-names.js';
import type { diagnosticsWorkflow } from '../../workflows/diagnostics.js';

export interface HealthDeps {
  temporal: Client;
  db: Kysely<Database>;
  databaseKind: string;
  temporalAddress: string;
  workflowTaskQueue?: string;
  /** Per-check budget; a dependency slower than this counts as down. */
  timeoutMs?: number;
}

type Check = { status: 'ok' } | { status: 'down'; error: string };

async function within(ms: number, what: string, probe: () => Promise<unknown>): Promise<Check> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      }),
    ]);
    return { status: 'ok' };
  } catch (err) {
    return { status: 'down', error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `GET /health`: 200 when Temporal and the database both answer, 503 naming what is down.
 * `?deep=true` also runs a workflow through a worker, proving workers are polling.
 */
export function healthRoutes(deps: HealthDeps) {
  const app = new Hono();
  const timeoutMs = deps.timeoutMs ?? 3000;
  app.get('/', async (c) => {
    const [temporal, database] = await Promise.all([
      within(timeoutMs, 'Temporal', () => deps.temporal.workflowService.getSystemInfo({})),
      within(timeoutMs, 'database', () => pingDatabase(deps.db)),
    ]);
    const checks: Record<string, Check> = { temporal, database };
    if (c.req.query('deep') === 'true' && temporal.status === 'ok') {
      checks.worker = await within(timeoutMs * 3, 'worker', () =>
        deps.temporal.workflow.execute<typeof diagnosticsWorkflow>('diagnosticsWorkflow', {
          taskQueue: deps.workflowTaskQueue ?? TASK_QUEUES.main,
          workflowId: `health-check/${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
          workflowExecutionTimeout: `${timeoutMs * 3} ms`,
        }),
      );
    }
    const down = Object.entries(checks).filter(([, check]) => check.status === 'down').map(([name]) => name);
    const body = {
      status: down.length === 0 ? 'ok' : 'down',
      ...(down.length > 0 ? { down } : {}),
      temporal: { ...temporal, address: deps.temporalAddress, namespace: deps.temporal.options.namespace },
      database: { ...database, kind: deps.databaseKind },
      ...(checks.worker ? { worker: checks.worker } : {}),
    };
    return c.json(body, down.length === 0 ? 200 : 503);
  });
  return app;
}
