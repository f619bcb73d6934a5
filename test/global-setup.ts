import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../config/index.js';
import { openDatabase } from '../db/connect.js';
import { migrateToLatest } from '../db/migrator.js';
import { findTemporalCli, startTemporalDevServer } from '../scripts/temporal-dev-server.js';

/**
 * One real Temporal dev server (the existing `temporal` CLI; in memory) and one PostgreSQL
 * database created fresh for the run and dropped afterwards. Tests get their addresses via inject().
 */
declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    databaseUrl: string;
  }
}

const adminUrl = process.env.TEST_POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export default async function setup(project: TestProject) {
  const cli = await findTemporalCli(loadConfig().temporal.cliPath, process.env.PATH ?? '');
  if (!cli) throw new Error('tests need the temporal CLI: run scripts/install-tools.sh temporal, or set TEMPORAL_CLI_PATH');
  const server = await startTemporalDevServer({ cliPath: cli });

  const dbName = `crm_sync_test_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  const databaseUrl = new URL(adminUrl);
  databaseUrl.pathname = `/${dbName}`;
  const handle = await openDatabase({ url: databaseUrl.toString() });
  await migrateToLatest(handle.db);
  await handle.close();

  project.provide('temporalAddress', server.address);
  project.provide('databaseUrl', databaseUrl.toString());

  return async () => {
    await server.stop();
    const admin2 = new pg.Client({ connectionString: adminUrl });
    await admin2.connect();
    await admin2.query(`drop database if exists ${dbName} with (force)`);
    await admin2.end();
  };
}
