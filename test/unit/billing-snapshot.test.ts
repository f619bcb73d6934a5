import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import type { PaymentOutcome } from '../../domain/billing-snapshot.js';
import {
  customerSnapshotFromStripe,
  discountSnapshotFromStripe,
  invoiceSubscriptionId,
  paymentFromCharge,
  paymentFromInvoice,
  paymentFromRefund,
  paymentMethodSnapshotFromStripe,
  priceSnapshotFromStripe,
  subscriptionSnapshotFromStripe,
} from '../../domain/billing-snapshot.js';
import { computeMrr } from '../../domain/mrr.js';

// Stripe-shaped payloads written for these tests (current API version unless named "legacy").
// Only fields the converters read are filled in; the cast documents that.
type Loose<T> = { [K in keyof T]?: unknown } & Record<string, unknown>;
const as = <T>(value: Loose<T>): T => value as unknown as T;

const NOW = 1_767_225_600; // 2026-01-01T00:00:00Z

const coupon20Repeating = as<Stripe.Coupon>({
  id: 'LAUNCH20', object: 'coupon', name: 'Launch 20%', percent_off: 20, amount_off: null, currency: null,
  duration: 'repeating', duration_in_months: 3, valid: true,
});
const coupon10UsdOnce = as<Stripe.Coupon>({
  id: 'TENOFF', object: 'coupon', name: null, percent_off: null, amount_off: 1000, currency: 'usd',
  currency_options: { eur: { amount_off: 900 } }, duration: 'once', duration_in_months: null,
  applies_to: { products: ['prod_pro'] }, valid: true,
});

function discountObject(id: string, couponValue: string | Stripe.Coupon | null, extra: Record<string, unknown> = {}) {
  return as<Stripe.Discount>({
    id, object: 'discount', start: NOW - 86_400, end: null, customer: 'cus_1', subscription: null,
    source: { type: 'coupon', coupon: couponValue }, promotion_code: null, ...extra,
  });
}

const cardPaymentMethod = as<Stripe.PaymentMethod>({
  id: 'pm_card', object: 'payment_method', type: 'card', created: NOW,
  card: { brand: 'visa', last4: '4242', exp_month: 8, exp_year: 2030, funding: 'credit' },
  billing_details: { name: 'Ada Lovelace', email: 'ada@example.com', address: { line1: '1 Analytical St' } },
});

function priceObject(extra: Record<string, unknown> = {}) {
  return as<Stripe.Price>({
    id: 'price_pro_monthly', object: 'price', active: true, billing_scheme: 'per_unit', currency: 'usd',
    nickname: 'Pro monthly', product: 'prod_pro', type: 'recurring', unit_amount: 2000, unit_amount_decimal: '2000',
    recurring: { interval: 'month', interval_count: 1, usage_type: 'licensed', meter: null, trial_period_days: null },
    tiers_mode: null, transform_quantity: null, ...extra,
  });
}

function subscriptionObject(extra: Record<string, unknown> = {}, itemExtra: Record<string, unknown> = {}) {
  return as<Stripe.Subscription>({
    id: 'sub_1', object: 'subscription', customer: 'cus_1', status: 'active', created: NOW - 30 * 86_400,
    start_date: NOW - 30 * 86_400, currency: 'usd', cancel_at_period_end: false, cancel_at: null, canceled_at: null,
    ended_at: null, trial_start: null, trial_end: null, pause_collection: null, default_payment_method: null,
    discounts: [],
    items: {
      object: 'list', has_more: false, url: '/v1/subscription_items?subscription=sub_1',
      data: [{
        id: 'si_1', object: 'subscription_item', quantity: 3, discounts: [], subscription: 'sub_1',
        current_period_start: NOW - 86_400, current_period_end: NOW + 29 * 86_400,
        price: priceObject(), plan: { id: 'price_pro_monthly', object: 'plan' }, ...itemExtra,
      }],
    },
    ...extra,
  });
}

function assertPlainJson(value: unknown, path = '$'): void {
  expect(value, path).not.toBeUndefined();
  if (Array.isArray(value)) value.forEach((entry, index) => assertPlainJson(entry, `${path}[${index}]`));
  else if (value !== null && typeof value === 'object') {
    expect(Object.getPrototypeOf(value), path).toBe(Object.prototype);
    for (const [key, entry] of Object.entries(value)) assertPlainJson(entry, `${path}.${key}`);
  } else expect(['string', 'number', 'boolean'].includes(typeof value) || value === null, path).toBe(true);
}

