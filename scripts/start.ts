import path from 'node:path';
import { Client } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import { createApp, type AppDeps } from '../api/app.js';
import { listenApi, type ApiServer } from '../api/server.js';
import { createStripeClient } from '../clients/stripe.js';
import { ConfigError, loadConfig, type Config } from '../config/index.js';
import { openDatabase, type DatabaseHandle } from '../db/connect.js';
import { migrateToLatest } from '../db/migrator.js';
import { startSandboxes } from '../sandboxes/start-all.js';
import { connectWorker, createWorkers } from '../workers/create-workers.js';
import { ensureReconciliationSchedules } from '../workers/reconciliation-schedules.js';
import { createServiceClients, endpointsFromConfig, syncSettings, type ServiceEndpoints } from '../workers/services.js';
import { startDemo } from './demo.js';
import { salesforceDemoSchema } from './demo-salesforce.js';
import { findTemporalCli, startTemporalDevServer, type DevServer } from './temporal-dev-server.js';
import { crmTaskQueue } from '../domain/temporal-names.js';

/**
 * `npm start`: the whole local stack as one process tree — a Temporal dev server (unless
 * TEMPORAL_ADDRESS points at one), migrations, the workers and the API in this process. With no
 * Stripe or CRM credentials it is also the demo: the sandboxes, a registered webhook endpoint,
 * seeded customers and a trickle of events. Ctrl-C or SIGTERM stops everything in reverse order.
 */
let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}

// Shutdown is ordered below (API, then workers, then Temporal), so the SDK must not react to signals itself.
Runtime.install({ shutdownSignals: [] });

const cleanups: Array<{ name: string; run: () => Promise<void> }> = [];
const STEP_TIMEOUT_MS = 15_000;
let stopping: Promise<void> | undefined;
function stop(reason: string, code: number): Promise<void> {
  stopping ??= (async () => {
    console.log(`\n${reason}: stopping…`);
    for (const { name, run } of cleanups.reverse()) {
      try {
        // Each step is bounded, so one stuck dependency cannot keep the rest (and the dev server) running. The
        // timer keeps the process alive: a step whose promise never settles (a worker whose server died under
        // it) must not let the process end silently half-stopped, without the steps after it.
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([run().then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), STEP_TIMEOUT_MS)))]);
        clearTimeout(timer);
        if (timedOut) console.error(`stopping ${name} took over ${STEP_TIMEOUT_MS / 1000} s; going on`);
      } catch (err) {
        console.error(`stopping ${name} failed:`, err);
      }
    }
    console.log('stopped');
    process.exit(code);
  })();
  return stopping;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop(signal, 0));
// If whatever launched us dies without passing a signal on (kill -9 of npm), stop rather than linger as an orphan.
const parentAtStart = process.ppid;
setInterval(() => {
  if (process.ppid !== parentAtStart) void stop('launcher exited', 0);
}, 1000).unref();

