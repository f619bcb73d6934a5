import { Hono } from 'hono';
import { z } from 'zod';
import { invalidRequest } from '../errors.js';
import type { Env, SandboxContext } from '../http.js';
import type { RateLimiter } from '../guards.js';
import { seed } from '../seed.js';
import { API_VERSION } from '../state.js';

const webhookSettingsPatch = z
  .object({
    shuffle: z.boolean(),
    shuffleWindowMs: z.number().int().min(0),
    duplicateRate: z.number().min(0).max(1),
    timeoutMs: z.number().int().min(1),
    concurrency: z.number().int().min(1),
    retry: z
      .object({
        initialDelayMs: z.number().min(0),
        multiplier: z.number().min(1),
        maxDelayMs: z.number().min(0),
        maxAttempts: z.number().int().min(1),
      })
      .partial()
      .strict(),
  })
  .partial()
  .strict();

const billingSettingsPatch = z
  .object({
    retryScheduleDays: z.array(z.number().min(0)).max(8),
    subscriptionAfterRetries: z.enum(['cancel', 'unpaid', 'past_due']),
    invoiceAfterRetries: z.enum(['past_due', 'uncollectible']),
    finalizeDelaySeconds: z.number().int().min(0),
    upcomingInvoiceDays: z.number().int().min(0),
    incompleteExpirySeconds: z.number().int().min(1),
  })
  .partial()
  .strict();

const rateLimitPatch = z.object({ requestsPerSecond: z.number().min(0), burst: z.number().min(1).optional() }).strict();

const seedBody = z
  .object({
    customers: z.number().int().min(0).max(2_000_000),
    subscriptionsPerCustomer: z.number().int().min(0).max(20),
    withInvoices: z.boolean(),
    withPaymentMethods: z.boolean(),
    createdRange: z.object({ from: z.number().int(), to: z.number().int() }).strict(),
    prices: z.array(z.string()),
    statuses: z.object({ active: z.number(), trialing: z.number(), past_due: z.number(), canceled: z.number() }).partial().strict(),
    emitEvents: z.boolean(),
    testClock: z.string(),
    emailDomain: z.string(),
    metadata: z.record(z.string(), z.string()),
  })
  .partial()
  .required({ customers: true })
  .strict();

const disputeBody = z.object({ reason: z.string(), amount: z.number().int().min(1) }).partial().strict();

/** Drops keys whose value is undefined, which `exactOptionalPropertyTypes` does not accept as absent. */
function defined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}

async function body<T>(c: { req: { text(): Promise<string> } }, schema: z.ZodType<T>): Promise<T> {
  const text = await c.req.text();
  let json: unknown;
  try {
    json = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw invalidRequest('Invalid JSON body.');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidRequest(`Invalid ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`, { param: issue?.path.join('.') ?? '' });
  }
  return parsed.data;
}

/**
 * The sandbox's own routes, next to the shared /__sandbox/faults and /__sandbox/reset: state counts,
 * webhook deliveries, runtime knobs, bulk seeding and test helpers Stripe has no API for.
 */
