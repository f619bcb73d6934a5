import type { Client } from '@temporalio/client';
import { Hono } from 'hono';
import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { handleError } from './errors.js';
import { healthRoutes } from './routes/health.js';

export interface AppDeps {
  temporal: Client;
  temporalAddress: string;
  db: Kysely<Database>;
  databaseKind: string;
}

/** The HTTP API. The server file only listens; every resource is a sub-app mounted here. */
export function createApp(deps: AppDeps) {
  const app = new Hono();
  app.route('/health', healthRoutes(deps));
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } }, 404));
  app.onError(handleError);
  return app;
}
