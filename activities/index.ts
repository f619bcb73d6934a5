import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { createDiagnosticsActivities } from './diagnostics.js';

export interface ActivityDeps {
  db: Kysely<Database>;
  databaseKind: string;
}

/** Builds every activity from its dependencies; no module-level clients. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDiagnosticsActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
