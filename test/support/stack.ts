import type { Client, Connection } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type Stripe from 'stripe';
import { createApp, type AppDeps } from '../../api/app.js';
import { listenApi, type ApiServer } from '../../api/server.js';
import type { CrmProvider } from '../../activities/crm/types.js';
import type { Config } from '../../config/index.js';
import type { DatabaseHandle } from '../../db/connect.js';
import { startSandboxes, type RunningSandboxes } from '../../sandboxes/start-all.js';
import { salesforceDemoFields } from '../../scripts/demo-salesforce.js';
import { createWorkers } from '../../workers/create-workers.js';
import { createServiceClients, syncSettings, type ServiceClients, type ServiceEndpoints } from '../../workers/services.js';
import { connectClient, connectNative, openTestDatabase, testConfig, uniqueTaskQueue, workflowBundle } from './harness.js';

export interface TestStack {
  config: Config;
  sandboxes: RunningSandboxes;
  endpoints: ServiceEndpoints;
  clients: ServiceClients;
  stripe: Stripe;
  client: Client;
  database: DatabaseHandle;
  api: ApiServer;
  appDeps: AppDeps;
  taskQueue: string;
  workers: Worker[];
  /** Stops the workers (as a crash or deploy would) and starts fresh ones on the same queues. */
  restartWorkers(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The whole path for end-to-end tests: sandboxes on free ports, the API on a free port with the
 * Stripe sandbox's webhook endpoint pointed at it, and workers on this test's own task queues.
 */
export async function startTestStack(options: { provider?: CrmProvider; mode?: 'b2b' | 'b2c'; env?: Record<string, string> } = {}): Promise<TestStack> {
  const provider = options.provider ?? 'hubspot';
  const config = testConfig({ CRM_PROVIDER: provider, SYNC_MODE: options.mode ?? 'b2b', SYNC_DEBOUNCE_MS: '150', ...options.env });
  const sandboxes = await startSandboxes({ stripe: 0, hubspot: 0, salesforce: 0 }, { salesforce: { customFields: salesforceDemoFields() } });
  const endpoints: ServiceEndpoints = {
    stripe: { apiKey: 'sk_test_e2e', baseUrl: sandboxes.stripe.url, webhookSecrets: [], accountId: 'acct_e2e', mode: 'test' },
    crm: {
      provider,
      mode: config.crm.mode,
      hubspot: { accessToken: 'e2e-token', baseUrl: sandboxes.hubspot.url },
      salesforce: { instanceUrl: sandboxes.salesforce.url, accessToken: 'e2e-token', apiVersion: '62.0' },
      fieldNameOverrides: {},
    },
    settings: syncSettings(config),
  };
  const clients = await createServiceClients(endpoints);
  await clients.crm.provision();
  const { client, connection } = await connectClient();
  const database = await openTestDatabase();
  const taskQueue = uniqueTaskQueue('e2e');
  const crmQueue = `${taskQueue}-crm`;
  const bundle = await workflowBundle();
  let native: NativeConnection = await connectNative();
  const spawn = async () => {
    const workers = await createWorkers({
      config, connection: native, db: database.db, databaseKind: database.kind, endpoints, clients,
      workflowBundle: bundle, taskQueue, crmTaskQueue: crmQueue,
    });
    return { workers, running: workers.map((w) => w.run()) };
  };
  let current = await spawn();

  const appDeps: AppDeps = {
    temporal: client, temporalAddress: 'test', db: database.db, databaseKind: database.kind, workflowTaskQueue: taskQueue,
    stripe: { secrets: [], primaryAccountId: 'acct_e2e', mode: 'test', client: clients.stripe },
  };
  const api = await listenApi(createApp(appDeps), 0, '127.0.0.1');
  const endpoint = await clients.stripe.webhookEndpoints.create({ url: `${api.url}/webhooks/stripe`, enabled_events: ['*'] });
  appDeps.stripe.secrets.push({ secret: endpoint.secret! });

  const stopWorkers = async () => {
    for (const w of current.workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(current.running);
  };
  const stack: TestStack = {
    config, sandboxes, endpoints, clients, stripe: clients.stripe, client, database, api, appDeps, taskQueue,
    get workers() {
      return current.workers;
    },
    async restartWorkers() {
      await stopWorkers();
      await native.close();
      native = await connectNative();
      current = await spawn();
    },
    async close() {
      await api.close();
      await stopWorkers();
      await native.close();
      await (connection as Connection).close();
      await database.close();
      await sandboxes.close();
    },
  };
  return stack;
}
