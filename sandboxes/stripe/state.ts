import { AsyncLocalStorage } from 'node:async_hooks';
import Stripe from 'stripe';
import { IdGenerator } from './ids.js';
import type {
  ChargeRecord,
  ClockId,
  CouponRecord,
  CustomerRecord,
  DiscountRecord,
  DisputeRecord,
  EventRecord,
  InvoiceItemRecord,
  InvoiceRecord,
  PaymentIntentRecord,
  PaymentMethodRecord,
  PriceRecord,
  ProductRecord,
  RefundRecord,
  SubscriptionItemRecord,
  SubscriptionRecord,
  TestClockRecord,
  WebhookEndpointRecord,
} from './records.js';
import { Collection } from './store.js';

/** The API version this sandbox speaks: the one the installed stripe-node pins. */
export const API_VERSION: string = Stripe.API_VERSION;

/** How Stripe Billing behaves after a failed payment; mirrors the Dashboard's subscription settings. */
export interface BillingSettings {
  /** Days after each failed attempt at which the next attempt happens (a custom retry schedule). */
  retryScheduleDays: number[];
  /** The subscription's fate when the last retry fails, as in "Manage failed payments". */
  subscriptionAfterRetries: 'cancel' | 'unpaid' | 'past_due';
  /** The invoice's fate when the last retry fails. */
  invoiceAfterRetries: 'past_due' | 'uncollectible';
  /** Renewal invoices stay draft this long before finalization and first charge (Stripe: about an hour). */
  finalizeDelaySeconds: number;
  /** `invoice.upcoming` goes out this many days before a renewal (Stripe's default is 3). */
  upcomingInvoiceDays: number;
  /** An `incomplete` subscription expires this long after creation (Stripe: 23 hours). */
  incompleteExpirySeconds: number;
}

export const DEFAULT_BILLING_SETTINGS: BillingSettings = {
  retryScheduleDays: [3, 5, 7],
  subscriptionAfterRetries: 'cancel',
  invoiceAfterRetries: 'past_due',
  finalizeDelaySeconds: 3600,
  upcomingInvoiceDays: 3,
  incompleteExpirySeconds: 23 * 3600,
};

export interface RequestInfo {
  id: string;
  idempotencyKey: string | null;
}

/** The API request being served, so events can carry `request.id` / `request.idempotency_key`. */
export const requestScope = new AsyncLocalStorage<RequestInfo>();

export type EventListener = (event: EventRecord) => void;

interface Job {
  at: number;
  seq: number;
  target: string;
}

/** Min-heap of wake-ups per clock; stale entries are harmless because a wake re-checks what is due. */
class JobHeap {
  private items: Job[] = [];
  get size(): number {
    return this.items.length;
  }
  push(job: Job): void {
    const a = this.items;
    a.push(job);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i] as Job, a[p] as Job)) break;
      [a[i], a[p]] = [a[p] as Job, a[i] as Job];
      i = p;
    }
  }
  peek(): Job | undefined {
    return this.items[0];
  }
  pop(): Job | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l] as Job, a[m] as Job)) m = l;
        if (r < a.length && less(a[r] as Job, a[m] as Job)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m] as Job, a[i] as Job];
        i = m;
      }
    }
    return top;
  }
}

function less(a: Job, b: Job): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * All objects of one sandbox account, the clocks they live on, the events they produced, and the
 * wake-up schedule that drives time-based billing (trials, renewals, retries).
 */
export class StripeState {
  readonly ids: IdGenerator;
  readonly customers = new Collection<CustomerRecord>('customer').index('clock', (r) => r.clock);
  readonly products = new Collection<ProductRecord>('product');
  readonly prices = new Collection<PriceRecord>('price').index('product', (r) => r.product);
  readonly coupons = new Collection<CouponRecord>('coupon');
  readonly discounts = new Collection<DiscountRecord>('discount');
  readonly paymentMethods = new Collection<PaymentMethodRecord>('PaymentMethod').index('customer', (r) => r.customer);
  readonly subscriptions = new Collection<SubscriptionRecord>('subscription').index('customer', (r) => r.customer);
  readonly subscriptionItems = new Collection<SubscriptionItemRecord>('subscription item');
  readonly invoices = new Collection<InvoiceRecord>('invoice')
    .index('customer', (r) => r.customer)
    .index('subscription', (r) => r.subscription);
  readonly invoiceItems = new Collection<InvoiceItemRecord>('invoiceitem').index('customer', (r) => r.customer);
  readonly paymentIntents = new Collection<PaymentIntentRecord>('payment_intent').index('customer', (r) => r.customer);
  readonly charges = new Collection<ChargeRecord>('charge')
    .index('customer', (r) => r.customer)
    .index('payment_intent', (r) => r.paymentIntent);
  readonly refunds = new Collection<RefundRecord>('refund').index('charge', (r) => r.charge);
  readonly disputes = new Collection<DisputeRecord>('dispute');
  readonly testClocks = new Collection<TestClockRecord>('test_helpers.test_clock');
  readonly webhookEndpoints = new Collection<WebhookEndpointRecord>('webhook_endpoint');
  readonly events = new Collection<EventRecord>('event').index('type', (r) => r.type);

