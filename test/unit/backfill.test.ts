import { describe, expect, it } from 'vitest';
import {
  backfillAccountFields,
  estimateRunSeconds,
  newSegment,
  progressFraction,
  rateAndEta,
  remainingSpan,
  splitSegment,
  type BackfillSegment,
} from '../../domain/backfill.js';
import { placeholderCustomer } from '../../domain/customer-sync-state.js';

describe('backfill segments', () => {
  it.each<[string, BackfillSegment, number]>([
    ['unread', newSegment(1000, 2000), 1000],
    ['after a page', { from: 1000, to: 2000, cursor: 'cus_9', cursorCreated: 1500, done: false }, 500],
    ['done', { from: 1000, to: 2000, cursor: 'cus_9', cursorCreated: 1500, done: true }, 0],
  ])('remaining span: %s', (_label, segment, span) => {
    expect(remainingSpan(segment)).toBe(span);
  });

  it('splits the unread range without overlap: the upper half keeps the cursor', () => {
    const halves = splitSegment({ from: 1000, to: 2000, cursor: 'cus_9', cursorCreated: 1600, done: false });
    expect(halves).toEqual([
      { from: 1300, to: 2000, cursor: 'cus_9', cursorCreated: 1600, done: false },
      { from: 1000, to: 1300, cursor: null, cursorCreated: null, done: false },
    ]);
  });

  it.each<[string, BackfillSegment]>([
    ['too narrow', newSegment(1000, 1100)],
    ['finished', { ...newSegment(0, 100_000), done: true }],
  ])('does not split: %s', (_label, segment) => {
    expect(splitSegment(segment)).toBeNull();
  });

  it.each<[string, BackfillSegment[], number, number]>([
    ['nothing read', [newSegment(0, 1000)], 1000, 0],
    ['half of one slice', [{ from: 0, to: 500, cursor: 'c', cursorCreated: 250, done: false }, newSegment(500, 1000)], 1000, 0.25],
    ['all done', [], 1000, 1],
  ])('progress: %s', (_label, segments, total, fraction) => {
    expect(progressFraction(segments, total)).toBeCloseTo(fraction);
  });
});

describe('rate, ETA and estimates', () => {
  it.each<[number, number, number, { rate: number; etaSeconds: number | null; estimatedTotal: number | null }]>([
    [0, 0, 0, { rate: 0, etaSeconds: null, estimatedTotal: null }],
    [1000, 10, 0.25, { rate: 100, etaSeconds: 30, estimatedTotal: 4000 }],
    [4000, 40, 1, { rate: 100, etaSeconds: 0, estimatedTotal: 4000 }],
  ])('%i records in %i s at %f', (processed, seconds, fraction, expected) => {
    expect(rateAndEta(processed, seconds, fraction)).toEqual(expected);
  });

  it('estimates a run at the CRM rate: HubSpot Pro writes 1,900 records/s', () => {
    expect(estimateRunSeconds(190_000, 19)).toBe(100);
  });
});

describe('fields a backfill writes', () => {
  it('leaves out payment totals and MRR movements it cannot know, and subscription fields when not read', () => {
    const customer = { ...placeholderCustomer('cus_1'), email: 'a@b.example', created: 1_700_000_000 };
    const fetched = { fetchedAt: 1_710_000_000, customer, subscriptions: [], discounts: [], productNames: {} };
    const all = backfillAccountFields('acct_1', fetched, { now: 1_710_000_000, mrr: { discounts: 'apply' }, includeSubscriptions: true });
    expect(all).toMatchObject({ customer_id: 'cus_1', subscription_status: 'none', mrr: 0 });
    for (const field of ['ltv', 'last_payment_date', 'failed_payment_count', 'last_mrr_change_kind']) expect(all).not.toHaveProperty(field);
    // Nothing live in the embedded list and the full list not read: canceled vs never subscribed is unknown.
    const liveOnly = backfillAccountFields('acct_1', fetched, { now: 1_710_000_000, mrr: { discounts: 'apply' }, includeSubscriptions: true, canceledSubscriptionsRead: false });
    expect(liveOnly).not.toHaveProperty('subscription_status');
    expect(liveOnly).not.toHaveProperty('plan_name');
    expect(liveOnly).toMatchObject({ mrr: 0 });
    const customerOnly = backfillAccountFields('acct_1', fetched, { now: 1_710_000_000, mrr: { discounts: 'apply' }, includeSubscriptions: false });
    expect(customerOnly).not.toHaveProperty('subscription_status');
    expect(customerOnly).toHaveProperty('payment_method_status');
  });
});
