import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  startStripeSandbox,
  startWebhookReceiver,
  stripeClientFor,
  type Delivery,
  type RunningStripeSandbox,
  type WebhookReceiver,
} from '../../sandboxes/stripe/index.js';

// Webhook endpoints and delivery: Stripe's signature scheme verified by stripe-node itself, retries
// with backoff, and the shuffle / duplicate knobs that reproduce at-least-once, unordered delivery.

let running: RunningStripeSandbox;
let stripe: Stripe;
const receivers: WebhookReceiver[] = [];

beforeAll(async () => {
  running = await startStripeSandbox({
    port: 0,
    rateLimit: false,
    realTimeTickMs: false,
    seed: 7,
    webhooks: { retry: { initialDelayMs: 50, multiplier: 2, maxDelayMs: 1000, maxAttempts: 4 } },
  });
  stripe = stripeClientFor(running.url);
});

afterAll(async () => {
  await running.close();
});

beforeEach(async () => {
  await fetch(`${running.url}/__sandbox/reset`, { method: 'POST' });
  await settings({ shuffle: false, duplicateRate: 0, concurrency: 1, retry: { initialDelayMs: 50, multiplier: 2, maxAttempts: 4 } });
});

afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function receiver(respond?: Parameters<typeof startWebhookReceiver>[0]): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver(respond);
  receivers.push(r);
  return r;
}

async function settings(patch: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(`${running.url}/__sandbox/webhooks/settings`, { method: 'POST', body: JSON.stringify(patch) });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function deliveries(query = ''): Promise<Delivery[]> {
  const res = await fetch(`${running.url}/__sandbox/deliveries?limit=10000${query}`);
  return ((await res.json()) as { data: Delivery[] }).data;
}

async function idle(): Promise<void> {
  const res = await fetch(`${running.url}/__sandbox/webhooks/idle?timeout_ms=15000`);
  expect(((await res.json()) as { idle: boolean }).idle).toBe(true);
}

describe('webhook endpoints API', () => {
  it('returns the signing secret only on create, and supports list, update and delete', async () => {
    const created = await stripe.webhookEndpoints.create({ url: 'https://example.com/hook', enabled_events: ['customer.created', 'invoice.paid'], description: 'crm' });
    expect(created).toMatchObject({ object: 'webhook_endpoint', status: 'enabled', enabled_events: ['customer.created', 'invoice.paid'], livemode: false });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9]{32}$/);
    const read = await stripe.webhookEndpoints.retrieve(created.id);
    expect(read.secret).toBeUndefined();
    expect((await stripe.webhookEndpoints.list()).data.map((e) => [e.id, e.secret])).toEqual([[created.id, undefined]]);
    const updated = await stripe.webhookEndpoints.update(created.id, { enabled_events: ['*'], disabled: true });
    expect(updated).toMatchObject({ enabled_events: ['*'], status: 'disabled' });
    const deleted = await stripe.webhookEndpoints.del(created.id);
    expect(deleted).toMatchObject({ id: created.id, object: 'webhook_endpoint', deleted: true });
    const missing = await stripe.webhookEndpoints.retrieve(created.id).catch((e: unknown) => e);
    expect(missing).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });

  it.each([
    { params: { url: 'ftp://example.com', enabled_events: ['*'] }, param: 'url' },
    { params: { url: 'not a url', enabled_events: ['*'] }, param: 'url' },
    { params: { url: 'https://example.com', enabled_events: ['customer.exploded'] }, param: 'enabled_events[0]' },
    { params: { url: 'https://example.com', enabled_events: [] as string[] }, param: 'enabled_events' },
  ])('rejects $params.url / $params.enabled_events', async ({ params, param }) => {
    const err = await stripe.webhookEndpoints.create(params as Stripe.WebhookEndpointCreateParams).catch((e: unknown) => e);
    expect(err).toMatchObject({ statusCode: 400, param });
  });
});

