import path from 'node:path';
import { loadConfig } from '../config/index.js';
import { openDatabase } from './connect.js';
import { migrateToLatest } from './migrator.js';

const config = loadConfig();
const handle = await openDatabase({
  ...(config.database.url ? { url: config.database.url } : {}),
  embeddedDir: path.join(config.dataDir, 'pglite'),
});
try {
  const results = await migrateToLatest(handle.db);
  for (const r of results ?? []) console.log(`${r.status.padEnd(8)} ${r.migrationName}`);
  console.log(`database ${handle.kind} (${handle.location}) is at the latest migration`);
} finally {
  await handle.close();
}
