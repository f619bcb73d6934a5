import { describe, expect, it } from 'vitest';
import type { CustomerEvent, CustomerEventPayload } from '../../domain/customer-events.js';
import { computeCrmFields } from '../../domain/crm-fields.js';
import {
  applyCustomerEvent,
  applyFetchedCustomer,
  initialSyncState,
  markSynced,
  MAX_SEEN_EVENTS,
  missingInformation,
  type CustomerSyncState,
} from '../../domain/customer-sync-state.js';
import { customer, item, payment, percentOff, recurringPrice, subscription, T0 } from './billing-builders.js';

const MRR = { discounts: 'apply' } as const;
let n = 0;
function event(type: string, created: number, payload: CustomerEventPayload, id = `evt_${++n}`): CustomerEvent {
  return { eventId: id, type, created, receivedAtMs: created * 1000, accountId: 'acct_1', customerId: 'cus_1', objectId: null, payload };
}
const subEvent = (created: number, status: string, quantity = 1, id?: string, previousQuantity = quantity) =>
  event('customer.subscription.updated', created, {
    kind: 'subscription',
    subscription: subscription([item(recurringPrice(1000), quantity)], { status }),
    previous: subscription([item(recurringPrice(1000), previousQuantity)], { status }),
  }, id);
const apply = (events: CustomerEvent[], start: CustomerSyncState = initialSyncState('acct_1', 'cus_1')) =>
  events.reduce((s, e) => applyCustomerEvent(s, e, MRR).state, start);
const fields = (s: CustomerSyncState) => computeCrmFields(s.billing, { now: T0 });

describe('applyCustomerEvent ordering', () => {
  const known = apply([event('customer.created', T0 - 10, { kind: 'customer', customer: customer() })]);

  it.each([
    ['in order', [1, 2, 3]],
    ['reversed', [3, 2, 1]],
    ['shuffled', [2, 3, 1]],
    ['with duplicates', [1, 3, 3, 2, 1, 2]],
  ])('ends in the newest state whatever the delivery order: %s', (_name, order) => {
    const events = { 1: subEvent(T0 + 1, 'trialing', 1, 'evt_a'), 2: subEvent(T0 + 2, 'active', 2, 'evt_b'), 3: subEvent(T0 + 3, 'active', 5, 'evt_c') } as Record<number, CustomerEvent>;
    const state = apply(order.map((i) => events[i]!), known);
    expect(state.billing.subscriptions.sub_1?.items[0]?.quantity).toBe(5);
    expect(fields(state).mrr).toBe(50);
    expect(state.versions.sub_1).toEqual({ created: T0 + 3, eventId: 'evt_c' });
  });

  it.each([
    ['in order', [1, 2, 3]],
    ['reversed', [3, 2, 1]],
    ['newest first', [3, 1, 2]],
  ])('reports the newest event\'s MRR movement as the last change, in any order: %s', (_name, order) => {
    const events = {
      1: subEvent(T0 + 1, 'active', 2, 'evt_m1', 1),
      2: subEvent(T0 + 2, 'active', 5, 'evt_m2', 2),
      3: subEvent(T0 + 3, 'active', 3, 'evt_m3', 5),
    } as Record<number, CustomerEvent>;
    const state = apply(order.map((i) => events[i]!), known);
    expect(fields(state)).toMatchObject({ mrr: 30, last_mrr_change: -20, last_mrr_change_kind: 'contraction' });
  });

  it.each([
    ['the change first', ['ends', 'other']],
    ['the change second, in the same second', ['other', 'ends']],
  ])('records a trial ending as a new MRR movement whichever of its same-second events comes first: %s', (_name, order) => {
    const trial = apply([event('customer.subscription.created', T0 + 1, { kind: 'subscription', subscription: subscription([item(recurringPrice(1000))], { status: 'trialing' }), previous: null })], known);
    const events: Record<string, CustomerEvent> = {
      // The trial ends: trialing → active.
      ends: event('customer.subscription.updated', T0 + 10, { kind: 'subscription', subscription: subscription([item(recurringPrice(1000))], { status: 'active' }), previous: subscription([item(recurringPrice(1000))], { status: 'trialing' }) }),
      // Another change of the now active subscription in the same second (its latest invoice): no MRR change of its own.
      other: subEvent(T0 + 10, 'active'),
    };
    const state = apply(order.map((k) => events[k]!), trial);
    expect(fields(state)).toMatchObject({ mrr: 10, last_mrr_change: 10, last_mrr_change_kind: 'new' });
  });

  it.each([
    ['an exact redelivery', subEvent(T0 + 5, 'active', 2, 'evt_same'), subEvent(T0 + 5, 'active', 2, 'evt_same'), 'duplicate'],
    ['an older state', subEvent(T0 + 5, 'active', 2), subEvent(T0 + 4, 'canceled', 2), 'stale'],
    ['two changes in one second', subEvent(T0 + 5, 'active', 2), subEvent(T0 + 5, 'active', 3), 'ambiguous'],
  ])('classifies %s', (_name, first, second, outcome) => {
    const after = applyCustomerEvent(apply([first], known), second, MRR);
    expect(after.outcome).toBe(outcome);
    expect(after.state.billing.subscriptions.sub_1?.items[0]?.quantity).toBe(2);
  });

  it('asks for a refetch when it cannot order two states, and a fetch settles it', () => {
    const state = apply([subEvent(T0 + 5, 'active', 2), subEvent(T0 + 5, 'active', 3)], known);
    expect(missingInformation(state)).toEqual(['sub_1 changed twice within one second']);
    const fetched = applyFetchedCustomer(state, { fetchedAt: T0 + 6, customer: customer(), subscriptions: [subscription([item(recurringPrice(1000), 3)])], discounts: [], productNames: {} }, MRR);
    expect(missingInformation(fetched)).toEqual([]);
    expect(fetched.billing.subscriptions.sub_1?.items[0]?.quantity).toBe(3);
    // An event older than the fetch cannot roll it back.
    expect(applyCustomerEvent(fetched, subEvent(T0 + 5, 'canceled', 1), MRR).outcome).toBe('stale');
  });

  it('needs the customer before writing when the first event is not the customer', () => {
    const state = apply([subEvent(T0, 'active')]);
    expect(missingInformation(state)).toContain('customer not yet seen');
  });

  it('resolves discount terms from customer.discount events and asks Stripe when unknown', () => {
    const unknown = { ...percentOff(20, null), id: 'di_x' };
    const withUnknown = apply([event('customer.subscription.created', T0, { kind: 'subscription', subscription: subscription([item(recurringPrice(1000))], { discounts: [unknown] }), previous: null })], known);
    expect(missingInformation(withUnknown)).toEqual(['subscription sub_1 discount terms unknown']);
    const learnt = apply([
      event('customer.discount.created', T0, { kind: 'discount', discount: { ...percentOff(20, 'forever'), id: 'di_x' }, discountId: 'di_x', subscriptionId: null, deleted: false }),
      event('customer.subscription.created', T0 + 1, { kind: 'subscription', subscription: subscription([item(recurringPrice(1000))], { discounts: [unknown] }), previous: null }),
    ], known);
    expect(missingInformation(learnt)).toEqual([]);
    expect(fields(learnt).mrr).toBe(8);
  });
});

