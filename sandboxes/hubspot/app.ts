import { randomUUID } from 'node:crypto';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { FaultInjector, faultMiddleware } from '../shared/faults.js';
import { mountInspection } from '../shared/serve.js';
import { errorEnvelope, HubSpotApiError } from './errors.js';
import { DEFAULT_OWNERS, type Owner } from './owners.js';
import { RateLimiter, rateLimitBody, type PolicyName, type WindowPolicy } from './rate-limit.js';
import { mountAssociationRoutes } from './routes/associations.js';
import { mountObjectRoutes } from './routes/objects.js';
import { mountOwnerRoutes } from './routes/owners.js';
import { mountPropertyRoutes } from './routes/properties.js';
import { mountSchemaRoutes } from './routes/schemas.js';
import { SchemaStore } from './schemas.js';
import { CrmStore } from './store.js';

export interface HubSpotSandboxOptions {
  /** The rolling ten-second policy per token. Default 190 per 10,000 ms (HubSpot Professional private app). */
  rateLimit?: Partial<WindowPolicy>;
  /** The CRM search policy per token. Default 5 per 1,000 ms (HubSpot's documented search limit). */
  searchRateLimit?: Partial<WindowPolicy>;
  /** Requests per token per UTC day. Default 650,000. */
  dailyLimit?: number;
  /** The portal (account) id that appears in error messages and rate-limit group names. */
  portalId?: number;
  /** Owners to seed instead of the default three. */
  owners?: readonly Owner[];
  /** Clock for record timestamps and rate windows. */
  now?: () => Date;
  /** Seed of the fault injector's PRNG, so injected fault sequences are reproducible. */
  faultSeed?: number;
  /** First record id handed out (ids are numeric strings from one sequence). Default 10001. */
  firstObjectId?: number;
  /** Observes every API answer as sent (status, headers, body text); used by conformance checks. */
  onResponse?: (record: ResponseRecord) => void;
}

export interface ResponseRecord {
  method: string;
  /** Request path without the query string. */
  path: string;
  /** The route pattern that answered, e.g. `/crm/v3/objects/:objectType/:objectId`. */
  route: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface RateLimitedCounts {
  tenSecondly: number;
  secondly: number;
  daily: number;
  injected: number;
}

/** Per-route request counts and the 429s served, for `/__sandbox/requests`. */
export class RequestStats {
  total = 0;
  byRoute = new Map<string, number>();
  byStatus = new Map<number, number>();
  rateLimited: RateLimitedCounts = { tenSecondly: 0, secondly: 0, daily: 0, injected: 0 };

  reset(): void {
    this.total = 0;
    this.byRoute.clear();
    this.byStatus.clear();
    this.rateLimited = { tenSecondly: 0, secondly: 0, daily: 0, injected: 0 };
  }

  countPolicy(policy: PolicyName): void {
    if (policy === 'TEN_SECONDLY_ROLLING') this.rateLimited.tenSecondly++;
    else if (policy === 'SECONDLY') this.rateLimited.secondly++;
    else this.rateLimited.daily++;
  }

  snapshot(): Record<string, unknown> {
    const r = this.rateLimited;
    return {
      total: this.total,
      byRoute: Object.fromEntries([...this.byRoute].sort(([a], [b]) => a.localeCompare(b))),
      byStatus: Object.fromEntries(this.byStatus),
      rateLimited: { total: r.tenSecondly + r.secondly + r.daily + r.injected, ...r },
    };
  }
}

export interface HubSpotSandbox {
  app: Hono;
  store: CrmStore;
  /** Custom object schemas (the schemas API). */
  schemas: SchemaStore;
  injector: FaultInjector;
  limiter: RateLimiter;
  requests: RequestStats;
  /** Empties the CRM, rate windows and request counts (fault rules are cleared by `/__sandbox/reset`). */
  reset(): void;
}

const AUTH_MESSAGE =
  'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview';

/** Builds the sandbox: an in-memory HubSpot CRM behind a Hono app that speaks HubSpot's v3/v4 CRM API. */
export function createHubSpotSandbox(options: HubSpotSandboxOptions = {}): HubSpotSandbox {
  const now = options.now ?? (() => new Date());
  const portalId = options.portalId ?? 144_000_001;
  const store = new CrmStore({
    portalId,
    now,
    owners: options.owners ?? DEFAULT_OWNERS,
    firstId: options.firstObjectId ?? 10_001,
  });
  const schemas = new SchemaStore(store, now);
  const limiter = new RateLimiter({
    tenSecondly: { max: options.rateLimit?.max ?? 190, windowMs: options.rateLimit?.windowMs ?? 10_000 },
    search: { max: options.searchRateLimit?.max ?? 5, windowMs: options.searchRateLimit?.windowMs ?? 1_000 },
    daily: options.dailyLimit ?? 650_000,
  });
  const injector = new FaultInjector(options.faultSeed ?? 1);
  const requests = new RequestStats();
  const correlationIds = new WeakMap<Request, string>();
  const correlationId = (c: Context): string => correlationIds.get(c.req.raw) ?? randomUUID();

  // Non-strict: HubSpot (and the official client's owners call) treat a trailing slash as the same path.
  const app = new Hono({ strict: false });

  const reset = (): void => {
    store.reset();
    schemas.reset();
    limiter.reset();
    requests.reset();
  };

  app.use('*', async (c, next) => {
    const id = randomUUID();
    correlationIds.set(c.req.raw, id);
    await next();
    if (c.req.path.startsWith('/__sandbox')) return;
    c.res.headers.set('X-HubSpot-Correlation-Id', id);
    const matched = routePath(c, -1);
    const route = matched === '*' || matched === '/crm/*' || matched === '/crm-object-schemas/*' ? '(no route)' : matched;
    const key = `${c.req.method} ${route}`;
    requests.total++;
    requests.byRoute.set(key, (requests.byRoute.get(key) ?? 0) + 1);
    requests.byStatus.set(c.res.status, (requests.byStatus.get(c.res.status) ?? 0) + 1);
    if (options.onResponse) {
      const headers: Record<string, string> = {};
      c.res.headers.forEach((value, name) => (headers[name] = value));
      options.onResponse({
        method: c.req.method,
        path: c.req.path,
        route,
        status: c.res.status,
        headers,
        body: await c.res.clone().text(),
      });
    }
  });

  mountInspection(app, injector, reset);
  mountSandboxViews(app, store, schemas, limiter, requests);

  const authAndLimits: MiddlewareHandler = async (c, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('Authorization') ?? '');
    const token = match?.[1];
    if (!token) {
      return c.json(
        { status: 'error', message: AUTH_MESSAGE, correlationId: correlationId(c), category: 'INVALID_AUTHENTICATION' },
        401,
      );
    }
    const isSearch = c.req.method === 'POST' && /^\/crm\/v3\/objects\/[^/]+\/search\/?$/.test(c.req.path);
    const decision = limiter.check(token, isSearch, now());
    if (!decision.allowed && decision.policy) {
      requests.countPolicy(decision.policy);
      return c.json(rateLimitBody(decision.policy, portalId, correlationId(c)), 429, decision.headers);
    }
    await next();
    for (const [name, value] of Object.entries(decision.headers)) c.res.headers.set(name, value);
  };
  // The schemas API lives under its own prefix (`/crm-object-schemas/v3`, what the client calls); `/crm/v3/schemas` is its older alias.
  const faults = faultMiddleware(injector, {
    tooManyRequests: (c) => {
      requests.rateLimited.injected++;
      return c.json(rateLimitBody('TEN_SECONDLY_ROLLING', portalId, correlationId(c)), 429);
    },
    serverError: (c, status) =>
      c.json(
        { status: 'error', message: 'internal error', correlationId: correlationId(c), category: 'INTERNAL_ERROR' },
        status as ContentfulStatusCode,
      ),
  });
  for (const prefix of ['/crm/*', '/crm-object-schemas/*']) {
    app.use(prefix, authAndLimits);
    app.use(prefix, faults);
  }