describe('customerSnapshotFromStripe', () => {
  const customer = as<Stripe.Customer>({
    id: 'cus_1', object: 'customer', email: 'ada@example.com', name: 'Ada Lovelace', currency: 'usd', delinquent: false,
    created: NOW - 100 * 86_400, phone: '+15555550100', address: { line1: '1 Analytical St', city: 'London' },
    invoice_settings: { default_payment_method: cardPaymentMethod, custom_fields: null, footer: null },
    default_source: null, discount: discountObject('di_cus', coupon20Repeating, { end: NOW + 60 * 86_400 }), metadata: { plan_tier: 'gold' },
  });

  it('keeps what the CRM needs and nothing personal beyond it', () => {
    const snapshot = customerSnapshotFromStripe(customer);
    expect(snapshot).toEqual({
      id: 'cus_1',
      email: 'ada@example.com',
      name: 'Ada Lovelace',
      currency: 'usd',
      delinquent: false,
      created: NOW - 100 * 86_400,
      deleted: false,
      defaultPaymentMethod: { id: 'pm_card', type: 'card', brand: 'visa', last4: '4242', expMonth: 8, expYear: 2030 },
      discount: {
        id: 'di_cus', couponId: 'LAUNCH20', couponName: 'Launch 20%', percentOff: 20, amountOff: null, currency: null,
        amountOffByCurrency: {}, duration: 'repeating', durationInMonths: 3, appliesToProducts: null,
        start: NOW - 86_400, end: NOW + 60 * 86_400,
      },
      metadata: { plan_tier: 'gold' },
    });
    const json = JSON.stringify(snapshot);
    expect(json).not.toContain('Analytical');
    expect(json).not.toContain('+1555');
    assertPlainJson(JSON.parse(json));
  });

  it('resolves ids through lookups, or keeps the bare id', () => {
    const byId = as<Stripe.Customer>({ ...customer, invoice_settings: { default_payment_method: 'pm_card' }, discount: discountObject('di_x', 'LAUNCH20') });
    const bare = customerSnapshotFromStripe(byId);
    expect(bare.defaultPaymentMethod).toEqual({ id: 'pm_card', type: null, brand: null, last4: null, expMonth: null, expYear: null });
    expect(bare.discount).toMatchObject({ id: 'di_x', couponId: 'LAUNCH20', duration: null, percentOff: null });
    const resolved = customerSnapshotFromStripe(byId, { paymentMethods: { pm_card: cardPaymentMethod }, coupons: { LAUNCH20: coupon20Repeating } });
    expect(resolved.defaultPaymentMethod).toMatchObject({ brand: 'visa', last4: '4242' });
    expect(resolved.discount).toMatchObject({ duration: 'repeating', percentOff: 20 });
  });

  it('reads legacy shapes: default_source card and discount.coupon', () => {
    const legacy = as<Stripe.Customer>({
      ...customer,
      invoice_settings: { default_payment_method: null },
      default_source: { id: 'card_1', object: 'card', brand: 'Visa', last4: '1881', exp_month: 1, exp_year: 2027 },
      discount: { id: 'di_old', object: 'discount', start: NOW - 10, end: null, coupon: coupon10UsdOnce },
    });
    const snapshot = customerSnapshotFromStripe(legacy);
    expect(snapshot.defaultPaymentMethod).toEqual({ id: 'card_1', type: 'card', brand: 'visa', last4: '1881', expMonth: 1, expYear: 2027 });
    expect(snapshot.discount).toMatchObject({
      couponId: 'TENOFF', amountOff: 1000, currency: 'usd', amountOffByCurrency: { eur: 900 }, duration: 'once', appliesToProducts: ['prod_pro'],
    });
  });

  it('marks deletions', () => {
    expect(customerSnapshotFromStripe(as<Stripe.DeletedCustomer>({ id: 'cus_1', object: 'customer', deleted: true }))).toMatchObject({ id: 'cus_1', deleted: true, created: null });
    expect(customerSnapshotFromStripe(customer, {}, { deleted: true })).toMatchObject({ deleted: true, email: 'ada@example.com' });
  });
});

