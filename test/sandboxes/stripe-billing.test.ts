import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  startStripeSandbox,
  startWebhookReceiver,
  stripeClientFor,
  type RunningStripeSandbox,
  type WebhookReceiver,
} from '../../sandboxes/stripe/index.js';

// Billing behaviour on test clocks, through the real stripe client: trials, renewals, dunning,
// upgrades with prorations, refunds, discounts and cancellation, checked against the events and
// object states Stripe documents.

const DAY = 86_400;
const HOUR = 3_600;
/** 2026-01-15T00:00:00Z */
const T0 = 1_768_435_200;

let running: RunningStripeSandbox;
let stripe: Stripe;
let receiver: WebhookReceiver;
let secret: string;

beforeAll(async () => {
  running = await startStripeSandbox({ port: 0, rateLimit: false, realTimeTickMs: false, testClockAdvanceDelayMs: 10 });
  stripe = stripeClientFor(running.url);
  receiver = await startWebhookReceiver();
});

afterAll(async () => {
  await running.close();
  await receiver.close();
});

beforeEach(async () => {
  await fetch(`${running.url}/__sandbox/reset`, { method: 'POST' });
  receiver.received.length = 0;
  const endpoint = await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['*'] });
  secret = endpoint.secret as string;
});

async function advance(clock: string, to: number): Promise<Stripe.TestHelpers.TestClock> {
  let c = await stripe.testHelpers.testClocks.advance(clock, { frozen_time: to });
  expect(['advancing', 'ready']).toContain(c.status);
  for (let i = 0; i < 200 && c.status === 'advancing'; i++) {
    await new Promise((r) => setTimeout(r, 10));
    c = await stripe.testHelpers.testClocks.retrieve(clock);
  }
  expect(c).toMatchObject({ status: 'ready', frozen_time: to });
  return c;
}

/** Events of the account (API list, all pages), oldest first. */
async function events(): Promise<Stripe.Event[]> {
  return (await stripe.events.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 })).reverse();
}

function since(all: Stripe.Event[], mark: number): Stripe.Event[] {
  return all.slice(mark);
}

function types(list: Stripe.Event[]): string[] {
  return list.map((e) => e.type);
}

async function setup(opts: { card?: string; trialDays?: number } = {}) {
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: T0, name: 'scenario' });
  const product = await stripe.products.create({ name: 'Pro' });
  const pro = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 2000, recurring: { interval: 'month' } });
  const premium = await stripe.prices.create({ product_data: { name: 'Premium' }, currency: 'usd', unit_amount: 5000, recurring: { interval: 'month' } });
  const customer = await stripe.customers.create({ email: 'acme@example.com', name: 'Acme', test_clock: clock.id });
  const card = await stripe.paymentMethods.attach(opts.card ?? 'pm_card_visa', { customer: customer.id });
  await stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: card.id } });
  return { clock, pro, premium, customer, card };
}

