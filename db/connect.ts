import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { CamelCasePlugin, Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';
import { PGliteDialect } from './pglite-dialect.js';

export interface DatabaseHandle {
  db: Kysely<Database>;
  /** 'postgres' with DATABASE_URL, 'embedded' for PGlite under the data directory. */
  kind: 'postgres' | 'embedded';
  /** Where it lives, without credentials, for logs and /health. */
  location: string;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url?: string;
  poolMax?: number;
  /** Directory of the embedded database; `memory://` keeps it in memory (tests). */
  embeddedDir?: string;
}

// SQL snake_case ↔ camelCase at the boundary, but JSON column contents (payloads, id maps) stay as written.
const camelCase = new CamelCasePlugin({ maintainNestedObjectKeys: true });

// int8 (counts, sums) as numbers: our counts stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) {
    const pool = new pg.Pool({ connectionString: options.url, max: options.poolMax ?? 10 });
    // An idle client erroring (server restart) must not crash the process; the pool replaces it.
    pool.on('error', () => undefined);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [camelCase] });
    const u = new URL(options.url);
    return { db, kind: 'postgres', location: `${u.hostname}:${u.port || 5432}${u.pathname}`, close: () => db.destroy() };
  }
  const dir = options.embeddedDir ?? '.data/pglite';
  if (!dir.startsWith('memory://')) await mkdir(path.dirname(path.resolve(dir)), { recursive: true });
  // Loaded lazily: deployments with DATABASE_URL never pay for the WASM build.
  const { PGlite } = await import('@electric-sql/pglite');
  const pglite = await PGlite.create(dir.startsWith('memory://') ? undefined : dir);
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite), plugins: [camelCase] });
  return { db, kind: 'embedded', location: dir.startsWith('memory://') ? 'memory' : path.resolve(dir), close: () => db.destroy() };
}

/** Cheap liveness probe used by /health. */
export async function pingDatabase(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}
