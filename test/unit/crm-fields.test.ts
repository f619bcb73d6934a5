import { describe, expect, it } from 'vitest';
import type { CustomerSnapshot, PaymentSnapshot, SubscriptionSnapshot } from '../../domain/billing-snapshot.js';
import type { CrmFieldValues, CustomerBillingState } from '../../domain/crm-fields.js';
import {
  changedCrmFields,
  computeCrmFields,
  createCustomerBillingState,
  describeDiscount,
  toCrmProperties,
  withCustomer,
  withPayment,
  withProductName,
  withRecordedMrr,
  withSubscription,
} from '../../domain/crm-fields.js';
import { crmFieldNames } from '../../domain/crm-field-names.js';
import { InvalidArgumentError } from '../../domain/errors.js';
import { amountOff, customer, DAY, discount, item, payment, percentOff, price, recurringPrice, subscription, T0 } from './billing-builders.js';

const NOW = T0;

function state(parts: {
  customer?: Partial<CustomerSnapshot>;
  subscriptions?: SubscriptionSnapshot[];
  payments?: PaymentSnapshot[];
} = {}): CustomerBillingState {
  let result = createCustomerBillingState(customer(parts.customer));
  for (const sub of parts.subscriptions ?? []) result = withSubscription(result, sub);
  for (const p of parts.payments ?? []) result = withPayment(result, p);
  return result;
}

const proMonthly = recurringPrice(4900, 'month', 1, { id: 'price_pro', productId: 'prod_pro', productName: 'Pro' });

