import type { Client } from '@temporalio/client';
import { Hono } from 'hono';
import type { Kysely } from 'kysely';
import type Stripe from 'stripe';
import type { Database } from '../db/database.js';
import { handleError } from './errors.js';
import { backfillRoutes } from './routes/backfills.js';
import { customerRoutes } from './routes/customers.js';
import { deadLetterRoutes } from './routes/dead-letters.js';
import { reconciliationRoutes } from './routes/reconciliations.js';
import { healthRoutes } from './routes/health.js';
import { conflictRoutes, identityRoutes, reviewRoutes } from './routes/reviews.js';
import { webhookRoutes } from './routes/webhooks.js';

export interface AppDeps {
  temporal: Client;
  temporalAddress: string;
  db: Kysely<Database>;
  databaseKind: string;
  /** Queue customer workflows start on (tests give each file its own). Default TASK_QUEUES.main. */
  workflowTaskQueue?: string;
  stripe: { secrets: Array<{ secret: string; accountId?: string }>; primaryAccountId: string; mode: 'live' | 'test'; client: Stripe | null };
}

/** The HTTP API. The server file only listens; every resource is a sub-app mounted here. */
export function createApp(deps: AppDeps) {
  const app = new Hono();
  app.route('/health', healthRoutes(deps));
  app.route('/webhooks', webhookRoutes(deps));
  app.route('/dead-letters', deadLetterRoutes(deps));
  app.route('/customers', customerRoutes(deps));
  app.route('/reviews', reviewRoutes(deps));
  app.route('/identity', identityRoutes(deps));
  app.route('/conflicts', conflictRoutes(deps));
  app.route('/reconciliations', reconciliationRoutes(deps));
  app.route('/backfills', backfillRoutes(deps));
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } }, 404));
  app.onError(handleError);
  return app;
}
