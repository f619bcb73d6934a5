import { access, constants, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../domain/temporal-names.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export class TemporalCliNotFoundError extends Error {
  override name = 'TemporalCliNotFoundError';
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the `temporal` CLI: an explicit path (TEMPORAL_CLI_PATH) must exist; otherwise PATH, then
 * the copy scripts/install-tools.sh puts under .tools/. Undefined means "let the SDK download it".
 */
export async function findTemporalCli(explicit: string | undefined, searchPath: string): Promise<string | undefined> {
  if (explicit) {
    if (await isExecutable(explicit)) return explicit;
    throw new TemporalCliNotFoundError(`TEMPORAL_CLI_PATH=${explicit} is not an executable file`);
  }
  for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, 'temporal');
    if (await isExecutable(candidate)) return candidate;
  }
  const local = path.join(projectRoot, '.tools/temporal/bin/temporal');
  return (await isExecutable(local)) ? local : undefined;
}

export interface DevServerOptions {
  cliPath: string | undefined;
  /** 0 or undefined: any free port (tests). */
  port?: number;
  /** Web UI port; omitted: no UI. */
  uiPort?: number;
  /** SQLite file that keeps workflows across restarts; omitted: in memory. */
  dbFilename?: string;
  /** Server settings (`--dynamic-config-value key=value`), e.g. a low `limit.historyCount.suggestContinueAsNew` for a test. */
  dynamicConfig?: Record<string, unknown>;
}

export interface DevServer {
  address: string;
  env: TestWorkflowEnvironment;
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` with the project's search attributes registered. The SDK
 * supervises the child process and stops it on teardown.
 */
export async function startTemporalDevServer(options: DevServerOptions): Promise<DevServer> {
  if (options.dbFilename) await mkdir(path.dirname(options.dbFilename), { recursive: true });
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: options.cliPath ? { type: 'existing-path', path: options.cliPath } : { type: 'cached-download' },
      ip: '127.0.0.1',
      ...(options.port ? { port: options.port } : {}),
      ...(options.uiPort ? { ui: true, uiPort: options.uiPort } : { ui: false }),
      ...(options.dbFilename ? { dbFilename: options.dbFilename } : {}),
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      extraArgs: ['--log-level', 'error', ...Object.entries(options.dynamicConfig ?? {}).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`])],
    },
  });
  return { address: env.address, env, stop: () => env.teardown() };
}