  const routeContext = { store, now };
  mountObjectRoutes(app, routeContext);
  mountPropertyRoutes(app, routeContext);
  mountAssociationRoutes(app, routeContext);
  mountOwnerRoutes(app, routeContext);
  mountSchemaRoutes(app, routeContext, schemas);

  app.notFound((c) =>
    c.json({ status: 'error', message: 'resource not found', correlationId: correlationId(c), category: 'OBJECT_NOT_FOUND' }, 404),
  );
  app.onError((err, c) => {
    if (err instanceof HubSpotApiError) {
      return c.json(errorEnvelope(err, correlationId(c)), err.status as ContentfulStatusCode);
    }
    // A sandbox bug must be loud: log it and answer like HubSpot's own internal errors.
    console.error('hubspot sandbox: unhandled error', err);
    return c.json(
      { status: 'error', message: `internal error: ${String(err)}`, correlationId: correlationId(c), category: 'INTERNAL_ERROR' },
      500,
    );
  });

  return { app, store, schemas, injector, limiter, requests, reset };
}

/** `/__sandbox/state`, `/__sandbox/objects/:type`, `/__sandbox/requests`: what a test or demo wants to see. */
function mountSandboxViews(app: Hono, store: CrmStore, schemas: SchemaStore, limiter: RateLimiter, requests: RequestStats): void {
  app.get('/__sandbox/state', (c) =>
    c.json({
      portalId: store.portalId,
      objects: store.counts(),
      associations: store.associations.edgeCount,
      customProperties: Object.fromEntries(
        store.types.list().map((d) => [d.name, store.properties.list(d.name).filter((p) => !p.hubspotDefined).map((p) => p.name)]),
      ),
      customObjects: schemas.live().map((s) => ({ name: s.name, fullyQualifiedName: s.def.name, objectTypeId: s.def.typeId })),
      owners: store.owners.length,
      rateLimits: limiter.options,
    }),
  );

  app.get('/__sandbox/objects/:type', (c) => {
    const def = store.types.resolve(c.req.param('type'));
    if (!def) return c.json({ error: `unknown object type ${c.req.param('type')}` }, 404);
    // `?properties=a,b` keeps only those values: a benchmark checks 100,000 records without 100,000 full ones.
    const only = c.req.query('properties')?.split(',').filter(Boolean);
    const results = store.all(def.name).map((rec) => ({
      id: rec.id,
      properties: only ? Object.fromEntries(only.map((name) => [name, rec.values.get(name) ?? null])) : Object.fromEntries(rec.values),
      createdAt: rec.createdAt.toISOString(),
      updatedAt: rec.updatedAt.toISOString(),
      archived: rec.archived,
      ...(rec.archivedAt ? { archivedAt: rec.archivedAt.toISOString() } : {}),
      ...(rec.mergedInto ? { mergedInto: rec.mergedInto } : {}),
      associations: Object.fromEntries(
        store.types.list().map((to) => [to.name, store.associations.targets(def.name, rec.id, to.name)]).filter(
          ([, list]) => (list as unknown[]).length > 0,
        ),
      ),
    }));
    return c.json({ type: def.name, total: results.length, results });
  });

  app.get('/__sandbox/requests', (c) => c.json(requests.snapshot()));
}
