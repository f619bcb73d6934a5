import { randomInt } from 'node:crypto';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { Connection } from 'jsforce';
import { FaultInjector, faultMiddleware } from '../shared/faults.js';
import { listen, mountInspection, type RunningSandbox } from '../shared/serve.js';
import { Sessions, mountAuthRoutes, type AuthOptions } from './auth.js';
import { BulkIngest, type BulkOptions } from './bulk.js';
import { SalesforceError, SchemaDefinitionError, notFound, requestLimitExceeded } from './errors.js';
import { IdGenerator } from './ids.js';
import { mountSalesforceInspection } from './inspection.js';
import { ApiUsage, type LimitOptions } from './limits.js';
import { QueryEngine } from './query.js';
import { createDataApi, meterMiddleware, sfError } from './routes.js';
import { Schema, describeField, describeObject, type CustomFieldSpec, type CustomObjectSpec } from './schema.js';
import { RecordStore } from './store.js';

export type { CustomFieldSpec, CustomObjectSpec, FieldType } from './schema.js';
export type { LimitOptions } from './limits.js';
export type { BulkOptions } from './bulk.js';
export type { AuthOptions } from './auth.js';
export { SalesforceError, SchemaDefinitionError } from './errors.js';

/** The REST API version the sandbox's clients use (Winter '25). Any vNN.N in a URL is accepted. */
export const SALESFORCE_API_VERSION = '62.0';
/** Port the sandboxes CLI listens on. */
export const SALESFORCE_SANDBOX_PORT = 12113;
const OLDEST_VERSION = 20;
const NEWEST_VERSION = 64;

export interface SalesforceSandboxOptions extends AuthOptions {
  /** Record numbers (the last nine base-62 digits of an id) start after this; default 0. Two sandboxes given different values never mint the same id, like two orgs. */
  firstRecordNumber?: number;
  /** Custom fields present from the start, per object, as an admin would have set them up. */
  customFields?: Record<string, CustomFieldSpec[]>;
  /** Custom objects present from the start (key prefixes a00, a01, ...). */
  customObjects?: CustomObjectSpec[];
  limits?: LimitOptions;
  bulk?: BulkOptions;
  /** Open query cursors a user may hold before the oldest is released (Salesforce: 10). */
  maxOpenCursors?: number;
  /** Seed for the fault injector's random draws. */
  faultSeed?: number;
  /** Clock for audit fields and date literals (default: the real clock). */
  now?: () => Date;
}

export interface SalesforceSandbox {
  app: Hono;
  store: RecordStore;
  schema: Schema;
  faults: FaultInjector;
  usage: ApiUsage;
  bulk: BulkIngest;
  queries: QueryEngine;
  /** Adds a custom field, as `POST /__sandbox/schema/:object/fields` does. */
  addField(objectName: string, spec: CustomFieldSpec): ReturnType<typeof describeField>;
  /** Adds a custom object, as `POST /__sandbox/schema/objects` does. */
  addObject(spec: CustomObjectSpec): ReturnType<typeof describeObject>;
  /** Back to the state at creation: records, jobs, cursors, usage, faults and runtime schema additions go. */
  reset(): void;
  /** Stops pending bulk processing timers. */
  stop(): void;
}

function versionLabel(major: number): string {
  // v20.0 was Winter '11; three releases a year, Winter starting each cycle.
  const cycle = major - OLDEST_VERSION;
  const season = ['Winter', 'Spring', 'Summer'][cycle % 3] ?? 'Winter';
  const year = 11 + Math.floor(cycle / 3);
  return `${season} '${String(year).padStart(2, '0')}`;
}

function versions(): Array<{ label: string; url: string; version: string }> {
  const out = [];
  for (let v = OLDEST_VERSION; v <= NEWEST_VERSION; v++) {
    out.push({ label: versionLabel(v), url: `/services/data/v${v}.0`, version: `${v}.0` });
  }
  return out;
}