try {
  let endpoints: ServiceEndpoints;
  let sandboxUrls: { stripe: string; hubspot: string; salesforce: string } | undefined;
  if (config.demo) {
    const sandboxes = await startSandboxes(
      { stripe: config.sandboxes.stripePort, hubspot: config.sandboxes.hubspotPort, salesforce: config.sandboxes.salesforcePort },
      // The demo's Salesforce org already has the custom fields an admin would add for this service.
      { salesforce: salesforceDemoSchema(config.crm.mode, config.crm.provider === 'salesforce' ? config.crm.subscriptionObject : undefined) },
    );
    cleanups.push({ name: 'sandboxes', run: () => sandboxes.close() });
    sandboxUrls = { stripe: sandboxes.stripe.url, hubspot: sandboxes.hubspot.url, salesforce: sandboxes.salesforce.url };
    endpoints = {
      stripe: { apiKey: 'sk_test_demo', baseUrl: sandboxes.stripe.url, webhookSecrets: [], accountId: config.stripe.accountId, mode: 'test' },
      crm: {
        provider: config.crm.provider,
        mode: config.crm.mode,
        hubspot: { accessToken: 'demo-token', baseUrl: sandboxes.hubspot.url },
        salesforce: { instanceUrl: sandboxes.salesforce.url, accessToken: 'demo-token', apiVersion: config.crm.salesforce.apiVersion },
        fieldNameOverrides: {},
        ...(config.crm.subscriptionObject ? { subscriptionObject: config.crm.subscriptionObject } : {}),
      },
      settings: syncSettings(config),
    };
  } else {
    endpoints = await endpointsFromConfig(config);
  }

  let devServer: DevServer | undefined;
  let address = config.temporal.address;
  if (!address) {
    const cli = await findTemporalCli(config.temporal.cliPath, process.env.PATH ?? '');
    console.log(cli ? `starting Temporal dev server (${cli})` : 'starting Temporal dev server (downloading the CLI through the SDK)');
    devServer = await startTemporalDevServer({
      cliPath: cli,
      port: config.temporal.devServerPort,
      uiPort: config.temporal.uiPort,
      dbFilename: path.resolve(config.dataDir, 'temporal.db'),
    });
    address = devServer.address;
    const server = devServer;
    cleanups.push({ name: 'Temporal dev server', run: () => server.stop() });
  }

  const database: DatabaseHandle = await openDatabase({
    ...(config.database.url ? { url: config.database.url, poolMax: config.database.poolMax } : {}),
    embeddedDir: path.join(config.dataDir, 'pglite'),
  });
  cleanups.push({ name: 'database', run: () => database.close() });
  const applied = await migrateToLatest(database.db);
  console.log(`database: ${database.kind} (${database.location}), ${applied?.length ?? 0} migration(s) applied`);
  const clients = await createServiceClients(endpoints, { db: database.db, taskQueue: crmTaskQueue(endpoints.crm.provider), ratePerSecond: config.crm.rateLimitPerSecond });
  if (config.demo) {
    const report = await clients.crm.provision();
    console.log(`CRM (${clients.crm.provider} sandbox) provisioned: ${report.created.length} created, ${report.existing.length} existing, ${report.missing.length} missing`);
  }

  const nativeConnection = await connectWorker(config, address);
  cleanups.push({ name: 'worker connection', run: () => nativeConnection.close() });
  const workers = await createWorkers({ config, connection: nativeConnection, db: database.db, databaseKind: database.kind, endpoints, clients });
  const running = workers.map((w) => w.run());
  cleanups.push({
    name: 'workers',
    run: async () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      // Ctrl-C reaches the whole process group, so the dev server may already be gone and the workers'
      // last calls retry against nothing: wait for the grace period, not for ever.
      const graceMs = (config.worker.shutdownGraceSeconds + 5) * 1000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled(running), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
    },
  });
  // A worker that dies on its own (lost server, bad bundle) takes the stack down rather than idling silently.
  for (const r of running) r.catch((err: unknown) => { console.error('worker failed:', err); void stop('worker failure', 1); });

  // The API's client shares the workers' native connection (see api/main.ts).
  const temporal = new Client({ connection: nativeConnection, namespace: config.temporal.namespace });
  await ensureReconciliationSchedules(temporal, config, { accountId: endpoints.stripe.accountId });
  const stripeDeps: AppDeps['stripe'] = {
    secrets: [...endpoints.stripe.webhookSecrets],
    primaryAccountId: endpoints.stripe.accountId,
    mode: endpoints.stripe.mode,
    client: createStripeClient({ apiKey: endpoints.stripe.apiKey, ...(endpoints.stripe.baseUrl ? { baseUrl: endpoints.stripe.baseUrl } : {}) }),
  };
  const app = createApp({ temporal, temporalAddress: address, db: database.db, databaseKind: database.kind, stripe: stripeDeps });
  const api: ApiServer = await listenApi(app, config.api.port, config.api.host);
  cleanups.push({ name: 'API', run: () => api.close() });

  console.log('\nstripe-crm-sync is running');
  console.log(`  API          ${api.url}   (health: ${api.url}/health)`);
  if (devServer) console.log(`  Temporal UI  http://localhost:${config.temporal.uiPort}`);
  console.log(`  Temporal     ${address} namespace ${config.temporal.namespace}`);

  if (sandboxUrls) {
    // The demo: register our webhook endpoint for every event, the way an operator would in Stripe's dashboard.
    const endpoint = await clients.stripe.webhookEndpoints.create({ url: `http://127.0.0.1:${config.api.port}/webhooks/stripe`, enabled_events: ['*'] });
    if (!endpoint.secret) throw new Error('the Stripe sandbox returned no webhook secret');
    stripeDeps.secrets.push({ secret: endpoint.secret });
    console.log(`  Demo         Stripe sandbox ${sandboxUrls.stripe}, ${config.crm.provider} sandbox ${config.crm.provider === 'hubspot' ? sandboxUrls.hubspot : sandboxUrls.salesforce}`);
    console.log('               seeding customers; a trickle of events follows. Browse CRM records at <crm sandbox>/__sandbox/state');
    const demo = await startDemo(clients.stripe, { log: (line) => config.logLevel === 'debug' && console.log(line) });
    cleanups.push({ name: 'demo', run: () => demo.stop() });
    console.log(`               ${demo.customers.length} customers seeded on test clock ${demo.clockId}`);
  }
  console.log('Press Ctrl-C to stop.');
} catch (err) {
  console.error('start failed:', err instanceof Error ? err.message : err);
  await stop('start failure', 1);
}
