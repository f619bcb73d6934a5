import { describe, expect, it } from 'vitest';
import { CRM_FIELD_NAMES, crmFieldNames } from '../../domain/crm-field-names.js';
import type { CrmFieldValues } from '../../domain/crm-fields.js';
import { applyPayments, createPaymentAggregates } from '../../domain/payment-aggregates.js';
import {
  compareFields,
  domainOf,
  expectedFor,
  MOVEMENT_FIELDS,
  movementDifferences,
  normalizeFieldValue,
  queueDecision,
  reviewFindingOf,
  SNAPSHOT_FIELDS,
  STATE_FIELDS,
  UNCOMPARED_FIELDS,
  type ExistingReview,
  type MovementFacts,
  type ReviewFinding,
} from '../../domain/reconciliation.js';
import { customer, DAY, item, payment, recurringPrice, subscription, T0 } from './billing-builders.js';

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
    // Not compared for equality: written at sync time, or history a single state cannot reproduce.
    stripe_last_mrr_change: '10', stripe_last_mrr_change_kind: 'expansion', stripe_synced_at: '2020-01-01T00:00:00Z',
  };

  it('finds nothing when the CRM holds what Stripe says, in its own representation', () => {
    expect(compareFields(expected, stored, hubspot, STATE_FIELDS)).toEqual([]);
  });

  it.each([
    ['stripe_mrr', '1', { field: 'mrr', expected: '49.5', actual: '1' }],
    ['stripe_subscription_status', 'canceled', { field: 'subscription_status', expected: 'active', actual: 'canceled' }],
    ['stripe_trial_end_date', '2026-12-24', { field: 'trial_end_date', expected: null, actual: '2026-12-24' }],
    ['stripe_cancel_at_period_end', 'true', { field: 'cancel_at_period_end', expected: 'false', actual: 'true' }],
    ['stripe_plan_name', null, { field: 'plan_name', expected: 'Pro', actual: null }],
  ] as const)('reports %s = %j', (property, value, difference) => {
    expect(compareFields(expected, { ...stored, [property]: value }, hubspot, STATE_FIELDS)).toEqual([difference]);
  });

  it('compares payment-history fields unless the run has no payments staged, and skips fields switched off', () => {
    expect(compareFields(expected, { ...stored, stripe_ltv: '5' }, hubspot, SNAPSHOT_FIELDS)).toEqual([]);
    expect(compareFields(expected, { ...stored, stripe_ltv: '5' }, hubspot, STATE_FIELDS)).toHaveLength(1);
    const withoutMrr = crmFieldNames('hubspot', { mrr: null });
    expect(compareFields(expected, { ...stored, stripe_mrr: '1' }, withoutMrr, STATE_FIELDS)).toEqual([]);
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

describe('which fields a run compares', () => {
  it('accounts for every CRM field exactly once: compared, checked for consistency, or never compared', () => {
    const all = [...STATE_FIELDS, ...MOVEMENT_FIELDS, ...UNCOMPARED_FIELDS];
    expect(new Set(all).size).toBe(all.length);
    expect([...all].sort()).toEqual([...CRM_FIELD_NAMES].sort());
    expect(SNAPSHOT_FIELDS.every((f) => (STATE_FIELDS as readonly string[]).includes(f))).toBe(true);
  });
});

describe('expectedFor: values and movement facts of one fresh read', () => {
  const pro = recurringPrice(4950);
  const mrr = { discounts: 'apply' } as const;

  it('computes payment fields from the folded charges, as the real-time path does', () => {
    const payments = applyPayments(createPaymentAggregates(), [
      payment({ id: 'ch_1', amount: 4950, created: T0 - 60 * DAY }),
      payment({ id: 'ch_2', outcome: 'failed', status: 'failed', amount: 4950, created: T0 - 31 * DAY, failureCode: 'card_declined' }),
      payment({ id: 'ch_3', amount: 4950, created: T0 - 30 * DAY }),
      payment({ id: 're_1', kind: 'refund', amount: 950, created: T0 - 20 * DAY }),
    ]);
    const { fields } = expectedFor({ customer: customer(), subscriptions: [subscription([item(pro)])], discounts: [], productNames: {}, payments }, mrr, T0);
    expect(fields).toMatchObject({ ltv: 89.5, last_payment_amount: 49.5, failed_payment_count: 1, last_payment_failure: null, days_to_first_payment: 40, mrr: 49.5 });
  });

  it.each([
    ['a paying customer', [subscription([item(pro)])], { paying: true, amount: 49.5, everSubscribed: true }],
    ['a canceled customer', [subscription([item(pro)], { status: 'canceled', endedAt: T0 - DAY })], { paying: false, amount: 0, everSubscribed: true }],
    ['a trial', [subscription([item(pro)], { status: 'trialing', trialEnd: T0 + 5 * DAY })], { paying: false, amount: 0, everSubscribed: true }],
    ['a checkout that never completed', [subscription([item(pro)], { status: 'incomplete_expired' })], { paying: false, amount: 0, everSubscribed: false }],
    ['no subscription', [], { paying: false, amount: 0, everSubscribed: false }],
    ['MRR in two currencies', [subscription([item(pro)]), subscription([item(recurringPrice(5000, 'month', 1, { id: 'price_eur', currency: 'eur' }))], { id: 'sub_2', currency: 'eur' })], { paying: true, amount: null, everSubscribed: true }],
  ] as const)('%s', (_, subscriptions, facts) => {
    const { movement } = expectedFor({ customer: customer(), subscriptions: [...subscriptions], discounts: [], productNames: {}, payments: null }, mrr, T0);
    expect(movement).toEqual({ ...facts, createdDate: '2025-10-07' });
  });
});

describe('movementDifferences: what the current state contradicts in the latest MRR movement', () => {
  const names = crmFieldNames('hubspot');
  const paying: MovementFacts = { paying: true, amount: 49.5, everSubscribed: true, createdDate: '2025-10-07' };
  const churned: MovementFacts = { paying: false, amount: 0, everSubscribed: true, createdDate: '2025-10-07' };
  const never: MovementFacts = { paying: false, amount: 0, everSubscribed: false, createdDate: '2025-10-07' };
  const record = (kind: string | null, change: string | null, date: string | null) =>
    ({ stripe_last_mrr_change_kind: kind ?? '', stripe_last_mrr_change: change ?? '', stripe_last_mrr_change_date: date ?? '' });
  const summary = (facts: MovementFacts, kind: string | null, change: string | null, date: string | null, map = names) =>
    movementDifferences(facts, record(kind, change, date), map).map((d) => `${d.field}=${d.actual ?? '∅'}≠${d.expected ?? '∅'}`);

  it.each([
    // Consistent with the state: nothing to report, whatever the history was.
    ['new, the whole MRR', paying, 'new', '49.5', '2026-01-01', []],
    ['reactivation, the whole MRR', paying, 'reactivation', '49.50', '2026-01-01', []],
    ['an expansion of any size', paying, 'expansion', '10', '2026-01-01', []],
    ['a contraction', paying, 'contraction', '-10', '2026-01-01', []],
    ['churn at zero MRR', churned, 'churn', '-49.5', '2026-01-01', []],
    ['no movement written yet (a backfilled record)', paying, null, null, null, []],
    ['no movement for a customer who never subscribed', never, null, null, null, []],
    ['a movement on the day the customer was created', paying, 'new', '49.5', '2025-10-07', []],
    // Contradictions.
    ['churn while paying', paying, 'churn', '-49.5', '2026-01-01', ['last_mrr_change_kind=churn≠new, expansion, contraction or reactivation']],
    ['an expansion at zero MRR', churned, 'expansion', '10', '2026-01-01', ['last_mrr_change_kind=expansion≠churn']],
    ['new with another amount than the MRR', paying, 'new', '148.5', '2026-01-01', ['last_mrr_change=148.5≠49.5']],
    ['a negative expansion', paying, 'expansion', '-3', '2026-01-01', ['last_mrr_change=-3≠positive']],
    ['a positive contraction', paying, 'contraction', '3', '2026-01-01', ['last_mrr_change=3≠negative']],
    ['a positive churn', churned, 'churn', '5', '2026-01-01', ['last_mrr_change=5≠negative']],
    ['a kind without an amount or date', paying, 'expansion', null, null, ['last_mrr_change=∅≠an amount', 'last_mrr_change_date=∅≠a date']],
    ['a movement older than the customer', paying, 'new', '49.5', '2025-01-01', ['last_mrr_change_date=2025-01-01≠2025-10-07 or later']],
    ['a movement for a customer who never subscribed', never, 'new', '10', '2026-01-01', ['last_mrr_change_kind=new≠∅', 'last_mrr_change=10≠∅', 'last_mrr_change_date=2026-01-01≠∅']],
    ['an unknown kind', paying, 'upgrade', '10', '2026-01-01', ['last_mrr_change_kind=upgrade≠new, expansion, contraction, churn, reactivation']],
  ] as const)('%s', (_, facts, kind, change, date, expected) => {
    expect(summary(facts, kind, change, date)).toEqual(expected);
  });

  it('does not check the amount of a new movement when the MRR spans currencies, and skips fields switched off', () => {
    expect(summary({ ...paying, amount: null }, 'new', '148.5', '2026-01-01')).toEqual([]);
    expect(summary(paying, 'new', '148.5', '2026-01-01', crmFieldNames('hubspot', { last_mrr_change: null }))).toEqual([]);
    expect(summary(paying, 'churn', '-1', '2026-01-01', crmFieldNames('hubspot', { last_mrr_change_kind: null }))).toEqual([]);
  });

  it('explains each contradiction', () => {
    expect(movementDifferences(paying, record('churn', '-49.5', '2026-01-01'), names)[0]!.rule).toBe('MRR is above zero, so the latest movement is not churn');
  });
});

describe('reviewFindingOf: the review a discrepancy becomes', () => {
  it.each([
    [{ kind: 'unlinked', customerId: 'cus_1', crmRecordId: null, details: { email: 'a@x' } }, { kind: 'unlinked', reason: 'no-crm-record', subject: 'cus_1', customerId: 'cus_1', recordIds: [] }],
    [{ kind: 'orphan', customerId: 'cus_gone', crmRecordId: '42', details: {} }, { kind: 'orphan', reason: 'stripe-customer-missing', subject: 'cus_gone', customerId: 'cus_gone', recordIds: ['42'] }],
    [
      { kind: 'duplicate-stripe-id', customerId: 'cus_1', crmRecordId: '7', details: { key: 'cus_1', records: [{ recordId: '9', customerId: 'cus_1' }, { recordId: '7', customerId: 'cus_1' }] } },
      { kind: 'duplicate-merge', reason: 'duplicate-stripe-id', subject: 'duplicate-stripe-id:cus_1', customerId: 'cus_1', recordIds: ['7', '9'] },
    ],
    [
      { kind: 'duplicate-domain', customerId: null, crmRecordId: '1', details: { key: 'acme.example', records: [{ recordId: '1', customerId: 'cus_a' }, { recordId: '2', customerId: 'cus_b' }] } },
      { kind: 'duplicate-merge', reason: 'duplicate-domain', subject: 'duplicate-domain:acme.example', customerId: null, recordIds: ['1', '2'] },
    ],
    [{ kind: 'drift', customerId: 'cus_1', crmRecordId: '1', details: {} }, null],
    [{ kind: 'missing-record', customerId: 'cus_1', crmRecordId: null, details: {} }, null],
  ] as const)('%j', (discrepancy, finding) => {
    expect(reviewFindingOf(discrepancy)).toEqual(finding);
  });
});

describe('queueDecision: a finding is queued once, and stays out once dismissed', () => {
  const group: ReviewFinding = { kind: 'duplicate-merge', reason: 'duplicate-domain', subject: 'duplicate-domain:acme.example', customerId: null, recordIds: ['1', '2'] };
  const grown: ReviewFinding = { ...group, recordIds: ['1', '2', '4'] };
  const unlinked: ReviewFinding = { kind: 'unlinked', reason: 'no-crm-record', subject: 'cus_1', customerId: 'cus_1', recordIds: [] };
  const review = (id: string, status: ExistingReview['status'], action: string | null, recordIds: string[]): ExistingReview => ({ id, status, action, recordIds });

  it.each([
    ['nothing before', group, [], { action: 'queue' }],
    ['an open review takes it, with records found since added', group, [review('5', 'open', null, ['1', '3'])], { action: 'already-open', reviewId: '5', recordIds: ['1', '2', '3'] }],
    ['dismissed with the same records', group, [review('5', 'resolved', 'ignore', ['1', '2'])], { action: 'ignored', reviewId: '5' }],
    ['dismissed with more records than now', group, [review('5', 'resolved', 'ignore', ['1', '2', '3'])], { action: 'ignored', reviewId: '5' }],
    ['dismissed, but a record joined the group since', grown, [review('5', 'resolved', 'ignore', ['1', '2'])], { action: 'queue' }],
    ['acted on (kept a record) and back again', group, [review('5', 'resolved', 'keep', ['1', '2'])], { action: 'queue' }],
    ['settled by an earlier run and back again', group, [review('5', 'resolved', 'cleared', ['1', '2'])], { action: 'queue' }],
    ['an unlinked customer someone chose to leave out', unlinked, [review('8', 'resolved', 'ignore', [])], { action: 'ignored', reviewId: '8' }],
    ['the latest dismissal is the one pointed at', unlinked, [review('3', 'resolved', 'ignore', []), review('8', 'resolved', 'ignore', [])], { action: 'ignored', reviewId: '8' }],
  ] as const)('%s', (_, finding: ReviewFinding, existing, decision) => {
    expect(queueDecision(finding, [...existing])).toEqual(decision);
  });
});
