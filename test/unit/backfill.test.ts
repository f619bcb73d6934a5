import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { paymentFromInvoice, type StripeInvoiceInput, type SubscriptionSnapshot } from '../../domain/billing-snapshot.js';
import {
  backfillAccountFields,
  backfillDeal,
  chargeEntries,
  disputeEntries,
  estimateRunSeconds,
  invoiceEntries,
  newerThanRead,
  newSegment,
  pickWriteGroup,
  planSteps,
  progressFraction,
  rateAndEta,
  refundEntries,
  remainingSpan,
  splitSegment,
  streamsFor,
  stripeIdOfLogRecord,
  type BackfillObject,
  type BackfillSegment,
  type BackfillStream,
  type ReadyBatch,
  type WriteKind,
  type WriteStep,
} from '../../domain/backfill.js';
import { planCrmWrites, type SyncSettings } from '../../domain/crm-plan.js';
import { invoiceTimeline } from '../../domain/customer-events.js';
import { applyFetchedCustomer, initialSyncState, placeholderCustomer } from '../../domain/customer-sync-state.js';
import { DEFAULT_IDENTITY_OPTIONS } from '../../domain/identity.js';

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

  it.each<[string, { crmRequests: number; stripeReads: number }, number]>([
    ['CRM-bound: 1,900 batch requests at HubSpot Pro\'s 19/s', { crmRequests: 1_900, stripeReads: 1_000 }, 100],
    ['Stripe-bound: 4,000 reads at 20/s', { crmRequests: 100, stripeReads: 4_000 }, 200],
  ])('estimates a run at the configured rates: %s', (_label, work, seconds) => {
    expect(estimateRunSeconds(work, { crmPerSecond: 19, stripeReadsPerSecond: 20 })).toBe(seconds);
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

describe('streams a run reads', () => {
  it.each<[string, BackfillObject[], Array<[BackfillStream, number]>]>([
    ['everything: customers first, the rest attach to them', ['customers', 'subscriptions', 'invoices', 'charges'], [['customers', 0], ['subscriptions', 1], ['invoices', 1], ['charges', 1], ['refunds', 1], ['disputes', 1]]],
    ['customers only', ['customers'], [['customers', 0]]],
    ['activities only (onto records that exist)', ['charges'], [['charges', 1], ['refunds', 1], ['disputes', 1]]],
  ])('%s', (_label, objects, expected) => {
    expect(streamsFor(objects).map((p) => [p.stream, p.phase])).toEqual(expected);
  });

  it.each<[string, string, string]>([
    ['customer', 'cus_1', 'cus_1'],
    ['contact', 'cus_1', 'cus_1'],
    ['subscription', 'sub_1', 'sub_1'],
    ['invoice', 'invoice_paid:in_1', 'in_1'],
    ['invoice', 'payment_failed:in_1:3', 'in_1'],
    ['charge', 'charge_succeeded:ch_1', 'ch_1'],
    ['refund', 'refund:re_1', 're_1'],
    ['dispute', 'dispute:dp_1:closed', 'dp_1'],
    ['payout', 'po_1', 'po_1'],
  ])('a failed %s record %s is retried as Stripe object %s', (objectType, stripeId, id) => {
    expect(stripeIdOfLogRecord(objectType, stripeId)).toBe(id);
  });
});

describe('write steps and the requests they are grouped into', () => {
  it.each<[string, Array<[WriteKind, number]>, number, WriteStep[]]>([
    ['a B2B customer page: accounts, then their contacts', [['accounts', 100], ['contacts', 97]], 100, [{ kind: 'accounts', part: 0, count: 100 }, { kind: 'contacts', part: 0, count: 97 }]],
    ['nothing of a kind: no step', [['accounts', 0], ['contacts', 3]], 100, [{ kind: 'contacts', part: 0, count: 3 }]],
    ['more than one request\'s worth: parts', [['tasks', 250]], 100, [{ kind: 'tasks', part: 0, count: 100 }, { kind: 'tasks', part: 1, count: 100 }, { kind: 'tasks', part: 2, count: 50 }]],
    ['Salesforce collections take 200', [['activities', 250]], 200, [{ kind: 'activities', part: 0, count: 200 }, { kind: 'activities', part: 1, count: 50 }]],
  ])('%s', (_label, counts, limit, steps) => {
    expect(planSteps(counts, limit)).toEqual(steps);
  });

  const batch = (id: string, phase: number, steps: Array<[WriteKind, number]>, next = 0): ReadyBatch => ({
    batchId: id, stream: phase === 0 ? 'customers' : 'subscriptions', phase, next,
    steps: steps.map(([kind, count]) => ({ kind, part: 0, count })),
  });
  it.each<[string, ReadyBatch[], string[], number, number, number[] | null]>([
    ['HubSpot: one page per request', [batch('a', 0, [['accounts', 100]]), batch('b', 0, [['accounts', 100]])], [], 0, 100, [0]],
    ['Salesforce: two full pages fill a collection', [batch('a', 0, [['accounts', 100]]), batch('b', 0, [['accounts', 100]]), batch('c', 0, [['accounts', 100]])], [], 0, 200, [0, 1]],
    ['small pages join while they fit', [batch('a', 0, [['accounts', 40]]), batch('b', 0, [['accounts', 90]]), batch('c', 0, [['accounts', 60]])], [], 0, 100, [0, 2]],
    ['only the same kind joins', [batch('a', 0, [['accounts', 50], ['contacts', 50]], 1), batch('b', 0, [['accounts', 50]])], [], 0, 200, [0]],
    ['a page being written waits', [batch('a', 0, [['accounts', 50], ['contacts', 50]]), batch('b', 0, [['accounts', 50]])], ['a'], 0, 100, [1]],
    ['deals wait for the accounts phase', [batch('d', 1, [['deals', 100]])], [], 0, 100, null],
    ['then they go', [batch('d', 1, [['deals', 100]])], [], 1, 100, [0]],
    ['nothing left', [batch('a', 0, [['accounts', 50]], 1)], [], 0, 100, null],
  ])('%s', (_label, ready, busy, phase, limit, expected) => {
    expect(pickWriteGroup(ready, new Set(busy), phase, limit)).toEqual(expected);
  });

  it.each<[string, ReadyBatch[], number, number[] | null]>([
    ['a partial page waits while a full one goes', [batch('a', 0, [['accounts', 30]]), batch('b', 0, [['contacts', 100]])], 100, [1]],
    ['partial pages that fill a request together go', [batch('a', 0, [['accounts', 30]]), batch('b', 0, [['accounts', 70]])], 100, [0, 1]],
    ['nothing full: nothing yet', [batch('a', 0, [['accounts', 30]]), batch('b', 0, [['contacts', 40]])], 100, null],
    ['half a bulk job is enough', [batch('a', 0, [['accounts', 100]]), batch('b', 0, [['accounts', 100]])], 200, [0, 1]],
  ])('only full requests while more pages are coming: %s', (_label, ready, minRecords, expected) => {
    expect(pickWriteGroup(ready, new Set(), 0, minRecords === 200 ? 2_000 : 100, minRecords)).toEqual(expected);
  });
});

describe('timeline activities from Stripe lists carry the real-time keys', () => {
  const invoice = (over: Record<string, unknown>) => ({
    id: 'in_1', object: 'invoice', number: 'ABC-0001', currency: 'usd', created: 1_700_000_000, amount_paid: 0, amount_remaining: 4900, amount_due: 4900,
    status: 'open', attempted: true, attempt_count: 1, next_payment_attempt: null, default_payment_method: null,
    status_transitions: { finalized_at: 1_700_000_100, paid_at: null }, parent: null, ...over,
  }) as unknown as StripeInvoiceInput;
  const realTime = (type: string, inv: StripeInvoiceInput) => invoiceTimeline(type, inv as Stripe.Invoice, paymentFromInvoice(inv))!.key;

  it.each<[string, Record<string, unknown>, string[]]>([
    ['paid on the first attempt', { status: 'paid', amount_paid: 4900, amount_remaining: 0, status_transitions: { finalized_at: 1, paid_at: 2 } }, ['invoice_paid:in_1']],
    ['paid on the third attempt', { status: 'paid', attempt_count: 3, amount_paid: 4900, amount_remaining: 0, status_transitions: { finalized_at: 1, paid_at: 2 } }, ['payment_failed:in_1:1', 'payment_failed:in_1:2', 'invoice_paid:in_1']],
    ['paid out of band after two failures', { status: 'paid', attempt_count: 2, paid_out_of_band: true, amount_paid: 4900, amount_remaining: 0 }, ['payment_failed:in_1:1', 'payment_failed:in_1:2', 'invoice_paid:in_1']],
    ['still open after two failures', { attempt_count: 2, next_payment_attempt: 1_700_500_000 }, ['payment_failed:in_1:1', 'payment_failed:in_1:2']],
    ['never attempted (a draft, an invoice sent to pay by hand)', { status: 'draft', attempted: false, attempt_count: 0 }, []],
  ])('an invoice %s', (_label, over, keys) => {
    expect(invoiceEntries(invoice(over)).map((e) => e.key)).toEqual(keys);
  });

  it('the same entries as the webhooks would have given', () => {
    const open = invoice({ attempt_count: 2, next_payment_attempt: 1_700_500_000 });
    const entries = invoiceEntries(open);
    // The latest failure is what invoice.payment_failed carries now, next attempt included.
    expect(entries.at(-1)!.key).toBe(realTime('invoice.payment_failed', open));
    expect(entries.at(-1)!.body).toMatch(/Next attempt: 2023-11-20/);
    expect(entries[0]!.body).not.toMatch(/Next attempt/);
    expect(entries.every((e) => e.actionable && e.kind === 'payment_failed')).toBe(true);
    const paid = invoice({ status: 'paid', amount_paid: 4900, amount_remaining: 0, status_transitions: { finalized_at: 1, paid_at: 2 } });
    expect(invoiceEntries(paid)).toEqual([invoiceTimeline('invoice.paid', paid as Stripe.Invoice, paymentFromInvoice(paid))]);
  });

  const charge = (over: Record<string, unknown>) => ({
    id: 'ch_1', object: 'charge', amount: 2500, amount_captured: 2500, currency: 'usd', created: 1_700_000_000, status: 'succeeded', captured: true,
    description: 'Setup fee', payment_method: null, failure_code: null, failure_message: null, outcome: null, ...over,
  }) as unknown as Stripe.Charge;
  it.each<[string, Record<string, unknown>, string[]]>([
    ['a one-off payment', {}, ['charge_succeeded:ch_1']],
    ['an invoice\'s payment (the invoice has its own note)', { description: 'Subscription creation' }, []],
    ['a failed one-off payment', { status: 'failed' }, []],
    ['an uncaptured authorisation', { captured: false }, []],
  ])('a charge: %s', (_label, over, keys) => {
    expect(chargeEntries(charge(over)).map((e) => e.key)).toEqual(keys);
  });

  it.each<[string, string, string[]]>([['succeeded', 'succeeded', ['refund:re_1']], ['pending', 'pending', []], ['failed', 'failed', []]])('a refund %s', (_label, status, keys) => {
    const refund = { id: 're_1', object: 'refund', amount: 900, currency: 'usd', created: 1_700_000_000, status, charge: { id: 'ch_1', customer: 'cus_1' }, reason: null, payment_method: null, failure_reason: null } as unknown as Stripe.Refund;
    expect(refundEntries(refund).map((e) => e.key)).toEqual(keys);
  });

  it.each<[string, string[]]>([
    ['needs_response', ['dispute:dp_1:opened']],
    ['under_review', ['dispute:dp_1:opened']],
    ['lost', ['dispute:dp_1:opened', 'dispute:dp_1:closed']],
    ['won', ['dispute:dp_1:opened', 'dispute:dp_1:closed']],
  ])('a dispute that is %s', (status, keys) => {
    const dispute = { id: 'dp_1', object: 'dispute', amount: 900, currency: 'usd', created: 1_700_000_000, status, reason: 'fraudulent', charge: 'ch_1' } as unknown as Stripe.Dispute;
    const entries = disputeEntries(dispute);
    expect(entries.map((e) => e.key)).toEqual(keys);
    expect(entries.map((e) => e.actionable)).toEqual(keys.map((k) => k.endsWith(':opened')));
  });
});

describe('a subscription\'s deal, as the customer workflow plans it', () => {
  const sub = (over: Partial<SubscriptionSnapshot>): SubscriptionSnapshot => ({
    id: 'sub_1', customerId: 'cus_1', status: 'active', currency: 'usd', created: 1_700_000_000, startDate: 1_700_000_000, trialStart: null, trialEnd: null,
    cancelAtPeriodEnd: false, cancelAt: null, canceledAt: null, endedAt: null, pauseCollection: null, defaultPaymentMethodId: null, discounts: [], itemsComplete: true,
    items: [{
      id: 'si_1', quantity: 3, currentPeriodStart: 1_700_000_000, currentPeriodEnd: 1_702_592_000, discounts: [],
      price: {
        id: 'price_1', productId: 'prod_1', productName: null, nickname: null, currency: 'usd', billingScheme: 'per_unit', unitAmount: 2900, unitAmountDecimal: '2900',
        tiersMode: null, tiers: null, transformQuantity: null, recurring: { interval: 'month', intervalCount: 1, usageType: 'licensed' },
      },
    }],
    ...over,
  });
  const customer = { ...placeholderCustomer('cus_1'), email: 'a@b.example', created: 1_700_000_000 };
  const settings: SyncSettings = { mode: 'b2b', mrr: { discounts: 'apply' }, debounceMs: 0, identity: DEFAULT_IDENTITY_OPTIONS };
  it.each<[string, Partial<SubscriptionSnapshot>, 'open' | 'won' | 'lost']>([
    ['paying: won', {}, 'won'],
    ['in trial: open', { status: 'trialing', trialStart: 1_700_000_000, trialEnd: 1_701_000_000 }, 'open'],
    ['canceled in trial, never paid: lost', { status: 'canceled', trialStart: 1_700_000_000, trialEnd: 1_701_000_000, canceledAt: 1_700_500_000, endedAt: 1_700_500_000 }, 'lost'],
    ['churned after paying: still won', { status: 'canceled', canceledAt: 1_700_050_000, endedAt: 1_700_050_000 }, 'won'],
  ])('%s, and the same deal the real-time plan gives', (_label, over, stage) => {
    const input = { customer, subscription: sub(over), discounts: [], productNames: { prod_1: 'Team' }, readAt: 1_700_100_000 };
    const deal = backfillDeal('acct_1', input, settings);
    expect(deal).toMatchObject({ subscriptionId: 'sub_1', name: 'Team (sub_1)', currency: 'USD', closeDate: '2023-11-14', stage });
    const state = applyFetchedCustomer(initialSyncState('acct_1', 'cus_1'), { fetchedAt: input.readAt, customer, subscriptions: [input.subscription], discounts: [], productNames: input.productNames }, settings.mrr);
    const realTime = planCrmWrites(state, { accountId: null, contactId: null, dealIds: {} }, { fields: null, contactEmail: null, deals: {} }, settings, input.readAt).deals;
    expect(realTime).toEqual([deal]);
  });

  it('a paying subscription\'s deal is worth its MRR (3 seats × 29.00)', () => {
    expect(backfillDeal('acct_1', { customer, subscription: sub({}), discounts: [], productNames: {}, readAt: 1_700_100_000 }, settings).amount).toBe(87);
  });
});

describe('never older over newer', () => {
  it.each<[string, number | null, number, boolean]>([
    ['no workflow has written', null, 1_700_000_000, false],
    ['the workflow wrote older state', 1_699_999_999, 1_700_000_000, false],
    ['the same second: it may be newer', 1_700_000_000, 1_700_000_000, true],
    ['the workflow wrote newer state', 1_700_000_001, 1_700_000_000, true],
  ])('%s', (_label, recorded, readAt, newer) => {
    expect(newerThanRead(recorded, readAt)).toBe(newer);
  });
});
