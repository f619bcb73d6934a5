import path from 'node:path';
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../config/index.js';
import { temporalConnectionOptions } from '../config/temporal.js';
import { openDatabase } from '../db/connect.js';
import { migrateToLatest } from '../db/migrator.js';
import { createStripeClient } from '../clients/stripe.js';
import { createApp } from './app.js';
import { listenApi } from './server.js';

// Production API entry point (`npm run api`, built JavaScript). Runs migrations on start so a
// rolling deploy brings the schema forward before serving; Kysely's migrator holds a lock meanwhile.
const config = loadConfig();
const handle = await openDatabase({
  ...(config.database.url ? { url: config.database.url, poolMax: config.database.poolMax } : {}),
  embeddedDir: path.join(config.dataDir, 'pglite'),
});
await migrateToLatest(handle.db);
const options = await temporalConnectionOptions(config.temporal);
// The SDK's native (Rust) connection: each signal-with-start costs the API's event loop a fraction of
// what the pure-JavaScript gRPC client does, and the webhook path makes one per event.
const connection = await NativeConnection.connect(options);
const temporal = new Client({ connection, namespace: config.temporal.namespace });
const stripe = {
  secrets: config.stripe.webhookSecrets,
  primaryAccountId: config.stripe.accountId,
  mode: config.stripe.mode,
  client: config.stripe.apiKey ? createStripeClient({ apiKey: config.stripe.apiKey, ...(config.stripe.apiBaseUrl ? { baseUrl: config.stripe.apiBaseUrl } : {}) }) : null,
};
const app = createApp({ temporal, temporalAddress: options.address, db: handle.db, databaseKind: handle.kind, stripe });
const server = await listenApi(app, config.api.port, config.api.host);
console.log(`API listening on ${server.url}`);

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping API`);
  await server.close();
  await connection.close();
  await handle.close();
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop(signal));
