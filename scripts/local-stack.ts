import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type Stripe from 'stripe';
import { createApp, type AppDeps } from '../api/app.js';
import { listenApi, type ApiServer } from '../api/server.js';
import type { CrmProvider } from '../activities/crm/types.js';
import { loadConfig, type Config } from '../config/index.js';
import { openDatabase, type DatabaseHandle } from '../db/connect.js';
import { startSandboxes, type RunningSandboxes, type SandboxOptions } from '../sandboxes/start-all.js';
import { startSandboxProcess, type SandboxUrls } from './sandbox-process.js';
import { createWorkers } from '../workers/create-workers.js';
import { createServiceClients, syncSettings, type ServiceClients, type ServiceEndpoints } from '../workers/services.js';
import { salesforceDemoSchema } from './demo-salesforce.js';

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
/** A logger for bundling and workers that keeps warnings and errors only. */
export const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn: (m: string) => console.warn(m), error: (m: string) => console.error(m) };

/**
 * The whole real-time path on this machine, for end-to-end tests and benchmarks: the three
 * sandboxes on free ports, the API on a free port with the Stripe sandbox's webhook endpoint
 * pointed at it, and workers on their own task queues against a given Temporal and Postgres.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const config = stackConfig(options);
  const sandboxes = await startSandboxes({ stripe: 0, hubspot: 0, salesforce: 0 }, sandboxOptionsFor(config, options));
  const core = await startCore(config, options, { stripe: sandboxes.stripe.url, hubspot: sandboxes.hubspot.url, salesforce: sandboxes.salesforce.url });
  // Object.assign replaces core.close: keep the original to call it.
  const closeCore = core.close.bind(core);
  return Object.assign(core, {
    sandboxes,
    async close() {
      await closeCore();
      await sandboxes.close();
    },
  });
}

/**
 * The same stack with the sandboxes in a process of their own (benchmarks): in this process they
 * would share one JavaScript thread with the API and the workers, and the figures would measure them.
 * They are reached over HTTP only, through their `/__sandbox` inspection routes.
 */
export async function startLocalStackWithExternalSandboxes(options: LocalStackOptions): Promise<LocalStackCore & { sandboxUrls: SandboxUrls }> {
  const config = stackConfig(options);
  const external = await startSandboxProcess(sandboxOptionsFor(config, options));
  const core = await startCore(config, options, external.urls);
  const closeCore = core.close.bind(core);
  return Object.assign(core, {
    sandboxUrls: external.urls,
    async close() {
      await closeCore();
      external.close();
    },
  });
}

function stackConfig(options: LocalStackOptions): Config {
  return loadConfig({
    TEMPORAL_ADDRESS: options.temporalAddress, DATABASE_URL: options.databaseUrl, WORKER_SHUTDOWN_GRACE_SECONDS: '2',
    CRM_PROVIDER: options.provider ?? 'hubspot', SYNC_DEBOUNCE_MS: '150', ...options.env,
  });
}

function sandboxOptionsFor(config: Config, options: LocalStackOptions): SandboxOptions {
  return {
    ...options.sandboxOptions,
    // A seed of its own, so stacks in parallel test files never mint the same Stripe ids.
    // Stripe delivers webhooks in parallel; several in flight keep a slow moment from building a backlog.
    stripe: { seed: randomBytes(4).readUInt32LE(), webhooks: { concurrency: 8 }, ...options.sandboxOptions?.stripe },
    // Record ids of their own too: crm_links of parallel stacks share one database, and a record id
    // another stack's CRM also handed out would make two unrelated customers look like one record's.
    hubspot: { firstObjectId: 10_001 + randomBytes(4).readUInt32LE() % 1_000_000_000, ...options.sandboxOptions?.hubspot },
    salesforce: { firstRecordNumber: randomBytes(4).readUInt32LE() % 1_000_000_000, ...salesforceDemoSchema(config.crm.mode, config.crm.provider === 'salesforce' ? config.crm.subscriptionObject : undefined), ...options.sandboxOptions?.salesforce },
  };
}

export type LocalStackCore = Omit<LocalStack, 'sandboxes'>;

async function startCore(config: Config, options: LocalStackOptions, urls: SandboxUrls): Promise<LocalStackCore> {
  const provider = config.crm.provider;
  const suffix = randomBytes(4).toString('hex');
  // Workflow ids embed the account: one per stack keeps parallel stacks on one Temporal server apart.
  const accountId = `acct_local${suffix}`;
  const endpoints: ServiceEndpoints = {
    stripe: { apiKey: 'sk_test_local', baseUrl: urls.stripe, webhookSecrets: [], accountId, mode: 'test' },
    crm: {
      provider,
      mode: config.crm.mode,
      hubspot: { accessToken: 'local-token', baseUrl: urls.hubspot },
      salesforce: { instanceUrl: urls.salesforce, accessToken: 'local-token', apiVersion: '62.0' },
      fieldNameOverrides: {},
      ...(config.crm.subscriptionObject ? { subscriptionObject: config.crm.subscriptionObject } : {}),
    },
    settings: syncSettings(config),
  };
  const database = await openDatabase({ url: options.databaseUrl, poolMax: 8 });
  const taskQueue = `local-${suffix}`;
  const crmTaskQueue = `${taskQueue}-crm`;
  const clients = await createServiceClients(endpoints, { db: database.db, taskQueue: crmTaskQueue, ratePerSecond: config.crm.rateLimitPerSecond });
  await clients.crm.provision();
  // The API's client, on its own native connection as in production (api/main.ts).
  const connection = await NativeConnection.connect({ address: options.temporalAddress });
  const client = new Client({ connection });
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
    config, accountId, endpoints, clients, stripe: clients.stripe, client, database, api, appDeps, taskQueue, crmTaskQueue,
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
    },
  };
}