describe('acceptance: a subscription’s life on a test clock', () => {
  it('trial → trial ends → renewal fails → retried → paid → upgrade → partial refund → cancel at period end', async () => {
    const { clock, pro, premium, customer } = await setup();
    expect(customer.created).toBe(T0);
    expect(customer.test_clock).toBe(clock.id);

    // Subscription with a 14-day trial: trialing, a $0 first invoice, no charge.
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: pro.id }], trial_period_days: 14 });
    const trialEnd = T0 + 14 * DAY;
    expect(sub).toMatchObject({ status: 'trialing', trial_start: T0, trial_end: trialEnd, created: T0, test_clock: clock.id });
    expect(sub.items.data[0]).toMatchObject({ current_period_start: T0, current_period_end: trialEnd, quantity: 1 });
    const firstInvoice = await stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(firstInvoice).toMatchObject({ status: 'paid', amount_due: 0, billing_reason: 'subscription_create', total: 0 });
    expect(firstInvoice.parent?.subscription_details?.subscription).toBe(sub.id);
    expect(firstInvoice.lines.data[0]?.description).toBe('Trial period for Pro');
    let all = await events();
    expect(types(all)).toEqual(expect.arrayContaining(['customer.subscription.created', 'invoice.created', 'invoice.finalized', 'invoice.paid']));
    expect(types(all)).not.toContain('charge.succeeded');

    // Three days before the trial ends, and not earlier: trial_will_end.
    let mark = all.length;
    await advance(clock.id, trialEnd - 3 * DAY - 60);
    all = await events();
    expect(types(since(all, mark))).not.toContain('customer.subscription.trial_will_end');
    await advance(clock.id, trialEnd - 3 * DAY);
    all = await events();
    expect(types(since(all, mark))).toContain('customer.subscription.trial_will_end');
    const willEnd = since(all, mark).find((e) => e.type === 'customer.subscription.trial_will_end') as Stripe.CustomerSubscriptionTrialWillEndEvent;
    expect(willEnd.data.object.trial_end).toBe(trialEnd);

    // The trial ends: the subscription is active, the first period is invoiced and charged an hour later.
    mark = all.length;
    await advance(clock.id, trialEnd + 2 * HOUR);
    const active = await stripe.subscriptions.retrieve(sub.id);
    expect(active.status).toBe('active');
    // Calendar months: Jan 29 → Feb 28.
    const periodEnd = Date.UTC(2026, 1, 28) / 1000;
    expect(active.items.data[0]).toMatchObject({ current_period_start: trialEnd, current_period_end: periodEnd });
    const trialInvoice = await stripe.invoices.retrieve(active.latest_invoice as string);
    expect(trialInvoice).toMatchObject({ status: 'paid', amount_paid: 2000, billing_reason: 'subscription_cycle', attempt_count: 1 });
    expect(trialInvoice.status_transitions.finalized_at).toBe(trialEnd + HOUR);
    all = await events();
    const trialEnded = since(all, mark);
    expect(types(trialEnded)).toEqual(expect.arrayContaining(['customer.subscription.updated', 'invoice.created', 'invoice.finalized', 'charge.succeeded', 'invoice.paid', 'invoice.payment_succeeded']));
    const toActive = trialEnded.find((e) => e.type === 'customer.subscription.updated') as Stripe.CustomerSubscriptionUpdatedEvent;
    expect(toActive.data.object.status).toBe('active');
    expect(toActive.data.previous_attributes).toMatchObject({ status: 'trialing' });

    // The card starts declining before the renewal.
    const failing = await stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer: customer.id });
    await stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: failing.id } });
    mark = (await events()).length;
    await advance(clock.id, periodEnd + 2 * HOUR);
    const pastDue = await stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice'] });
    expect(pastDue.status).toBe('past_due');
    const renewal = pastDue.latest_invoice as Stripe.Invoice;
    expect(renewal).toMatchObject({ status: 'open', attempt_count: 1, amount_due: 2000, amount_remaining: 2000, billing_reason: 'subscription_cycle' });
    expect(renewal.next_payment_attempt).toBe(periodEnd + HOUR + 3 * DAY);
    expect(((await stripe.customers.retrieve(customer.id)) as Stripe.Customer).delinquent).toBe(true);
    all = await events();
    expect(types(since(all, mark))).toEqual(expect.arrayContaining(['invoice.upcoming', 'invoice.created', 'charge.failed', 'payment_intent.payment_failed', 'invoice.payment_failed', 'customer.subscription.updated']));
    const upcoming = since(all, mark).find((e) => e.type === 'invoice.upcoming') as Stripe.Event;
    expect((upcoming.data.object as { id?: string }).id).toBeUndefined();
    const toPastDue = since(all, mark).filter((e) => e.type === 'customer.subscription.updated').at(-1) as Stripe.CustomerSubscriptionUpdatedEvent;
    expect(toPastDue.data.previous_attributes).toMatchObject({ status: 'active' });

    // Smart-retry-like schedule: the second attempt, 3 days later, fails too.
    await advance(clock.id, (renewal.next_payment_attempt as number) + HOUR);
    const retried = await stripe.invoices.retrieve(renewal.id);
    expect(retried).toMatchObject({ status: 'open', attempt_count: 2 });
    expect(retried.next_payment_attempt).toBe((renewal.next_payment_attempt as number) + 5 * DAY);

    // A working card is added; the next retry pays the invoice and the subscription is active again.
    const visa = await stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    await stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: visa.id } });
    mark = (await events()).length;
    await advance(clock.id, (retried.next_payment_attempt as number) + HOUR);
    const paid = await stripe.invoices.retrieve(renewal.id, { expand: ['payments'] });
    expect(paid).toMatchObject({ status: 'paid', attempt_count: 3, amount_paid: 2000, amount_remaining: 0, next_payment_attempt: null });
    expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('active');
    expect(((await stripe.customers.retrieve(customer.id)) as Stripe.Customer).delinquent).toBe(false);
    all = await events();
    const recovered = since(all, mark);
    expect(types(recovered)).toEqual(expect.arrayContaining(['charge.succeeded', 'invoice.paid', 'customer.subscription.updated']));
    const backToActive = recovered.find((e) => e.type === 'customer.subscription.updated') as Stripe.CustomerSubscriptionUpdatedEvent;
    expect(backToActive.data.previous_attributes).toMatchObject({ status: 'past_due' });
    const renewalCharges = await stripe.charges.list({ customer: customer.id, limit: 100 });
    expect(renewalCharges.data.map((c) => c.status)).toEqual(['succeeded', 'failed', 'failed', 'succeeded']);
    const renewalCharge = renewalCharges.data[0] as Stripe.Charge;
    expect(renewalCharge.payment_intent).toBe(paid.payments?.data[0]?.payment.payment_intent);

    // Upgrade mid-period: prorations become pending invoice items for the next invoice.
    mark = all.length;
    const upgraded = await stripe.subscriptions.update(sub.id, {
      items: [{ id: active.items.data[0]?.id as string, price: premium.id }],
      proration_behavior: 'create_prorations',
    });
    expect(upgraded.items.data[0]?.price.id).toBe(premium.id);
    all = await events();
    const upgradeEvents = since(all, mark);
    const upgradeUpdated = upgradeEvents.find((e) => e.type === 'customer.subscription.updated') as Stripe.CustomerSubscriptionUpdatedEvent;
    expect((upgradeUpdated.data.previous_attributes?.items as Stripe.ApiList<Stripe.SubscriptionItem>).data[0]?.price.id).toBe(pro.id);
    const prorations = await stripe.invoiceItems.list({ customer: customer.id, pending: true });
    expect(prorations.data).toHaveLength(2);
    expect(prorations.data.every((ii) => ii.proration)).toBe(true);
    const credit = prorations.data.find((ii) => ii.amount < 0) as Stripe.InvoiceItem;
    const debit = prorations.data.find((ii) => ii.amount > 0) as Stripe.InvoiceItem;
    expect(credit.description).toMatch(/^Unused time on 1 × Pro after/);
    expect(debit.description).toMatch(/^Remaining time on 1 × Premium after/);
    expect(Math.abs(debit.amount / credit.amount)).toBeCloseTo(2.5, 1);
    expect(types(upgradeEvents).filter((t) => t === 'invoiceitem.created')).toHaveLength(2);

    // Partial refund of the renewal charge.
    mark = all.length;
    const refund = await stripe.refunds.create({ charge: renewalCharge.id, amount: 500, reason: 'requested_by_customer' });
    expect(refund).toMatchObject({ object: 'refund', amount: 500, status: 'succeeded', charge: renewalCharge.id });
    const refundedCharge = await stripe.charges.retrieve(renewalCharge.id);
    expect(refundedCharge).toMatchObject({ amount_refunded: 500, refunded: false });
    all = await events();
    expect(types(since(all, mark))).toEqual(['refund.created', 'charge.refunded']);
    const chargeRefunded = since(all, mark)[1] as Stripe.ChargeRefundedEvent;
    expect(chargeRefunded.data.object.amount_refunded).toBe(500);
    const tooMuch = await stripe.refunds.create({ charge: renewalCharge.id, amount: 1600 }).catch((e: unknown) => e);
    expect(tooMuch).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);

    // Cancel at period end: still active until the period ends, then canceled and deleted.
    const currentEnd = upgraded.items.data[0]?.current_period_end as number;
    const scheduled = await stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
    expect(scheduled).toMatchObject({ status: 'active', cancel_at_period_end: true, cancel_at: currentEnd });
    expect(scheduled.cancellation_details?.reason).toBe('cancellation_requested');
    const invoicesBefore = (await stripe.invoices.list({ subscription: sub.id })).data.length;
    mark = (await events()).length;
    await advance(clock.id, currentEnd + HOUR);
    const canceled = await stripe.subscriptions.retrieve(sub.id);
    expect(canceled).toMatchObject({ status: 'canceled', ended_at: currentEnd });
    all = await events();
    const ended = since(all, mark);
    expect(types(ended)).toContain('customer.subscription.deleted');
    expect(types(ended)).not.toContain('invoice.created');
    expect((ended.find((e) => e.type === 'customer.subscription.deleted') as Stripe.CustomerSubscriptionDeletedEvent).data.object.status).toBe('canceled');
    expect((await stripe.invoices.list({ subscription: sub.id })).data.length).toBe(invoicesBefore);
    expect((await stripe.subscriptions.list({ customer: customer.id })).data).toEqual([]);

    // Every event went out as a signed webhook (order aside).
    await running.sandbox.webhooks.whenIdle();
    const deliveredIds = new Set(receiver.received.map((r) => stripe.webhooks.constructEvent(r.payload, r.signature, secret).id));
    for (const e of all) expect(deliveredIds.has(e.id)).toBe(true);
  });
});

