import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { FaultInjector, faultMiddleware, seededRandom } from '../shared/faults.js';
import { mountInspection } from '../shared/serve.js';
import { Billing } from './billing.js';
import { Clocks } from './clocks.js';
import { StripeApiError, invalidRequest, type StripeErrorBody } from './errors.js';
import { IdempotencyStore, RateLimiter } from './guards.js';
import type { Env, SandboxContext } from './http.js';
import { parseFormEncoded } from './params.js';
import { catalogRoutes } from './routes/catalog.js';
import { customerRoutes } from './routes/customers.js';
import { eventRoutes } from './routes/events.js';
import { inspectionRoutes } from './routes/inspection.js';
import { invoiceRoutes } from './routes/invoices.js';
import { paymentMethodRoutes } from './routes/payment-methods.js';
import { paymentRoutes } from './routes/payments.js';
import { subscriptionRoutes } from './routes/subscriptions.js';
import { testClockRoutes } from './routes/test-clocks.js';
import { seed, type SeedOptions, type SeedResult } from './seed.js';
import { API_VERSION, DEFAULT_BILLING_SETTINGS, StripeState, requestScope, type BillingSettings } from './state.js';
import { DEFAULT_WEBHOOK_SETTINGS, WebhookDispatcher, type WebhookSettings } from './webhooks.js';

export interface StripeSandboxOptions {
  /** Account id shown in URLs and inspection (default `acct_sandbox`). */
  accountId?: string;
  /** Seed for ids, webhook shuffling/duplicates and fault draws, so a run can be reproduced (default 1). */
  seed?: number;
  /**
   * Stripe-style rate limit: requests per second, with a burst of the same size unless given.
   * `false` or 0 disables it. Default 100/s, Stripe's live-mode limit.
   */
  rateLimit?: { requestsPerSecond: number; burst?: number } | false;
  /** Webhook delivery: shuffle and duplicate knobs, retry schedule, timeouts. */
  webhooks?: Partial<Omit<WebhookSettings, 'retry'>> & { retry?: Partial<WebhookSettings['retry']> };
  /** Dunning and billing timing, like the Dashboard's subscription settings. */
  billing?: Partial<BillingSettings>;
  /** How long a test clock stays `advancing` before the advance runs (default 100 ms). */
  testClockAdvanceDelayMs?: number;
  /** Period of wall-clock billing (renewals etc. of objects without a test clock); `false` disables it. Default 1000 ms. */
  realTimeTickMs?: number | false;
  /** Wall clock in unix seconds (default: the system clock). */
  now?: () => number;
}

export interface StripeSandbox {
  app: Hono<Env>;
  /** The account's objects, events and schedule. */
  state: StripeState;
  billing: Billing;
  /** Test clocks (`advanceTo` awaits an advance) and the wall-clock ticker. */
  clocks: Clocks;
  /** Webhook delivery: `settings`, `updateSettings`, `list` of deliveries, `whenIdle`. */
  webhooks: WebhookDispatcher;
  faults: FaultInjector;
  rateLimiter: RateLimiter;
  /** Bulk-creates customers, subscriptions and invoices through the state model (no HTTP). */
  seed(options: SeedOptions): SeedResult;
  /** Forgets everything: objects, events, deliveries, idempotency keys, faults. */
  reset(): void;
  /** Stops timers and pending deliveries. */
  close(): void;
}


function errorResponse(c: Context<Env>, err: StripeApiError): Response {
  const body: StripeErrorBody = {
    ...err.body,
    request_log_url: `https://dashboard.stripe.com/test/logs/${c.get('requestId') ?? ''}`,
  };
  for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
  return c.json({ error: body }, err.status as 400);
}

function maskKey(key: string): string {
  if (key.length <= 12) return `${key.slice(0, 3)}${'*'.repeat(Math.max(0, key.length - 3))}`;
  return `${key.slice(0, 8)}${'*'.repeat(key.length - 12)}${key.slice(-4)}`;
}

/** `Authorization: Bearer sk_test_...` (or HTTP Basic with the key as user name, as curl -u sends it). */
function apiKey(header: string | undefined): string | null {
  if (!header) return null;
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) return bearer[1] ?? null;
  const basic = /^Basic\s+(\S+)$/i.exec(header);
  if (basic) return Buffer.from(basic[1] ?? '', 'base64').toString('utf8').split(':')[0] ?? null;
  return null;
}

