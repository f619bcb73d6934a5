import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStripeSandbox, stripeClientFor, type RunningStripeSandbox } from '../../sandboxes/stripe/index.js';

// The Stripe sandbox driven through the real stripe-node client: request parsing, CRUD, lists and
// pagination, expansion, error shapes, idempotency, rate limits and fault injection.

let running: RunningStripeSandbox;
let stripe: Stripe;

beforeAll(async () => {
  running = await startStripeSandbox({ port: 0, rateLimit: false, realTimeTickMs: false });
  stripe = stripeClientFor(running.url, 'sk_test_sandbox', { maxNetworkRetries: 0 });
});

afterAll(async () => {
  await running.close();
});

beforeEach(async () => {
  await fetch(`${running.url}/__sandbox/reset`, { method: 'POST' });
});

async function thrown(p: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof Stripe.errors.StripeError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe('create then read back', () => {
  it('customers keep what was sent, including nested and metadata params', async () => {
    const created = await stripe.customers.create({
      email: 'ada@example.com',
      name: 'Ada Lovelace',
      phone: '+15555550100',
      description: 'first customer',
      metadata: { crm_id: 'hs-42', 'with space': 'yes' },
      address: { line1: '1 Analytical Way', city: 'London', country: 'GB', postal_code: 'N1' },
      preferred_locales: ['en', 'fr'],
    });
    expect(created.id).toMatch(/^cus_[A-Za-z0-9]{14}$/);
    const read = (await stripe.customers.retrieve(created.id)) as Stripe.Customer;
    expect(read).toMatchObject({
      object: 'customer',
      email: 'ada@example.com',
      name: 'Ada Lovelace',
      metadata: { crm_id: 'hs-42', 'with space': 'yes' },
      address: { line1: '1 Analytical Way', line2: null, city: 'London', country: 'GB', postal_code: 'N1', state: null },
      preferred_locales: ['en', 'fr'],
      balance: 0,
      delinquent: false,
      livemode: false,
      test_clock: null,
      invoice_settings: { default_payment_method: null, custom_fields: null, footer: null },
    });
    const updated = await stripe.customers.update(created.id, { metadata: { crm_id: '', tier: 'gold' }, email: 'ada@lovelace.dev' });
    expect(updated.metadata).toEqual({ 'with space': 'yes', tier: 'gold' });
    expect(updated.email).toBe('ada@lovelace.dev');
  });

  it('deleting a customer returns the deleted shape, and retrieve keeps returning it', async () => {
    const c = await stripe.customers.create({ email: 'gone@example.com' });
    const deleted = await stripe.customers.del(c.id);
    expect(deleted).toMatchObject({ id: c.id, object: 'customer', deleted: true });
    const again = await stripe.customers.retrieve(c.id);
    expect({ ...again }).toEqual({ id: c.id, object: 'customer', deleted: true });
    const err = await thrown(stripe.customers.update(c.id, { name: 'x' }));
    expect(err.statusCode).toBe(404);
    const list = await stripe.customers.list({ email: 'gone@example.com' });
    expect(list.data).toEqual([]);
  });

  type PriceRow = { label: string; params: Omit<Stripe.PriceCreateParams, 'product'> & { currency: string; recurring: Stripe.PriceCreateParams.Recurring }; amount: number | null; interval: string; count: number };
  it.each(<PriceRow[]>[
    { label: 'monthly usd', params: { currency: 'usd', unit_amount: 2000, recurring: { interval: 'month' as const } }, amount: 2000, interval: 'month', count: 1 },
    { label: 'quarterly', params: { currency: 'usd', unit_amount: 6000, recurring: { interval: 'month' as const, interval_count: 3 } }, amount: 6000, interval: 'month', count: 3 },
    { label: 'yearly eur', params: { currency: 'eur', unit_amount: 24000, recurring: { interval: 'year' as const } }, amount: 24000, interval: 'year', count: 1 },
    { label: 'weekly', params: { currency: 'usd', unit_amount: 500, recurring: { interval: 'week' as const, interval_count: 2 } }, amount: 500, interval: 'week', count: 2 },
    { label: 'daily', params: { currency: 'usd', unit_amount: 100, recurring: { interval: 'day' as const } }, amount: 100, interval: 'day', count: 1 },
    { label: 'zero-decimal jpy', params: { currency: 'JPY', unit_amount: 4900, recurring: { interval: 'month' as const } }, amount: 4900, interval: 'month', count: 1 },
    {
      label: 'metered',
      params: { currency: 'usd', unit_amount_decimal: Stripe.Decimal.from('0.5'), recurring: { interval: 'month' as const, usage_type: 'metered' as const, meter: 'mtr_123' } },
      amount: null,
      interval: 'month',
      count: 1,
    },
  ])('prices: $label', async ({ params, amount, interval, count }) => {
    const product = await stripe.products.create({ name: 'Plan' });
    const price = await stripe.prices.create({ product: product.id, ...params });
    const read = await stripe.prices.retrieve(price.id);
    expect(read.unit_amount).toBe(amount);
    expect(read.currency).toBe(params.currency.toLowerCase());
    expect(read.recurring).toMatchObject({ interval, interval_count: count, usage_type: params.recurring.usage_type ?? 'licensed' });
    expect(read.type).toBe('recurring');
    expect(String(read.unit_amount_decimal)).toBe(String(params.unit_amount_decimal ?? params.unit_amount));
  });

  it('creates a product inline with product_data and finds prices by lookup_key', async () => {
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 1500, product_data: { name: 'Inline' }, lookup_key: 'pro_monthly', recurring: { interval: 'month' } });
    const product = await stripe.products.retrieve(price.product as string);
    expect(product.name).toBe('Inline');
    const found = await stripe.prices.list({ lookup_keys: ['pro_monthly'] });
    expect(found.data.map((p) => p.id)).toEqual([price.id]);
    const clash = await thrown(stripe.prices.create({ currency: 'usd', unit_amount: 1, product: product.id, lookup_key: 'pro_monthly' }));
    expect(clash.message).toContain('already uses that lookup key');
    const moved = await stripe.prices.create({ currency: 'usd', unit_amount: 1, product: product.id, lookup_key: 'pro_monthly', transfer_lookup_key: true });
    expect((await stripe.prices.retrieve(price.id)).lookup_key).toBeNull();
    expect((await stripe.prices.list({ lookup_keys: ['pro_monthly'] })).data.map((p) => p.id)).toEqual([moved.id]);
    const updated = await stripe.prices.update(price.id, { active: false, nickname: 'old' });
    expect(updated).toMatchObject({ active: false, nickname: 'old' });
    expect((await stripe.prices.list({ active: true, product: product.id })).data.map((p) => p.id)).toEqual([moved.id]);
  });

  it.each([
    { params: { percent_off: 25.5, duration: 'forever' as const }, expect: { percent_off: 25.5, amount_off: null, duration: 'forever' } },
    { params: { amount_off: 500, currency: 'usd', duration: 'once' as const }, expect: { amount_off: 500, currency: 'usd', duration: 'once' } },
    { params: { percent_off: 10, duration: 'repeating' as const, duration_in_months: 3 }, expect: { duration: 'repeating', duration_in_months: 3 } },
  ])('coupons: $params.duration', async ({ params, expect: shape }) => {
    const coupon = await stripe.coupons.create(params);
    expect(await stripe.coupons.retrieve(coupon.id)).toMatchObject({ object: 'coupon', valid: true, times_redeemed: 0, ...shape });
  });
});

