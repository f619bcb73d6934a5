import type { CustomerSnapshot, DiscountSnapshot, SubscriptionSnapshot } from './billing-snapshot.js';
import {
  createCustomerBillingState,
  stateMrr,
  withCustomer,
  withPayment,
  withProductName,
  withSubscription,
  type CustomerBillingState,
  type MrrSettings,
} from './crm-fields.js';
import type { CustomerEvent, TimelineEntry } from './customer-events.js';
import { classifyMrrChange, recordMrr, type MrrByCurrency } from './mrr.js';

/**
 * What a customer's workflow knows, folded from events by pure functions so the ordering and
 * dedupe rules are table-tested outside Temporal. Everything here is JSON and carried across
 * continue-as-new.
 *
 * Ordering: Stripe delivers at least once and in any order. Each event carries the state of one
 * object as of `event.created`; per object we keep the newest `created` applied, and an older
 * state never overwrites a newer one. Two different events for one object in the same second
 * cannot be ordered from their payloads, so the object is refetched from Stripe instead.
 *
 * Dedupe: event ids are remembered in a bounded ring (`MAX_SEEN_EVENTS`). An older duplicate that
 * fell out of the ring is still harmless: its object state is older than the version we hold
 * (stale), payments are idempotent per id, and timeline entries are keyed in the CRM.
 */
export const MAX_SEEN_EVENTS = 2000;
const MAX_TIMELINE_KEYS = 500;

export interface ObjectVersion {
  created: number;
  eventId: string;
}

export interface CustomerSyncState {
  accountId: string;
  customerId: string;
  billing: CustomerBillingState;
  /** False until a customer object (from an event or a fetch) has been seen. */
  customerKnown: boolean;
  versions: Record<string, ObjectVersion>;
  seenEventIds: string[];
  /** Discount terms by id, from customer.discount.* events and fetches (payloads name discounts by id). */
  discounts: Record<string, DiscountSnapshot>;
  /** Timeline entries not yet written to the CRM. */
  pendingTimeline: TimelineEntry[];
  /** Keys of timeline entries already written (bounded), so a replay queues nothing. */
  writtenTimelineKeys: string[];
  /** Why Stripe must be read before the next CRM write; empty when the state is complete. */
  refetchReasons: string[];
  /** True when something changed since the last CRM write. */
  dirty: boolean;
  /** Newest Stripe state folded in (event.created or fetch time, seconds). */
  stripeStateAt: number;
  /** Events applied since the last CRM write, for the audit's processed time and freshness. */
  unsyncedEventIds: string[];
  oldestUnsyncedReceivedAtMs: number | null;
}

export type ApplyOutcome = 'applied' | 'duplicate' | 'stale' | 'ambiguous' | 'ignored';

export function placeholderCustomer(customerId: string): CustomerSnapshot {
  return { id: customerId, email: null, name: null, currency: null, delinquent: false, created: null, deleted: false, defaultPaymentMethod: null, discount: null, metadata: {} };
}

export function initialSyncState(accountId: string, customerId: string): CustomerSyncState {
  return {
    accountId,
    customerId,
    billing: createCustomerBillingState(placeholderCustomer(customerId)),
    customerKnown: false,
    versions: {},
    seenEventIds: [],
    discounts: {},
    pendingTimeline: [],
    writtenTimelineKeys: [],
    refetchReasons: [],
    dirty: false,
    stripeStateAt: 0,
    unsyncedEventIds: [],
    oldestUnsyncedReceivedAtMs: null,
  };
}

/** Whether a payment failure or dispute is among the changes: those skip the burst-coalescing wait. */
export function isUrgent(event: CustomerEvent): boolean {
  return event.type === 'invoice.payment_failed' || event.type === 'charge.failed' || event.type.startsWith('charge.dispute.');
}

function pushBounded(list: string[], value: string, max: number): string[] {
  const next = list.length >= max ? list.slice(list.length - max + 1) : list.slice();
  next.push(value);
  return next;
}