describe('paymentMethodSnapshotFromStripe', () => {
  it.each<[string, Parameters<typeof paymentMethodSnapshotFromStripe>[0], ReturnType<typeof paymentMethodSnapshotFromStripe>]>([
    ['card payment method', cardPaymentMethod, { id: 'pm_card', type: 'card', brand: 'visa', last4: '4242', expMonth: 8, expYear: 2030 }],
    [
      'SEPA debit keeps last4, no expiry',
      as<Stripe.PaymentMethod>({ id: 'pm_sepa', object: 'payment_method', type: 'sepa_debit', sepa_debit: { last4: '3000', bank_code: '37040044' } }),
      { id: 'pm_sepa', type: 'sepa_debit', brand: null, last4: '3000', expMonth: null, expYear: null },
    ],
    [
      'legacy source of type card',
      as<Stripe.Source>({ id: 'src_1', object: 'source', type: 'card', card: { brand: 'MasterCard', last4: '4444', exp_month: 3, exp_year: 2028 } }),
      { id: 'src_1', type: 'card', brand: 'mastercard', last4: '4444', expMonth: 3, expYear: 2028 },
    ],
    [
      'legacy bank account',
      as<Stripe.BankAccount>({ id: 'ba_1', object: 'bank_account', last4: '6789' }),
      { id: 'ba_1', type: 'bank_account', brand: null, last4: '6789', expMonth: null, expYear: null },
    ],
    ['bare id', 'pm_unknown', { id: 'pm_unknown', type: null, brand: null, last4: null, expMonth: null, expYear: null }],
  ])('%s', (_name, input, expected) => {
    expect(paymentMethodSnapshotFromStripe(input)).toEqual(expected);
  });
});

describe('discountSnapshotFromStripe', () => {
  it('returns null for a deleted discount and unknown terms for an unresolved id', () => {
    expect(discountSnapshotFromStripe(as<Stripe.DeletedDiscount>({ id: 'di_1', object: 'discount', deleted: true, start: NOW, end: null }))).toBeNull();
    expect(discountSnapshotFromStripe('di_only_id')).toMatchObject({ id: 'di_only_id', couponId: null, duration: null, start: null });
    expect(discountSnapshotFromStripe('di_known', { discounts: { di_known: discountObject('di_known', coupon20Repeating) } })).toMatchObject({ id: 'di_known', percentOff: 20 });
  });
});

describe('priceSnapshotFromStripe', () => {
  it('converts a per-unit recurring price with an expanded product', () => {
    const snapshot = priceSnapshotFromStripe(priceObject({ product: { id: 'prod_pro', object: 'product', name: 'Pro' } }));
    expect(snapshot).toEqual({
      id: 'price_pro_monthly', productId: 'prod_pro', productName: 'Pro', nickname: 'Pro monthly', currency: 'usd',
      billingScheme: 'per_unit', unitAmount: 2000, unitAmountDecimal: '2000', tiersMode: null, tiers: null, transformQuantity: null,
      recurring: { interval: 'month', intervalCount: 1, usageType: 'licensed' },
    });
  });

  it('keeps sub-cent decimals exact, from webhook strings and from client Decimal objects', () => {
    expect(priceSnapshotFromStripe(priceObject({ unit_amount: null, unit_amount_decimal: '0.125' }))).toMatchObject({ unitAmount: null, unitAmountDecimal: '0.125' });
    const decimal = Stripe.Decimal.from('12.5');
    expect(priceSnapshotFromStripe(priceObject({ unit_amount: null, unit_amount_decimal: decimal }))).toMatchObject({ unitAmount: null, unitAmountDecimal: '12.5' });
  });

  it('converts tiers, transform_quantity and usage type', () => {
    const snapshot = priceSnapshotFromStripe(priceObject({
      billing_scheme: 'tiered', tiers_mode: 'graduated', unit_amount: null, unit_amount_decimal: null,
      tiers: [
        { up_to: 10, unit_amount: 500, unit_amount_decimal: '500', flat_amount: 1000, flat_amount_decimal: '1000' },
        { up_to: null, unit_amount: null, unit_amount_decimal: '250.5', flat_amount: null, flat_amount_decimal: null },
      ],
      recurring: { interval: 'year', interval_count: 1, usage_type: 'metered' },
    }));
    expect(snapshot).toMatchObject({
      billingScheme: 'tiered', tiersMode: 'graduated',
      tiers: [{ upTo: 10, unitAmountDecimal: '500', flatAmountDecimal: '1000' }, { upTo: null, unitAmountDecimal: '250.5', flatAmountDecimal: null }],
      recurring: { interval: 'year', intervalCount: 1, usageType: 'metered' },
    });
    expect(priceSnapshotFromStripe(priceObject({ transform_quantity: { divide_by: 5, round: 'up' } })).transformQuantity).toEqual({ divideBy: 5, round: 'up' });
  });

  it('bills a multi-currency price in the subscription currency, or admits it does not know the amount', () => {
    const multi = priceObject({ currency_options: { eur: { unit_amount: 1800, unit_amount_decimal: '1800', tax_behavior: 'exclusive' } } });
    expect(priceSnapshotFromStripe(multi, {}, { currency: 'eur' })).toMatchObject({ currency: 'eur', unitAmount: 1800, unitAmountDecimal: '1800' });
    expect(priceSnapshotFromStripe(priceObject(), {}, { currency: 'eur' })).toMatchObject({ currency: 'eur', unitAmount: null, unitAmountDecimal: null });
  });
});