describe('lists and pagination', () => {
  it('auto-pagination walks more than 100 objects newest first, forwards and backwards', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) ids.push((await stripe.customers.create({ email: `p${i}@example.com` })).id);
    const all = await stripe.customers.list({ limit: 100 }).autoPagingToArray({ limit: 1000 });
    expect(all.map((c) => c.id)).toEqual([...ids].reverse());
    const first = await stripe.customers.list({ limit: 7 });
    expect(first.has_more).toBe(true);
    expect(first.url).toBe('/v1/customers');
    const seen: string[] = [];
    for await (const c of stripe.customers.list({ limit: 25 })) seen.push(c.id);
    expect(seen).toHaveLength(120);
    // ending_before pages towards newer objects; stripe-node iterates them oldest first.
    const backwards = await stripe.customers.list({ limit: 10, ending_before: ids[50] as string }).autoPagingToArray({ limit: 1000 });
    expect(backwards.map((c) => c.id)).toEqual(ids.slice(51));
    const err = await thrown(stripe.customers.list({ starting_after: 'cus_doesnotexist1' }));
    expect(err).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'starting_after' });
  });

  it('filters by created range and email on a seeded data set', async () => {
    const from = 1_700_000_000;
    const to = from + 100 * 86_400;
    running.sandbox.seed({ customers: 300, subscriptionsPerCustomer: 0, createdRange: { from, to }, emailDomain: 'seeded.test' });
    const mid = from + 50 * 86_400;
    const older = await stripe.customers.list({ created: { lt: mid }, limit: 100 }).autoPagingToArray({ limit: 1000 });
    const newer = await stripe.customers.list({ created: { gte: mid }, limit: 100 }).autoPagingToArray({ limit: 1000 });
    expect(older.length + newer.length).toBe(300);
    expect(older.every((c) => c.created < mid)).toBe(true);
    expect(newer.every((c) => c.created >= mid)).toBe(true);
    const created = newer.map((c) => c.created);
    expect(created).toEqual([...created].sort((a, b) => b - a));
    const one = newer[3] as Stripe.Customer;
    expect((await stripe.customers.list({ email: one.email as string })).data.map((c) => c.id)).toEqual([one.id]);
  });

  it('lists subscriptions by customer and by status, including status=all', async () => {
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 1000, recurring: { interval: 'month' }, product_data: { name: 'P' } });
    const customer = await stripe.customers.create({ payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const a = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    const b = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }], trial_period_days: 7 });
    await stripe.subscriptions.cancel(a.id);
    const byCustomer = await stripe.subscriptions.list({ customer: customer.id });
    expect(byCustomer.data.map((s) => s.id)).toEqual([b.id]);
    expect((await stripe.subscriptions.list({ customer: customer.id, status: 'all' })).data.map((s) => s.id)).toEqual([b.id, a.id]);
    expect((await stripe.subscriptions.list({ status: 'canceled' })).data.map((s) => s.id)).toEqual([a.id]);
    expect((await stripe.subscriptions.list({ status: 'trialing' })).data.map((s) => s.id)).toEqual([b.id]);
  });

  it('searches customers with the search query language', async () => {
    await stripe.customers.create({ email: 'grace@navy.mil', name: 'Grace Hopper', metadata: { crm_id: 'c-1' } });
    await stripe.customers.create({ email: 'alan@bletchley.uk', name: 'Alan Turing', metadata: { crm_id: 'c-2' } });
    const byEmail = await stripe.customers.search({ query: 'email:"GRACE@navy.mil"' });
    expect(byEmail.data.map((c) => c.name)).toEqual(['Grace Hopper']);
    const byMetadata = await stripe.customers.search({ query: "metadata['crm_id']:'c-2'" });
    expect(byMetadata.data.map((c) => c.name)).toEqual(['Alan Turing']);
    const substring = await stripe.customers.search({ query: 'name~"tur" OR name~"hop"' });
    expect(substring.data).toHaveLength(2);
    const err = await thrown(stripe.customers.search({ query: 'email:"a" AND name:"b" OR name:"c"' }));
    expect(err.statusCode).toBe(400);
  });
});