describe('computeCrmFields: representative customers', () => {
  it('a brand-new customer without subscriptions or payments', () => {
    expect(computeCrmFields(state(), { now: NOW })).toEqual({
      customer_id: 'cus_1',
      subscription_status: 'none',
      mrr: 0,
      currency: 'USD',
      plan_name: null,
      billing_interval: null,
      next_renewal_date: null,
      trial_end_date: null,
      payment_method_status: 'valid',
      ltv: 0,
      last_payment_date: null,
      last_payment_amount: null,
      failed_payment_count: 0,
      last_payment_failure: null,
      delinquent: false,
      customer_deleted: false,
      days_to_first_payment: null,
      discount: null,
      cancel_at_period_end: false,
      last_mrr_change: null,
      last_mrr_change_kind: null,
      last_mrr_change_date: null,
      synced_at: '2026-01-15T12:00:00Z',
    } satisfies CrmFieldValues);
  });

  it('a paying Pro customer with seats, a running coupon, payments and a refund', () => {
    let s = state({
      customer: { created: T0 - 100 * DAY },
      subscriptions: [
        subscription([item(proMonthly, 2, { currentPeriodEnd: Date.UTC(2026, 1, 3) / 1000 })], {
          discounts: [percentOff(20, 'repeating', { start: T0 - 30 * DAY, end: T0 + 60 * DAY, durationInMonths: 3 })],
        }),
      ],
      payments: [
        payment({ id: 'ch_1', created: T0 - 95 * DAY + 3600, amount: 7840 }),
        payment({ id: 'ch_2', created: T0 - 64 * DAY, amount: 7840 }),
        payment({ id: 're_1', kind: 'refund', created: T0 - 60 * DAY, amount: 840 }),
        payment({ id: 'ch_3', created: T0 - 33 * DAY, amount: 7840 }),
      ],
    });
    s = withRecordedMrr(s, T0 - 95 * DAY);
    expect(computeCrmFields(s, { now: NOW })).toEqual({
      customer_id: 'cus_1',
      subscription_status: 'active',
      mrr: 78.4,
      currency: 'USD',
      plan_name: 'Pro',
      billing_interval: 'month',
      next_renewal_date: '2026-02-03',
      trial_end_date: null,
      payment_method_status: 'valid',
      ltv: 226.8, // 3 × 78.40 − 8.40
      last_payment_date: '2025-12-13',
      last_payment_amount: 78.4,
      failed_payment_count: 0,
      last_payment_failure: null,
      delinquent: false,
      customer_deleted: false,
      days_to_first_payment: 5,
      discount: '20% off (repeating, 3 months)',
      cancel_at_period_end: false,
      // Recorded when the subscription started, before the coupon: 2 × 49.00.
      last_mrr_change: 98,
      last_mrr_change_kind: 'new',
      last_mrr_change_date: '2025-10-12',
      synced_at: '2026-01-15T12:00:00Z',
    } satisfies CrmFieldValues);
  });

  it('a trialing customer: no MRR, renewal is the trial end', () => {
    const fields = computeCrmFields(
      state({ subscriptions: [subscription([item(proMonthly)], { status: 'trialing', trialStart: T0 - 7 * DAY, trialEnd: T0 + 7 * DAY })] }),
      { now: NOW },
    );
    expect(fields).toMatchObject({
      subscription_status: 'trialing', mrr: 0, next_renewal_date: '2026-01-22', trial_end_date: '2026-01-22', plan_name: 'Pro',
    });
  });

  it('a past-due customer whose card was declined after the last success', () => {
    const fields = computeCrmFields(
      state({
        customer: { delinquent: true },
        subscriptions: [subscription([item(proMonthly)], { status: 'past_due' })],
        payments: [
          payment({ id: 'ch_1', created: T0 - 40 * DAY, amount: 4900 }),
          payment({ id: 'ch_2', outcome: 'failed', status: 'failed', created: T0 - 5 * DAY, amount: 4900, failureCode: 'insufficient_funds', failureMessage: 'Your card has insufficient funds.' }),
          payment({ id: 'ch_3', outcome: 'failed', status: 'failed', created: T0 - 2 * DAY, amount: 4900, failureCode: 'insufficient_funds', failureMessage: 'Your card has insufficient funds.' }),
        ],
      }),
      { now: NOW },
    );
    expect(fields).toMatchObject({
      subscription_status: 'past_due',
      mrr: 49,
      payment_method_status: 'failed',
      failed_payment_count: 2,
      last_payment_failure: 'insufficient_funds: Your card has insufficient funds.',
      delinquent: true,
      last_payment_date: '2025-12-06',
    });
  });

  it('a churned customer: canceled, zero MRR, churn recorded', () => {
    const active = subscription([item(proMonthly)]);
    let s = withRecordedMrr(state({ subscriptions: [active] }), T0 - 60 * DAY);
    s = withSubscription(s, { ...active, status: 'canceled', canceledAt: T0 - DAY, endedAt: T0 - DAY });
    s = withRecordedMrr(s, T0 - DAY);
    expect(computeCrmFields(s, { now: NOW })).toMatchObject({
      subscription_status: 'canceled',
      mrr: 0,
      next_renewal_date: null,
      cancel_at_period_end: false,
      last_mrr_change: -49,
      last_mrr_change_kind: 'churn',
      last_mrr_change_date: '2026-01-14',
    });
  });

  it('a scheduled cancellation: flagged, and no renewal date', () => {
    const fields = computeCrmFields(state({ subscriptions: [subscription([item(proMonthly)], { cancelAtPeriodEnd: true, cancelAt: T0 + 20 * DAY })] }), { now: NOW });
    expect(fields).toMatchObject({ subscription_status: 'active', cancel_at_period_end: true, next_renewal_date: null, mrr: 49 });
    const cancelAt = computeCrmFields(state({ subscriptions: [subscription([item(proMonthly)], { cancelAt: T0 + 5 * DAY })] }), { now: NOW });
    expect(cancelAt).toMatchObject({ cancel_at_period_end: true, next_renewal_date: null });
  });

  it('money in zero- and three-decimal currencies', () => {
    const jpy = computeCrmFields(
      state({ customer: { currency: 'jpy' }, subscriptions: [subscription([item(recurringPrice(12_000, 'year', 1, { currency: 'jpy' }))], { currency: 'jpy' })], payments: [payment({ id: 'ch_1', amount: 12_000, currency: 'jpy' })] }),
      { now: NOW },
    );
    expect(jpy).toMatchObject({ currency: 'JPY', mrr: 1000, ltv: 12_000, last_payment_amount: 12_000, billing_interval: 'year' });
    const kwd = computeCrmFields(
      state({ customer: { currency: null }, subscriptions: [subscription([item(recurringPrice(1500, 'month', 1, { currency: 'kwd' }))], { currency: 'kwd' })] }),
      { now: NOW },
    );
    expect(kwd).toMatchObject({ currency: 'KWD', mrr: 1.5 });
  });

  it('rejects a bad clock or option', () => {
    expect(() => computeCrmFields(state(), { now: Number.NaN })).toThrow(InvalidArgumentError);
    expect(() => computeCrmFields(state(), { now: NOW, expiringWithinDays: -1 })).toThrow(InvalidArgumentError);
  });
});

