import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/database.js';

export function createDiagnosticsActivities(deps: { db: Kysely<Database>; databaseKind: string }) {
  return {
    async checkDatabase(): Promise<{ ok: boolean; kind: string; migrations: number }> {
      const { rows } = await sql<{ count: number }>`select count(*)::int as count from kysely_migration`.execute(deps.db);
      return { ok: true, kind: deps.databaseKind, migrations: rows[0]?.count ?? 0 };
    },
  };
}