describe('subscriptionSnapshotFromStripe', () => {
  it('converts the current shape: periods on items, discounts by id or expanded', () => {
    const sub = subscriptionObject(
      {
        discounts: ['di_sub', discountObject('di_expanded', coupon10UsdOnce)],
        cancel_at_period_end: true, cancel_at: NOW + 29 * 86_400, default_payment_method: 'pm_card',
        pause_collection: { behavior: 'keep_as_draft', resumes_at: NOW + 5 * 86_400 },
      },
      { discounts: [discountObject('di_item', coupon20Repeating)] },
    );
    const snapshot = subscriptionSnapshotFromStripe(sub, { discounts: { di_sub: discountObject('di_sub', 'LAUNCH20') }, coupons: { LAUNCH20: coupon20Repeating } });
    expect(snapshot).toMatchObject({
      id: 'sub_1', customerId: 'cus_1', status: 'active', currency: 'usd', itemsComplete: true,
      cancelAtPeriodEnd: true, cancelAt: NOW + 29 * 86_400, defaultPaymentMethodId: 'pm_card',
      pauseCollection: { behavior: 'keep_as_draft', resumesAt: NOW + 5 * 86_400 },
      items: [{ id: 'si_1', quantity: 3, currentPeriodStart: NOW - 86_400, currentPeriodEnd: NOW + 29 * 86_400, discounts: [{ id: 'di_item', percentOff: 20 }] }],
    });
    expect(snapshot.discounts.map((d) => [d.id, d.couponId, d.duration])).toEqual([['di_sub', 'LAUNCH20', 'repeating'], ['di_expanded', 'TENOFF', 'once']]);
    assertPlainJson(JSON.parse(JSON.stringify(snapshot)));
  });

  it('reads a legacy payload: periods and a single discount on the subscription, plan without price', () => {
    const legacy = subscriptionObject(
      { discounts: undefined, discount: discountObject('di_legacy', coupon20Repeating), current_period_start: NOW - 10, current_period_end: NOW + 100, customer: { id: 'cus_9', object: 'customer' } },
      {
        current_period_start: undefined, current_period_end: undefined, price: undefined,
        plan: { id: 'plan_old', object: 'plan', amount: 4900, amount_decimal: '4900', currency: 'usd', interval: 'year', interval_count: 1, usage_type: 'licensed', billing_scheme: 'per_unit', product: 'prod_old', nickname: null, tiers_mode: null, transform_usage: null },
      },
    );
    const snapshot = subscriptionSnapshotFromStripe(legacy);
    expect(snapshot.customerId).toBe('cus_9');
    expect(snapshot.discounts.map((d) => d.id)).toEqual(['di_legacy']);
    expect(snapshot.items[0]).toMatchObject({ currentPeriodStart: NOW - 10, currentPeriodEnd: NOW + 100, price: { id: 'plan_old', unitAmount: 4900, recurring: { interval: 'year' } } });
  });

  it('flags a paginated items list as incomplete', () => {
    const sub = subscriptionObject();
    expect(subscriptionSnapshotFromStripe(as<Stripe.Subscription>({ ...sub, items: { ...sub.items, has_more: true } })).itemsComplete).toBe(false);
  });

  it('feeds MRR end to end: 3 seats × $20 with 20% off while the coupon runs', () => {
    const sub = subscriptionObject({ discounts: [discountObject('di_sub', coupon20Repeating, { start: NOW - 86_400, end: NOW + 60 * 86_400 })] });
    expect(computeMrr([subscriptionSnapshotFromStripe(sub)], { now: NOW, discounts: 'apply' })).toEqual({ usd: 4800 });
  });
});