describe('computeCrmFields: the most relevant subscription', () => {
  it.each<[string, SubscriptionSnapshot[], Partial<CrmFieldValues>]>([
    [
      'active beats trialing, past_due and canceled regardless of age',
      [
        subscription([item(recurringPrice(9900, 'month', 1, { productName: 'Old' }))], { id: 'sub_canceled', status: 'canceled', created: T0 - DAY }),
        subscription([item(recurringPrice(9900, 'month', 1, { productName: 'Trial' }))], { id: 'sub_trial', status: 'trialing', created: T0 - 2 * DAY }),
        subscription([item(recurringPrice(100, 'month', 1, { productName: 'Live' }))], { id: 'sub_live', status: 'active', created: T0 - 300 * DAY }),
      ],
      { subscription_status: 'active', plan_name: 'Live' },
    ],
    [
      'past_due beats trialing',
      [
        subscription([item(recurringPrice(100, 'month', 1, { productName: 'Trial' }))], { id: 'sub_t', status: 'trialing' }),
        subscription([item(recurringPrice(100, 'month', 1, { productName: 'Late' }))], { id: 'sub_p', status: 'past_due' }),
      ],
      { subscription_status: 'past_due', plan_name: 'Late' },
    ],
    [
      'unpaid beats paused, incomplete and canceled',
      [
        subscription([item(proMonthly)], { id: 'sub_a', status: 'incomplete' }),
        subscription([item(proMonthly)], { id: 'sub_b', status: 'paused' }),
        subscription([item(proMonthly)], { id: 'sub_c', status: 'unpaid' }),
        subscription([item(proMonthly)], { id: 'sub_d', status: 'canceled' }),
      ],
      { subscription_status: 'unpaid' },
    ],
    [
      'between two active subscriptions, the larger MRR wins',
      [
        subscription([item(recurringPrice(1000, 'month', 1, { productName: 'Small' }))], { id: 'sub_small', created: T0 - DAY }),
        subscription([item(recurringPrice(120_000, 'year', 1, { productName: 'Big' }))], { id: 'sub_big', created: T0 - 100 * DAY }),
      ],
      { plan_name: 'Big', billing_interval: 'year', mrr: 110 },
    ],
  ])('%s', (_name, subscriptions, expected) => {
    expect(computeCrmFields(state({ subscriptions }), { now: NOW })).toMatchObject(expected);
  });
});

