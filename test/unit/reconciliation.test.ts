import { describe, expect, it } from 'vitest';
import { crmFieldNames } from '../../domain/crm-field-names.js';
import type { CrmFieldValues } from '../../domain/crm-fields.js';
import { compareFields, domainOf, normalizeFieldValue, PRECISE_FIELDS, SNAPSHOT_FIELDS } from '../../domain/reconciliation.js';

describe('normalizeFieldValue: one representation whatever the CRM stores', () => {
  it.each([
    ['mrr', 49.5, '49.5'],
    ['mrr', '49.50', '49.5'],
    ['mrr', '49.5004', '49.5'],
    ['mrr', 0, '0'],
    ['mrr', '', null],
    ['ltv', null, null],
    ['delinquent', false, 'false'],
    ['delinquent', 'TRUE', 'true'],
    ['next_renewal_date', '2026-12-01', '2026-12-01'],
    ['next_renewal_date', '2026-12-01T00:00:00.000Z', '2026-12-01'],
    ['next_renewal_date', String(Date.UTC(2026, 11, 1)), '2026-12-01'],
    ['currency', 'usd', 'USD'],
    ['plan_name', '  Pro ', 'Pro'],
    ['plan_name', undefined, null],
  ] as const)('%s %j → %j', (field, value, expected) => {
    expect(normalizeFieldValue(field, value)).toBe(expected);
  });
});

describe('compareFields', () => {
  const expected = {
    customer_id: 'cus_1', subscription_status: 'active', mrr: 49.5, currency: 'USD', plan_name: 'Pro', billing_interval: 'month',
    next_renewal_date: '2026-12-01', trial_end_date: null, payment_method_status: 'valid', ltv: 99, last_payment_date: '2026-11-01',
    last_payment_amount: 49.5, failed_payment_count: 0, last_payment_failure: null, delinquent: false, days_to_first_payment: 0,
    discount: null, cancel_at_period_end: false, last_mrr_change: 49.5, last_mrr_change_kind: 'new', last_mrr_change_date: '2026-10-01',
    synced_at: '2026-11-27T10:00:00Z', customer_deleted: false,
  } satisfies CrmFieldValues;
  const hubspot = crmFieldNames('hubspot');
  const stored = {
    stripe_customer_id: 'cus_1', stripe_subscription_status: 'active', stripe_mrr: '49.5', stripe_currency: 'USD', stripe_plan_name: 'Pro',
    stripe_billing_interval: 'month', stripe_next_renewal_date: '2026-12-01', stripe_trial_end_date: '', stripe_payment_method_status: 'valid',
    stripe_ltv: '99', stripe_last_payment_date: '2026-11-01', stripe_last_payment_amount: '49.5', stripe_failed_payment_count: '0',
    stripe_last_payment_failure: '', stripe_delinquent: 'false', stripe_days_to_first_payment: '0', stripe_discount: '',
    stripe_cancel_at_period_end: 'false', stripe_customer_deleted: 'false',
    // Neither compared: written at sync time, or history a single state cannot reproduce.
    stripe_last_mrr_change: '10', stripe_last_mrr_change_kind: 'expansion', stripe_synced_at: '2020-01-01T00:00:00Z',
  };

  it('finds nothing when the CRM holds what Stripe says, in its own representation', () => {
    expect(compareFields(expected, stored, hubspot, PRECISE_FIELDS)).toEqual([]);
  });

  it.each([
    ['stripe_mrr', '1', { field: 'mrr', expected: '49.5', actual: '1' }],
    ['stripe_subscription_status', 'canceled', { field: 'subscription_status', expected: 'active', actual: 'canceled' }],
    ['stripe_trial_end_date', '2026-12-24', { field: 'trial_end_date', expected: null, actual: '2026-12-24' }],
    ['stripe_cancel_at_period_end', 'true', { field: 'cancel_at_period_end', expected: 'false', actual: 'true' }],
    ['stripe_plan_name', null, { field: 'plan_name', expected: 'Pro', actual: null }],
  ] as const)('reports %s = %j', (property, value, difference) => {
    expect(compareFields(expected, { ...stored, [property]: value }, hubspot, PRECISE_FIELDS)).toEqual([difference]);
  });

  it('leaves payment-history fields to the precise check and skips fields switched off', () => {
    expect(compareFields(expected, { ...stored, stripe_ltv: '5' }, hubspot, SNAPSHOT_FIELDS)).toEqual([]);
    expect(compareFields(expected, { ...stored, stripe_ltv: '5' }, hubspot, PRECISE_FIELDS)).toHaveLength(1);
    const withoutMrr = crmFieldNames('hubspot', { mrr: null });
    expect(compareFields(expected, { ...stored, stripe_mrr: '1' }, withoutMrr, PRECISE_FIELDS)).toEqual([]);
  });
});

describe('domainOf', () => {
  it.each([
    ['Acme.example', 'acme.example'],
    ['https://www.acme.example/about', 'acme.example'],
    ['ada@Acme.Example', 'acme.example'],
    ['', null],
    [null, null],
  ] as const)('%j → %j', (value, expected) => {
    expect(domainOf(value)).toBe(expected);
  });
});