describe('expand', () => {
  it('expands references and includable fields the way the API does', async () => {
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 1000, recurring: { interval: 'month' }, product_data: { name: 'Exp' } });
    const customer = await stripe.customers.create({ email: 'x@example.com', payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      expand: ['latest_invoice.payments', 'customer', 'items.data.price.product'],
    });
    const invoice = sub.latest_invoice as Stripe.Invoice;
    expect(invoice.object).toBe('invoice');
    expect(invoice.payments?.data[0]?.payment.payment_intent).toMatch(/^pi_/);
    expect((sub.customer as Stripe.Customer).email).toBe('x@example.com');
    expect(((sub.items.data[0]?.price as Stripe.Price).product as Stripe.Product).name).toBe('Exp');

    const withSubs = (await stripe.customers.retrieve(customer.id, { expand: ['subscriptions', 'invoice_settings.default_payment_method'] })) as Stripe.Customer;
    expect(withSubs.subscriptions?.data.map((s) => s.id)).toEqual([sub.id]);
    expect((withSubs.invoice_settings.default_payment_method as Stripe.PaymentMethod).card?.last4).toBe('4242');
    const plain = (await stripe.customers.retrieve(customer.id)) as Stripe.Customer;
    expect(plain.subscriptions).toBeUndefined();

    const listed = await stripe.customers.list({ expand: ['data.default_source', 'data.invoice_settings.default_payment_method'] });
    expect(listed.data[0]?.default_source).toBeNull();
    expect((listed.data[0]?.invoice_settings.default_payment_method as Stripe.PaymentMethod).object).toBe('payment_method');

    const bad = await thrown(stripe.customers.retrieve(customer.id, { expand: ['email'] }));
    expect(bad).toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError', message: 'This property cannot be expanded (email).' });
    const removed = await thrown(stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice.payment_intent'] }));
    expect(removed.message).toBe('This property cannot be expanded (latest_invoice.payment_intent).');
  });
});

