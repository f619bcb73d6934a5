import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStripeSandbox, stripeClientFor, type RunningStripeSandbox } from '../../sandboxes/stripe/index.js';

// The less central objects and paths: subscription items, previews, invoice lines and payments,
// PaymentIntent confirmation, send_invoice collection, billing anchors, metered prices, customer
// coupons, payment method detach, test clock deletion and wall-clock billing.

const DAY = 86_400;
let now = 1_780_000_000;
let running: RunningStripeSandbox;
let stripe: Stripe;

beforeAll(async () => {
  // A controllable wall clock: billing of objects without a test clock runs on `/__sandbox/tick`.
  running = await startStripeSandbox({ port: 0, rateLimit: false, realTimeTickMs: false, now: () => now });
  stripe = stripeClientFor(running.url, 'sk_test_objects', { maxNetworkRetries: 0 });
});

afterAll(async () => {
  await running.close();
});

beforeEach(async () => {
  await fetch(`${running.url}/__sandbox/reset`, { method: 'POST' });
});

async function tick(): Promise<void> {
  expect((await fetch(`${running.url}/__sandbox/tick`, { method: 'POST' })).status).toBe(200);
}

async function customerWithCard(): Promise<Stripe.Customer> {
  return stripe.customers.create({ email: 'o@example.com', payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
}

async function monthly(amount: number, name: string): Promise<Stripe.Price> {
  return stripe.prices.create({ currency: 'usd', unit_amount: amount, recurring: { interval: 'month' }, product_data: { name } });
}

describe('subscriptions on the wall clock', () => {
  it('ends a trial and charges an hour later when real time passes', async () => {
    const price = await monthly(1000, 'Basic');
    const customer = await customerWithCard();
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }], trial_end: now + 60 });
    expect(sub.status).toBe('trialing');
    now += 120;
    await tick();
    const active = await stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice'] });
    expect(active.status).toBe('active');
    expect((active.latest_invoice as Stripe.Invoice).status).toBe('draft');
    now += 3_600;
    await tick();
    expect(await stripe.invoices.retrieve((active.latest_invoice as Stripe.Invoice).id)).toMatchObject({ status: 'paid', amount_paid: 1000 });
  });

  it('bills metered items in arrears without a quantity, and refuses one', async () => {
    const price = await monthly(1000, 'Basic');
    const metered = await stripe.prices.create({
      currency: 'usd',
      unit_amount_decimal: Stripe.Decimal.from('2.5'),
      recurring: { interval: 'month', usage_type: 'metered' },
      product_data: { name: 'API calls' },
    });
    const customer = await customerWithCard();
    const refused = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: metered.id, quantity: 2 }] }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ statusCode: 400, param: 'items[0][quantity]' });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }, { price: metered.id }], expand: ['latest_invoice'] });
    expect(sub.items.data.map((i) => i.quantity)).toEqual([1, undefined]);
    const lines = (sub.latest_invoice as Stripe.Invoice).lines.data.map((l) => [l.description, l.amount]);
    expect(lines).toEqual([
      ['1 × Basic (at $10.00 / month)', 1000],
      ['API calls (at $0.025 per unit / month)', 0],
    ]);
  });

  it('subscription items: add, change quantity, list, delete; duplicates are refused', async () => {
    const base = await monthly(1000, 'Seat');
    const addon = await monthly(300, 'Addon');
    const customer = await customerWithCard();
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: base.id }] });
    const seat = sub.items.data[0] as Stripe.SubscriptionItem;
    const updated = await stripe.subscriptionItems.update(seat.id, { quantity: 3, proration_behavior: 'none' });
    expect(updated.quantity).toBe(3);
    const added = await stripe.subscriptionItems.create({ subscription: sub.id, price: addon.id, quantity: 2, proration_behavior: 'none' });
    expect(added).toMatchObject({ object: 'subscription_item', quantity: 2, subscription: sub.id });
    expect((await stripe.subscriptionItems.list({ subscription: sub.id })).data.map((i) => i.id).sort()).toEqual([seat.id, added.id].sort());
    const dup = await stripe.subscriptionItems.create({ subscription: sub.id, price: base.id }).catch((e: unknown) => e);
    expect(dup).toMatchObject({ statusCode: 400, param: 'items' });
    expect(await stripe.subscriptionItems.del(added.id, { proration_behavior: 'none' })).toMatchObject({ id: added.id, deleted: true });
    const preview = await stripe.invoices.createPreview({ subscription: sub.id });
    expect(preview).toMatchObject({ object: 'invoice', amount_due: 3000, billing_reason: 'upcoming' });
    expect((preview as { id?: string }).id).toBeUndefined();
  });

  it('a future billing_cycle_anchor prorates the first, short period', async () => {
    const price = await monthly(3100, 'Anchored');
    const customer = await customerWithCard();
    const anchor = now + 10 * DAY;
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }], billing_cycle_anchor: anchor, expand: ['latest_invoice'] });
    expect(sub).toMatchObject({ status: 'active', billing_cycle_anchor: anchor });
    expect(sub.items.data[0]?.current_period_end).toBe(anchor);
    const invoice = sub.latest_invoice as Stripe.Invoice;
    // The share of the anchor's full monthly cycle that the first period covers.
    const a = new Date(anchor * 1000);
    const cycleStart = Date.UTC(a.getUTCFullYear(), a.getUTCMonth() - 1, a.getUTCDate(), a.getUTCHours(), a.getUTCMinutes(), a.getUTCSeconds()) / 1000;
    expect(invoice.amount_due).toBe(Math.round((3100 * 10 * DAY) / (anchor - cycleStart)));
    expect(invoice.lines.data[0]?.period).toEqual({ start: anchor - 10 * DAY, end: anchor });
    const none = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: (await monthly(100, 'N')).id }], billing_cycle_anchor: anchor, proration_behavior: 'none', expand: ['latest_invoice'] });
    expect((none.latest_invoice as Stripe.Invoice).amount_due).toBe(0);
  });

  it('send_invoice subscriptions are active at once and go past_due when the invoice is overdue', async () => {
    const price = await monthly(1000, 'Invoiced');
    const customer = await stripe.customers.create({ email: 'ap@example.com' });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }], collection_method: 'send_invoice', days_until_due: 7 });
    expect(sub.status).toBe('active');
    const invoice = await stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(invoice).toMatchObject({ status: 'open', collection_method: 'send_invoice', due_date: now + 7 * DAY, attempt_count: 0 });
    now += 7 * DAY + 1;
    await tick();
    expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('past_due');
    const overdue = await stripe.events.list({ type: 'invoice.overdue' });
    expect(overdue.data).toHaveLength(1);
    await stripe.invoices.pay(invoice.id, { paid_out_of_band: true });
    expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('active');
    expect(await stripe.invoices.retrieve(invoice.id)).toMatchObject({ status: 'paid', amount_paid: 0 });
  });

  it('a default_incomplete subscription is activated by confirming its invoice’s PaymentIntent', async () => {
    const price = await monthly(1500, 'Confirm');
    const customer = await stripe.customers.create({});
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      payment_behavior: 'default_incomplete',
      expand: ['latest_invoice.payments', 'latest_invoice.confirmation_secret'],
    });
    expect(sub.status).toBe('incomplete');
    const invoice = sub.latest_invoice as Stripe.Invoice;
    expect(invoice.confirmation_secret?.client_secret).toMatch(/^pi_.+_secret_/);
    const pi = invoice.payments?.data[0]?.payment.payment_intent as string;
    const confirmed = await stripe.paymentIntents.confirm(pi, { payment_method: 'pm_card_visa' });
    expect(confirmed).toMatchObject({ status: 'succeeded', amount_received: 1500 });
    expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('active');
    const payments = await stripe.invoicePayments.list({ invoice: invoice.id });
    expect(payments.data[0]).toMatchObject({ object: 'invoice_payment', status: 'paid', amount_paid: 1500, is_default: true });
    expect((await stripe.invoicePayments.retrieve(payments.data[0]?.id as string)).invoice).toBe(invoice.id);
  });
});