export function inspectionRoutes(ctx: SandboxContext, rateLimiter: RateLimiter): Hono<Env> {
  const { state: s, billing, webhooks, clocks } = ctx;
  const app = new Hono<Env>();

  app.get('/state', (c) => {
    const countBy = <T>(rows: readonly T[], key: (r: T) => string) => {
      const out: Record<string, number> = {};
      for (const r of rows) out[key(r)] = (out[key(r)] ?? 0) + 1;
      return out;
    };
    const deliveries = webhooks.list();
    return c.json({
      account: s.accountId,
      api_version: API_VERSION,
      now: s.realNow(),
      counts: {
        customers: s.customers.all().filter((r) => !r.deleted).length,
        products: s.products.size,
        prices: s.prices.size,
        coupons: s.coupons.size,
        payment_methods: s.paymentMethods.size,
        subscriptions: s.subscriptions.size,
        invoices: s.invoices.size,
        invoice_items: s.invoiceItems.size,
        payment_intents: s.paymentIntents.size,
        charges: s.charges.size,
        refunds: s.refunds.size,
        disputes: s.disputes.size,
        events: s.events.size,
        webhook_endpoints: s.webhookEndpoints.size,
        test_clocks: s.testClocks.size,
      },
      subscriptions_by_status: countBy(s.subscriptions.all(), (r) => r.status),
      invoices_by_status: countBy(s.invoices.all(), (r) => r.status),
      deliveries: countBy(deliveries, (d) => d.status),
      test_clocks: s.testClocks.all().map((r) => ({ id: r.id, frozen_time: r.frozenTime, status: r.status, pending_jobs: s.pendingJobs(r.id) })),
      settings: { billing: s.billing, webhooks: webhooks.settings, rate_limit: { requestsPerSecond: rateLimiter.requestsPerSecond, burst: rateLimiter.burst } },
    });
  });

  app.get('/deliveries', (c) => {
    const q = c.req.query();
    const limit = Math.min(Number(q['limit'] ?? 100) || 100, 10_000);
    const filter = defined({ event: q['event'], endpoint: q['endpoint'], status: q['status'], type: q['type'] });
    const all = webhooks.list(filter);
    return c.json({ object: 'list', total: all.length, data: all.slice(0, limit) });
  });

  /** Waits (up to `timeout_ms`) until no webhook delivery is queued, in flight or awaiting a retry. */
  app.get('/webhooks/idle', async (c) => {
    const timeout = Math.min(Number(c.req.query('timeout_ms') ?? 10_000) || 10_000, 120_000);
    let timer: NodeJS.Timeout | undefined;
    const idle = await Promise.race([
      webhooks.whenIdle().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeout);
      }),
    ]);
    clearTimeout(timer);
    return c.json({ idle });
  });

  app.get('/webhooks/settings', (c) => c.json(webhooks.settings));
  app.post('/webhooks/settings', async (c) => {
    const patch = await body(c, webhookSettingsPatch);
    const { retry, ...rest } = patch;
    return c.json(webhooks.updateSettings({ ...defined(rest), ...(retry ? { retry: defined(retry) } : {}) }));
  });

  app.get('/billing/settings', (c) => c.json(s.billing));
  app.post('/billing/settings', async (c) => {
    const patch = await body(c, billingSettingsPatch);
    s.billing = { ...s.billing, ...defined(patch) };
    return c.json(s.billing);
  });

  app.get('/rate-limit', (c) => c.json({ requestsPerSecond: rateLimiter.requestsPerSecond, burst: rateLimiter.burst }));
  app.post('/rate-limit', async (c) => {
    const p = await body(c, rateLimitPatch);
    rateLimiter.configure(p.requestsPerSecond, p.burst ?? Math.max(1, p.requestsPerSecond));
    return c.json({ requestsPerSecond: rateLimiter.requestsPerSecond, burst: rateLimiter.burst });
  });

  app.post('/seed', async (c) => {
    const p = await body(c, seedBody);
    const { createdRange, statuses, metadata, ...rest } = p;
    const result = seed(s, billing, {
      ...defined(rest),
      customers: p.customers,
      ...(createdRange ? { createdRange } : {}),
      ...(statuses ? { statuses: defined(statuses) } : {}),
      ...(metadata ? { metadata } : {}),
    });
    return c.json(result);
  });

  /** Stripe has no API to open a dispute; its test cards do. This opens one on any succeeded charge. */
  app.post('/charges/:id/dispute', async (c) => {
    const p = await body(c, disputeBody);
    const ch = s.charges.require(c.req.param('id'));
    billing.createDispute(ch, defined(p));
    const dispute = s.disputes.all().filter((d) => d.charge === ch.id).at(-1);
    return c.json({ dispute: dispute?.id ?? null });
  });

  /** Runs wall-clock billing now instead of waiting for the next tick. */
  app.post('/tick', (c) => {
    clocks.tick();
    return c.json({ ticked: true, now: s.realNow() });
  });

  return app;
}