describe('payments and timeline', () => {
  const paid = (id: string, amount: number) => event('invoice.paid', T0, {
    kind: 'payment',
    payment: payment({ id, amount }),
    timeline: { key: `invoice_paid:${id}`, kind: 'invoice_paid', occurredAt: T0, subject: 'paid', body: '', actionable: false },
  });

  it('counts a payment once however often it is delivered, and queues its timeline entry once', () => {
    const e = paid('ch_1', 4950);
    const state = apply([e, { ...e, eventId: 'evt_other_delivery' }, e]);
    expect(fields(state).ltv).toBe(49.5);
    expect(state.pendingTimeline.map((t) => t.key)).toEqual(['invoice_paid:ch_1']);
  });

  it('does not queue an entry again after it was written', () => {
    const state = markSynced(apply([paid('ch_2', 100)]), ['invoice_paid:ch_2']);
    expect(state.pendingTimeline).toEqual([]);
    const replay = apply([{ ...paid('ch_2', 100), eventId: 'evt_late' }], state);
    expect(replay.pendingTimeline).toEqual([]);
  });

  it('keeps the dedupe ring bounded', () => {
    let state = initialSyncState('acct_1', 'cus_1');
    for (let i = 0; i < MAX_SEEN_EVENTS + 50; i++) state = applyCustomerEvent(state, event('invoice.upcoming', T0, { kind: 'other' }, `evt_ring_${i}`), MRR).state;
    expect(state.seenEventIds).toHaveLength(MAX_SEEN_EVENTS);
    expect(state.seenEventIds.at(-1)).toBe(`evt_ring_${MAX_SEEN_EVENTS + 49}`);
  });
});
