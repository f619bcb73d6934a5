import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase } from '../db/connect.js';
import { migrateToLatest } from '../db/migrator.js';
import { findTemporalCli, startTemporalDevServer, type DevServer } from './temporal-dev-server.js';

/** Benchmarks run against their own in-memory Temporal dev server and a fresh database they drop afterwards. */
export interface BenchInfrastructure {
  temporal: DevServer;
  databaseUrl: string;
  close(): Promise<void>;
}

export async function startBenchInfrastructure(adminUrl: string, cliPath: string | undefined, searchPath: string, dynamicConfig: Record<string, unknown> = {}): Promise<BenchInfrastructure> {
  const cli = await findTemporalCli(cliPath, searchPath);
  if (!cli) throw new Error('benchmarks need the temporal CLI: run scripts/install-tools.sh temporal');
  const temporal = await startTemporalDevServer({ cliPath: cli, dynamicConfig });
  const dbName = `crm_sync_bench_${Date.now()}_${randomBytes(2).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const handle = await openDatabase({ url: url.toString() });
  await migrateToLatest(handle.db);
  await handle.close();
  return {
    temporal,
    databaseUrl: url.toString(),
    async close() {
      await temporal.stop();
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      await a.query(`drop database if exists ${dbName} with (force)`);
      await a.end();
    },
  };
}

/** `key=value,key=value` (a bench's --temporal-config) as dynamic config values; values are JSON where they parse. */
export function parseDynamicConfig(spec: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--temporal-config wants key=value pairs, got ${JSON.stringify(pair)}`);
    const raw = pair.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a bare string
    }
    out[pair.slice(0, at)] = value;
  }
  return out;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function parseArgs(argv: string[], defaults: Record<string, string>): Record<string, string> {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) continue;
    const [key, inline] = arg.slice(2).split('=');
    const value = inline ?? (argv[i + 1] && !argv[i + 1]!.startsWith('--') ? argv[++i]! : 'true');
    if (!(key! in defaults)) throw new Error(`unknown option --${key}; known: ${Object.keys(defaults).map((k) => `--${k}`).join(' ')}`);
    out[key!] = value;
  }
  return out;
}

/** Runs `task` with at most `concurrency` in flight until `deadline`, returning how many completed. */
export async function saturate(concurrency: number, deadline: number, task: (i: number) => Promise<void>): Promise<number> {
  let started = 0;
  let done = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < deadline) {
      const i = started++;
      await task(i);
      done++;
    }
  }));
  return done;
}

/** Polls `check` every 200 ms until it holds; past `timeoutMs`, fails with `describe()` (or a generic message). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, describe?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(describe?.() ?? `not done after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