  /** `price.lookup_key` → price id; lookup keys are unique per account. */
  readonly lookupKeys = new Map<string, string>();
  billing: BillingSettings;
  /** False while bulk seeding without events. */
  recordEvents = true;

  private seq = 0;
  private readonly listeners: EventListener[] = [];
  private readonly heaps = new Map<string, JobHeap>();
  /** Earliest booked wake-up per target, so repeated scheduling does not pile up heap entries. */
  private readonly booked = new Map<string, number>();
  private jobSeq = 0;

  constructor(
    readonly accountId: string,
    seed: number,
    billing: BillingSettings,
    private readonly wallClock: () => number,
  ) {
    this.ids = new IdGenerator(seed);
    this.billing = { ...billing, retryScheduleDays: [...billing.retryScheduleDays] };
  }

  nextSeq(): number {
    return ++this.seq;
  }

  /** Current time on a clock, in unix seconds. */
  now(clock: ClockId): number {
    if (clock === null) return this.wallClock();
    const c = this.testClocks.get(clock);
    return c ? c.frozenTime : this.wallClock();
  }

  realNow(): number {
    return this.wallClock();
  }

  onEvent(listener: EventListener): void {
    this.listeners.push(listener);
  }

  /**
   * Records one event with a snapshot of `object` as it is now. `previous` holds the changed fields'
   * old values for `*.updated` events. Events carry wall-clock `created` even when a test clock caused
   * them (like PaymentIntents and charges, and unlike invoices and subscriptions, which carry clock time),
   * so the events list stays in the order things happened. `clock` is kept for the record.
   */
  emit(type: Stripe.Event.Type, clock: ClockId, object: object, previous?: Record<string, unknown>): EventRecord | null {
    if (!this.recordEvents) return null;
    const data: { object: unknown; previous_attributes?: Record<string, unknown> } = { object };
    if (previous !== undefined) data.previous_attributes = previous;
    const request = requestScope.getStore();
    const event: EventRecord = {
      id: this.ids.next('evt'),
      created: this.wallClock(),
      seq: this.nextSeq(),
      clock,
      type,
      dataJson: JSON.stringify(data),
      requestId: request?.id ?? null,
      idempotencyKey: request?.idempotencyKey ?? null,
      pendingWebhooks: 0,
      objectId: 'id' in object && typeof object.id === 'string' ? object.id : '',
    };
    this.events.insert(event);
    for (const listener of this.listeners) listener(event);
    return event;
  }

  /** Asks for `target` (a subscription or invoice id) to be woken at `at` on `clock`. */
  schedule(clock: ClockId, at: number, target: string): void {
    const earlier = this.booked.get(target);
    // An earlier wake-up re-checks everything due, so a later one need not be booked now.
    if (earlier !== undefined && earlier <= at) return;
    this.booked.set(target, at);
    const key = clock ?? '';
    let heap = this.heaps.get(key);
    if (!heap) {
      heap = new JobHeap();
      this.heaps.set(key, heap);
    }
    heap.push({ at, seq: ++this.jobSeq, target });
  }

  /** Pops the earliest wake-up on `clock` due at or before `until`. */
  nextDue(clock: ClockId, until: number): { at: number; target: string } | undefined {
    const heap = this.heaps.get(clock ?? '');
    for (;;) {
      const top = heap?.peek();
      if (!heap || !top || top.at > until) return undefined;
      heap.pop();
      // Superseded by an earlier booking that already ran: skip.
      if (this.booked.get(top.target) !== top.at) continue;
      this.booked.delete(top.target);
      return top;
    }
  }

  pendingJobs(clock: ClockId): number {
    return this.heaps.get(clock ?? '')?.size ?? 0;
  }

  dropClock(clock: string): void {
    this.heaps.delete(clock);
  }

  clear(): void {
    for (const c of [
      this.customers,
      this.products,
      this.prices,
      this.coupons,
      this.discounts,
      this.paymentMethods,
      this.subscriptions,
      this.subscriptionItems,
      this.invoices,
      this.invoiceItems,
      this.paymentIntents,
      this.charges,
      this.refunds,
      this.disputes,
      this.testClocks,
      this.webhookEndpoints,
      this.events,
    ] as unknown as Array<Collection<{ id: string; created: number; seq: number }>>) {
      c.clear();
    }
    this.lookupKeys.clear();
    this.heaps.clear();
    this.booked.clear();
  }
}