describe('delivery', () => {
  it('signs every delivery so that stripe.webhooks.constructEvent accepts it, and only with the right secret', async () => {
    const r = await receiver();
    const endpoint = await stripe.webhookEndpoints.create({ url: r.url, enabled_events: ['*'] });
    const customer = await stripe.customers.create({ email: 'signed@example.com' });
    await stripe.customers.update(customer.id, { name: 'Signed' });
    await r.waitFor((got) => got.length >= 2);
    for (const got of r.received) {
      expect(got.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(got.headers['content-type']).toBe('application/json; charset=utf-8');
      const event = stripe.webhooks.constructEvent(got.payload, got.signature, endpoint.secret as string);
      expect(event.id).toMatch(/^evt_/);
      expect(event.api_version).toBe(Stripe.API_VERSION);
      expect(() => stripe.webhooks.constructEvent(got.payload, got.signature, 'whsec_wrong')).toThrow(Stripe.errors.StripeSignatureVerificationError);
      expect(() => stripe.webhooks.constructEvent(got.payload.replace('signed@', 'forged@'), got.signature, endpoint.secret as string)).toThrow(
        Stripe.errors.StripeSignatureVerificationError,
      );
    }
    const updated = r.received.map((g) => g.event).find((e) => e.type === 'customer.updated');
    expect(updated?.data.object['name']).toBe('Signed');
    expect(updated?.data.previous_attributes).toEqual({ name: null });
    // The request that caused an event is recorded on it.
    const created = await stripe.events.retrieve(r.received[0]?.event.id as string);
    expect(created.request?.id).toMatch(/^req_/);
  });

  it('delivers only the enabled event types', async () => {
    const r = await receiver();
    await stripe.webhookEndpoints.create({ url: r.url, enabled_events: ['customer.updated'] });
    const c = await stripe.customers.create({ email: 'filter@example.com' });
    await stripe.customers.update(c.id, { name: 'F' });
    await stripe.products.create({ name: 'P' });
    await idle();
    expect(r.received.map((g) => g.event.type)).toEqual(['customer.updated']);
  });

  it('retries a receiver that answers 500 with exponential backoff until it answers 200', async () => {
    const r = await receiver((_event, attempt) => (attempt <= 2 ? 500 : 200));
    await stripe.webhookEndpoints.create({ url: r.url, enabled_events: ['customer.created'] });
    const customer = await stripe.customers.create({ email: 'retry@example.com' });
    await r.waitFor((got) => got.some((g) => g.status === 200));
    expect(r.received.map((g) => g.status)).toEqual([500, 500, 200]);
    const gaps = r.received.slice(1).map((g, i) => g.receivedAt - (r.received[i] as { receivedAt: number }).receivedAt);
    expect(gaps[0]).toBeGreaterThanOrEqual(45);
    expect(gaps[1]).toBeGreaterThanOrEqual(95);
    await idle();
    const [delivery] = await deliveries();
    expect(delivery).toMatchObject({ status: 'succeeded', type: 'customer.created', duplicate: false });
    expect(delivery?.attempts.map((a) => a.status)).toEqual([500, 500, 200]);
    const event = (await stripe.events.list({ type: 'customer.created' })).data[0] as Stripe.Event;
    expect((event.data.object as Stripe.Customer).id).toBe(customer.id);
    expect(event.pending_webhooks).toBe(0);
  });

  it('gives up after maxAttempts on a receiver that cannot be reached, keeping every attempt', async () => {
    const r = await receiver();
    const deadUrl = r.url;
    await r.close();
    receivers.splice(receivers.indexOf(r), 1);
    await stripe.webhookEndpoints.create({ url: deadUrl, enabled_events: ['customer.created'] });
    await stripe.customers.create({});
    await idle();
    const [delivery] = await deliveries();
    expect(delivery?.status).toBe('failed');
    expect(delivery?.attempts).toHaveLength(4);
    expect(delivery?.attempts.every((a) => a.status === null && a.error !== null)).toBe(true);
    const failed = await stripe.events.list({ delivery_success: false });
    expect(failed.data.map((e) => e.type)).toEqual(['customer.created']);
  });

  it('does not hold API responses while a receiver is slow', async () => {
    const r = await receiver(() => new Promise<number>((resolve) => setTimeout(() => resolve(200), 1500)));
    await stripe.webhookEndpoints.create({ url: r.url, enabled_events: ['*'] });
    const started = Date.now();
    for (let i = 0; i < 3; i++) await stripe.customers.create({ email: `slow${i}@example.com` });
    expect(Date.now() - started).toBeLessThan(1000);
    await r.waitFor((got) => got.length === 3, 10_000);
  });

  it('shuffle delivers a burst of events in a different order than they happened; all of them arrive', async () => {
    const r = await receiver();
    await stripe.webhookEndpoints.create({ url: r.url, enabled_events: ['customer.created'] });
    await settings({ shuffle: true, shuffleWindowMs: 300, concurrency: 4 });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await stripe.customers.create({ email: `s${i}@example.com` })).id);
    await r.waitFor((got) => got.length === 20);
    const order = r.received.map((g) => g.event.data.object['id'] as string);
    expect(new Set(order)).toEqual(new Set(ids));
    expect(order).not.toEqual(ids);
  });

  it('duplicateRate delivers events twice with the same event id; unordered consumers must dedupe', async () => {
    const r = await receiver();
    await stripe.webhookEndpoints.create({ url: r.url, enabled_events: ['customer.created'] });
    await settings({ duplicateRate: 1, shuffleWindowMs: 20 });
    for (let i = 0; i < 5; i++) await stripe.customers.create({});
    await r.waitFor((got) => got.length === 10);
    const counts = new Map<string, number>();
    for (const g of r.received) counts.set(g.event.id, (counts.get(g.event.id) ?? 0) + 1);
    expect([...counts.values()]).toEqual([2, 2, 2, 2, 2]);
    await idle();
    expect((await deliveries()).filter((d) => d.duplicate)).toHaveLength(5);

    await fetch(`${running.url}/__sandbox/reset`, { method: 'POST' });
    await stripe.webhookEndpoints.create({ url: r.url, enabled_events: ['customer.created'] });
    await settings({ duplicateRate: 0.5 });
    r.received.length = 0;
    for (let i = 0; i < 40; i++) await stripe.customers.create({});
    await idle();
    const dupes = (await deliveries()).filter((d) => d.duplicate).length;
    expect(dupes).toBeGreaterThan(8);
    expect(dupes).toBeLessThan(32);
    expect(r.received).toHaveLength(40 + dupes);
  });

  it('an endpoint pinned to a pre-2025-03-31 API version receives the old billing shapes', async () => {
    const current = await receiver();
    const pinned = await receiver();
    await stripe.webhookEndpoints.create({ url: current.url, enabled_events: ['customer.subscription.created', 'invoice.paid'] });
    const old = await stripe.webhookEndpoints.create({ url: pinned.url, enabled_events: ['customer.subscription.created', 'invoice.paid'], api_version: '2024-06-20' });
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 1000, recurring: { interval: 'month' }, product_data: { name: 'Legacy' } });
    const customer = await stripe.customers.create({ payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    await idle();
    const byType = (r: WebhookReceiver, type: string) => r.received.find((g) => g.event.type === type)?.event.data.object as Record<string, unknown>;

    const oldSub = byType(pinned, 'customer.subscription.created');
    const newSub = byType(current, 'customer.subscription.created');
    expect(oldSub['current_period_end']).toBe(sub.items.data[0]?.current_period_end);
    expect(newSub['current_period_end']).toBeUndefined();
    const oldInvoice = byType(pinned, 'invoice.paid');
    expect(oldInvoice).toMatchObject({ subscription: sub.id, paid: true, charge: expect.stringMatching(/^ch_/), payment_intent: expect.stringMatching(/^pi_/) });
    expect(oldInvoice['parent']).toBeUndefined();
    expect((oldInvoice['lines'] as { data: Array<Record<string, unknown>> }).data[0]).toMatchObject({ type: 'subscription', proration: false, price: { id: price.id } });
    expect(byType(current, 'invoice.paid')['parent']).toMatchObject({ subscription_details: { subscription: sub.id } });

    const delivered = pinned.received[0] as { payload: string; signature: string };
    const event = stripe.webhooks.constructEvent(delivered.payload, delivered.signature, old.secret as string);
    expect(event.api_version).toBe('2024-06-20');
  });

  it('shows the knobs at runtime and validates changes', async () => {
    const current = (await (await fetch(`${running.url}/__sandbox/webhooks/settings`)).json()) as Record<string, unknown>;
    expect(current).toMatchObject({ shuffle: false, duplicateRate: 0, retry: { initialDelayMs: 50, maxAttempts: 4 } });
    const bad = await fetch(`${running.url}/__sandbox/webhooks/settings`, { method: 'POST', body: JSON.stringify({ duplicateRate: 2 }) });
    expect(bad.status).toBe(400);
    const unknown = await fetch(`${running.url}/__sandbox/webhooks/settings`, { method: 'POST', body: JSON.stringify({ colour: 'red' }) });
    expect(unknown.status).toBe(400);
  });
});

describe('events API', () => {
  it('lists events by type, wildcard, types[] and created, and retrieves one', async () => {
    const c = await stripe.customers.create({ email: 'ev@example.com' });
    await stripe.customers.update(c.id, { name: 'Ev' });
    await stripe.products.create({ name: 'Ev product' });
    const all = await stripe.events.list();
    expect(all.data.map((e) => e.type)).toEqual(['product.created', 'customer.updated', 'customer.created']);
    expect((await stripe.events.list({ type: 'customer.*' })).data.map((e) => e.type)).toEqual(['customer.updated', 'customer.created']);
    expect((await stripe.events.list({ types: ['product.created', 'customer.created'] })).data).toHaveLength(2);
    const first = all.data[2] as Stripe.Event;
    expect((await stripe.events.list({ created: { gt: first.created + 3600 } })).data).toEqual([]);
    const one = await stripe.events.retrieve(first.id);
    expect(one).toMatchObject({ object: 'event', type: 'customer.created', livemode: false, api_version: Stripe.API_VERSION });
    expect((one.data.object as Stripe.Customer).email).toBe('ev@example.com');
    // The snapshot is frozen at the time of the event.
    expect((one.data.object as Stripe.Customer).name).toBeNull();
  });
});