describe('computeCrmFields: plan, interval and discount text', () => {
  it.each<[string, SubscriptionSnapshot, Partial<CustomerSnapshot>, Partial<CrmFieldValues>]>([
    ['quarterly plan', subscription([item(recurringPrice(3000, 'month', 3))]), {}, { billing_interval: '3 months' }],
    ['every 2 weeks', subscription([item(recurringPrice(3000, 'week', 2))]), {}, { billing_interval: '2 weeks' }],
    [
      'mixed intervals and products',
      subscription([item(proMonthly), item(recurringPrice(12_000, 'year', 1, { productId: 'prod_support', productName: 'Priority support' }))]),
      {},
      { billing_interval: 'month, year', plan_name: 'Pro, Priority support' },
    ],
    [
      'metered add-on is part of the plan name',
      subscription([item(proMonthly), item(price({ id: 'price_api', productId: 'prod_api', productName: 'API calls', recurring: { interval: 'month', intervalCount: 1, usageType: 'metered' } }))]),
      {},
      { plan_name: 'Pro, API calls', mrr: 49 },
    ],
    [
      'falls back to the nickname, then the product id',
      subscription([
        item(recurringPrice(100, 'month', 1, { productName: null, nickname: 'Legacy plan' })),
        item(recurringPrice(100, 'month', 1, { productName: null, productId: 'prod_x', id: 'price_x' })),
      ]),
      {},
      { plan_name: 'Legacy plan, prod_x' },
    ],
    ['amount off, once', subscription([item(proMonthly)], { discounts: [amountOff(1000, 'usd', 'once')] }), {}, { discount: 'USD 10.00 off (once)', mrr: 49 }],
    ['percent with decimals, forever', subscription([item(proMonthly)], { discounts: [percentOff(25.5)] }), {}, { discount: '25.5% off (forever)' }],
    [
      'stacked discounts are joined',
      subscription([item(proMonthly, 1, { discounts: [amountOff(500, 'usd', 'forever', { id: 'di_item' })] })], { discounts: [percentOff(10)] }),
      {},
      { discount: 'USD 5.00 off (forever) + 10% off (forever)' },
    ],
    [
      'an expired repeating discount is not shown',
      subscription([item(proMonthly)], { discounts: [percentOff(50, 'repeating', { durationInMonths: 1, start: T0 - 60 * DAY, end: T0 - 29 * DAY })] }),
      {},
      { discount: null, mrr: 49 },
    ],
    ['the customer discount is inherited', subscription([item(proMonthly)]), { discount: percentOff(10, 'forever', { id: 'di_cus' }) }, { discount: '10% off (forever)', mrr: 44.1 }],
    ['a coupon whose terms are unknown is named', subscription([item(proMonthly)], { discounts: [discount({ duration: null, couponId: 'SPRING' })] }), {}, { discount: 'coupon SPRING', mrr: 49 }],
  ])('%s', (_name, sub, customerOverrides, expected) => {
    expect(computeCrmFields(state({ customer: customerOverrides, subscriptions: [sub] }), { now: NOW })).toMatchObject(expected);
  });

  it('uses product names learnt from product events', () => {
    const s = withProductName(state({ subscriptions: [subscription([item(recurringPrice(100, 'month', 1, { productName: null, productId: 'prod_9' }))])] }), 'prod_9', 'Team');
    expect(computeCrmFields(s, { now: NOW }).plan_name).toBe('Team');
  });

  it('describes single discounts', () => {
    expect(describeDiscount(percentOff(20, 'repeating', { durationInMonths: 1 }))).toBe('20% off (repeating, 1 month)');
    expect(describeDiscount(amountOff(1500, 'kwd', 'forever'))).toBe('KWD 1.500 off (forever)');
  });
});

describe('computeCrmFields: payment method status', () => {
  const sub = subscription([item(proMonthly)]);
  it.each<[string, Partial<CustomerSnapshot>, Partial<SubscriptionSnapshot>, PaymentSnapshot[], CrmFieldValues['payment_method_status']]>([
    ['a card far from expiry is valid', {}, {}, [], 'valid'],
    ['no payment method is missing', { defaultPaymentMethod: null }, {}, [], 'missing'],
    ['a card expiring at the end of this month is expiring', { defaultPaymentMethod: { id: 'pm_1', type: 'card', brand: 'visa', last4: '4242', expMonth: 1, expYear: 2026 } }, {}, [], 'expiring'],
    ['a card expiring in about seven weeks is still valid', { defaultPaymentMethod: { id: 'pm_1', type: 'card', brand: 'visa', last4: '4242', expMonth: 2, expYear: 2026 } }, {}, [], 'valid'],
    ['an expired card has failed', { defaultPaymentMethod: { id: 'pm_1', type: 'card', brand: 'visa', last4: '4242', expMonth: 12, expYear: 2025 } }, {}, [], 'failed'],
    [
      'a decline newer than the last success has failed',
      {},
      {},
      [payment({ id: 'ch_1', created: T0 - 40 * DAY }), payment({ id: 'ch_2', outcome: 'failed', status: 'failed', created: T0 - DAY })],
      'failed',
    ],
    [
      'a success after the decline is valid again',
      {},
      {},
      [payment({ id: 'ch_2', outcome: 'failed', status: 'failed', created: T0 - 2 * DAY }), payment({ id: 'ch_3', created: T0 - DAY })],
      'valid',
    ],
    [
      'a decline on a card that is no longer the default does not count',
      {},
      { defaultPaymentMethodId: 'pm_new' },
      [payment({ id: 'ch_2', outcome: 'failed', status: 'failed', created: T0 - DAY, paymentMethodId: 'pm_old' })],
      'valid',
    ],
    ['the subscription payment method takes precedence over a missing customer default', { defaultPaymentMethod: null }, { defaultPaymentMethodId: 'pm_sub' }, [], 'valid'],
  ])('%s', (_name, customerOverrides, subOverrides, payments, expected) => {
    const fields = computeCrmFields(state({ customer: customerOverrides, subscriptions: [{ ...sub, ...subOverrides }], payments }), { now: NOW });
    expect(fields.payment_method_status).toBe(expected);
  });

  it('honours a custom expiry window', () => {
    const s = state({ customer: { defaultPaymentMethod: { id: 'pm_1', type: 'card', brand: 'visa', last4: '4242', expMonth: 2, expYear: 2026 } } });
    expect(computeCrmFields(s, { now: NOW, expiringWithinDays: 60 }).payment_method_status).toBe('expiring');
  });
});