describe('dunning outcomes and other billing behaviour', () => {
  it.each([
    { setting: 'cancel' as const, status: 'canceled', reason: 'payment_failed' },
    { setting: 'unpaid' as const, status: 'unpaid', reason: null },
    { setting: 'past_due' as const, status: 'past_due', reason: null },
  ])('after the last retry fails, subscriptionAfterRetries=$setting leaves it $status', async ({ setting, status, reason }) => {
    await fetch(`${running.url}/__sandbox/billing/settings`, { method: 'POST', body: JSON.stringify({ subscriptionAfterRetries: setting, retryScheduleDays: [1, 2] }) });
    try {
      const { clock, pro, customer } = await setup({ card: 'pm_card_chargeCustomerFail' });
      const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: pro.id }], trial_period_days: 3 });
      const renewAt = T0 + 3 * DAY;
      await advance(clock.id, renewAt + 2 * HOUR); // trial ends, attempt 1 fails
      await advance(clock.id, renewAt + HOUR + 1 * DAY + 60); // attempt 2
      await advance(clock.id, renewAt + HOUR + 3 * DAY + 60); // attempt 3, the last
      const after = await stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice'] });
      expect(after.status).toBe(status);
      expect(after.cancellation_details?.reason ?? null).toBe(reason);
      expect(after.latest_invoice).toMatchObject({ attempt_count: 3, next_payment_attempt: null, status: 'open' });
      if (setting === 'unpaid') {
        // Unpaid subscriptions keep invoicing but leave new invoices in draft.
        await advance(clock.id, renewAt + 31 * DAY + 2 * HOUR);
        const next = (await stripe.invoices.list({ subscription: sub.id, limit: 1 })).data[0];
        expect(next).toMatchObject({ status: 'draft', auto_advance: false, billing_reason: 'subscription_cycle' });
      }
    } finally {
      await fetch(`${running.url}/__sandbox/billing/settings`, { method: 'POST', body: JSON.stringify({ subscriptionAfterRetries: 'cancel', retryScheduleDays: [3, 5, 7] }) });
    }
  });

  it('a first payment that fails leaves the subscription incomplete, then incomplete_expired after 23 hours', async () => {
    const { clock, pro, customer } = await setup({ card: 'pm_card_chargeCustomerFail' });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: pro.id }] });
    expect(sub.status).toBe('incomplete');
    const invoice = await stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(invoice).toMatchObject({ status: 'open', attempt_count: 1, next_payment_attempt: null });
    const strict = await stripe.subscriptions
      .create({ customer: customer.id, items: [{ price: pro.id }], payment_behavior: 'error_if_incomplete' })
      .catch((e: unknown) => e);
    expect(strict).toMatchObject({ statusCode: 402, code: 'card_declined' });
    await advance(clock.id, T0 + 23 * HOUR + 60);
    const expired = await stripe.subscriptions.retrieve(sub.id);
    expect(expired.status).toBe('incomplete_expired');
    expect((await stripe.invoices.retrieve(invoice.id)).status).toBe('void');
    const updated = (await events()).filter((e) => e.type === 'customer.subscription.updated').at(-1) as Stripe.CustomerSubscriptionUpdatedEvent;
    expect(updated.data.object.status).toBe('incomplete_expired');
    const blocked = await stripe.subscriptions.update(sub.id, { description: 'x' }).catch((e: unknown) => e);
    expect(blocked).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
  });

  it('paying the open first invoice with a new card activates an incomplete subscription', async () => {
    const { pro, customer } = await setup({ card: 'pm_card_chargeCustomerFail' });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: pro.id }] });
    const paid = await stripe.invoices.pay(sub.latest_invoice as string, { payment_method: 'pm_card_visa' });
    expect(paid).toMatchObject({ status: 'paid', attempt_count: 2 });
    expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('active');
  });

  it('discounts: percent off forever on every invoice, amount off once on the first only', async () => {
    const { clock, pro, customer } = await setup();
    const forever = await stripe.coupons.create({ percent_off: 20, duration: 'forever' });
    const once = await stripe.coupons.create({ amount_off: 300, currency: 'usd', duration: 'once' });
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: pro.id, quantity: 2 }],
      discounts: [{ coupon: forever.id }, { coupon: once.id }],
    });
    expect(sub.status).toBe('active');
    expect(sub.discounts).toHaveLength(1); // the `once` discount ended with the first invoice
    const first = await stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(first).toMatchObject({ subtotal: 4000, total: 4000 - 800 - 300, amount_paid: 2900 });
    expect(first.total_discount_amounts?.map((d) => d.amount)).toEqual([800, 300]);
    expect(first.lines.data[0]?.discount_amounts?.map((d) => d.amount)).toEqual([800, 300]);
    const all = await events();
    expect(types(all).filter((t) => t === 'customer.discount.created')).toHaveLength(2);
    expect(types(all)).toContain('customer.discount.deleted');
    await advance(clock.id, T0 + 31 * DAY + 2 * HOUR);
    const second = (await stripe.invoices.list({ subscription: sub.id, limit: 1 })).data[0];
    expect(second).toMatchObject({ subtotal: 4000, total: 3200, status: 'paid' });
    expect((await stripe.coupons.retrieve(forever.id)).times_redeemed).toBe(1);
  });

  it('zero-decimal currencies invoice whole yen', async () => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: T0 });
    const price = await stripe.prices.create({ currency: 'jpy', unit_amount: 4900, recurring: { interval: 'month' }, product_data: { name: 'Team' } });
    const customer = await stripe.customers.create({ test_clock: clock.id, payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id, quantity: 3 }] });
    const invoice = await stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(invoice).toMatchObject({ currency: 'jpy', amount_due: 14700, amount_paid: 14700 });
    expect(invoice.lines.data[0]?.description).toBe('3 × Team (at ¥4,900 / month)');
  });

  it('always_invoice upgrades bill the proration at once; downgrades credit the customer balance', async () => {
    const { pro, premium, customer, clock } = await setup();
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: premium.id }] });
    await advance(clock.id, T0 + 15 * DAY);
    const itemId = sub.items.data[0]?.id as string;
    const down = await stripe.subscriptions.update(sub.id, { items: [{ id: itemId, price: pro.id }], proration_behavior: 'always_invoice', expand: ['latest_invoice'] });
    const inv = down.latest_invoice as Stripe.Invoice;
    expect(inv.billing_reason).toBe('subscription_update');
    expect(inv.total).toBeLessThan(0);
    expect(inv.amount_due).toBe(0);
    expect(inv.status).toBe('paid');
    const balance = ((await stripe.customers.retrieve(customer.id)) as Stripe.Customer).balance;
    expect(balance).toBe(inv.total);
    // The credit is used by the next invoice.
    await advance(clock.id, T0 + 31 * DAY + 2 * HOUR);
    const next = (await stripe.invoices.list({ subscription: sub.id, limit: 1 })).data[0] as Stripe.Invoice;
    expect(next.starting_balance).toBe(balance);
    expect(next.amount_due).toBe(2000 + balance);
  });

  it('pause_collection keeps renewal invoices in draft until collection resumes', async () => {
    const { pro, customer, clock } = await setup();
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: pro.id }] });
    const paused = await stripe.subscriptions.update(sub.id, { pause_collection: { behavior: 'keep_as_draft' } });
    expect(paused).toMatchObject({ status: 'active', pause_collection: { behavior: 'keep_as_draft', resumes_at: null } });
    await advance(clock.id, T0 + 31 * DAY + 2 * HOUR);
    const draft = (await stripe.invoices.list({ subscription: sub.id, limit: 1 })).data[0];
    expect(draft).toMatchObject({ status: 'draft', auto_advance: false });
    const resumed = await stripe.subscriptions.update(sub.id, { pause_collection: '' });
    expect(resumed.pause_collection).toBeNull();
  });

  it('voids and marks invoices uncollectible with their events', async () => {
    const customer = await stripe.customers.create({});
    await stripe.invoiceItems.create({ customer: customer.id, amount: 700, currency: 'usd', description: 'One' });
    const a = await stripe.invoices.create({ customer: customer.id, pending_invoice_items_behavior: 'include' });
    await stripe.invoices.finalizeInvoice(a.id);
    await stripe.invoiceItems.create({ customer: customer.id, amount: 900, currency: 'usd', description: 'Two' });
    const b = await stripe.invoices.create({ customer: customer.id, pending_invoice_items_behavior: 'include', collection_method: 'send_invoice', days_until_due: 7 });
    const finalB = await stripe.invoices.finalizeInvoice(b.id);
    expect(finalB.number).toMatch(/^[0-9A-F]{8}-0002$/);
    expect((await stripe.invoices.voidInvoice(a.id)).status).toBe('void');
    expect((await stripe.invoices.markUncollectible(b.id)).status).toBe('uncollectible');
    const again = await stripe.invoices.voidInvoice(a.id).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    const t = types(await events());
    expect(t).toEqual(expect.arrayContaining(['invoice.voided', 'invoice.marked_uncollectible', 'invoice.finalized']));
  });

  it('disputes: the createDispute test card and the sandbox helper emit charge.dispute.created', async () => {
    const { pro, customer } = await setup({ card: 'pm_card_createDispute' });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: pro.id }] });
    expect(sub.status).toBe('active');
    const charge = (await stripe.charges.list({ customer: customer.id })).data[0] as Stripe.Charge;
    expect(charge.disputed).toBe(true);
    const disputes = await stripe.disputes.list({ charge: charge.id });
    expect(disputes.data[0]).toMatchObject({ object: 'dispute', status: 'needs_response', amount: 2000 });
    const refused = await stripe.refunds.create({ charge: charge.id }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'charge_disputed' });

    const other = await setup();
    const sub2 = await stripe.subscriptions.create({ customer: other.customer.id, items: [{ price: other.pro.id }] });
    const charge2 = (await stripe.charges.list({ customer: other.customer.id })).data[0] as Stripe.Charge;
    const res = await fetch(`${running.url}/__sandbox/charges/${charge2.id}/dispute`, { method: 'POST', body: JSON.stringify({ reason: 'product_not_received' }) });
    expect(res.status).toBe(200);
    const created = (await events()).filter((e) => e.type === 'charge.dispute.created').map((e) => e.data.object as Stripe.Dispute);
    expect(created.map((d) => d.charge)).toEqual([charge.id, charge2.id]);
    expect(created[1]?.reason).toBe('product_not_received');
    expect(sub2.status).toBe('active');
  });

  it('cancel_at inside a period makes the last period short and billed pro rata', async () => {
    const { clock, pro, customer } = await setup();
    const cancelAt = T0 + 45 * DAY;
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: pro.id }], cancel_at: cancelAt });
    expect(sub).toMatchObject({ cancel_at: cancelAt, cancel_at_period_end: false, status: 'active' });
    const renewal = Date.UTC(2026, 1, 15) / 1000;
    await advance(clock.id, renewal + 2 * HOUR);
    const last = (await stripe.invoices.list({ subscription: sub.id, limit: 1 })).data[0] as Stripe.Invoice;
    const nextCycle = Date.UTC(2026, 2, 15) / 1000;
    expect(last.amount_paid).toBe(Math.round((2000 * (cancelAt - renewal)) / (nextCycle - renewal)));
    expect((await stripe.subscriptions.retrieve(sub.id)).items.data[0]?.current_period_end).toBe(cancelAt);
    await advance(clock.id, cancelAt + 60);
    expect(await stripe.subscriptions.retrieve(sub.id)).toMatchObject({ status: 'canceled', ended_at: cancelAt });
  });

  it('switching to a yearly price restarts the billing cycle and invoices the change at once', async () => {
    const { clock, pro, customer } = await setup();
    const yearly = await stripe.prices.create({ currency: 'usd', unit_amount: 20000, recurring: { interval: 'year' }, product_data: { name: 'Pro yearly' } });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: pro.id }] });
    await advance(clock.id, T0 + 10 * DAY);
    const switched = await stripe.subscriptions.update(sub.id, { items: [{ id: sub.items.data[0]?.id as string, price: yearly.id }], expand: ['latest_invoice'] });
    expect(switched.items.data[0]).toMatchObject({ current_period_start: T0 + 10 * DAY, current_period_end: Date.UTC(2027, 0, 25) / 1000 });
    const inv = switched.latest_invoice as Stripe.Invoice;
    expect(inv).toMatchObject({ billing_reason: 'subscription_update', status: 'paid' });
    expect(inv.lines.data.map((l) => l.amount)).toEqual([-Math.round((2000 * 21) / 31), 20000]);
  });

  it.each([
    { behavior: 'create_invoice' as const, status: 'past_due' },
    { behavior: 'pause' as const, status: 'paused' },
    { behavior: 'cancel' as const, status: 'canceled' },
  ])('a trial ending without a payment method follows missing_payment_method=$behavior', async ({ behavior, status }) => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: T0 });
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 900, recurring: { interval: 'month' }, product_data: { name: 'Trial' } });
    const customer = await stripe.customers.create({ test_clock: clock.id });
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      trial_period_days: 5,
      trial_settings: { end_behavior: { missing_payment_method: behavior } },
    });
    await advance(clock.id, T0 + 5 * DAY + 2 * HOUR);
    expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe(status);
    if (behavior === 'pause') {
      const pm = await stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
      await stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: pm.id } });
      const resumed = await stripe.subscriptions.resume(sub.id, { expand: ['latest_invoice'] });
      expect(resumed.status).toBe('active');
      expect((resumed.latest_invoice as Stripe.Invoice).status).toBe('paid');
      expect(types(await events())).toEqual(expect.arrayContaining(['customer.subscription.paused', 'customer.subscription.resumed']));
    }
  });

  it('trial_end=now ends a trial at once and charges the first period', async () => {
    const { pro, customer } = await setup();
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: pro.id }], trial_period_days: 30 });
    const ended = await stripe.subscriptions.update(sub.id, { trial_end: 'now', expand: ['latest_invoice'] });
    expect(ended).toMatchObject({ status: 'active', trial_end: T0 });
    expect(ended.latest_invoice).toMatchObject({ status: 'paid', amount_paid: 2000 });
  });

  it('refuses to advance a clock more than two intervals of its shortest subscription', async () => {
    const { clock, pro, customer } = await setup();
    await stripe.subscriptions.create({ customer: customer.id, items: [{ price: pro.id }] });
    const err = await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 70 * DAY }).catch((e: unknown) => e);
    expect(err).toMatchObject({ statusCode: 400, param: 'frozen_time' });
    const back = await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 - 1 }).catch((e: unknown) => e);
    expect(back).toMatchObject({ statusCode: 400, param: 'frozen_time' });
  });
});