describe('errors', () => {
  it.each([
    {
      label: '404 for an unknown object in the URL',
      call: () => stripe.customers.retrieve('cus_x'),
      expected: { statusCode: 404, type: 'StripeInvalidRequestError', code: 'resource_missing', message: "No such customer: 'cus_x'", param: 'id' },
    },
    {
      label: '400 for an unknown object in a parameter',
      call: () => stripe.subscriptions.create({ customer: 'cus_missing', items: [{ price: 'price_x' }] }),
      expected: { statusCode: 400, code: 'resource_missing', message: "No such customer: 'cus_missing'", param: 'customer' },
    },
    {
      label: '400 for a missing required parameter',
      call: () => stripe.webhookEndpoints.create({ enabled_events: ['*'] } as unknown as Stripe.WebhookEndpointCreateParams),
      expected: { statusCode: 400, code: 'parameter_missing', message: 'Missing required param: url.', param: 'url' },
    },
    {
      label: '400 for an unknown parameter',
      call: () => stripe.customers.create({ emial: 'typo@example.com' } as unknown as Stripe.CustomerCreateParams),
      expected: { statusCode: 400, code: 'parameter_unknown', message: 'Received unknown parameter: emial', param: 'emial' },
    },
    {
      label: '400 for a nested unknown parameter',
      call: () => stripe.customers.create({ address: { line1: 'x', planet: 'Mars' } } as unknown as Stripe.CustomerCreateParams),
      expected: { statusCode: 400, code: 'parameter_unknown', param: 'address[planet]' },
    },
    {
      label: '400 for a bad integer',
      call: () => stripe.customers.list({ limit: 1000 }),
      expected: { statusCode: 400, param: 'limit' },
    },
    {
      label: '400 for a bad enum value',
      call: () => stripe.prices.create({ currency: 'usd', unit_amount: 1, product_data: { name: 'x' }, recurring: { interval: 'fortnight' as 'week' } }),
      expected: { statusCode: 400, param: 'recurring[interval]', message: 'Invalid recurring[interval]: must be one of day, week, month, or year' },
    },
    {
      label: '402 when attaching a declining card',
      call: async () => stripe.paymentMethods.attach('pm_card_chargeDeclined', { customer: (await stripe.customers.create({})).id }),
      expected: { statusCode: 402, type: 'StripeCardError', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
    },
  ])('$label', async ({ call, expected }) => {
    const err = await thrown(call());
    expect(err).toMatchObject(expected);
    expect(err.requestId).toMatch(/^req_/);
  });

  it('declines charges on pm_card_chargeCustomerFail with a 402 card_error', async () => {
    const customer = await stripe.customers.create({});
    const pm = await stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer: customer.id });
    expect(pm.customer).toBe(customer.id);
    await stripe.invoiceItems.create({ customer: customer.id, amount: 1234, currency: 'usd', description: 'Setup fee' });
    const invoice = await stripe.invoices.create({ customer: customer.id, pending_invoice_items_behavior: 'include' });
    expect(invoice.amount_due).toBe(1234);
    const err = await thrown(stripe.invoices.pay(invoice.id, { payment_method: pm.id }));
    expect(err).toMatchObject({ statusCode: 402, type: 'StripeCardError', code: 'card_declined', decline_code: 'generic_decline' });
    const after = await stripe.invoices.retrieve(invoice.id);
    expect(after).toMatchObject({ status: 'open', attempt_count: 1, amount_paid: 0 });
    const charges = await stripe.charges.list({ customer: customer.id });
    expect(charges.data.map((c) => [c.status, c.failure_code])).toEqual([['failed', 'card_declined']]);
  });

  it('answers 401 for keys that are not test secret keys', async () => {
    for (const key of ['sk_live_abcdefghijklmnop', 'pk_test_abcdefghijklmnop', 'sk_test_']) {
      const err = await thrown(stripeClientFor(running.url, key, { maxNetworkRetries: 0 }).customers.list());
      expect(err).toMatchObject({ statusCode: 401, type: 'StripeAuthenticationError' });
    }
    const raw = await fetch(`${running.url}/v1/customers`);
    expect(raw.status).toBe(401);
    expect(((await raw.json()) as { error: { message: string } }).error.message).toContain('You did not provide an API key');
  });

  it('answers unknown URLs with Stripe’s unrecognized-URL error', async () => {
    const res = await fetch(`${running.url}/v1/nothing_here`, { headers: { Authorization: 'Bearer sk_test_x1' } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringContaining('Unrecognized request URL (GET: /v1/nothing_here)') } });
  });
});