describe('state reducers', () => {
  it('records MRR movements as subscriptions change and ignores replays', () => {
    const base = subscription([item(proMonthly)]);
    let s = state();
    s = withRecordedMrr(withSubscription(s, base), T0);
    expect(s.mrr.lastChange?.kind).toBe('new');
    const upgraded = withRecordedMrr(withSubscription(s, { ...base, items: [item(proMonthly, 3)] }), T0 + DAY);
    expect(upgraded.mrr.lastChange).toMatchObject({ kind: 'expansion', previous: { usd: 4900 }, next: { usd: 14_700 } });
    expect(withRecordedMrr(upgraded, T0 + 2 * DAY)).toBe(upgraded);
    const fields = computeCrmFields(upgraded, { now: T0 + 2 * DAY });
    expect(fields).toMatchObject({ last_mrr_change: 98, last_mrr_change_kind: 'expansion', mrr: 147 });
  });

  it('applies the MRR settings it is given', () => {
    const s = state({ subscriptions: [subscription([item(proMonthly)], { discounts: [percentOff(50, 'repeating', { end: T0 + DAY, durationInMonths: 1 })] })] });
    expect(computeCrmFields(s, { now: NOW }).mrr).toBe(24.5);
    expect(computeCrmFields(s, { now: NOW, mrr: { discounts: 'forever_only' } }).mrr).toBe(49);
  });

  it('keeps the state JSON-serialisable and unchanged by reducers that change nothing', () => {
    const s = state({ subscriptions: [subscription([item(proMonthly)])], payments: [payment({ id: 'ch_1' })] });
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(withPayment(s, payment({ id: 'ch_1' }))).toBe(s);
    expect(withProductName(withProductName(s, 'p', 'P'), 'p', 'P')).toEqual(withProductName(s, 'p', 'P'));
    expect(withCustomer(s, customer({ email: 'new@example.com' })).customer.email).toBe('new@example.com');
  });
});

describe('mapping values to provider properties', () => {
  const values = computeCrmFields(state({ subscriptions: [subscription([item(proMonthly)])] }), { now: NOW });

  it('renames fields for HubSpot and Salesforce', () => {
    const hubspot = toCrmProperties(values, crmFieldNames('hubspot'));
    expect(hubspot).toMatchObject({ stripe_customer_id: 'cus_1', stripe_mrr: 49, stripe_subscription_status: 'active', stripe_cancel_at_period_end: false });
    expect(Object.keys(hubspot)).toHaveLength(Object.keys(values).length);
    const salesforce = toCrmProperties(values, crmFieldNames('salesforce', { discount: null }));
    expect(salesforce).toMatchObject({ Stripe_Customer_ID__c: 'cus_1', Stripe_MRR__c: 49, Stripe_Next_Renewal_Date__c: '2026-02-15' });
    expect(salesforce).not.toHaveProperty('Stripe_Discount__c');
  });

  it('lists the fields that changed, ignoring synced_at', () => {
    const later = computeCrmFields(state({ subscriptions: [subscription([item(proMonthly, 2)])] }), { now: NOW + 60 });
    expect(changedCrmFields(values, later)).toEqual(['mrr']);
    expect(changedCrmFields(values, { ...values, synced_at: 'x' })).toEqual([]);
    expect(changedCrmFields(null, values)).toHaveLength(Object.keys(values).length - 1);
  });
});