describe('payments from invoices, charges and refunds', () => {
  function invoice(extra: Record<string, unknown>) {
    return as<Stripe.Invoice>({
      id: 'in_1', object: 'invoice', status: 'open', amount_due: 2000, amount_paid: 0, amount_remaining: 2000, attempted: false,
      attempt_count: 0, currency: 'usd', created: NOW, status_transitions: { paid_at: null }, default_payment_method: null,
      parent: { type: 'subscription_details', subscription_details: { subscription: 'sub_1', metadata: {} }, quote_details: null },
      ...extra,
    });
  }

  it.each<[string, Record<string, unknown>, PaymentOutcome, number, number | null]>([
    ['paid', { status: 'paid', amount_paid: 2000, amount_remaining: 0, attempted: true, attempt_count: 2, status_transitions: { paid_at: NOW + 60 } }, 'succeeded', 2000, NOW + 60],
    ['open after a failed attempt', { attempted: true, attempt_count: 1 }, 'failed', 2000, null],
    ['open, not attempted yet', {}, 'pending', 2000, null],
    ['draft', { status: 'draft' }, 'pending', 2000, null],
    ['void', { status: 'void' }, 'canceled', 2000, null],
    ['uncollectible', { status: 'uncollectible', attempted: true, attempt_count: 4 }, 'failed', 2000, null],
  ])('invoice %s', (_name, extra, outcome, amount, paidAt) => {
    expect(paymentFromInvoice(invoice(extra))).toMatchObject({ id: 'in_1', kind: 'invoice', outcome, amount, paidAt, subscriptionId: 'sub_1' });
  });

  it('finds the subscription of a legacy invoice', () => {
    expect(invoiceSubscriptionId(invoice({ parent: null, subscription: 'sub_legacy' }))).toBe('sub_legacy');
    expect(invoiceSubscriptionId(invoice({ parent: null }))).toBeNull();
  });

  function charge(extra: Record<string, unknown>) {
    return as<Stripe.Charge>({
      id: 'ch_1', object: 'charge', amount: 2000, amount_captured: 2000, amount_refunded: 0, captured: true, currency: 'usd',
      created: NOW, status: 'succeeded', paid: true, failure_code: null, failure_message: null, outcome: null, payment_method: 'pm_card',
      billing_details: { name: 'Ada', email: 'ada@example.com' }, ...extra,
    });
  }

  it.each<[string, Record<string, unknown>, Partial<ReturnType<typeof paymentFromCharge>>]>([
    ['captured', {}, { outcome: 'succeeded', amount: 2000, paidAt: NOW }],
    ['partially captured', { amount_captured: 1500 }, { outcome: 'succeeded', amount: 1500 }],
    ['authorised, not captured', { captured: false, amount_captured: 0 }, { outcome: 'pending', amount: 2000, paidAt: null }],
    [
      'declined',
      { status: 'failed', paid: false, captured: false, amount_captured: 0, failure_code: 'card_declined', failure_message: 'Your card was declined.' },
      { outcome: 'failed', amount: 2000, failureCode: 'card_declined', failureMessage: 'Your card was declined.', paymentMethodId: 'pm_card' },
    ],
    ['pending (e.g. ACH)', { status: 'pending', captured: true }, { outcome: 'pending' }],
  ])('charge %s', (_name, extra, expected) => {
    const snapshot = paymentFromCharge(charge(extra));
    expect(snapshot).toMatchObject({ id: 'ch_1', kind: 'charge', ...expected });
    expect(JSON.stringify(snapshot)).not.toContain('ada@example.com');
  });

  it.each<[string | null, PaymentOutcome]>([
    ['succeeded', 'succeeded'], ['pending', 'pending'], ['requires_action', 'pending'], ['failed', 'failed'], ['canceled', 'canceled'], [null, 'pending'],
  ])('refund %s → %s', (status, outcome) => {
    const refund = as<Stripe.Refund>({ id: 're_1', object: 'refund', amount: 500, currency: 'USD', created: NOW, status, charge: { id: 'ch_1', object: 'charge' }, payment_method: null });
    expect(paymentFromRefund(refund)).toMatchObject({ id: 're_1', kind: 'refund', outcome, amount: 500, currency: 'usd', chargeId: 'ch_1' });
  });
});
