import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Kysely } from 'kysely';
import { createActivities } from '../activities/index.js';
import type { Config } from '../config/index.js';
import { temporalConnectionOptions } from '../config/temporal.js';
import type { Database } from '../db/database.js';
import { backfillWriteTaskQueue, crmTaskQueue, TASK_QUEUES } from '../domain/temporal-names.js';
import type { ServiceClients, ServiceEndpoints } from './services.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Where workflow code comes from: the bundle `npm run build` prebuilt (production: no webpack at
 * start-up), else the sources (dev and tests, bundled by the worker).
 */
export function workflowSource(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const prebuilt = path.resolve(here, '../workflow-bundle.js');
  if (existsSync(prebuilt)) return { workflowBundle: { codePath: prebuilt } };
  const ts = path.resolve(here, '../workflows/index.ts');
  return { workflowsPath: existsSync(ts) ? ts : path.resolve(here, '../workflows/index.js') };
}

export interface WorkerDeps {
  config: Config;
  connection: NativeConnection;
  db: Kysely<Database>;
  databaseKind: string;
  endpoints: ServiceEndpoints;
  clients: ServiceClients;
  /** Tests pass a prebuilt bundle and their own task queues. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  taskQueue?: string;
  crmTaskQueue?: string;
}

export async function connectWorker(config: Config, addressOverride?: string): Promise<NativeConnection> {
  return NativeConnection.connect(await temporalConnectionOptions(config.temporal, addressOverride));
}

/**
 * The workers one process runs: workflows plus Stripe and database activities on the main queue,
 * and CRM calls on the provider's queue. That queue's rate limit is enforced by the Temporal
 * server across every worker polling it, which is what keeps all replicas together under the CRM's limit.
 */
export async function createWorkers(deps: WorkerDeps): Promise<Worker[]> {
  const crmQueue = deps.crmTaskQueue ?? crmTaskQueue(deps.clients.crm.provider);
  const backfillQueue = backfillWriteTaskQueue(crmQueue);
  const activities = createActivities({
    crmTaskQueue: crmQueue,
    backfillWriteTaskQueue: backfillQueue,
    db: deps.db,
    databaseKind: deps.databaseKind,
    stripe: deps.clients.stripe,
    primaryAccountId: deps.endpoints.stripe.accountId,
    crm: deps.clients.crm,
    settings: deps.endpoints.settings,
    crmRateLimitPerSecond: deps.config.crm.rateLimitPerSecond,
    salesforceBulkThreshold: deps.config.crm.salesforce.bulkThreshold,
    stripeReadRateLimitPerSecond: deps.config.stripe.readRateLimitPerSecond,
  });
  const common = {
    connection: deps.connection,
    namespace: deps.config.temporal.namespace,
    // In-flight activities get this long to finish before the worker exits.
    shutdownGraceTime: `${deps.config.worker.shutdownGraceSeconds} seconds`,
    // Progress heartbeats (backfill cursors, identity-index pages) reach the server within seconds, so the
    // retry after a crashed worker resumes near where it stopped. The SDK's default throttle (80 % of the
    // heartbeat timeout, capped at 60 s) would lose up to a minute of reading.
    maxHeartbeatThrottleInterval: '5 seconds',
  } as const;
  const main = await Worker.create({
    ...common,
    taskQueue: deps.taskQueue ?? TASK_QUEUES.main,
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle } : workflowSource()),
    activities,
  });
  const crm = await Worker.create({
    ...common,
    taskQueue: crmQueue,
    activities,
    maxTaskQueueActivitiesPerSecond: deps.config.crm.rateLimitPerSecond,
  });
  // Backfill batch writes: the shared CRM request budget paces their requests together with the real-time
  // path's; the server-side limit at twice the rate only bounds a worker whose clients have no budget.
  const backfill = await Worker.create({
    ...common,
    taskQueue: backfillQueue,
    activities,
    maxTaskQueueActivitiesPerSecond: 2 * deps.config.crm.rateLimitPerSecond,
  });
  return [main, crm, backfill];
}

/** Runs workers until each has shut down (on a shutdown signal or `worker.shutdown()`). */
export async function runWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.run()));
}
