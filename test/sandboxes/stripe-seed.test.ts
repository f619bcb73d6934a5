import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStripeSandbox, stripeClientFor, type RunningStripeSandbox } from '../../sandboxes/stripe/index.js';

// Bulk seeding builds large accounts through the same state model as the API, fast enough for
// benchmarks, and the result behaves like API-created data (lists, search, expansion, renewals).

let running: RunningStripeSandbox;
let stripe: Stripe;

beforeAll(async () => {
  running = await startStripeSandbox({ port: 0, rateLimit: false, realTimeTickMs: false, testClockAdvanceDelayMs: 5 });
  stripe = stripeClientFor(running.url);
});

afterAll(async () => {
  await running.close();
});

describe('seeding', () => {
  it('seeds 100,000 customers with subscriptions and invoices in a few seconds', async () => {
    const heapBefore = process.memoryUsage().heapUsed;
    const result = running.sandbox.seed({
      customers: 100_000,
      subscriptionsPerCustomer: 1,
      withInvoices: true,
      statuses: { active: 85, trialing: 5, past_due: 5, canceled: 5 },
      metadata: { source: 'seed' },
    });
    const heapMb = Math.round((process.memoryUsage().heapUsed - heapBefore) / 1e6);
    console.log(`seeded ${result.customers} customers, ${result.subscriptions} subscriptions, ${result.invoices} invoices, ${result.charges} charges in ${result.durationMs} ms (~${heapMb} MB heap)`);
    expect(result).toMatchObject({ customers: 100_000, subscriptions: 100_000, invoices: 100_000 });
    expect(result.durationMs).toBeLessThan(15_000);

    const state = (await (await fetch(`${running.url}/__sandbox/state`)).json()) as {
      counts: Record<string, number>;
      subscriptions_by_status: Record<string, number>;
    };
    expect(state.counts['customers']).toBe(100_000);
    expect(state.counts['subscriptions']).toBe(100_000);
    expect(Object.keys(state.subscriptions_by_status).sort()).toEqual(['active', 'canceled', 'past_due', 'trialing']);
    expect(state.subscriptions_by_status['active']).toBeGreaterThan(80_000);

    // Served like any other data: first pages, cursors deep into the set, search, expansion.
    const first = await stripe.customers.list({ limit: 100 });
    expect(first.data).toHaveLength(100);
    expect(first.has_more).toBe(true);
    const created = first.data.map((c) => c.created);
    expect(created).toEqual([...created].sort((a, b) => b - a));
    const second = await stripe.customers.list({ limit: 100, starting_after: first.data[99]?.id as string });
    expect(second.data[0]?.created).toBeLessThanOrEqual(first.data[99]?.created as number);

    const sampleId = result.sample.customers[0] as string;
    const customer = (await stripe.customers.retrieve(sampleId, { expand: ['subscriptions', 'invoice_settings.default_payment_method'] })) as Stripe.Customer;
    expect(customer.metadata).toEqual({ source: 'seed' });
    expect((customer.invoice_settings.default_payment_method as Stripe.PaymentMethod).card?.last4).toBe('4242');
    const found = await stripe.customers.search({ query: `email:"${customer.email as string}"` });
    expect(found.data.map((c) => c.id)).toEqual([sampleId]);

    const subId = result.sample.subscriptions[0] as string;
    const sub = await stripe.subscriptions.retrieve(subId, { expand: ['latest_invoice'] });
    const invoice = sub.latest_invoice as Stripe.Invoice;
    expect(invoice.parent?.subscription_details?.subscription).toBe(subId);
    expect(invoice.lines.data[0]?.period).toEqual({ start: sub.items.data[0]?.current_period_start, end: sub.items.data[0]?.current_period_end });
    if (sub.status === 'active') {
      expect(sub.items.data[0]?.current_period_start).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
      expect(sub.items.data[0]?.current_period_end).toBeGreaterThan(Math.floor(Date.now() / 1000));
      expect(invoice.status).toBe('paid');
    }
    const pastDue = await stripe.subscriptions.list({ status: 'past_due', limit: 3, expand: ['data.latest_invoice'] });
    for (const s of pastDue.data) expect((s.latest_invoice as Stripe.Invoice).status).toBe('open');
  });

  it('gives seeded objects the exact shape of API-created ones', async () => {
    running.sandbox.reset();
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 2900, recurring: { interval: 'month' }, product_data: { name: 'Starter' } });
    const seeded = running.sandbox.seed({ customers: 1, prices: [price.id] });
    const customer = await stripe.customers.create({ payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const viaApi = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    const viaSeed = await stripe.subscriptions.retrieve(seeded.sample.subscriptions[0] as string);
    const keys = (o: object) => Object.keys(o).sort();
    expect(keys(viaSeed)).toEqual(keys(viaApi));
    expect(keys(viaSeed.items.data[0] as object)).toEqual(keys(viaApi.items.data[0] as object));
    const seededInvoice = await stripe.invoices.retrieve(seeded.sample.invoices[0] as string);
    const apiInvoice = await stripe.invoices.retrieve(viaApi.latest_invoice as string);
    expect(keys(seededInvoice)).toEqual(keys(apiInvoice));
    // Same wording as API-made lines (seeded quantities vary from 1 to 5).
    expect(apiInvoice.lines.data[0]?.description).toBe('1 × Starter (at $29.00 / month)');
    expect(seededInvoice.lines.data[0]?.description).toMatch(/^[1-5] × Starter \(at \$29\.00 \/ month\)$/);
    expect(viaSeed.id).toMatch(/^sub_[A-Za-z0-9]{24}$/);
  });

  it('is reachable over HTTP, and seeded subscriptions renew when their clock moves', async () => {
    running.sandbox.reset();
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: 1_770_000_000 });
    const res = await fetch(`${running.url}/__sandbox/seed`, {
      method: 'POST',
      body: JSON.stringify({ customers: 50, testClock: clock.id, createdRange: { from: 1_769_000_000, to: 1_770_000_000 }, emitEvents: true }),
    });
    expect(res.status).toBe(200);
    const result = (await res.json()) as { customers: number; invoices: number; prices: string[] };
    expect(result).toMatchObject({ customers: 50, invoices: 50 });
    const events = await stripe.events.list({ type: 'customer.created', limit: 100 });
    expect(events.data).toHaveLength(50);
    // Only monthly and yearly prices are seeded by default, so two months is within the advance limit.
    let c = await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: 1_770_000_000 + 40 * 86_400 });
    while (c.status === 'advancing') c = await stripe.testHelpers.testClocks.retrieve(clock.id);
    expect(c.status).toBe('ready');
    const customers = await stripe.customers.list({ test_clock: clock.id, limit: 100 });
    expect(customers.data).toHaveLength(50);
    let invoices = 0;
    for (const customer of customers.data) invoices += (await stripe.invoices.list({ customer: customer.id, limit: 100 })).data.length;
    expect(invoices).toBeGreaterThan(50);
    const bad = await fetch(`${running.url}/__sandbox/seed`, { method: 'POST', body: JSON.stringify({ customers: -1 }) });
    expect(bad.status).toBe(400);
  });
});
