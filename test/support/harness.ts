import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../config/index.js';
import { openDatabase, type DatabaseHandle } from '../../db/connect.js';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A Config for tests: defaults plus the run's Temporal server and database. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    DATABASE_URL: inject('databaseUrl'),
    WORKER_SHUTDOWN_GRACE_SECONDS: '2',
    ...overrides,
  });
}

/** Each workflow test gets its own task queue, so files never steal each other's tasks. */
export function uniqueTaskQueue(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export async function connectClient(): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  return { client: new Client({ connection }), connection };
}

export async function connectNative(): Promise<NativeConnection> {
  return NativeConnection.connect({ address: inject('temporalAddress') });
}

export function openTestDatabase(): Promise<DatabaseHandle> {
  return openDatabase({ url: inject('databaseUrl'), poolMax: 4 });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Built once per test file (each file runs in its own process). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: path.join(projectRoot, 'workflows/index.ts'), logger: quietLogger });
  return bundle;
}

const quietLogger = {
  log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined,
  warn: (m: string) => console.warn(m), error: (m: string) => console.error(m),
};
