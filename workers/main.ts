import path from 'node:path';
import { Client } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import { loadConfig } from '../config/index.js';
import { openDatabase } from '../db/connect.js';
import { connectWorker, createWorkers, runWorkers } from './create-workers.js';
import { ensureReconciliationSchedules } from './reconciliation-schedules.js';
import { crmTaskQueue } from '../domain/temporal-names.js';
import { createServiceClients, endpointsFromConfig } from './services.js';

// Production worker entry point (`npm run worker`, built JavaScript). SIGINT/SIGTERM start a
// graceful shutdown: no new tasks are polled and in-flight activities get the grace period.
const config = loadConfig();
Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGUSR2'] });
if (!config.database.url) {
  console.warn('DATABASE_URL is not set: using the embedded PostgreSQL, which only this process can open. Run the API in the same process (npm start) or set DATABASE_URL.');
}
const endpoints = await endpointsFromConfig(config);
const handle = await openDatabase({
  ...(config.database.url ? { url: config.database.url, poolMax: config.database.poolMax } : {}),
  embeddedDir: path.join(config.dataDir, 'pglite'),
});
const clients = await createServiceClients(endpoints, { db: handle.db, taskQueue: crmTaskQueue(config.crm.provider), ratePerSecond: config.crm.rateLimitPerSecond });
const connection = await connectWorker(config);
try {
  const workers = await createWorkers({ config, connection, db: handle.db, databaseKind: handle.kind, endpoints, clients });
  await ensureReconciliationSchedules(new Client({ connection, namespace: config.temporal.namespace }), config, { accountId: endpoints.stripe.accountId });
  console.log(`worker polling ${workers.map((w) => w.options.taskQueue).join(', ')} on ${config.temporal.address ?? 'localhost:7233'}/${config.temporal.namespace}`);
  await runWorkers(workers);
  console.log('worker stopped');
} finally {
  await connection.close();
  await handle.close();
}