describe('request handling', () => {
  it('parses nested brackets and echoes Stripe-Version and the request id', async () => {
    const body = 'email=raw%40example.com&metadata[a]=1&metadata[b]=two+words&preferred_locales[0]=de&preferred_locales[1]=en&expand[]=invoice_settings.default_payment_method';
    const res = await fetch(`${running.url}/v1/customers`, {
      method: 'POST',
      body,
      headers: { Authorization: 'Bearer sk_test_raw', 'Content-Type': 'application/x-www-form-urlencoded', 'Stripe-Version': '2024-06-20' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('stripe-version')).toBe('2024-06-20');
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    const json = (await res.json()) as Stripe.Customer;
    expect(json).toMatchObject({ email: 'raw@example.com', metadata: { a: '1', b: 'two words' }, preferred_locales: ['de', 'en'] });
    const viaClient = await stripe.customers.list({ limit: 1 });
    expect(viaClient.lastResponse.apiVersion).toBe(Stripe.API_VERSION);
  });

  it('replays idempotent requests and rejects a key reused with other parameters', async () => {
    const key = 'order-7';
    const first = await stripe.customers.create({ email: 'once@example.com' }, { idempotencyKey: key });
    const second = await stripe.customers.create({ email: 'once@example.com' }, { idempotencyKey: key });
    expect(second.id).toBe(first.id);
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect((await stripe.customers.list({ email: 'once@example.com' })).data).toHaveLength(1);
    const err = await thrown(stripe.customers.create({ email: 'twice@example.com' }, { idempotencyKey: key }));
    expect(err).toMatchObject({ statusCode: 400, type: 'StripeIdempotencyError' });
    expect(err.message).toContain('same parameters');
    const otherEndpoint = await thrown(stripe.products.create({ name: 'x' }, { idempotencyKey: key }));
    expect(otherEndpoint.type).toBe('StripeIdempotencyError');
    // A request that failed validation did not execute, so its key can be used again.
    await thrown(stripe.customers.create({ emial: 'x' } as unknown as Stripe.CustomerCreateParams, { idempotencyKey: 'k2' }));
    expect((await stripe.customers.create({ email: 'k2@example.com' }, { idempotencyKey: 'k2' })).email).toBe('k2@example.com');
  });
});

describe('rate limits and faults', () => {
  it('rate limits like Stripe: 429 rate_limit with Stripe-Should-Retry, which a retrying client rides out', async () => {
    await fetch(`${running.url}/__sandbox/rate-limit`, { method: 'POST', body: JSON.stringify({ requestsPerSecond: 5, burst: 5 }) });
    try {
      const noRetry = stripeClientFor(running.url, 'sk_test_sandbox', { maxNetworkRetries: 0 });
      const results = await Promise.allSettled(Array.from({ length: 15 }, () => noRetry.customers.list({ limit: 1 })));
      const limited = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Stripe.errors.StripeError);
      expect(limited.length).toBeGreaterThanOrEqual(8);
      expect(limited[0]).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect(limited[0]).toMatchObject({ statusCode: 429, code: 'rate_limit' });
      expect(limited[0]?.headers?.['stripe-should-retry']).toBe('true');

      await new Promise((r) => setTimeout(r, 1100));
      const retrying = stripeClientFor(running.url, 'sk_test_sandbox', { maxNetworkRetries: 10 });
      const all = await Promise.all(Array.from({ length: 12 }, (_, i) => retrying.customers.create({ email: `burst${i}@example.com` })));
      expect(new Set(all.map((c) => c.id)).size).toBe(12);
    } finally {
      await fetch(`${running.url}/__sandbox/rate-limit`, { method: 'POST', body: JSON.stringify({ requestsPerSecond: 0 }) });
    }
  });

  it('injects Stripe-shaped 5xx and 429 faults through the shared fault kit', async () => {
    await fetch(`${running.url}/__sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ rules: [{ method: 'POST', path: '^/v1/customers$', rate5xx: 1, status5xx: 503, times: 2 }] }),
    });
    const failing = await thrown(stripe.customers.create({ email: 'f@example.com' }));
    expect(failing).toMatchObject({ statusCode: 503, type: 'StripeAPIError' });
    const retrying = stripeClientFor(running.url, 'sk_test_sandbox', { maxNetworkRetries: 3 });
    const ok = await retrying.customers.create({ email: 'f@example.com' });
    expect(ok.id).toMatch(/^cus_/);
    const faults = (await (await fetch(`${running.url}/__sandbox/faults`)).json()) as { injected: Record<string, number> };
    expect(faults.injected['5xx']).toBe(2);
    // The retried POST reused stripe-node's idempotency key, so exactly one customer exists.
    expect((await stripe.customers.list({ email: 'f@example.com' })).data).toHaveLength(1);

    await fetch(`${running.url}/__sandbox/faults`, { method: 'DELETE' });
    await fetch(`${running.url}/__sandbox/faults`, { method: 'POST', body: JSON.stringify({ path: '^/v1/products', rate429: 1, times: 1 }) });
    const limited = await thrown(stripe.products.list());
    expect(limited).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect((await stripe.products.list()).object).toBe('list');
  });
});