describe('invoices and other objects', () => {
  it('pages invoice lines and keeps manual invoices in draft until finalized', async () => {
    const customer = await customerWithCard();
    for (let i = 1; i <= 12; i++) await stripe.invoiceItems.create({ customer: customer.id, amount: i * 100, currency: 'usd', description: `Item ${i}` });
    const invoice = await stripe.invoices.create({ customer: customer.id, pending_invoice_items_behavior: 'include' });
    expect(invoice).toMatchObject({ status: 'draft', subtotal: 7800, amount_due: 7800, auto_advance: false, number: null });
    expect(invoice.lines.has_more).toBe(true);
    const lines = await stripe.invoices.listLineItems(invoice.id, { limit: 5 }).autoPagingToArray({ limit: 100 });
    expect(lines.map((l) => l.description)).toEqual(Array.from({ length: 12 }, (_, i) => `Item ${i + 1}`));
    const item = await stripe.invoiceItems.create({ customer: customer.id, amount: 200, currency: 'usd', invoice: invoice.id, description: 'Late item' });
    expect((await stripe.invoices.retrieve(invoice.id)).amount_due).toBe(8000);
    await stripe.invoiceItems.del(item.id);
    expect((await stripe.invoices.retrieve(invoice.id)).amount_due).toBe(7800);
    const paid = await stripe.invoices.pay(invoice.id);
    expect(paid).toMatchObject({ status: 'paid', amount_paid: 7800 });
    expect(paid.number).toMatch(/-0001$/);
    const late = await stripe.invoiceItems.create({ customer: customer.id, amount: 1, currency: 'usd', invoice: invoice.id }).catch((e: unknown) => e);
    expect(late).toMatchObject({ statusCode: 400, param: 'invoice' });
  });

  it('applies a customer coupon (legacy param) and emits customer.discount events', async () => {
    const price = await monthly(2000, 'Disc');
    const coupon = await stripe.coupons.create({ percent_off: 50, duration: 'once' });
    const customer = await customerWithCard();
    const updated = await stripe.customers.update(customer.id, { coupon: coupon.id } as Stripe.CustomerUpdateParams);
    expect(updated.discount).toMatchObject({ object: 'discount', customer: customer.id, source: { coupon: coupon.id, type: 'coupon' } });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }], expand: ['latest_invoice'] });
    expect((sub.latest_invoice as Stripe.Invoice).total).toBe(1000);
    expect(((await stripe.customers.retrieve(customer.id)) as Stripe.Customer).discount).toBeNull();
    const types = (await stripe.events.list({ type: 'customer.discount.*' })).data.map((e) => e.type);
    expect(types).toEqual(['customer.discount.deleted', 'customer.discount.created']);
  });

  it('detaching the default payment method clears it from the customer', async () => {
    const customer = await customerWithCard();
    const [pm] = (await stripe.customers.listPaymentMethods(customer.id)).data;
    const detached = await stripe.paymentMethods.detach((pm as Stripe.PaymentMethod).id);
    expect(detached.customer).toBeNull();
    expect(((await stripe.customers.retrieve(customer.id)) as Stripe.Customer).invoice_settings.default_payment_method).toBeNull();
    const events = (await stripe.events.list({ types: ['payment_method.detached', 'customer.updated'] })).data;
    expect(events.map((e) => e.type)).toEqual(['customer.updated', 'payment_method.detached']);
  });

  it('deleting a test clock deletes its customers and ends their subscriptions', async () => {
    const price = await monthly(1000, 'Clocked');
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: now, name: 'to delete' });
    const customer = await stripe.customers.create({ test_clock: clock.id, payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    expect(await stripe.testHelpers.testClocks.del(clock.id)).toMatchObject({ id: clock.id, deleted: true });
    expect((await stripe.customers.retrieve(customer.id)).deleted).toBe(true);
    expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('canceled');
    const types = (await stripe.events.list({ limit: 3 })).data.map((e) => e.type);
    expect(types).toEqual(['test_helpers.test_clock.deleted', 'customer.deleted', 'customer.subscription.deleted']);
  });

  it('products with prices cannot be deleted; products and prices are searchable', async () => {
    const price = await monthly(900, 'Searchable');
    const product = price.product as string;
    const refused = await stripe.products.del(product).catch((e: unknown) => e);
    expect(refused).toMatchObject({ statusCode: 400 });
    expect((await stripe.products.search({ query: 'name~"search"' })).data.map((p) => p.id)).toEqual([product]);
    expect((await stripe.prices.search({ query: `product:"${product}" AND active:"true"` })).data.map((p) => p.id)).toEqual([price.id]);
    const empty = await stripe.products.create({ name: 'Empty' });
    expect(await stripe.products.del(empty.id)).toMatchObject({ id: empty.id, deleted: true });
  });
});
