import { describe, expect, it } from 'vitest';
import type { CrmFieldValues } from '../../domain/crm-fields.js';
import { rollUpAccountFields } from '../../domain/rollup.js';

const base: CrmFieldValues = {
  customer_id: 'cus_a', subscription_status: 'active', mrr: 100, currency: 'USD', plan_name: 'Pro', billing_interval: 'month',
  next_renewal_date: '2026-12-10', trial_end_date: null, payment_method_status: 'valid', ltv: 1200, last_payment_date: '2026-11-10',
  last_payment_amount: 100, failed_payment_count: 0, last_payment_failure: null, delinquent: false, customer_deleted: false,
  days_to_first_payment: 3, discount: null, cancel_at_period_end: false, last_mrr_change: 50, last_mrr_change_kind: 'expansion',
  last_mrr_change_date: '2026-10-01', synced_at: '2026-11-27T10:00:00.000Z',
};
const member = (customerId: string, fields: Partial<CrmFieldValues>) => ({ customerId, fields: { ...base, customer_id: customerId, ...fields } });

describe('rollUpAccountFields', () => {
  it.each([
    ['sums MRR and lifetime value in one currency', [member('a', {}), member('b', { mrr: 49.5, ltv: 99 })], { mrr: 149.5, ltv: 1299, currency: 'USD' }],
    ['keeps the main currency (most members) and leaves others to byCurrency', [member('a', {}), member('b', { mrr: 10 }), member('c', { currency: 'EUR', mrr: 500, ltv: 500 })], { mrr: 110, currency: 'USD' }],
    ['breaks a currency tie by the larger MRR', [member('a', {}), member('b', { currency: 'EUR', mrr: 300 })], { mrr: 300, currency: 'EUR' }],
    ['takes the best subscription status and that member\'s plan facts', [member('a', { subscription_status: 'canceled', mrr: 0, plan_name: 'Old', cancel_at_period_end: true }), member('b', { subscription_status: 'past_due', plan_name: 'Team' })], { subscription_status: 'past_due', plan_name: 'Team', cancel_at_period_end: false }],
    ['lists every live plan and says mixed intervals', [member('a', { plan_name: 'Pro' }), member('b', { plan_name: 'Add-on', billing_interval: 'year' })], { plan_name: 'Add-on, Pro', billing_interval: 'mixed' }],
    ['shows the worst payment method and delinquency of any member', [member('a', {}), member('b', { payment_method_status: 'failed', delinquent: true }), member('c', { payment_method_status: 'missing' })], { payment_method_status: 'failed', delinquent: true }],
    ['adds failed payments and takes the latest payment and the nearest renewal', [member('a', { failed_payment_count: 2 }), member('b', { failed_payment_count: 1, last_payment_date: '2026-11-20', last_payment_amount: 7, next_renewal_date: '2026-12-01' })], { failed_payment_count: 3, last_payment_date: '2026-11-20', last_payment_amount: 7, next_renewal_date: '2026-12-01' }],
    ['is deleted only when every member is', [member('a', { customer_deleted: true }), member('b', {})], { customer_deleted: false }],
    ['takes the latest MRR movement in the main currency', [member('a', {}), member('b', { last_mrr_change: -20, last_mrr_change_kind: 'contraction', last_mrr_change_date: '2026-11-02' })], { last_mrr_change: -20, last_mrr_change_kind: 'contraction' }],
  ])('%s', (_name, members, expected) => {
    expect(rollUpAccountFields(members).fields).toMatchObject(expected);
  });

  it('leaves the record\'s Stripe id alone and reports every currency', () => {
    const rollup = rollUpAccountFields([member('a', {}), member('c', { currency: 'EUR', mrr: 500, ltv: 700 })]);
    expect(rollup.fields).not.toHaveProperty('customer_id');
    expect(rollup.byCurrency).toEqual({ USD: { mrr: 100, ltv: 1200, members: 1 }, EUR: { mrr: 500, ltv: 700, members: 1 } });
  });

  it('does not depend on the order members are read in', () => {
    const members = [member('a', { plan_name: 'Pro' }), member('b', { plan_name: 'Team', mrr: 100 }), member('c', { currency: 'EUR' })];
    expect(rollUpAccountFields([...members].reverse())).toEqual(rollUpAccountFields(members));
  });

  it('refuses an empty roll-up', () => {
    expect(() => rollUpAccountFields([])).toThrow(RangeError);
  });
});