/** Compares an object state's age with the version held: newer applies, older is stale, a tie is ambiguous. */
function versionCheck(state: CustomerSyncState, objectId: string, event: CustomerEvent): 'newer' | 'stale' | 'ambiguous' {
  const held = state.versions[objectId];
  if (!held || event.created > held.created) return 'newer';
  if (event.created < held.created) return 'stale';
  return held.eventId === event.eventId ? 'stale' : 'ambiguous';
}

function resolveDiscounts(discounts: DiscountSnapshot[], known: Record<string, DiscountSnapshot>): DiscountSnapshot[] {
  return discounts.map((d) => (d.duration === null && known[d.id] ? known[d.id]! : d));
}

function withResolvedSubscription(state: CustomerSyncState, subscription: SubscriptionSnapshot): SubscriptionSnapshot {
  return {
    ...subscription,
    discounts: resolveDiscounts(subscription.discounts, state.discounts),
    items: subscription.items.map((item) => ({ ...item, discounts: resolveDiscounts(item.discounts, state.discounts) })),
  };
}

/** What is still unknown and needs a read from Stripe before the CRM can be written correctly. */
export function missingInformation(state: CustomerSyncState): string[] {
  const reasons = new Set(state.refetchReasons);
  if (!state.customerKnown) reasons.add('customer not yet seen');
  const unresolved = (discounts: DiscountSnapshot[]) => discounts.some((d) => d.duration === null);
  if (state.billing.customer.discount && state.billing.customer.discount.duration === null) reasons.add(`discount ${state.billing.customer.discount.id} terms unknown`);
  for (const sub of Object.values(state.billing.subscriptions)) {
    if (!sub.itemsComplete) reasons.add(`subscription ${sub.id} has more items than the payload`);
    if (unresolved(sub.discounts) || sub.items.some((i) => unresolved(i.discounts))) reasons.add(`subscription ${sub.id} discount terms unknown`);
  }
  return [...reasons].sort();
}

/** Product ids whose names the state lacks (payloads name products by id). */
export function missingProductNames(state: CustomerSyncState): string[] {
  const ids = new Set<string>();
  for (const sub of Object.values(state.billing.subscriptions)) {
    for (const item of sub.items) {
      const productId = item.price.productId;
      if (productId && !item.price.productName && !state.billing.productNames[productId]) ids.add(productId);
    }
  }
  return [...ids].sort();
}

