import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStripeSandbox, stripeClientFor, type RunningStripeSandbox } from '../../sandboxes/stripe/index.js';

// Stripe's own example of every object in the current API version (shared/ sits beside the checkout).
const FIXTURES = [fileURLToPath(new URL('../../../shared/reference/stripe/fixtures3.json', import.meta.url)), '/work/shared/reference/stripe/fixtures3.json']
  .find((p) => existsSync(p)) ?? '/work/shared/reference/stripe/fixtures3.json';
const reference = (JSON.parse(readFileSync(FIXTURES, 'utf8')) as { resources: Record<string, Record<string, unknown>> }).resources;

type Json = Record<string, unknown>;
const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Fields Stripe returns only when asked with `include`/`expand` (fixtures show everything). */
const INCLUDABLE = new Set(['charge.refunds']);

/**
 * Compares an object the sandbox returned with Stripe's fixture of the same type: the same keys at
 * the top level, and where both sides have a value, the same JSON type (ids may be expanded objects
 * on either side, and nullable fields may be null on one side only). Two tolerances, both about the
 * fixture snapshot's date: a key the fixture only shows as null may be absent (removed in the
 * current version), and a key the fixture lacks may be present if null (newer than the snapshot).
 */
function shapeDifferences(type: string, actual: Json): string[] {
  const expected = reference[type];
  if (!expected) throw new Error(`no fixture for ${type}`);
  const problems: string[] = [];
  for (const [key, value] of Object.entries(expected)) {
    if (!(key in actual) && value !== null && !INCLUDABLE.has(`${type}.${key}`)) problems.push(`${type}.${key} missing`);
  }
  for (const [key, value] of Object.entries(actual)) {
    if (!(key in expected) && value !== null) problems.push(`${type}.${key} not in the current API version`);
  }
  for (const [key, value] of Object.entries(expected)) {
    if (!(key in actual)) continue;
    const a = kind(actual[key]);
    const e = kind(value);
    if (a === 'null' || e === 'null' || a === e) continue;
    if ((a === 'string' && e === 'object') || (a === 'object' && e === 'string')) continue; // expandable
    problems.push(`${type}.${key} is ${a}, Stripe sends ${e}`);
  }
  return problems;
}

describe('Stripe sandbox object shapes match the current API version (fixtures3.json)', () => {
  let sandbox: RunningStripeSandbox;
  const raw = async (path: string, init?: RequestInit): Promise<Json> => {
    const res = await fetch(`${sandbox.url}${path}`, { ...init, headers: { authorization: 'Bearer sk_test_conformance', ...(init?.headers ?? {}) } });
    return (await res.json()) as Json;
  };
  const objects: Record<string, Json> = {};

  beforeAll(async () => {
    sandbox = await startStripeSandbox({ port: 0 });
    const stripe = stripeClientFor(sandbox.url, 'sk_test_conformance');
    const product = await stripe.products.create({ name: 'Conformance' });
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 1500, recurring: { interval: 'month' }, product: product.id });
    const coupon = await stripe.coupons.create({ percent_off: 10, duration: 'forever' });
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000) });
    const customer = await stripe.customers.create({ email: 'c@conformance.example', payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }], discounts: [{ coupon: coupon.id }] });
    const charge = (await stripe.charges.list({ customer: customer.id })).data[0]!;
    const refund = await stripe.refunds.create({ charge: charge.id, amount: 100 });
    const endpoint = await stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:9/hook', enabled_events: ['*'] });
    const pm = (await stripe.paymentMethods.list({ customer: customer.id, type: 'card' })).data[0]!;
    const event = (await stripe.events.list({ limit: 1 })).data[0]!;
    objects.customer = await raw(`/v1/customers/${customer.id}`);
    objects.product = await raw(`/v1/products/${product.id}`);
    objects.price = await raw(`/v1/prices/${price.id}`);
    objects.coupon = await raw(`/v1/coupons/${coupon.id}`);
    objects.subscription = await raw(`/v1/subscriptions/${sub.id}`);
    objects.subscription_item = await raw(`/v1/subscription_items/${sub.items.data[0]!.id}`);
    objects.invoice = await raw(`/v1/invoices/${typeof sub.latest_invoice === 'string' ? sub.latest_invoice : sub.latest_invoice!.id}`);
    objects.charge = await raw(`/v1/charges/${charge.id}`);
    objects.refund = await raw(`/v1/refunds/${refund.id}`);
    objects.payment_method = await raw(`/v1/payment_methods/${pm.id}`);
    objects.payment_intent = await raw(`/v1/payment_intents/${typeof charge.payment_intent === 'string' ? charge.payment_intent : charge.payment_intent!.id}`);
    objects.event = await raw(`/v1/events/${event.id}`);
    objects.webhook_endpoint = await raw(`/v1/webhook_endpoints/${endpoint.id}`);
    objects['test_helpers.test_clock'] = await raw(`/v1/test_helpers/test_clocks/${clock.id}`);
    objects.discount = ((objects.subscription.discounts as unknown[])[0] && typeof (objects.subscription.discounts as unknown[])[0] === 'object')
      ? (objects.subscription.discounts as Json[])[0]!
      : (await raw(`/v1/subscriptions/${sub.id}?expand[]=discounts`)).discounts instanceof Array
        ? ((await raw(`/v1/subscriptions/${sub.id}?expand[]=discounts`)).discounts as Json[])[0]!
        : {};
    objects.deleted_customer = await raw(`/v1/customers/${(await stripe.customers.create({})).id}`, { method: 'DELETE' });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it.each([
    'customer', 'product', 'price', 'coupon', 'subscription', 'subscription_item', 'invoice', 'charge', 'refund', 'payment_method',
    'payment_intent', 'event', 'webhook_endpoint', 'test_helpers.test_clock', 'discount', 'deleted_customer',
  ])('%s', (type) => {
    const actual = objects[type]!;
    expect(actual.object, `${type} object field`).toBe(reference[type]!.object);
    expect(shapeDifferences(type, actual)).toEqual([]);
  });
});
