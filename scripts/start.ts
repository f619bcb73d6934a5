import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import { createApp } from '../api/app.js';
import { listenApi, type ApiServer } from '../api/server.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { temporalConnectionOptions } from '../config/temporal.js';
import { openDatabase, type DatabaseHandle } from '../db/connect.js';
import { migrateToLatest } from '../db/migrator.js';
import { connectWorker, createWorkers } from '../workers/create-workers.js';
import { findTemporalCli, startTemporalDevServer, type DevServer } from './temporal-dev-server.js';

/**
 * `npm start`: the whole local stack as one process tree — a Temporal dev server (unless
 * TEMPORAL_ADDRESS points at one), migrations, the workers and the API in this process. Ctrl-C or
 * SIGTERM stops everything in reverse order and leaves no process behind.
 */
let config;
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
let stopping: Promise<void> | undefined;
function stop(reason: string, code: number): Promise<void> {
  stopping ??= (async () => {
    console.log(`\n${reason}: stopping…`);
    for (const { name, run } of cleanups.reverse()) {
      try {
        await run();
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

  const nativeConnection = await connectWorker(config, address);
  cleanups.push({ name: 'worker connection', run: () => nativeConnection.close() });
  const workers = await createWorkers({ config, connection: nativeConnection, db: database.db, databaseKind: database.kind });
  const running = workers.map((w) => w.run());
  cleanups.push({
    name: 'workers',
    run: async () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.allSettled(running);
    },
  });
  // A worker that dies on its own (lost server, bad bundle) takes the stack down rather than idling silently.
  for (const r of running) r.catch((err: unknown) => { console.error('worker failed:', err); void stop('worker failure', 1); });

  const options = await temporalConnectionOptions(config.temporal, address);
  const connection = await Connection.connect(options);
  cleanups.push({ name: 'client connection', run: () => connection.close() });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const app = createApp({ temporal, temporalAddress: address, db: database.db, databaseKind: database.kind });
  const api: ApiServer = await listenApi(app, config.api.port, config.api.host);
  cleanups.push({ name: 'API', run: () => api.close() });

  console.log('\nstripe-crm-sync is running');
  console.log(`  API          ${api.url}   (health: ${api.url}/health)`);
  if (devServer) console.log(`  Temporal UI  http://localhost:${config.temporal.uiPort}`);
  console.log(`  Temporal     ${address} namespace ${config.temporal.namespace}`);
  console.log('Press Ctrl-C to stop.');
} catch (err) {
  console.error('start failed:', err instanceof Error ? err.message : err);
  await stop('start failure', 1);
}