/** Folds one event into the state. Returns the same state object for duplicates and stale events. */
export function applyCustomerEvent(state: CustomerSyncState, event: CustomerEvent, mrr: MrrSettings): { state: CustomerSyncState; outcome: ApplyOutcome } {
  if (state.seenEventIds.includes(event.eventId)) return { state, outcome: 'duplicate' };
  let next: CustomerSyncState = { ...state, seenEventIds: pushBounded(state.seenEventIds, event.eventId, MAX_SEEN_EVENTS) };
  let outcome: ApplyOutcome = 'applied';
  let movement: { before: MrrByCurrency; at: number } | null = null;
  const payload = event.payload;
  const track = (objectId: string) => {
    next.versions = { ...next.versions, [objectId]: { created: event.created, eventId: event.eventId } };
  };
  const gate = (objectId: string): boolean => {
    const check = versionCheck(next, objectId, event);
    if (check === 'stale') outcome = 'stale';
    if (check === 'ambiguous') {
      outcome = 'ambiguous';
      next.refetchReasons = [...new Set([...next.refetchReasons, `${objectId} changed twice within one second`])];
    }
    if (check === 'newer') track(objectId);
    return check === 'newer';
  };

  switch (payload.kind) {
    case 'customer': {
      if (gate(payload.customer.id)) {
        // A deleted customer has no usable payment method, whatever the final snapshot still names.
        const customer = event.type === 'customer.deleted' ? { ...payload.customer, deleted: true, defaultPaymentMethod: null } : payload.customer;
        next.billing = withCustomer(next.billing, customer);
        next.customerKnown = true;
        if (customer.discount && customer.discount.duration !== null) next.discounts = { ...next.discounts, [customer.discount.id]: customer.discount };
      }
      break;
    }
    case 'subscription': {
      if (gate(payload.subscription.id)) {
        const withoutChange = next.billing;
        next.billing = withSubscription(next.billing, withResolvedSubscription(next, payload.subscription));
        // This event's own MRR movement: the subscription before it (from previous_attributes) against after it.
        // Without previous_attributes, the subscription as held before this event is the "before" (none if new).
        const before = payload.previous
          ? stateMrr(withSubscription(withoutChange, withResolvedSubscription(next, payload.previous)), event.created, mrr)
          : withoutChange.subscriptions[payload.subscription.id]
            ? stateMrr(withoutChange, event.created, mrr)
            : stateMrr(withoutSubscription(withoutChange, payload.subscription.id), event.created, mrr);
        movement = { before, at: event.created };
        for (const item of payload.subscription.items) {
          if (item.price.productId && item.price.productName) next.billing = withProductName(next.billing, item.price.productId, item.price.productName);
        }
      }
      break;
    }
    case 'payment': {
      const billing = withPayment(next.billing, payload.payment);
      if (billing === next.billing && !payload.timeline) outcome = 'stale';
      next.billing = billing;
      if (payload.timeline) next = queueTimeline(next, payload.timeline);
      break;
    }
    case 'timeline':
      next = queueTimeline(next, payload.timeline);
      break;
    case 'discount': {
      if (!gate(payload.discountId)) break;
      if (payload.discount) next.discounts = { ...next.discounts, [payload.discountId]: payload.discount };
      if (payload.subscriptionId) {
        const sub = next.billing.subscriptions[payload.subscriptionId];
        if (sub) {
          const others = sub.discounts.filter((d) => d.id !== payload.discountId);
          const discounts = payload.deleted || !payload.discount ? others : [...others, payload.discount];
          next.billing = withSubscription(next.billing, { ...sub, discounts });
        }
      } else {
        next.billing = withCustomer(next.billing, { ...next.billing.customer, discount: payload.deleted ? null : payload.discount });
      }
      break;
    }
    case 'payment_method': {
      const current = next.billing.customer.defaultPaymentMethod;
      if (current && current.id === payload.paymentMethod.id && gate(payload.paymentMethod.id)) {
        next.billing = withCustomer(next.billing, { ...next.billing.customer, defaultPaymentMethod: payload.attached ? payload.paymentMethod : null });
      } else {
        outcome = 'ignored';
      }
      break;
    }
    case 'product':
      if (gate(`product:${payload.productId}`)) {
        const billing = withProductName(next.billing, payload.productId, payload.name);
        if (billing === next.billing) outcome = 'ignored';
        next.billing = billing;
      }
      break;
    case 'other':
      outcome = 'ignored';
      break;
  }

  if (outcome === 'applied') {
    next.billing = movement ? withMovement(next.billing, movement.before, movement.at, mrr) : withNewerMrr(next.billing, event.created, mrr);
    next.dirty = true;
    next.stripeStateAt = Math.max(next.stripeStateAt, event.created);
  }
  next.unsyncedEventIds = [...next.unsyncedEventIds, event.eventId];
  next.oldestUnsyncedReceivedAtMs = next.oldestUnsyncedReceivedAtMs ?? event.receivedAtMs;
  return { state: next, outcome };
}

function withoutSubscription(billing: CustomerBillingState, subscriptionId: string): CustomerBillingState {
  const { [subscriptionId]: _removed, ...rest } = billing.subscriptions;
  return { ...billing, subscriptions: rest };
}

const paying = (m: MrrByCurrency) => Object.values(m).some((v) => v > 0);

/**
 * Records the MRR movement one subscription event describes (before → after that change). The newest
 * movement by Stripe time wins, so the last change shown is the same in any delivery order.
 */