export function createStripeSandbox(options: StripeSandboxOptions = {}): StripeSandbox {
  const seedValue = options.seed ?? 1;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const state = new StripeState(options.accountId ?? 'acct_sandbox', seedValue, { ...DEFAULT_BILLING_SETTINGS, ...options.billing }, now);
  const billing = new Billing(state);
  const clocks = new Clocks(state, billing, options.testClockAdvanceDelayMs ?? 100);
  const { retry, ...webhookRest } = options.webhooks ?? {};
  const webhooks = new WebhookDispatcher(state, seededRandom(seedValue ^ 0x5eed), {
    ...DEFAULT_WEBHOOK_SETTINGS,
    ...webhookRest,
    retry: { ...DEFAULT_WEBHOOK_SETTINGS.retry, ...retry },
  });
  const faults = new FaultInjector(seedValue);
  const limit = options.rateLimit === false ? { requestsPerSecond: 0 } : (options.rateLimit ?? { requestsPerSecond: 100 });
  const rateLimiter = new RateLimiter(limit.requestsPerSecond, limit.burst ?? Math.max(1, limit.requestsPerSecond));
  const idempotency = new IdempotencyStore();
  const ctx: SandboxContext = { state, billing, clocks, webhooks };

  const initial = { billing: structuredClone(state.billing), webhooks: structuredClone(webhooks.settings), limit };
  // A reset forgets every object and restores the settings the sandbox was created with, so a test
  // that changed a knob cannot leak it into the next one.
  const reset = () => {
    webhooks.reset();
    clocks.stop();
    state.clear();
    state.billing = structuredClone(initial.billing);
    webhooks.settings = structuredClone(initial.webhooks);
    idempotency.clear();
    rateLimiter.configure(initial.limit.requestsPerSecond, initial.limit.burst ?? Math.max(1, initial.limit.requestsPerSecond));
    rateLimiter.reset();
    if (options.realTimeTickMs !== false) clocks.start(options.realTimeTickMs ?? 1000);
  };

  const app = new Hono<Env>();

  // Request id and version headers on every API response, errors included.
  app.use('/v1/*', async (c, next) => {
    c.set('requestId', state.ids.next('req'));
    await next();
    const version = c.req.header('Stripe-Version') ?? API_VERSION;
    const headers: Record<string, string> = {
      'Request-Id': c.get('requestId'),
      'Stripe-Version': version,
      'Cache-Control': 'no-cache, no-store',
    };
    const key = c.req.header('Idempotency-Key');
    if (key && c.req.method === 'POST') headers['Idempotency-Key'] = key;
    try {
      for (const [k, v] of Object.entries(headers)) c.res.headers.set(k, v);
    } catch {
      // Immutable headers (a replayed Response): rebuild it with ours added.
      const res = c.res;
      const merged = new Headers(res.headers);
      for (const [k, v] of Object.entries(headers)) merged.set(k, v);
      c.res = new Response(res.body, { status: res.status, headers: merged });
    }
  });

  app.use(
    '/v1/*',
    faultMiddleware(faults, {
      tooManyRequests: (c) =>
        c.json(
          {
            error: {
              type: 'invalid_request_error',
              code: 'rate_limit',
              message: 'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.',
              doc_url: 'https://stripe.com/docs/error-codes/rate-limit',
            },
          },
          429,
          { 'Stripe-Should-Retry': 'true' },
        ),
      serverError: (c, status) =>
        c.json({ error: { type: 'api_error', message: 'An unknown error occurred' } }, status as 500),
    }),
  );

  const auth: MiddlewareHandler<Env> = async (c, next) => {
    const key = apiKey(c.req.header('Authorization'));
    if (!key) {
      throw new StripeApiError(401, {
        type: 'invalid_request_error',
        message:
          "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
      });
    }
    if (!key.startsWith('sk_test_') || key.length <= 'sk_test_'.length) {
      throw new StripeApiError(401, { type: 'invalid_request_error', message: `Invalid API Key provided: ${maskKey(key)}` });
    }
    const version = c.req.header('Stripe-Version');
    if (version !== undefined && !/^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/.test(version)) {
      throw invalidRequest(`Invalid Stripe API version: ${version}`, { code: 'api_version_invalid' });
    }
    await next();
  };
  app.use('/v1/*', auth);

  app.use('/v1/*', async (c, next) => {
    if (!rateLimiter.take()) {
      throw new StripeApiError(
        429,
        {
          type: 'invalid_request_error',
          code: 'rate_limit',
          message: 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
          doc_url: 'https://stripe.com/docs/error-codes/rate-limit',
        },
        { 'Stripe-Should-Retry': 'true' },
      );
    }
    await next();
  });

  // Parameters: the form body of a POST, the query string otherwise (stripe-node sends DELETE params there too).
  app.use('/v1/*', async (c, next) => {
    const text = c.req.method === 'POST' ? await c.req.text() : new URL(c.req.url).search.slice(1);
    c.set('raw', parseFormEncoded(text));
    await next();
  });

  app.use('/v1/*', async (c, next) => {
    const key = c.req.method === 'POST' ? c.req.header('Idempotency-Key') : undefined;
    const info = { id: c.get('requestId'), idempotencyKey: key ?? null };
    if (key === undefined) return requestScope.run(info, () => next());
    if (key.length > 255) throw invalidRequest('Idempotency keys can be at most 255 characters long.', { code: 'idempotency_key_too_long' });
    const endpoint = `${c.req.method} ${c.req.path}`;
    const check = idempotency.begin(key, endpoint, c.get('raw'), c.get('requestId'));
    switch (check.kind) {
      case 'replay':
        return new Response(check.response.body, {
          status: check.response.status,
          headers: { ...check.response.headers, 'Idempotent-Replayed': 'true', 'Original-Request': check.originalRequestId },
        });
      case 'in_progress':
        throw new StripeApiError(409, {
          type: 'invalid_request_error',
          code: 'idempotency_key_in_use',
          message: `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`,
        });
      case 'other_endpoint':
        throw new StripeApiError(400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${check.endpoint}' vs '${endpoint}'). Try using a key other than '${key}' if you meant to execute a different request.`,
        });
      case 'other_params':
        throw new StripeApiError(400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        });
      case 'new':
        break;
    }
    try {
      await requestScope.run(info, () => next());
    } finally {
      // Stripe stores the result once the endpoint ran (successes, card errors, server errors);
      // requests rejected before executing (validation, missing objects) can be retried with the key.
      const status = c.res.status;
      const storable = status < 400 || status === 402 || status >= 500;
      if (storable) {
        const text = await c.res.clone().text();
        idempotency.finish(key, { status, body: text, headers: { 'Content-Type': c.res.headers.get('Content-Type') ?? 'application/json' } });
      } else {
        idempotency.finish(key, null);
      }
    }
  });

  for (const routes of [
    customerRoutes,
    catalogRoutes,
    paymentMethodRoutes,
    subscriptionRoutes,
    invoiceRoutes,
    paymentRoutes,
    eventRoutes,
    testClockRoutes,
  ]) {
    app.route('/v1', routes(ctx));
  }

  mountInspection(app as unknown as Hono, faults, reset);
  app.route('/__sandbox', inspectionRoutes(ctx, rateLimiter));

  app.notFound((c) => {
    if (!c.get('requestId')) c.set('requestId', state.ids.next('req'));
    return errorResponse(
      c,
      invalidRequest(
        `Unrecognized request URL (${c.req.method}: ${c.req.path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
        { status: 404 },
      ),
    );
  });

  app.onError((err, c) => {
    if (err instanceof StripeApiError) return errorResponse(c, err);
    console.error('stripe sandbox: unexpected error', err);
    return errorResponse(c, new StripeApiError(500, { type: 'api_error', message: 'An unknown error occurred' }));
  });

  if (options.realTimeTickMs !== false) clocks.start(options.realTimeTickMs ?? 1000);

  return {
    app,
    state,
    billing,
    clocks,
    webhooks,
    faults,
    rateLimiter,
    seed: (o) => seed(state, billing, o),
    reset,
    close: () => {
      clocks.stop();
      webhooks.stop();
    },
  };
}
