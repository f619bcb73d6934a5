import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type Stripe from 'stripe';
import { createApp, type AppDeps } from '../api/app.js';
import { listenApi, type ApiServer } from '../api/server.js';
import type { CrmProvider } from '../activities/crm/types.js';
import { loadConfig, type Config } from '../config/index.js';
import { openDatabase, type DatabaseHandle } from '../db/connect.js';
import { startSandboxes, type RunningSandboxes } from '../sandboxes/start-all.js';
import { createWorkers } from '../workers/create-workers.js';
import { createServiceClients, syncSettings, type ServiceClients, type ServiceEndpoints } from '../workers/services.js';
import { salesforceDemoFields } from './demo-salesforce.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface LocalStack {
  config: Config;
  /** The Stripe account id in this stack's workflow ids. */
  accountId: string;
  sandboxes: RunningSandboxes;
  endpoints: ServiceEndpoints;
  clients: ServiceClients;
  stripe: Stripe;
  client: Client;
  database: DatabaseHandle;
  api: ApiServer;
  appDeps: AppDeps;
  taskQueue: string;
  crmTaskQueue: string;
  readonly workers: Worker[];
  /** Stops the workers (as a crash or a deploy would) and starts fresh ones on the same queues. */
  restartWorkers(): Promise<void>;
  /** Stops the workers until `startWorkers` (benchmarks measure ingest alone). */
  stopWorkers(): Promise<void>;
  startWorkers(): Promise<void>;
  close(): Promise<void>;
}

export interface LocalStackOptions {
  temporalAddress: string;
  databaseUrl: string;
  provider?: CrmProvider;
  /** Extra environment for the config (SYNC_MODE, CRM_RATE_LIMIT_PER_SECOND, ...). */
  env?: Record<string, string>;
  workflowBundle?: WorkflowBundleWithSourceMap;
  /** Options for the sandboxes (rate limits, webhook delivery knobs). */
  sandboxOptions?: Parameters<typeof startSandboxes>[1];
  logWorkers?: boolean;
}

let sharedBundle: Promise<WorkflowBundleWithSourceMap> | undefined;
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn: (m: string) => console.warn(m), error: (m: string) => console.error(m) };

/**
 * The whole real-time path on this machine, for end-to-end tests and benchmarks: the three
 * sandboxes on free ports, the API on a free port with the Stripe sandbox's webhook endpoint
 * pointed at it, and workers on their own task queues against a given Temporal and Postgres.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const provider = options.provider ?? 'hubspot';
  const config = loadConfig({
    TEMPORAL_ADDRESS: options.temporalAddress, DATABASE_URL: options.databaseUrl, WORKER_SHUTDOWN_GRACE_SECONDS: '2',
    CRM_PROVIDER: provider, SYNC_DEBOUNCE_MS: '150', ...options.env,
  });
  const suffix = randomBytes(4).toString('hex');
  const sandboxes = await startSandboxes({ stripe: 0, hubspot: 0, salesforce: 0 }, {
    ...options.sandboxOptions,
    // A seed of its own, so stacks in parallel test files never mint the same Stripe ids.
    // Stripe delivers webhooks in parallel; several in flight keep a slow moment from building a backlog.
    stripe: { seed: randomBytes(4).readUInt32LE(), webhooks: { concurrency: 8 }, ...options.sandboxOptions?.stripe },
    salesforce: { customFields: salesforceDemoFields(config.crm.mode), ...options.sandboxOptions?.salesforce },
  });
  // Workflow ids embed the account: one per stack keeps parallel stacks on one Temporal server apart.
  const accountId = `acct_local${suffix}`;
  const endpoints: ServiceEndpoints = {
    stripe: { apiKey: 'sk_test_local', baseUrl: sandboxes.stripe.url, webhookSecrets: [], accountId, mode: 'test' },
    crm: {
      provider,
      mode: config.crm.mode,
      hubspot: { accessToken: 'local-token', baseUrl: sandboxes.hubspot.url },
      salesforce: { instanceUrl: sandboxes.salesforce.url, accessToken: 'local-token', apiVersion: '62.0' },
      fieldNameOverrides: {},
    },
    settings: syncSettings(config),
  };
  const clients = await createServiceClients(endpoints);
  await clients.crm.provision();
  const connection = await Connection.connect({ address: options.temporalAddress });
  const client = new Client({ connection });
  const database = await openDatabase({ url: options.databaseUrl, poolMax: 8 });
  const taskQueue = `local-${suffix}`;
  const crmTaskQueue = `${taskQueue}-crm`;
  sharedBundle ??= options.workflowBundle
    ? Promise.resolve(options.workflowBundle)
    : bundleWorkflowCode({ workflowsPath: path.join(root, 'workflows/index.ts'), logger: quiet });
  const bundle = await sharedBundle;
  let native = await NativeConnection.connect({ address: options.temporalAddress });
  const spawn = async () => {
    const workers = await createWorkers({
      config, connection: native, db: database.db, databaseKind: database.kind, endpoints, clients,
      workflowBundle: bundle, taskQueue, crmTaskQueue,
    });
    return { workers, running: workers.map((w) => w.run()) };
  };
  let current = await spawn();

  const appDeps: AppDeps = {
    temporal: client, temporalAddress: options.temporalAddress, db: database.db, databaseKind: database.kind, workflowTaskQueue: taskQueue,
    stripe: { secrets: [], primaryAccountId: accountId, mode: 'test', client: clients.stripe },
  };
  const api = await listenApi(createApp(appDeps), 0, '127.0.0.1');
  const endpoint = await clients.stripe.webhookEndpoints.create({ url: `${api.url}/webhooks/stripe`, enabled_events: ['*'] });
  if (!endpoint.secret) throw new Error('the Stripe sandbox returned no webhook secret');
  appDeps.stripe.secrets.push({ secret: endpoint.secret });

  const stopWorkers = async () => {
    for (const w of current.workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(current.running);
  };
  return {
    config, accountId, sandboxes, endpoints, clients, stripe: clients.stripe, client, database, api, appDeps, taskQueue, crmTaskQueue,
    get workers() {
      return current.workers;
    },
    async restartWorkers() {
      await stopWorkers();
      await native.close();
      native = await NativeConnection.connect({ address: options.temporalAddress });
      current = await spawn();
    },
    stopWorkers,
    async startWorkers() {
      current = await spawn();
    },
    async close() {
      await api.close();
      await stopWorkers();
      await native.close();
      await connection.close();
      await database.close();
      await sandboxes.close();
    },
  };
}