function withMovement(billing: CustomerBillingState, before: MrrByCurrency, at: number, mrr: MrrSettings): CustomerBillingState {
  const after = stateMrr(billing, at, mrr);
  const history = billing.mrr;
  const own = classifyMrrChange(before, after, { hasHadMrr: history.hasHadMrr });
  // An event whose own change leaves MRR alone may still be the first news of a newer state (the event
  // that made the change arriving later, or within the same second): the move from what was held counts then.
  const from = own === null ? history.current : before;
  const kind = own ?? classifyMrrChange(from, after, { hasHadMrr: history.hasHadMrr });
  const newer = !history.lastChange || at >= history.lastChange.at;
  return {
    ...billing,
    mrr: {
      current: after,
      hasHadMrr: history.hasHadMrr || paying(after) || paying(before),
      lastChange: kind !== null && newer ? { kind, at, previous: from, next: after } : history.lastChange,
    },
  };
}

/** MRR moved for another reason (a customer discount, a fetch): observed against the last value, kept only if newer. */
function withNewerMrr(billing: CustomerBillingState, at: number, mrr: MrrSettings): CustomerBillingState {
  const recorded = recordMrr(billing.mrr, stateMrr(billing, at, mrr), at);
  if (recorded === billing.mrr) return billing;
  const older = billing.mrr.lastChange && recorded.lastChange && recorded.lastChange !== billing.mrr.lastChange && recorded.lastChange.at < billing.mrr.lastChange.at;
  return { ...billing, mrr: older ? { ...recorded, lastChange: billing.mrr.lastChange } : recorded };
}

function queueTimeline(state: CustomerSyncState, entry: TimelineEntry): CustomerSyncState {
  if (state.writtenTimelineKeys.includes(entry.key) || state.pendingTimeline.some((e) => e.key === entry.key)) return state;
  return { ...state, pendingTimeline: [...state.pendingTimeline, entry], dirty: true };
}

/** A fresh read from Stripe replaces what it covers; its time is the version of every object it returns. */
export interface FetchedCustomer {
  fetchedAt: number;
  customer: CustomerSnapshot;
  subscriptions: SubscriptionSnapshot[];
  discounts: DiscountSnapshot[];
  productNames: Record<string, string>;
}

export function applyFetchedCustomer(state: CustomerSyncState, fetched: FetchedCustomer, mrr: MrrSettings): CustomerSyncState {
  const version = { created: fetched.fetchedAt, eventId: 'fetch' };
  let billing = withCustomer(state.billing, fetched.customer);
  const versions = { ...state.versions, [fetched.customer.id]: version };
  const discounts = { ...state.discounts };
  for (const d of fetched.discounts) discounts[d.id] = d;
  for (const sub of fetched.subscriptions) {
    billing = withSubscription(billing, sub);
    versions[sub.id] = version;
  }
  for (const [id, name] of Object.entries(fetched.productNames)) billing = withProductName(billing, id, name);
  billing = withNewerMrr(billing, fetched.fetchedAt, mrr);
  return {
    ...state,
    billing,
    versions,
    discounts,
    customerKnown: true,
    refetchReasons: [],
    dirty: true,
    stripeStateAt: Math.max(state.stripeStateAt, fetched.fetchedAt),
  };
}

/** After a successful CRM write: nothing pending, timeline keys remembered. */
export function markSynced(state: CustomerSyncState, writtenTimelineKeys: string[]): CustomerSyncState {
  let keys = state.writtenTimelineKeys;
  for (const key of writtenTimelineKeys) keys = pushBounded(keys, key, MAX_TIMELINE_KEYS);
  const written = new Set(writtenTimelineKeys);
  return {
    ...state,
    writtenTimelineKeys: keys,
    pendingTimeline: state.pendingTimeline.filter((e) => !written.has(e.key)),
    dirty: false,
    unsyncedEventIds: [],
    oldestUnsyncedReceivedAtMs: null,
  };
}
