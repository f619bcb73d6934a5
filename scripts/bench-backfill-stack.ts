import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, type Worker } from '@temporalio/worker';
import type Stripe from 'stripe';
import { createApp } from '../api/app.js';
import { listenApi, type ApiServer } from '../api/server.js';
import type { CrmProvider } from '../activities/crm/types.js';
import { loadConfig } from '../config/index.js';
import { openDatabase } from '../db/connect.js';
import type { SandboxOptions } from '../sandboxes/start-all.js';
import { createWorkers } from '../workers/create-workers.js';
import { createServiceClients, syncSettings, type ServiceEndpoints } from '../workers/services.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn: (m: string) => console.warn(m), error: (m: string) => console.error(m) };

export interface SandboxUrls {
  stripe: string;
  hubspot: string;
  salesforce: string;
}

export class SandboxProcessError extends Error {
  override name = 'SandboxProcessError';
}

/** Starts scripts/bench-sandboxes-process.ts and waits for its URLs. */
export async function startSandboxProcess(options: SandboxOptions): Promise<{ urls: SandboxUrls; close(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'bench-sandboxes-process.ts'), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const urls = await new Promise<SandboxUrls>((resolve, reject) => {
    lines.once('line', (line) => resolve(JSON.parse(line) as SandboxUrls));
    child.once('exit', (code) => reject(new SandboxProcessError(`the sandbox process exited with ${code}`)));
  });
  return { urls, close: () => void child.kill('SIGTERM') };
}

export interface BenchStack {
  api: ApiServer;
  stripe: Stripe;
  workers: Worker[];
  close(): Promise<void>;
}

/**
 * What scripts/local-stack.ts starts, minus the sandboxes (which run in their own process here): the API
 * and the workers on their own task queues against the given Temporal, database and sandbox URLs.
 */
export async function startBenchStack(input: { urls: SandboxUrls; temporalAddress: string; databaseUrl: string; provider: CrmProvider; env: Record<string, string> }): Promise<BenchStack> {
  const config = loadConfig({ TEMPORAL_ADDRESS: input.temporalAddress, DATABASE_URL: input.databaseUrl, WORKER_SHUTDOWN_GRACE_SECONDS: '2', CRM_PROVIDER: input.provider, ...input.env });
  const accountId = `acct_bench${randomBytes(4).toString('hex')}`;
  const endpoints: ServiceEndpoints = {
    stripe: { apiKey: 'sk_test_bench', baseUrl: input.urls.stripe, webhookSecrets: [], accountId, mode: 'test' },
    crm: {
      provider: input.provider,
      mode: config.crm.mode,
      hubspot: { accessToken: 'bench-token', baseUrl: input.urls.hubspot },
      salesforce: { instanceUrl: input.urls.salesforce, accessToken: 'bench-token', apiVersion: '62.0' },
      fieldNameOverrides: {},
    },
    settings: syncSettings(config),
  };
  const clients = await createServiceClients(endpoints);
  await clients.crm.provision();
  const connection = await Connection.connect({ address: input.temporalAddress });
  const client = new Client({ connection });
  const database = await openDatabase({ url: input.databaseUrl, poolMax: config.database.poolMax });
  const taskQueue = `bench-${randomBytes(4).toString('hex')}`;
  const bundle = await bundleWorkflowCode({ workflowsPath: path.join(here, '../workflows/index.ts'), logger: quiet });
  const native = await NativeConnection.connect({ address: input.temporalAddress });
  const workers = await createWorkers({ config, connection: native, db: database.db, databaseKind: database.kind, endpoints, clients, workflowBundle: bundle, taskQueue, crmTaskQueue: `${taskQueue}-crm` });
  const running = workers.map((w) => w.run());
  const api = await listenApi(createApp({
    temporal: client, temporalAddress: input.temporalAddress, db: database.db, databaseKind: database.kind, workflowTaskQueue: taskQueue,
    stripe: { secrets: [], primaryAccountId: accountId, mode: 'test', client: clients.stripe },
  }), 0, '127.0.0.1');
  return {
    api, stripe: clients.stripe, workers,
    async close() {
      await api.close();
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.allSettled(running);
      await native.close();
      await connection.close();
      await database.close();
    },
  };
}