/** Builds the sandbox (app + state) without listening; tests may call `app.request` directly. */
export function createSalesforceSandbox(options: SalesforceSandboxOptions = {}): SalesforceSandbox {
  const now = options.now ?? (() => new Date());
  const ids = new IdGenerator(options.firstRecordNumber ?? 0);
  const schema = new Schema({
    ...(options.customObjects ? { customObjects: options.customObjects } : {}),
    ...(options.customFields ? { customFields: options.customFields } : {}),
  });
  const store = new RecordStore(schema, ids, now);
  const usage = new ApiUsage(options.limits);
  const queries = new QueryEngine(schema, store, ids, now, options.maxOpenCursors ?? 10);
  const bulk = new BulkIngest(schema, store, ids, usage, now, options.bulk);
  const sessions = new Sessions(options, store);
  const faults = new FaultInjector(options.faultSeed ?? 1);

  const addField = (objectName: string, spec: CustomFieldSpec) => describeField(schema.addField(objectName, spec));
  const addObject = (spec: CustomObjectSpec) => describeObject(schema, schema.addObject(spec), SALESFORCE_API_VERSION);
  const reset = () => {
    bulk.reset();
    queries.reset();
    schema.reset();
    store.reset();
    usage.reset();
  };

  const app = new Hono();
  const dataApiPath = '/services/data/:version{v[0-9]+\\.[0-9]+}';
  // `/*` also matches the bare version path.
  app.use(`${dataApiPath}/*`, meterMiddleware(sessions, usage));
  app.use(
    '*',
    faultMiddleware(faults, {
      // Salesforce has no 429: an exhausted allocation is a 403 REQUEST_LIMIT_EXCEEDED.
      tooManyRequests: (c) => sfError(c, requestLimitExceeded()),
      serverError: (c, status) => {
        const err =
          status === 500
            ? new SalesforceError(
                'UNKNOWN_EXCEPTION',
                `An unexpected error occurred. Please include this ErrorId if you contact support: ${randomInt(1e9, 2e9)}-${randomInt(1e4, 1e5)} (${-randomInt(1e8, 1e9)})`,
                { status },
              )
            : new SalesforceError('SERVER_UNAVAILABLE', 'Server temporarily unavailable, please try again later.', { status });
        return sfError(c, err);
      },
    }),
  );
  mountInspection(app, faults, reset);
  mountSalesforceInspection(app, { schema, store, queries, bulk, usage, faults, addField, addObject });
  mountAuthRoutes(app, sessions, store, SALESFORCE_API_VERSION);
  app.get('/services/data', (c) => c.json(versions()));
  app.get('/services/data/', (c) => c.json(versions()));
  app.route(dataApiPath, createDataApi({ schema, store, queries, bulk, usage }));

  app.notFound((c) => sfError(c, notFound()));
  app.onError((err, c) => {
    if (err instanceof SalesforceError) return sfError(c, err);
    if (err instanceof SchemaDefinitionError) {
      return c.json({ error: { code: err.code, message: err.message } }, (err.code === 'NOT_FOUND' ? 404 : 400) as ContentfulStatusCode);
    }
    if (err instanceof SyntaxError && c.req.path.startsWith('/__sandbox')) {
      return c.json({ error: { code: 'INVALID_JSON', message: err.message } }, 400);
    }
    return sfError(
      c,
      new SalesforceError('UNKNOWN_EXCEPTION', `An unexpected error occurred. Please include this ErrorId if you contact support: ${err.message}`, { status: 500 }),
    );
  });

  return { app, store, schema, faults, usage, bulk, queries, addField, addObject, reset, stop: () => bulk.reset() };
}

/** Creates the sandbox and listens on 127.0.0.1 (port 0, the default, picks a free port). */
export async function startSalesforceSandbox(
  options: SalesforceSandboxOptions & { port?: number } = {},
): Promise<RunningSandbox & { sandbox: SalesforceSandbox }> {
  const { port = 0, ...rest } = options;
  const sandbox = createSalesforceSandbox(rest);
  const running = await listen(sandbox.app, port);
  return {
    ...running,
    sandbox,
    close: async () => {
      sandbox.stop();
      await running.close();
    },
  };
}

/** A real jsforce connection pointed at a sandbox by instance URL alone. */
export function salesforceConnectionFor(url: string, token = 'sandbox-token'): Connection {
  return new Connection({ instanceUrl: url, accessToken: token, version: SALESFORCE_API_VERSION });
}
