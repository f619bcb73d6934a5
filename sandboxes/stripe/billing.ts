import { GENERIC_DECLINE, testToken } from './cards.js';
import { formatAmount } from './currency.js';
import { previousAttributes } from './diff.js';
import { cardError, invalidRequest, noSuch, type CardDecline } from './errors.js';
import { describeItem, newInvoice, newPrice, newSubscription, newSubscriptionItem, nextInvoiceNumber } from './model.js';
import { applyMetadata, emptyMetadata } from './params.js';
import type {
  ChargeRecord,
  ClockId,
  CouponRecord,
  CustomerRecord,
  DiscountRecord,
  InvoiceItemRecord,
  InvoiceRecord,
  LineRecord,
  PaymentIntentRecord,
  PaymentMethodRecord,
  PriceRecord,
  RecurringSpec,
  RefundRecord,
  SubscriptionItemRecord,
  SubscriptionRecord,
} from './records.js';
import {
  couponValid,
  renderCharge,
  renderCustomer,
  renderDeletedDiscount,
  renderDiscount,
  renderDispute,
  renderInvoice,
  renderInvoiceItem,
  renderInvoicePayment,
  renderInvoicePreview,
  renderPaymentIntent,
  renderPaymentMethod,
  renderRefund,
  renderSubscription,
} from './render.js';
import type { InvoiceCreate, InvoicePay, RefundCreate, SubscriptionCancel, SubscriptionCreate, SubscriptionUpdate } from './specs.js';
import type { StripeState } from './state.js';
import { DAY, addIntervals, formatDate, nextBoundary } from './time.js';

/** Stripe sends `customer.subscription.trial_will_end` three days before a trial ends. */
const TRIAL_WILL_END_NOTICE = 3 * DAY;
/** Trials may not be longer than two years. */
const MAX_TRIAL = 730 * DAY;

type ItemInput = NonNullable<SubscriptionCreate['items']>[number];
type ItemUpdateInput = NonNullable<SubscriptionUpdate['items']>[number];
type DiscountInput = NonNullable<NonNullable<SubscriptionCreate['discounts']>>[number];

interface PaymentResult {
  ok: boolean;
  decline: CardDecline | null;
  charge: ChargeRecord | null;
}

/**
 * Stripe Billing's behaviour: invoices and their payment, subscriptions and their status machine,
 * prorations, discounts, dunning, and the wake-ups that move all of it along a clock.
 */
export class Billing {
  /** Subscriptions inside their create call: changes to them are part of `customer.subscription.created`. */
  private readonly creating = new Set<string>();

  constructor(private readonly s: StripeState) {}

  // ------------------------------------------------------------------------------------------
  // Event helpers. Each `track*` renders before and after a change and emits `*.updated` with
  // previous_attributes when something visible changed.

  private track<T>(render: () => T, after: (before: T, now: T) => void, change: () => void): void {
    if (!this.s.recordEvents) {
      change();
      return;
    }
    const before = render();
    change();
    after(before, render());
  }

  trackCustomer(c: CustomerRecord, change: () => void): void {
    this.track(
      () => renderCustomer(this.s, c),
      (b, a) => {
        const prev = previousAttributes(b, a);
        if (prev) this.s.emit('customer.updated', c.clock, a, prev);
      },
      change,
    );
  }

  trackSubscription(sub: SubscriptionRecord, change: () => void): void {
    if (this.creating.has(sub.id)) {
      change();
      return;
    }
    this.track(
      () => renderSubscription(this.s, sub),
      (b, a) => {
        const prev = previousAttributes(b, a);
        if (prev) this.s.emit('customer.subscription.updated', sub.clock, a, prev);
      },
      change,
    );
  }

  trackInvoice(inv: InvoiceRecord, change: () => void): void {
    this.track(
      () => renderInvoice(this.s, inv),
      (b, a) => {
        const prev = previousAttributes(b, a);
        if (prev) this.s.emit('invoice.updated', inv.clock, a, prev);
      },
      change,
    );
  }

  trackCharge(ch: ChargeRecord, clock: ClockId, change: () => void): void {
    this.track(
      () => renderCharge(this.s, ch),
      (b, a) => {
        const prev = previousAttributes(b, a);
        if (prev) this.s.emit('charge.updated', clock, a, prev);
      },
      change,
    );
  }

  private emitSub(type: 'customer.subscription.created' | 'customer.subscription.deleted' | 'customer.subscription.trial_will_end' | 'customer.subscription.paused' | 'customer.subscription.resumed', sub: SubscriptionRecord): void {
    if (this.s.recordEvents) this.s.emit(type, sub.clock, renderSubscription(this.s, sub));
  }

  private emitInvoice(
    type:
      | 'invoice.created'
      | 'invoice.finalized'
      | 'invoice.paid'
      | 'invoice.payment_succeeded'
      | 'invoice.payment_failed'
      | 'invoice.voided'
      | 'invoice.marked_uncollectible'
      | 'invoice.deleted'
      | 'invoice.sent'
      | 'invoice.overdue',
    inv: InvoiceRecord,
  ): void {
    if (this.s.recordEvents) this.s.emit(type, inv.clock, renderInvoice(this.s, inv));
  }

  private emitPaymentIntent(type: 'payment_intent.created' | 'payment_intent.succeeded' | 'payment_intent.payment_failed' | 'payment_intent.canceled', pi: PaymentIntentRecord, clock: ClockId): void {
    if (this.s.recordEvents) this.s.emit(type, clock, renderPaymentIntent(pi));
  }

  private emitCharge(type: 'charge.succeeded' | 'charge.failed' | 'charge.refunded', ch: ChargeRecord, clock: ClockId): void {
    if (this.s.recordEvents) this.s.emit(type, clock, renderCharge(this.s, ch));
  }

  // ------------------------------------------------------------------------------------------
  // Lookups

  clockOfCustomer(customerId: string | null): ClockId {
    if (customerId === null) return null;
    return this.s.customers.get(customerId)?.clock ?? null;
  }

  nowFor(customerId: string | null): number {
    return this.s.now(this.clockOfCustomer(customerId));
  }

  /** A live customer; deleted customers are `No such customer` everywhere except retrieve. */
  liveCustomer(id: string, param?: string): CustomerRecord {
    const c = this.s.customers.require(id, param);
    if (c.deleted) throw noSuch('customer', id, param);
    return c;
  }

  /** Refuses changes to objects on a clock that is still advancing, as Stripe does. */
  assertClockReady(clock: ClockId): void {
    if (clock === null) return;
    const c = this.s.testClocks.get(clock);
    if (c && c.status === 'advancing') {
      throw invalidRequest(
        `The test clock ${clock} is advancing. Wait until its status is \`ready\` before making further changes to its objects.`,
        { code: 'test_clock_advancing' },
      );
    }
  }

  private productName(price: PriceRecord): string {
    return this.s.products.get(price.product)?.name ?? price.product;
  }

  // ------------------------------------------------------------------------------------------
  // Payment methods

  /**
   * Resolves a payment method parameter. Test tokens (`pm_card_visa`) become a new PaymentMethod,
   * the way the API treats them: every use of a token creates a fresh `pm_...`.
   */
  resolvePaymentMethod(id: string, param: string): PaymentMethodRecord {
    const existing = this.s.paymentMethods.get(id);
    if (existing) return existing;
    const token = testToken(id);
    if (!token) throw noSuch('PaymentMethod', id, param);
    const created = this.s.realNow();
    const exp = new Date(created * 1000).getUTCFullYear() + 3;
    const pm: PaymentMethodRecord = {
      id: this.s.ids.next('pm'),
      created,
      seq: this.s.nextSeq(),
      customer: null,
      card: { expMonth: 12, expYear: exp, ...token.card },
      behavior: token.behavior,
      billingDetails: { address: null, email: null, name: null, phone: null, tax_id: null },
      metadata: emptyMetadata(),
      allowRedisplay: 'unspecified',
      attachDecline: token.attachDecline ?? null,
    };
    return this.s.paymentMethods.insert(pm);
  }

  attachPaymentMethod(pm: PaymentMethodRecord, customer: CustomerRecord): void {
    if (pm.customer === customer.id) return;
    if (pm.customer !== null) {
      throw invalidRequest(
        'The payment method you provided has already been attached to a customer.',
        { code: 'payment_method_unexpected_state', param: 'payment_method' },
      );
    }
    if (pm.attachDecline) throw cardError(pm.attachDecline);
    const previous = pm.customer;
    pm.customer = customer.id;
    this.s.paymentMethods.reindex(pm, 'customer', previous);
    if (this.s.recordEvents) this.s.emit('payment_method.attached', customer.clock, renderPaymentMethod(pm));
  }

  detachPaymentMethod(pm: PaymentMethodRecord): void {
    const customerId = pm.customer;
    if (customerId === null) {
      throw invalidRequest('The payment method you provided is not attached to a customer so detachment is impossible.', {
        code: 'payment_method_unexpected_state',
      });
    }
    const customer = this.s.customers.get(customerId);
    pm.customer = null;
    this.s.paymentMethods.reindex(pm, 'customer', customerId);
    if (this.s.recordEvents) {
      this.s.emit('payment_method.detached', customer?.clock ?? null, renderPaymentMethod(pm), { customer: customerId });
    }
    if (customer && customer.defaultPaymentMethod === pm.id) {
      this.trackCustomer(customer, () => {
        customer.defaultPaymentMethod = null;
      });
    }
    for (const sub of this.s.subscriptions.where('customer', customerId)) {
      if (sub.defaultPaymentMethod === pm.id) {
        this.trackSubscription(sub, () => {
          sub.defaultPaymentMethod = null;
        });
      }
    }
  }

  /** The PaymentMethod Stripe would charge for an invoice, in Stripe's order of precedence. */
  private paymentMethodFor(inv: InvoiceRecord): PaymentMethodRecord | null {
    const sub = inv.subscription ? this.s.subscriptions.get(inv.subscription) : undefined;
    const customer = this.s.customers.get(inv.customer);
    const id = inv.defaultPaymentMethod ?? sub?.defaultPaymentMethod ?? customer?.defaultPaymentMethod ?? null;
    return id ? (this.s.paymentMethods.get(id) ?? null) : null;
  }

  // ------------------------------------------------------------------------------------------
  // Discounts

  private couponForDiscount(input: DiscountInput, param: string): CouponRecord {
    if (input.promotion_code !== undefined) {
      throw invalidRequest(`No such promotion code: '${input.promotion_code}'`, { code: 'resource_missing', param: `${param}[promotion_code]` });
    }
    if (input.discount !== undefined) {
      const d = this.s.discounts.get(input.discount);
      if (!d || d.ended) throw noSuch('discount', input.discount, `${param}[discount]`);
      return this.s.coupons.require(d.coupon, `${param}[discount]`);
    }
    if (input.coupon === undefined) throw invalidRequest('You must specify one of `coupon`, `discount` or `promotion_code`.', { param });
    const coupon = this.s.coupons.get(input.coupon);
    if (!coupon || coupon.deleted) throw noSuch('coupon', input.coupon, `${param}[coupon]`);
    return coupon;
  }

  private checkCoupon(coupon: CouponRecord, currency: string | null, now: number, param: string): void {
    if (!couponValid(coupon, now)) throw invalidRequest(`Coupon expired: ${coupon.id}`, { param, code: 'coupon_expired' });
    if (coupon.amountOff !== null && currency !== null && coupon.currency !== currency) {
      throw invalidRequest(
        `The coupon's currency (${coupon.currency}) must match the currency of the subscription (${currency}).`,
        { param },
      );
    }
  }

  createDiscount(coupon: CouponRecord, customer: CustomerRecord, subscription: string | null, now: number): DiscountRecord {
    const d: DiscountRecord = {
      id: this.s.ids.next('di'),
      created: now,
      seq: this.s.nextSeq(),
      coupon: coupon.id,
      customer: customer.id,
      subscription,
      invoice: null,
      start: now,
      end: coupon.duration === 'repeating' && coupon.durationInMonths !== null ? addIntervals(now, 'month', coupon.durationInMonths) : null,
      invoicesApplied: 0,
      ended: false,
    };
    coupon.timesRedeemed++;
    this.s.discounts.insert(d);
    if (this.s.recordEvents) this.s.emit('customer.discount.created', customer.clock, renderDiscount(this.s, d));
    return d;
  }

  endDiscount(d: DiscountRecord): void {
    if (d.ended) return;
    const customer = d.customer ? this.s.customers.get(d.customer) : undefined;
    d.ended = true;
    if (customer && customer.discount === d.id) customer.discount = null;
    if (this.s.recordEvents) this.s.emit('customer.discount.deleted', customer?.clock ?? null, renderDeletedDiscount(d));
  }

  setCustomerCoupon(customer: CustomerRecord, couponId: string | null, now: number): void {
    if (customer.discount) {
      const old = this.s.discounts.get(customer.discount);
      if (old) this.endDiscount(old);
    }
    if (couponId === null) return;
    const coupon = this.s.coupons.get(couponId);
    if (!coupon || coupon.deleted) throw noSuch('coupon', couponId, 'coupon');
    this.checkCoupon(coupon, customer.currency, now, 'coupon');
    customer.discount = this.createDiscount(coupon, customer, null, now).id;
  }

  /** Discounts that apply to an invoice now: the subscription's if it has any, else the customer's. */
  private activeDiscounts(ids: string[], now: number): DiscountRecord[] {
    const out: DiscountRecord[] = [];
    for (const id of ids) {
      const d = this.s.discounts.get(id);
      if (!d || d.ended) continue;
      if (d.end !== null && now >= d.end) {
        this.endDiscount(d);
        continue;
      }
      out.push(d);
    }
    return out;
  }

  private discountsFor(customer: CustomerRecord, sub: SubscriptionRecord | null, now: number): DiscountRecord[] {
    const fromSub = sub ? this.activeDiscounts(sub.discounts, now) : [];
    if (fromSub.length > 0) return fromSub;
    return customer.discount ? this.activeDiscounts([customer.discount], now) : [];
  }

  /** Subtotal, per-line and total discount amounts, total. Percentages round per line, as Stripe does. */
  private computeTotals(inv: InvoiceRecord, discounts: DiscountRecord[]): void {
    const remaining = new Map<LineRecord, number>();
    for (const line of inv.lines) {
      line.discountAmounts = [];
      remaining.set(line, line.amount);
    }
    const totals: Array<{ amount: number; discount: string }> = [];
    for (const d of discounts) {
      const coupon = this.s.coupons.get(d.coupon);
      if (!coupon) continue;
      let applied = 0;
      if (coupon.percentOff !== null) {
        for (const line of inv.lines) {
          if (!line.discountable) continue;
          const base = remaining.get(line) ?? 0;
          const amount = Math.round((base * coupon.percentOff) / 100);
          if (amount === 0) continue;
          line.discountAmounts.push({ amount, discount: d.id });
          remaining.set(line, base - amount);
          applied += amount;
        }
      } else if (coupon.amountOff !== null && coupon.currency === inv.currency) {
        const eligible = inv.lines.filter((l) => l.discountable && (remaining.get(l) ?? 0) > 0);
        const pool = eligible.reduce((sum, l) => sum + (remaining.get(l) ?? 0), 0);
        // A fixed amount is spread over the lines in proportion to their amounts; the last takes the rounding.
        const total = Math.min(coupon.amountOff, pool);
        let left = total;
        eligible.forEach((line, i) => {
          const base = remaining.get(line) ?? 0;
          const share = i === eligible.length - 1 ? left : Math.min(left, Math.round((total * base) / pool));
          if (share <= 0) return;
          line.discountAmounts.push({ amount: share, discount: d.id });
          remaining.set(line, base - share);
          left -= share;
          applied += share;
        });
      }
      totals.push({ amount: applied, discount: d.id });
    }
    inv.discounts = discounts.map((d) => d.id);
    inv.subtotal = inv.lines.reduce((sum, l) => sum + l.amount, 0);
    inv.totalDiscountAmounts = totals;
    inv.total = inv.subtotal - totals.reduce((sum, t) => sum + t.amount, 0);
    inv.amountDue = Math.max(0, inv.total + inv.startingBalance);
  }

  /** After an invoice used them: `once` coupons end, the others count the invoice. */
  private consumeDiscounts(inv: InvoiceRecord): void {
    if (inv.subtotal <= 0) return;
    for (const id of inv.discounts) {
      const d = this.s.discounts.get(id);
      if (!d) continue;
      d.invoicesApplied++;
      const coupon = this.s.coupons.get(d.coupon);
      if (coupon?.duration === 'once') this.endDiscount(d);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Invoices

  private line(
    fields: Omit<LineRecord, 'id' | 'discountAmounts' | 'metadata' | 'discountable' | 'invoiceItem' | 'proration'> &
      Partial<Pick<LineRecord, 'invoiceItem' | 'proration' | 'discountable'>>,
  ): LineRecord {
    return {
      id: this.s.ids.next('il'),
      discountAmounts: [],
      metadata: emptyMetadata(),
      discountable: true,
      invoiceItem: null,
      proration: false,
      ...fields,
    };
  }

  private describe(price: PriceRecord, quantity: number | null): string {
    return describeItem(this.s, price, quantity);
  }

  private itemAmount(price: PriceRecord, quantity: number | null): number {
    if (price.recurring?.usageType === 'metered') return 0;
    return Math.round(Number(price.unitAmountDecimal) * (quantity ?? 1));
  }

  /** Lines billing each licensed item for [start, end), scaled by `fraction` for partial periods. */
  private itemLines(sub: SubscriptionRecord, items: SubscriptionItemRecord[], start: number, end: number, opts: { trial?: boolean; fraction?: number } = {}): LineRecord[] {
    return items.map((item) => {
      const price = this.s.prices.require(item.price);
      const metered = price.recurring?.usageType === 'metered';
      const full = this.itemAmount(price, item.quantity);
      const amount = opts.trial ? 0 : Math.round(full * (opts.fraction ?? 1));
      let description = this.describe(price, item.quantity);
      if (opts.trial) description = `Trial period for ${this.productName(price)}`;
      else if (opts.fraction !== undefined && opts.fraction < 1) {
        description = `Remaining time on ${item.quantity ?? 1} × ${this.productName(price)} after ${formatDate(start)}`;
      }
      return this.line({
        amount,
        currency: price.currency,
        description,
        periodStart: start,
        periodEnd: end,
        quantity: metered ? 0 : item.quantity,
        price: price.id,
        subscription: sub.id,
        subscriptionItem: item.id,
        proration: opts.fraction !== undefined && opts.fraction < 1,
      });
    });
  }

  private pendingItemLines(customerId: string, subscription: string | null, includeAll: boolean): { lines: LineRecord[]; items: InvoiceItemRecord[] } {
    const items = this.s.invoiceItems
      .where('customer', customerId)
      .filter((ii) => !ii.deleted && ii.invoice === null && (includeAll ? ii.subscription === null : ii.subscription === subscription));
    const lines = items.map((ii) =>
      this.line({
        amount: ii.amount,
        currency: ii.currency,
        description: ii.description,
        periodStart: ii.periodStart,
        periodEnd: ii.periodEnd,
        quantity: ii.quantity,
        price: ii.price,
        subscription: ii.subscription,
        subscriptionItem: ii.subscriptionItem,
        invoiceItem: ii.id,
        proration: ii.proration,
        discountable: ii.discountable,
      }),
    );
    return { lines, items };
  }

  /**
   * Creates an invoice in draft, applies discounts, claims pending invoice items, and emits
   * `invoice.created`. Finalization and payment are separate steps, as in Stripe.
   */
  createInvoice(
    customer: CustomerRecord,
    opts: {
      sub: SubscriptionRecord | null;
      billingReason: InvoiceRecord['billingReason'];
      lines: LineRecord[];
      currency: string;
      periodStart: number;
      periodEnd: number;
      collectionMethod?: InvoiceRecord['collectionMethod'];
      daysUntilDue?: number | null;
      autoAdvance?: boolean;
      pendingItems?: 'subscription' | 'customer' | 'none';
      discounts?: DiscountRecord[];
      fields?: Partial<InvoiceRecord>;
    },
  ): InvoiceRecord {
    const now = this.s.now(customer.clock);
    const sub = opts.sub;
    const inv = newInvoice(this.s, now, customer, opts.currency, {
      subscription: sub?.id ?? null,
      billingReason: opts.billingReason,
      collectionMethod: opts.collectionMethod ?? sub?.collectionMethod ?? 'charge_automatically',
      periodStart: opts.periodStart,
      periodEnd: opts.periodEnd,
      autoAdvance: opts.autoAdvance ?? true,
      subscriptionMetadata: sub ? sub.metadata : null,
      ...opts.fields,
    });
    inv.lines = [...opts.lines];
    const pending = opts.pendingItems ?? (sub ? 'subscription' : 'none');
    if (pending !== 'none') {
      const { lines, items } = this.pendingItemLines(customer.id, sub?.id ?? null, pending === 'customer');
      inv.lines.push(...lines);
      for (const ii of items) ii.invoice = inv.id;
    }
    const days = opts.daysUntilDue ?? sub?.daysUntilDue ?? null;
    if (inv.collectionMethod === 'send_invoice' && inv.dueDate === null && days !== null) inv.dueDate = now + days * DAY;
    this.computeTotals(inv, opts.discounts ?? this.discountsFor(customer, sub, now));
    if (inv.autoAdvance) {
      inv.automaticallyFinalizesAt = now + this.s.billing.finalizeDelaySeconds;
      if (inv.collectionMethod === 'charge_automatically') inv.nextPaymentAttempt = inv.automaticallyFinalizesAt;
    }
    this.s.invoices.insert(inv);
    if (customer.currency === null) {
      this.trackCustomer(customer, () => {
        customer.currency = opts.currency;
      });
    }
    this.emitInvoice('invoice.created', inv);
    this.consumeDiscounts(inv);
    this.scheduleInvoice(inv);
    return inv;
  }

  /** Recomputes a draft's totals after its lines or discounts changed. */
  refreshDraft(inv: InvoiceRecord, discounts?: DiscountRecord[]): void {
    const customer = this.s.customers.require(inv.customer);
    const now = this.s.now(inv.clock);
    const ds = discounts ?? this.activeDiscounts(inv.discounts, now);
    const { lines } = this.pendingItemLinesFor(inv);
    inv.lines = lines;
    this.computeTotals(inv, ds.length > 0 ? ds : this.discountsFor(customer, inv.subscription ? (this.s.subscriptions.get(inv.subscription) ?? null) : null, now));
  }

  /** A draft invoice's lines: its subscription lines plus every invoice item currently attached to it. */
  private pendingItemLinesFor(inv: InvoiceRecord): { lines: LineRecord[] } {
    const fromSubscription = inv.lines.filter((l) => l.invoiceItem === null);
    const attached = this.s.invoiceItems.where('customer', inv.customer).filter((ii) => !ii.deleted && ii.invoice === inv.id);
    const itemLines = attached.map(
      (ii) =>
        inv.lines.find((l) => l.invoiceItem === ii.id && l.amount === ii.amount && l.description === ii.description) ??
        this.line({
          amount: ii.amount,
          currency: ii.currency,
          description: ii.description,
          periodStart: ii.periodStart,
          periodEnd: ii.periodEnd,
          quantity: ii.quantity,
          price: ii.price,
          subscription: ii.subscription,
          subscriptionItem: ii.subscriptionItem,
          invoiceItem: ii.id,
          proration: ii.proration,
          discountable: ii.discountable,
        }),
    );
    return { lines: [...fromSubscription, ...itemLines] };
  }

  createManualInvoice(p: InvoiceCreate): InvoiceRecord {
    let customerId = p.customer;
    let sub: SubscriptionRecord | null = null;
    if (p.subscription !== undefined) {
      sub = this.s.subscriptions.require(p.subscription, 'subscription');
      if (customerId !== undefined && customerId !== sub.customer) {
        throw invalidRequest('The subscription does not belong to the customer.', { param: 'subscription' });
      }
      customerId = sub.customer;
    }
    if (customerId === undefined) throw invalidRequest('Missing required param: customer.', { param: 'customer', code: 'parameter_missing' });
    const customer = this.liveCustomer(customerId, 'customer');
    this.assertClockReady(customer.clock);
    const now = this.s.now(customer.clock);
    const collectionMethod = p.collection_method ?? 'charge_automatically';
    if (collectionMethod === 'send_invoice' && p.days_until_due === undefined && p.due_date === undefined) {
      throw invalidRequest('Invoices with `collection_method=send_invoice` must have a `due_date` or `days_until_due`.', { param: 'collection_method' });
    }
    if (collectionMethod === 'charge_automatically' && (p.days_until_due !== undefined || p.due_date !== undefined)) {
      throw invalidRequest('Invoices with `collection_method=charge_automatically` cannot have a due date.', { param: 'due_date' });
    }
    let defaultPaymentMethod: string | null = null;
    if (p.default_payment_method !== undefined) {
      const pm = this.s.paymentMethods.require(p.default_payment_method, 'default_payment_method');
      if (pm.customer !== customer.id) throw notAttached(p.default_payment_method, 'default_payment_method');
      defaultPaymentMethod = pm.id;
    }
    let discounts: DiscountRecord[] | undefined;
    if (p.discounts) {
      discounts = p.discounts.map((input, i) => {
        const coupon = this.couponForDiscount(input, `discounts[${i}]`);
        this.checkCoupon(coupon, null, now, `discounts[${i}]`);
        const d = this.createDiscount(coupon, customer, null, now);
        return d;
      });
    } else if (p.discounts === null) {
      discounts = [];
    }
    const currency = p.currency?.toLowerCase() ?? customer.currency ?? 'usd';
    const inv = this.createInvoice(customer, {
      sub,
      billingReason: 'manual',
      lines: [],
      currency,
      periodStart: now,
      periodEnd: now,
      collectionMethod,
      daysUntilDue: p.days_until_due ?? null,
      autoAdvance: p.auto_advance ?? false,
      pendingItems: p.pending_invoice_items_behavior === 'include' ? 'customer' : 'none',
      ...(discounts !== undefined ? { discounts } : {}),
      fields: {
        metadata: applyMetadata(emptyMetadata(), p.metadata),
        description: p.description ?? null,
        footer: p.footer ?? null,
        defaultPaymentMethod,
        ...(p.due_date !== undefined ? { dueDate: p.due_date } : {}),
      },
    });
    for (const d of discounts ?? []) d.invoice = inv.id;
    return inv;
  }

  /** `draft` → `open` (or straight to `paid` when nothing is due), numbering it and applying the customer balance. */
  finalizeInvoice(inv: InvoiceRecord, opts: { autoAdvance?: boolean } = {}): void {
    if (inv.status !== 'draft') {
      throw invalidRequest("This invoice is already finalized, you can't re-finalize a non-draft invoice.", { code: 'invoice_unexpected_state' });
    }
    const customer = this.s.customers.require(inv.customer);
    const now = this.s.now(inv.clock);
    inv.number = nextInvoiceNumber(customer);
    inv.startingBalance = customer.balance;
    const net = inv.total + customer.balance;
    inv.amountDue = Math.max(0, net);
    inv.endingBalance = Math.min(0, net);
    if (customer.balance !== inv.endingBalance) {
      const ending = inv.endingBalance;
      this.trackCustomer(customer, () => {
        customer.balance = ending;
      });
    }
    if (opts.autoAdvance !== undefined) inv.autoAdvance = opts.autoAdvance;
    inv.status = 'open';
    inv.finalizedAt = now;
    inv.automaticallyFinalizesAt = null;
    inv.webhooksDeliveredAt = now;
    inv.customerEmail = customer.email;
    inv.customerName = customer.name;
    inv.customerPhone = customer.phone;
    inv.customerAddress = customer.address;
    if (inv.collectionMethod === 'send_invoice') {
      inv.nextPaymentAttempt = null;
      if (inv.dueDate === null) inv.dueDate = now + 30 * DAY;
    } else {
      inv.nextPaymentAttempt = inv.amountDue > 0 && inv.autoAdvance ? now : null;
    }
    if (inv.amountDue > 0) this.ensurePaymentIntent(inv);
    this.emitInvoice('invoice.finalized', inv);
    if (inv.amountDue === 0) this.markPaid(inv, { charged: false });
    this.scheduleInvoice(inv);
  }

  private ensurePaymentIntent(inv: InvoiceRecord): PaymentIntentRecord {
    if (inv.paymentIntent) return this.s.paymentIntents.require(inv.paymentIntent);
    // Payments are not billing objects: Stripe stamps them with real time even on a test clock.
    const now = this.s.realNow();
    const id = this.s.ids.next('pi');
    const pm = this.paymentMethodFor(inv);
    const pi: PaymentIntentRecord = {
      id,
      created: now,
      seq: this.s.nextSeq(),
      customer: inv.customer,
      invoice: inv.id,
      amount: inv.amountDue,
      amountReceived: 0,
      currency: inv.currency,
      status: pm ? 'requires_confirmation' : 'requires_payment_method',
      paymentMethod: pm?.id ?? null,
      latestCharge: null,
      lastPaymentError: null,
      description: inv.billingReason === 'subscription_create' ? 'Subscription creation' : inv.subscription ? 'Subscription update' : null,
      metadata: emptyMetadata(),
      canceledAt: null,
      clientSecret: `${id}_secret_${this.s.ids.chars(25)}`,
    };
    this.s.paymentIntents.insert(pi);
    inv.paymentIntent = pi.id;
    this.emitPaymentIntent('payment_intent.created', pi, inv.clock);
    return pi;
  }

  /** One charge attempt of a PaymentIntent with a card. */
  private charge(pi: PaymentIntentRecord, pm: PaymentMethodRecord, clock: ClockId, inv: InvoiceRecord | null): PaymentResult {
    const now = this.s.realNow();
    const ok = pm.behavior !== 'decline_on_charge';
    const decline = ok ? null : GENERIC_DECLINE;
    const customer = pi.customer ? this.s.customers.get(pi.customer) : undefined;
    const ch: ChargeRecord = {
      id: this.s.ids.next('ch'),
      created: now,
      seq: this.s.nextSeq(),
      customer: pi.customer,
      paymentIntent: pi.id,
      invoice: inv?.id ?? null,
      paymentMethod: pm.id,
      card: pm.card,
      amount: pi.amount,
      currency: pi.currency,
      status: ok ? 'succeeded' : 'failed',
      failure: decline ? { code: decline.code, declineCode: decline.declineCode ?? 'generic_decline', message: decline.message } : null,
      amountRefunded: 0,
      disputed: false,
      description: pi.description,
      metadata: emptyMetadata(),
      balanceTransaction: null,
      receiptEmail: customer?.email ?? null,
    };
    this.s.charges.insert(ch);
    pi.latestCharge = ch.id;
    pi.paymentMethod = pm.id;
    if (ok) {
      pi.status = 'succeeded';
      pi.amountReceived = pi.amount;
      pi.lastPaymentError = null;
      this.emitCharge('charge.succeeded', ch, clock);
      this.emitPaymentIntent('payment_intent.succeeded', pi, clock);
      if (pm.behavior === 'dispute') this.createDispute(ch, { reason: 'fraudulent' });
    } else {
      pi.status = 'requires_payment_method';
      pi.lastPaymentError = {
        code: GENERIC_DECLINE.code,
        declineCode: GENERIC_DECLINE.declineCode ?? 'generic_decline',
        message: GENERIC_DECLINE.message,
        charge: ch.id,
        paymentMethod: pm.id,
      };
      this.emitCharge('charge.failed', ch, clock);
      this.emitPaymentIntent('payment_intent.payment_failed', pi, clock);
    }
    return { ok, decline, charge: ch };
  }

  /**
   * One payment attempt on an open invoice. `automatic` attempts follow the retry schedule (dunning);
   * manual ones (`invoices.pay`, PaymentIntent confirmation) count as attempts but do not move it.
   */
  attemptPayment(inv: InvoiceRecord, opts: { paymentMethod?: PaymentMethodRecord; automatic: boolean }): PaymentResult {
    const pi = this.ensurePaymentIntent(inv);
    const pm = opts.paymentMethod ?? this.paymentMethodFor(inv);
    inv.attemptCount++;
    inv.attempted = true;
    if (!pm) {
      this.paymentFailed(inv, opts.automatic);
      return { ok: false, decline: null, charge: null };
    }
    const result = this.charge(pi, pm, inv.clock, inv);
    if (result.ok) {
      this.markPaid(inv, { charged: true });
      const sub = inv.subscription ? this.s.subscriptions.get(inv.subscription) : undefined;
      if (sub && opts.paymentMethod && sub.saveDefaultPaymentMethod === 'on_subscription') {
        this.trackSubscription(sub, () => {
          sub.defaultPaymentMethod = pm.id;
        });
      }
    } else {
      this.paymentFailed(inv, opts.automatic);
    }
    return result;
  }

  /** The invoice is settled: by a charge, because nothing was due, or out of band. */
  markPaid(inv: InvoiceRecord, opts: { charged: boolean; outOfBand?: boolean }): void {
    const now = this.s.now(inv.clock);
    inv.status = 'paid';
    inv.amountPaid = opts.outOfBand ? 0 : inv.amountDue;
    inv.paidOutOfBand = opts.outOfBand ?? false;
    inv.paidAt = now;
    inv.nextPaymentAttempt = null;
    if (opts.charged || inv.amountDue === 0) inv.attempted = true;
    this.emitInvoice('invoice.paid', inv);
    if (!opts.outOfBand) {
      this.emitInvoice('invoice.payment_succeeded', inv);
      const payment = renderInvoicePayment(this.s, inv);
      if (payment && this.s.recordEvents) this.s.emit('invoice_payment.paid', inv.clock, payment);
    }
    this.setDelinquent(inv.customer, false);
    this.afterInvoiceSettled(inv, 'paid');
  }

  private paymentFailed(inv: InvoiceRecord, automatic: boolean): void {
    const now = this.s.now(inv.clock);
    const sub = inv.subscription ? this.s.subscriptions.get(inv.subscription) : undefined;
    const firstInvoiceOfIncomplete = sub?.status === 'incomplete' && inv.billingReason === 'subscription_create';
    let exhausted = false;
    if (automatic && !firstInvoiceOfIncomplete) {
      // attempt_count counts this attempt: after the n-th failure the n-th gap of the schedule applies.
      const gap = this.s.billing.retryScheduleDays[inv.attemptCount - 1];
      if (gap !== undefined) inv.nextPaymentAttempt = now + gap * DAY;
      else {
        inv.nextPaymentAttempt = null;
        exhausted = true;
      }
    } else if (firstInvoiceOfIncomplete) {
      inv.nextPaymentAttempt = null;
    }
    this.emitInvoice('invoice.payment_failed', inv);
    if (!firstInvoiceOfIncomplete) this.setDelinquent(inv.customer, true);
    if (sub && sub.latestInvoice === inv.id && (sub.status === 'active' || sub.status === 'trialing')) {
      this.trackSubscription(sub, () => {
        sub.status = 'past_due';
      });
    }
    if (exhausted) this.retriesExhausted(inv, sub);
    this.scheduleInvoice(inv);
  }

  /** "Manage failed payments": what happens after the last retry, per the account's billing settings. */
  private retriesExhausted(inv: InvoiceRecord, sub: SubscriptionRecord | undefined): void {
    if (this.s.billing.invoiceAfterRetries === 'uncollectible') this.markUncollectible(inv, { automatic: true });
    // Only the latest invoice decides the subscription's fate (an older invoice's retries may end later).
    if (!sub || sub.latestInvoice !== inv.id || sub.status === 'canceled') return;
    switch (this.s.billing.subscriptionAfterRetries) {
      case 'cancel':
        this.cancelNow(sub, { reason: 'payment_failed' });
        break;
      case 'unpaid':
        this.trackSubscription(sub, () => {
          sub.status = 'unpaid';
        });
        break;
      case 'past_due':
        break;
    }
  }

  private setDelinquent(customerId: string, delinquent: boolean): void {
    const c = this.s.customers.get(customerId);
    if (!c || c.delinquent === delinquent || c.deleted) return;
    this.trackCustomer(c, () => {
      c.delinquent = delinquent;
    });
  }

  /** Subscription status follows its latest invoice being paid, voided or written off. */
  private afterInvoiceSettled(inv: InvoiceRecord, how: 'paid' | 'void' | 'uncollectible'): void {
    const sub = inv.subscription ? this.s.subscriptions.get(inv.subscription) : undefined;
    if (!sub || sub.latestInvoice !== inv.id) return;
    if (sub.status === 'incomplete') {
      if (how === 'paid') {
        this.trackSubscription(sub, () => {
          sub.status = sub.trialEnd !== null && sub.trialEnd > this.s.now(sub.clock) ? 'trialing' : 'active';
        });
        this.scheduleSubscription(sub);
      } else if (how === 'void') {
        this.expireIncomplete(sub);
      }
      return;
    }
    if (sub.status === 'past_due' || sub.status === 'unpaid') {
      this.trackSubscription(sub, () => {
        sub.status = 'active';
      });
    }
  }

  payInvoice(inv: InvoiceRecord, p: InvoicePay): void {
    if (inv.status === 'paid') throw invalidRequest('Invoice is already paid', { code: 'invoice_already_paid' });
    if (inv.status === 'void') throw invalidRequest('This invoice has been voided and can no longer be paid.', { code: 'invoice_unexpected_state' });
    this.assertClockReady(inv.clock);
    if (inv.status === 'draft') this.finalizeInvoice(inv);
    // Finalization settles invoices with nothing due.
    if (inv.status !== 'open' && inv.status !== 'uncollectible') return;
    if (p.paid_out_of_band) {
      const pi = inv.paymentIntent ? this.s.paymentIntents.get(inv.paymentIntent) : undefined;
      if (pi && pi.status !== 'succeeded') {
        pi.status = 'canceled';
        pi.canceledAt = this.s.now(inv.clock);
      }
      this.markPaid(inv, { charged: false, outOfBand: true });
      return;
    }
    let pm: PaymentMethodRecord | undefined;
    if (p.payment_method !== undefined) {
      pm = this.resolvePaymentMethod(p.payment_method, 'payment_method');
      const customer = this.s.customers.require(inv.customer);
      if (pm.customer === null) this.attachPaymentMethod(pm, customer);
      else if (pm.customer !== inv.customer) throw notAttached(p.payment_method, 'payment_method');
    } else if (!this.paymentMethodFor(inv)) {
      throw invalidRequest(
        'This customer has no attached payment source or default payment method. Please consider adding a default payment method.',
      );
    }
    const result = this.attemptPayment(inv, { automatic: false, ...(pm ? { paymentMethod: pm } : {}) });
    if (!result.ok) {
      const decline = result.decline ?? GENERIC_DECLINE;
      throw cardError(decline, {
        ...(result.charge ? { charge: result.charge.id } : {}),
        ...(inv.paymentIntent ? { payment_intent: renderPaymentIntent(this.s.paymentIntents.require(inv.paymentIntent)) } : {}),
      });
    }
  }

  voidInvoice(inv: InvoiceRecord): void {
    if (inv.status !== 'open' && inv.status !== 'uncollectible') {
      throw invalidRequest(`You can only pass in open or uncollectible invoices. This invoice is ${inv.status}.`, { code: 'invoice_unexpected_state' });
    }
    const now = this.s.now(inv.clock);
    inv.status = 'void';
    inv.voidedAt = now;
    inv.nextPaymentAttempt = null;
    const pi = inv.paymentIntent ? this.s.paymentIntents.get(inv.paymentIntent) : undefined;
    if (pi && pi.status !== 'succeeded' && pi.status !== 'canceled') {
      pi.status = 'canceled';
      pi.canceledAt = now;
      this.emitPaymentIntent('payment_intent.canceled', pi, inv.clock);
    }
    this.emitInvoice('invoice.voided', inv);
    this.afterInvoiceSettled(inv, 'void');
  }

  markUncollectible(inv: InvoiceRecord, opts: { automatic?: boolean } = {}): void {
    if (inv.status !== 'open') {
      throw invalidRequest(`You can only mark open invoices as uncollectible. This invoice is ${inv.status}.`, { code: 'invoice_unexpected_state' });
    }
    inv.status = 'uncollectible';
    inv.markedUncollectibleAt = this.s.now(inv.clock);
    inv.nextPaymentAttempt = null;
    this.emitInvoice('invoice.marked_uncollectible', inv);
    this.setDelinquent(inv.customer, false);
    if (!opts.automatic) this.afterInvoiceSettled(inv, 'uncollectible');
  }

  deleteDraft(inv: InvoiceRecord): void {
    if (inv.status !== 'draft') throw invalidRequest('You can only delete draft invoices.', { code: 'invoice_unexpected_state' });
    const sub = inv.subscription ? this.s.subscriptions.get(inv.subscription) : undefined;
    if (sub && sub.latestInvoice === inv.id && inv.billingReason !== 'manual') {
      throw invalidRequest('You cannot delete an invoice that was created by a subscription.', { code: 'invoice_unexpected_state' });
    }
    for (const ii of this.s.invoiceItems.where('customer', inv.customer)) if (ii.invoice === inv.id) ii.invoice = null;
    this.emitInvoice('invoice.deleted', inv);
    this.s.invoices.remove(inv.id);
  }

  sendInvoice(inv: InvoiceRecord): void {
    if (inv.collectionMethod !== 'send_invoice') {
      throw invalidRequest('You can only manually send an invoice if its collection method is `send_invoice`.', { code: 'invoice_unexpected_state' });
    }
    if (inv.status === 'draft') this.finalizeInvoice(inv);
    this.emitInvoice('invoice.sent', inv);
  }

  /** The invoice Stripe would create next for a subscription: lines for the coming period. */
  previewInvoice(customer: CustomerRecord, sub: SubscriptionRecord | null): ReturnType<typeof renderInvoicePreview> {
    const now = this.s.now(customer.clock);
    let lines: LineRecord[] = [];
    let periodStart = now;
    let periodEnd = now;
    let currency = customer.currency ?? 'usd';
    if (sub && !['canceled', 'incomplete_expired'].includes(sub.status)) {
      const items = this.liveItems(sub);
      const first = items[0];
      if (first) {
        const price = this.s.prices.require(first.price);
        const rec = price.recurring ?? { interval: 'month' as const, intervalCount: 1 };
        const start = first.periodEnd;
        const end = nextBoundary(sub.billingCycleAnchor, start, rec.interval, rec.intervalCount);
        lines = this.itemLines(sub, items, start, end);
        periodStart = first.periodStart;
        periodEnd = first.periodEnd;
        currency = sub.currency;
      }
    }
    const pending = this.pendingItemLines(customer.id, sub?.id ?? null, sub === null);
    lines.push(...pending.lines);
    const draft = newInvoice(this.s, sub ? periodEnd : now, customer, currency, {
      subscription: sub?.id ?? null,
      billingReason: sub ? 'upcoming' : 'manual',
      periodStart,
      periodEnd,
      subscriptionMetadata: sub?.metadata ?? null,
      startingBalance: customer.balance,
    });
    draft.lines = lines;
    const discounts = sub ? this.peekDiscounts(sub.discounts.length > 0 ? sub.discounts : customer.discount ? [customer.discount] : [], periodEnd) : [];
    this.computeTotals(draft, discounts);
    draft.nextPaymentAttempt = sub && sub.collectionMethod === 'charge_automatically' ? periodEnd + this.s.billing.finalizeDelaySeconds : null;
    draft.automaticallyFinalizesAt = sub ? periodEnd + this.s.billing.finalizeDelaySeconds : null;
    return renderInvoicePreview(this.s, draft);
  }

  /** Discounts still applying at `at`, without ending any (previews must not change state). */
  private peekDiscounts(ids: string[], at: number): DiscountRecord[] {
    return ids
      .map((id) => this.s.discounts.get(id))
      .filter((d): d is DiscountRecord => d !== undefined && !d.ended && (d.end === null || at < d.end));
  }

  // ------------------------------------------------------------------------------------------
  // Charges, refunds, disputes

  createRefund(p: RefundCreate): RefundRecord {
    let ch: ChargeRecord;
    if (p.charge !== undefined) {
      ch = this.s.charges.require(p.charge, 'charge');
    } else if (p.payment_intent !== undefined) {
      const pi = this.s.paymentIntents.require(p.payment_intent, 'payment_intent');
      if (pi.status !== 'succeeded' || !pi.latestCharge) {
        throw invalidRequest(`This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, {
          code: 'charge_not_refundable',
          param: 'payment_intent',
        });
      }
      ch = this.s.charges.require(pi.latestCharge);
    } else {
      throw invalidRequest('One of the following params should be provided for this request: payment_intent or charge.', {
        code: 'parameter_missing',
      });
    }
    if (ch.status !== 'succeeded') {
      throw invalidRequest(`Charge ${ch.id} has not been captured and cannot be refunded.`, { code: 'charge_not_refundable' });
    }
    if (ch.disputed) throw invalidRequest(`Charge ${ch.id} has been charged back; cannot issue a refund.`, { code: 'charge_disputed' });
    const left = ch.amount - ch.amountRefunded;
    if (left <= 0) throw invalidRequest(`Charge ${ch.id} has already been refunded.`, { code: 'charge_already_refunded' });
    const amount = p.amount ?? left;
    if (amount > left) {
      throw invalidRequest(
        `Refund amount (${formatAmount(amount, ch.currency)}) is greater than unrefunded amount on charge (${formatAmount(left, ch.currency)})`,
        { param: 'amount' },
      );
    }
    const clock = this.clockOfCustomer(ch.customer);
    const now = this.s.realNow();
    const refund: RefundRecord = {
      id: this.s.ids.next('re'),
      created: now,
      seq: this.s.nextSeq(),
      charge: ch.id,
      paymentIntent: ch.paymentIntent,
      customer: ch.customer,
      amount,
      currency: ch.currency,
      reason: p.reason ?? null,
      metadata: applyMetadata(emptyMetadata(), p.metadata),
      paymentMethod: ch.paymentMethod,
    };
    this.s.refunds.insert(refund);
    ch.amountRefunded += amount;
    if (this.s.recordEvents) this.s.emit('refund.created', clock, renderRefund(refund));
    this.emitCharge('charge.refunded', ch, clock);
    return refund;
  }

  createDispute(ch: ChargeRecord, opts: { reason?: string; amount?: number } = {}): void {
    if (ch.status !== 'succeeded') throw invalidRequest(`Charge ${ch.id} did not succeed and cannot be disputed.`);
    if (ch.disputed) throw invalidRequest(`Charge ${ch.id} is already disputed.`);
    const clock = this.clockOfCustomer(ch.customer);
    const d = {
      id: this.s.ids.next('dp'),
      created: this.s.realNow(),
      seq: this.s.nextSeq(),
      charge: ch.id,
      paymentIntent: ch.paymentIntent,
      amount: opts.amount ?? ch.amount - ch.amountRefunded,
      currency: ch.currency,
      reason: opts.reason ?? 'fraudulent',
      status: 'needs_response' as const,
      metadata: emptyMetadata(),
    };
    this.s.disputes.insert(d);
    this.trackCharge(ch, clock, () => {
      ch.disputed = true;
    });
    if (this.s.recordEvents) {
      this.s.emit('charge.dispute.created', clock, renderDispute(d));
      this.s.emit('charge.dispute.funds_withdrawn', clock, renderDispute(d));
    }
  }

  // ------------------------------------------------------------------------------------------
  // Subscriptions

  liveItems(sub: SubscriptionRecord): SubscriptionItemRecord[] {
    return sub.items.map((id) => this.s.subscriptionItems.require(id)).filter((i) => !i.deleted);
  }

  private currentPeriod(sub: SubscriptionRecord): { start: number; end: number } {
    const items = this.liveItems(sub);
    const start = Math.min(...items.map((i) => i.periodStart));
    const end = Math.min(...items.map((i) => i.periodEnd));
    return { start, end };
  }

  /** A recurring, active price for an item parameter, creating inline prices from `price_data`. */
  private priceForItem(input: { price?: string; plan?: string; price_data?: ItemInput['price_data'] }, param: string, now: number): PriceRecord {
    const id = input.price ?? input.plan;
    if (id !== undefined && input.price_data !== undefined) {
      throw invalidRequest(`You may only specify one of these parameters: price, price_data.`, { param: `${param}[price]` });
    }
    if (id !== undefined) {
      const price = this.s.prices.get(id);
      if (!price || price.deleted) throw noSuch('price', id, `${param}[price]`);
      if (!price.active) throw invalidRequest(`The price specified is inactive. This field only accepts active prices.`, { param: `${param}[price]` });
      if (!price.recurring) {
        throw invalidRequest('The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.', {
          param: `${param}[price]`,
        });
      }
      return price;
    }
    const data = input.price_data;
    if (!data) throw missingPriceParam(param);
    const product = this.s.products.get(data.product);
    if (!product || product.deleted) throw noSuch('product', data.product, `${param}[price_data][product]`);
    if (data.unit_amount === undefined && data.unit_amount_decimal === undefined) {
      throw invalidRequest('Missing required param: price_data[unit_amount].', { param: `${param}[price_data][unit_amount]`, code: 'parameter_missing' });
    }
    const price = newPrice(this.s, now, product.id, data.currency.toLowerCase(), data.unit_amount_decimal ?? String(data.unit_amount), {
      recurring: {
        interval: data.recurring.interval,
        intervalCount: data.recurring.interval_count ?? 1,
        usageType: 'licensed',
        meter: null,
        trialPeriodDays: null,
      },
      taxBehavior: data.tax_behavior ?? 'unspecified',
      inline: true,
      active: false,
    });
    this.s.prices.insert(price);
    return price;
  }

  private checkQuantity(price: PriceRecord, quantity: number | undefined, param: string): number | null {
    if (price.recurring?.usageType === 'metered') {
      if (quantity !== undefined) {
        throw invalidRequest(`Quantity should not be specified where usage_type is \`metered\`. Remove quantity from \`${param}\`.`, {
          param: `${param}[quantity]`,
        });
      }
      return null;
    }
    return quantity ?? 1;
  }

  /** Classic billing mode: every item shares one currency and one billing interval. */
  private checkCompatible(prices: PriceRecord[]): void {
    const first = prices[0];
    if (!first?.recurring) return;
    for (const p of prices) {
      if (p.currency !== first.currency) {
        throw invalidRequest('Currency and interval fields must match across all plans on this subscription.', { param: 'items' });
      }
      if (p.recurring?.interval !== first.recurring.interval || p.recurring.intervalCount !== first.recurring.intervalCount) {
        throw invalidRequest('Currency and interval fields must match across all plans on this subscription.', { param: 'items' });
      }
    }
  }

  private checkDefaultPaymentMethod(id: string, customer: CustomerRecord): string {
    const pm = this.resolvePaymentMethod(id, 'default_payment_method');
    if (pm.customer !== customer.id) throw notAttached(id, 'default_payment_method');
    return pm.id;
  }

  private hasPaymentMethod(sub: SubscriptionRecord, customer: CustomerRecord): PaymentMethodRecord | null {
    const id = sub.defaultPaymentMethod ?? customer.defaultPaymentMethod;
    return id ? (this.s.paymentMethods.get(id) ?? null) : null;
  }

  createSubscription(p: SubscriptionCreate): SubscriptionRecord {
    const customer = this.liveCustomer(p.customer, 'customer');
    this.assertClockReady(customer.clock);
    const now = this.s.now(customer.clock);
    if (p.items.length === 0) throw invalidRequest('Missing required param: items.', { param: 'items', code: 'parameter_missing' });
    const prices = p.items.map((item, i) => this.priceForItem(item, `items[${i}]`, now));
    const seen = new Set<string>();
    prices.forEach((price) => {
      if (seen.has(price.id)) throw invalidRequest(`Cannot add multiple subscription items with the same price: ${price.id}`, { param: 'items' });
      seen.add(price.id);
    });
    this.checkCompatible(prices);
    const quantities = p.items.map((item, i) => this.checkQuantity(prices[i] as PriceRecord, item.quantity, `items[${i}]`));
    const firstPrice = prices[0] as PriceRecord;
    const rec = firstPrice.recurring ?? { interval: 'month' as const, intervalCount: 1, trialPeriodDays: null };
    const currency = firstPrice.currency;
    if (p.currency !== undefined && p.currency.toLowerCase() !== currency) {
      throw invalidRequest('Currency and interval fields must match across all plans on this subscription.', { param: 'currency' });
    }
    const collectionMethod = p.collection_method ?? 'charge_automatically';
    if (collectionMethod === 'send_invoice' && p.days_until_due === undefined) {
      throw invalidRequest('Missing required param: days_until_due.', { param: 'days_until_due', code: 'parameter_missing' });
    }
    if (collectionMethod === 'charge_automatically' && p.days_until_due !== undefined) {
      throw invalidRequest('`days_until_due` can only be set when `collection_method` is `send_invoice`.', { param: 'days_until_due' });
    }
    const defaultPm = p.default_payment_method !== undefined ? this.checkDefaultPaymentMethod(p.default_payment_method, customer) : null;

    // Trial: explicit end, days, or the price's own trial.
    let trialEnd: number | null = null;
    if (p.trial_end !== undefined && p.trial_end !== 'now') {
      if (p.trial_end <= now) throw invalidRequest('Invalid timestamp: must be an integer Unix timestamp in the future.', { param: 'trial_end' });
      if (p.trial_end > now + MAX_TRIAL) throw invalidRequest('Invalid timestamp: can be no more than two years in the future.', { param: 'trial_end' });
      trialEnd = p.trial_end;
    } else if (p.trial_period_days !== undefined && p.trial_period_days > 0) {
      trialEnd = now + p.trial_period_days * DAY;
    } else if (p.trial_from_plan && rec.trialPeriodDays) {
      trialEnd = now + rec.trialPeriodDays * DAY;
    }
    if (p.billing_cycle_anchor !== undefined) {
      const limit = addIntervals(trialEnd ?? now, rec.interval, rec.intervalCount);
      if (p.billing_cycle_anchor < now || p.billing_cycle_anchor > limit) {
        throw invalidRequest('`billing_cycle_anchor` cannot be later than next natural billing date for plan.', { param: 'billing_cycle_anchor' });
      }
    }
    if (p.cancel_at !== undefined && p.cancel_at <= now) {
      throw invalidRequest('Invalid timestamp: must be an integer Unix timestamp in the future.', { param: 'cancel_at' });
    }
    const discountInputs: DiscountInput[] = [...(p.discounts ?? []), ...(p.coupon !== undefined ? [{ coupon: p.coupon }] : [])];
    const coupons = discountInputs.map((input, i) => {
      const c = this.couponForDiscount(input, p.coupon !== undefined && i === discountInputs.length - 1 ? 'coupon' : `discounts[${i}]`);
      this.checkCoupon(c, currency, now, `discounts[${i}]`);
      return c;
    });

    const paymentBehavior = p.payment_behavior ?? 'allow_incomplete';
    const pm = defaultPm ? this.s.paymentMethods.get(defaultPm) : customer.defaultPaymentMethod ? this.s.paymentMethods.get(customer.defaultPaymentMethod) : undefined;
    const chargesNow = trialEnd === null && collectionMethod === 'charge_automatically';
    if (chargesNow && paymentBehavior === 'error_if_incomplete') {
      // Stripe creates nothing when the first payment of an error_if_incomplete subscription fails.
      if (!pm) {
        throw invalidRequest('This customer has no attached payment source or default payment method. Please consider adding a default payment method.', {
          code: 'resource_missing',
        });
      }
      if (pm.behavior === 'decline_on_charge') throw cardError(GENERIC_DECLINE);
    }

    const anchor = p.billing_cycle_anchor ?? trialEnd ?? now;
    const periodEnd = trialEnd ?? (anchor > now ? anchor : addIntervals(now, rec.interval, rec.intervalCount));
    const sub = newSubscription(this.s, now, customer, currency, {
      status: trialEnd !== null ? 'trialing' : 'incomplete',
      collectionMethod,
      daysUntilDue: p.days_until_due ?? null,
      defaultPaymentMethod: defaultPm,
      description: p.description ?? null,
      metadata: applyMetadata(emptyMetadata(), p.metadata),
      billingCycleAnchor: anchor,
      startDate: now,
      trialStart: trialEnd !== null ? now : null,
      trialEnd,
      cancelAt: p.cancel_at ?? (p.cancel_at_period_end ? periodEnd : null),
      cancelAtPeriodEnd: p.cancel_at_period_end ?? false,
      missingPaymentMethodBehavior: p.trial_settings?.end_behavior.missing_payment_method ?? 'create_invoice',
      saveDefaultPaymentMethod: p.payment_settings?.save_default_payment_method ?? 'off',
    });
    if (sub.cancelAt !== null) {
      sub.canceledAt = now;
      sub.cancellationReason = 'cancellation_requested';
    }
    sub.items = prices.map((price, i) => {
      const item = newSubscriptionItem(this.s, now, sub.id, price, quantities[i] ?? null, now, periodEnd);
      const input = p.items[i];
      if (input?.metadata) item.metadata = applyMetadata(emptyMetadata(), input.metadata);
      this.s.subscriptionItems.insert(item);
      return item.id;
    });
    this.s.subscriptions.insert(sub);
    this.creating.add(sub.id);
    try {
      this.startSubscription(sub, customer, { coupons, trialEnd, anchor, periodEnd, rec, paymentBehavior, prorate: p.proration_behavior !== 'none', hasPm: pm !== undefined });
    } finally {
      this.creating.delete(sub.id);
    }
    this.emitSub('customer.subscription.created', sub);
    if (trialEnd !== null && trialEnd - now <= TRIAL_WILL_END_NOTICE) {
      // Trials shorter than the notice period announce their end right away.
      sub.trialWillEndSentFor = trialEnd;
      this.emitSub('customer.subscription.trial_will_end', sub);
    }
    this.scheduleSubscription(sub);
    return sub;
  }

  /** Discounts, the first invoice and its payment for a subscription being created. */
  private startSubscription(
    sub: SubscriptionRecord,
    customer: CustomerRecord,
    o: {
      coupons: CouponRecord[];
      trialEnd: number | null;
      anchor: number;
      periodEnd: number;
      rec: Pick<RecurringSpec, 'interval' | 'intervalCount'>;
      paymentBehavior: NonNullable<SubscriptionCreate['payment_behavior']>;
      prorate: boolean;
      hasPm: boolean;
    },
  ): void {
    const now = sub.created;
    const { trialEnd, anchor, periodEnd, rec } = o;
    sub.discounts = o.coupons.map((c) => this.createDiscount(c, customer, sub.id, now).id);

    const items = this.liveItems(sub);
    let lines: LineRecord[];
    if (trialEnd !== null) {
      lines = this.itemLines(sub, items, now, periodEnd, { trial: true });
    } else if (anchor > now) {
      // A future billing_cycle_anchor makes the first period short; it is prorated unless told not to.
      const cycleStart = addIntervals(anchor, rec.interval, -rec.intervalCount);
      const fraction = Math.min(1, (anchor - now) / Math.max(1, anchor - cycleStart));
      lines = o.prorate ? this.itemLines(sub, items, now, periodEnd, { fraction }) : [];
    } else {
      lines = this.itemLines(sub, items, now, periodEnd);
    }
    const inv = this.createInvoice(customer, {
      sub,
      billingReason: 'subscription_create',
      lines,
      currency: sub.currency,
      periodStart: now,
      periodEnd: now,
      autoAdvance: true,
    });
    sub.latestInvoice = inv.id;
    inv.automaticallyFinalizesAt = null;
    this.finalizeInvoice(inv);
    if (inv.status === 'open') {
      if (sub.collectionMethod === 'send_invoice') {
        // Sent invoices do not hold the subscription back.
        sub.status = trialEnd !== null ? 'trialing' : 'active';
      } else if (o.paymentBehavior !== 'default_incomplete' && o.hasPm) {
        this.attemptPayment(inv, { automatic: false });
      }
    }
    if (inv.status === 'paid' && sub.status === 'incomplete') sub.status = 'active';
    // The first invoice of an incomplete subscription is not retried: the customer must act within 23 hours.
    if (sub.status === 'incomplete' && inv.status === 'open') inv.nextPaymentAttempt = null;
  }

  updateSubscription(sub: SubscriptionRecord, p: SubscriptionUpdate): void {
    const customer = this.s.customers.require(sub.customer);
    this.assertClockReady(sub.clock);
    const now = this.s.now(sub.clock);
    if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
      const allowed = new Set(['metadata', 'cancellation_details']);
      const other = Object.keys(p).find((k) => !allowed.has(k));
      if (other !== undefined) {
        throw invalidRequest(`A canceled subscription can only update its cancellation_details and metadata.`, { param: other });
      }
    }
    if (p.cancel_at_period_end !== undefined && p.cancel_at !== undefined) {
      throw invalidRequest('You may only specify one of these parameters: cancel_at, cancel_at_period_end.', { param: 'cancel_at' });
    }
    const defaultPm = p.default_payment_method ? this.checkDefaultPaymentMethod(p.default_payment_method, customer) : undefined;
    const prorationBehavior = p.proration_behavior ?? 'create_prorations';
    const prorationDate = p.proration_date ?? now;

    // Validate item changes before touching anything, so a bad request changes nothing.
    const live = this.liveItems(sub);
    type Change = { item: SubscriptionItemRecord | null; price: PriceRecord; quantity: number | null; deleted: boolean; input: ItemUpdateInput };
    const changes: Change[] = (p.items ?? []).map((input, i) => {
      const param = `items[${i}]`;
      let item: SubscriptionItemRecord | null = null;
      if (input.id !== undefined) {
        item = live.find((x) => x.id === input.id) ?? null;
        if (!item) throw noSuch('subscription_item', input.id, `${param}[id]`);
      }
      const hasPrice = input.price !== undefined || input.plan !== undefined || input.price_data !== undefined;
      if (!item && !hasPrice) throw missingPriceParam(param);
      const price = hasPrice ? this.priceForItem(input, param, now) : this.s.prices.require((item as SubscriptionItemRecord).price);
      // A new price keeps the item's quantity unless one is given (metered prices have none).
      const kept = price.recurring?.usageType === 'metered' ? undefined : (item?.quantity ?? undefined);
      const quantity = input.deleted ? null : this.checkQuantity(price, input.quantity ?? kept, param);
      return { item, price, quantity, deleted: input.deleted ?? false, input };
    });
    const remaining = live.filter((x) => !changes.some((c) => c.item === x && c.deleted));
    const added = changes.filter((c) => !c.item && !c.deleted);
    if (p.items && remaining.length + added.length === 0) {
      throw invalidRequest('A subscription must have at least one active plan. To cancel a subscription, please use the cancel API endpoint.', { param: 'items' });
    }
    const finalPrices = [
      ...remaining.map((x) => changes.find((c) => c.item === x)?.price ?? this.s.prices.require(x.price)),
      ...added.map((c) => c.price),
    ];
    if (p.items) {
      this.checkCompatible(finalPrices);
      const seen = new Set<string>();
      for (const price of finalPrices) {
        if (seen.has(price.id)) throw invalidRequest(`Cannot add multiple subscription items with the same price: ${price.id}`, { param: 'items' });
        seen.add(price.id);
      }
    }
    const coupons = p.discounts
      ? p.discounts.map((input, i) => {
          const c = this.couponForDiscount(input, `discounts[${i}]`);
          this.checkCoupon(c, sub.currency, now, `discounts[${i}]`);
          return c;
        })
      : p.coupon
        ? [this.s.coupons.require(p.coupon, 'coupon')]
        : undefined;
    if (p.trial_end !== undefined && p.trial_end !== 'now' && p.trial_end <= now) {
      throw invalidRequest('Invalid timestamp: must be an integer Unix timestamp in the future.', { param: 'trial_end' });
    }
    if (p.pause_collection?.resumes_at !== undefined && p.pause_collection.resumes_at <= now) {
      throw invalidRequest('Invalid timestamp: must be an integer Unix timestamp in the future.', { param: 'pause_collection[resumes_at]' });
    }

    const oldPrice = live[0] ? this.s.prices.require(live[0].price) : undefined;
    const newFirst = finalPrices[0];
    const intervalChanged =
      p.items !== undefined &&
      oldPrice?.recurring !== null &&
      newFirst?.recurring !== null &&
      (oldPrice?.recurring?.interval !== newFirst?.recurring?.interval || oldPrice?.recurring?.intervalCount !== newFirst?.recurring?.intervalCount);
    const trialing = sub.status === 'trialing';
    const willInvoiceNow =
      !trialing &&
      ((intervalChanged && changes.length > 0) || p.billing_cycle_anchor === 'now' || (prorationBehavior === 'always_invoice' && changes.length > 0));
    if (willInvoiceNow && (p.payment_behavior ?? 'allow_incomplete') === 'error_if_incomplete' && sub.collectionMethod === 'charge_automatically') {
      const pm = defaultPm ? this.s.paymentMethods.get(defaultPm) : this.hasPaymentMethod(sub, customer);
      if (!pm || pm.behavior === 'decline_on_charge') throw cardError(GENERIC_DECLINE);
    }

    let immediateInvoiceLines: LineRecord[] | null = null;
    this.trackSubscription(sub, () => {
      if (p.metadata !== undefined) sub.metadata = applyMetadata(sub.metadata, p.metadata);
      if (p.description !== undefined) sub.description = p.description;
      if (defaultPm !== undefined) sub.defaultPaymentMethod = defaultPm;
      if (p.default_payment_method === null) sub.defaultPaymentMethod = null;
      if (p.collection_method !== undefined) sub.collectionMethod = p.collection_method;
      if (p.days_until_due !== undefined) sub.daysUntilDue = p.days_until_due;
      if (p.trial_settings) sub.missingPaymentMethodBehavior = p.trial_settings.end_behavior.missing_payment_method;
      if (p.payment_settings?.save_default_payment_method) sub.saveDefaultPaymentMethod = p.payment_settings.save_default_payment_method;
      if (p.cancellation_details) {
        if (p.cancellation_details.comment !== undefined) sub.cancellationComment = p.cancellation_details.comment;
        if (p.cancellation_details.feedback !== undefined) sub.cancellationFeedback = p.cancellation_details.feedback;
      }
      if (p.pause_collection !== undefined) {
        sub.pauseCollection = p.pause_collection === null ? null : { behavior: p.pause_collection.behavior, resumesAt: p.pause_collection.resumes_at ?? null };
      }
      if (coupons !== undefined) {
        for (const id of sub.discounts) {
          const d = this.s.discounts.get(id);
          if (d) this.endDiscount(d);
        }
        sub.discounts = coupons.map((c) => this.createDiscount(c, customer, sub.id, now).id);
      }
      if (p.discounts === null || p.coupon === null) {
        for (const id of sub.discounts) {
          const d = this.s.discounts.get(id);
          if (d) this.endDiscount(d);
        }
        sub.discounts = [];
      }

      // Item changes, with prorations for the unused and remaining time of the current period.
      if (changes.length > 0) {
        const period = this.currentPeriod(sub);
        const fraction = period.end > period.start ? Math.max(0, Math.min(1, (period.end - prorationDate) / (period.end - period.start))) : 0;
        const prorationLines: Array<{ amount: number; description: string; price: PriceRecord; quantity: number; item: SubscriptionItemRecord }> = [];
        for (const change of changes) {
          const item = change.item;
          if (item) {
            const oldItemPrice = this.s.prices.require(item.price);
            const oldAmount = this.itemAmount(oldItemPrice, item.quantity);
            if (!trialing && fraction > 0 && oldAmount !== 0 && (change.deleted || change.price.id !== item.price || change.quantity !== item.quantity)) {
              prorationLines.push({
                amount: -Math.round(oldAmount * fraction),
                description: `Unused time on ${item.quantity ?? 1} × ${this.productName(oldItemPrice)} after ${formatDate(prorationDate)}`,
                price: oldItemPrice,
                quantity: item.quantity ?? 1,
                item,
              });
            }
            if (change.deleted) {
              item.deleted = true;
              sub.items = sub.items.filter((id) => id !== item.id);
              continue;
            }
            const changed = change.price.id !== item.price || change.quantity !== item.quantity;
            item.price = change.price.id;
            item.quantity = change.quantity;
            if (change.input.metadata !== undefined) item.metadata = applyMetadata(item.metadata, change.input.metadata);
            const newAmount = this.itemAmount(change.price, change.quantity);
            if (!trialing && changed && fraction > 0 && newAmount !== 0) {
              prorationLines.push({
                amount: Math.round(newAmount * fraction),
                description: `Remaining time on ${change.quantity ?? 1} × ${this.productName(change.price)} after ${formatDate(prorationDate)}`,
                price: change.price,
                quantity: change.quantity ?? 1,
                item,
              });
            }
          } else if (!change.deleted) {
            const created = newSubscriptionItem(this.s, now, sub.id, change.price, change.quantity, period.start, period.end);
            if (change.input.metadata !== undefined) created.metadata = applyMetadata(emptyMetadata(), change.input.metadata);
            this.s.subscriptionItems.insert(created);
            sub.items = [...sub.items, created.id];
            const newAmount = this.itemAmount(change.price, change.quantity);
            if (!trialing && fraction > 0 && newAmount !== 0) {
              prorationLines.push({
                amount: Math.round(newAmount * fraction),
                description: `Remaining time on ${change.quantity ?? 1} × ${this.productName(change.price)} after ${formatDate(prorationDate)}`,
                price: change.price,
                quantity: change.quantity ?? 1,
                item: created,
              });
            }
          }
        }
        if (intervalChanged && !trialing) {
          // A new interval restarts the billing cycle now and bills the new period up front.
          const rec = newFirst?.recurring;
          if (rec) {
            const end = addIntervals(now, rec.interval, rec.intervalCount);
            for (const item of this.liveItems(sub)) {
              item.periodStart = now;
              item.periodEnd = end;
            }
            sub.billingCycleAnchor = now;
            immediateInvoiceLines = [
              ...prorationLines.filter((l) => l.amount < 0).map((l) => this.prorationLine(sub, l, period.end, prorationDate)),
              ...this.itemLines(sub, this.liveItems(sub), now, end),
            ];
          }
        } else if (prorationBehavior !== 'none' && prorationLines.length > 0) {
          for (const l of prorationLines) this.createProrationItem(sub, customer, l, prorationDate, period.end);
          if (prorationBehavior === 'always_invoice') immediateInvoiceLines = [];
        }
      }

      if (p.billing_cycle_anchor === 'now' && !intervalChanged && !trialing) {
        const first = this.liveItems(sub)[0];
        const rec = first ? this.s.prices.require(first.price).recurring : null;
        if (rec) {
          const period = this.currentPeriod(sub);
          const end = addIntervals(now, rec.interval, rec.intervalCount);
          const credit = prorationBehavior === 'none' ? [] : this.liveItems(sub).map((item) => {
            const price = this.s.prices.require(item.price);
            const fraction = (period.end - now) / Math.max(1, period.end - period.start);
            return this.prorationLine(sub, { amount: -Math.round(this.itemAmount(price, item.quantity) * fraction), description: `Unused time on ${item.quantity ?? 1} × ${this.productName(price)} after ${formatDate(now)}`, price, quantity: item.quantity ?? 1, item }, period.end, now);
          });
          for (const item of this.liveItems(sub)) {
            item.periodStart = now;
            item.periodEnd = end;
          }
          sub.billingCycleAnchor = now;
          immediateInvoiceLines = [...credit, ...this.itemLines(sub, this.liveItems(sub), now, end)];
        }
      }

      if (p.cancel_at_period_end !== undefined) {
        sub.cancelAtPeriodEnd = p.cancel_at_period_end;
        if (p.cancel_at_period_end) {
          sub.cancelAt = this.currentPeriod(sub).end;
          sub.canceledAt = now;
          sub.cancellationReason = 'cancellation_requested';
        } else {
          sub.cancelAt = null;
          sub.canceledAt = null;
          sub.cancellationReason = null;
        }
      }
      if (p.cancel_at !== undefined) {
        sub.cancelAt = p.cancel_at;
        sub.cancelAtPeriodEnd = false;
        sub.canceledAt = p.cancel_at === null ? null : now;
        sub.cancellationReason = p.cancel_at === null ? null : 'cancellation_requested';
      }
      if (p.trial_end !== undefined && p.trial_end !== 'now') {
        sub.trialEnd = p.trial_end;
        if (sub.status === 'trialing' || sub.trialStart === null) sub.trialStart = sub.trialStart ?? now;
        if (sub.status === 'active' && p.trial_end > now) sub.status = 'trialing';
        for (const item of this.liveItems(sub)) item.periodEnd = p.trial_end;
        sub.billingCycleAnchor = p.trial_end;
        sub.trialWillEndSentFor = null;
      }
    });

    if (p.trial_end === 'now' && sub.status === 'trialing') this.endTrial(sub, { immediate: true });
    if (immediateInvoiceLines !== null) {
      const period = this.currentPeriod(sub);
      const inv = this.createInvoice(customer, {
        sub,
        billingReason: 'subscription_update',
        lines: immediateInvoiceLines,
        currency: sub.currency,
        periodStart: period.start,
        periodEnd: now,
      });
      this.trackSubscription(sub, () => {
        sub.latestInvoice = inv.id;
      });
      this.finalizeInvoice(inv);
      if (inv.status === 'open' && inv.collectionMethod === 'charge_automatically') this.attemptPayment(inv, { automatic: false });
    }
    this.scheduleSubscription(sub);
  }

  private prorationLine(
    sub: SubscriptionRecord,
    l: { amount: number; description: string; price: PriceRecord; quantity: number; item: SubscriptionItemRecord },
    periodEnd: number,
    from: number,
  ): LineRecord {
    return this.line({
      amount: l.amount,
      currency: l.price.currency,
      description: l.description,
      periodStart: from,
      periodEnd,
      quantity: l.quantity,
      price: l.price.id,
      subscription: sub.id,
      subscriptionItem: l.item.id,
      proration: true,
    });
  }

  private createProrationItem(
    sub: SubscriptionRecord,
    customer: CustomerRecord,
    l: { amount: number; description: string; price: PriceRecord; quantity: number; item: SubscriptionItemRecord },
    from: number,
    periodEnd: number,
  ): InvoiceItemRecord {
    const ii: InvoiceItemRecord = {
      id: this.s.ids.next('ii'),
      created: this.s.now(customer.clock),
      seq: this.s.nextSeq(),
      customer: customer.id,
      subscription: sub.id,
      subscriptionItem: l.item.id,
      invoice: null,
      amount: l.amount,
      currency: l.price.currency,
      description: l.description,
      periodStart: from,
      periodEnd,
      price: l.price.id,
      quantity: l.quantity,
      unitAmountDecimal: String(Math.round((l.amount / Math.max(1, l.quantity)) * 1e12) / 1e12),
      proration: true,
      discountable: false,
      metadata: emptyMetadata(),
      deleted: false,
    };
    this.s.invoiceItems.insert(ii);
    if (this.s.recordEvents) this.s.emit('invoiceitem.created', customer.clock, renderInvoiceItem(ii));
    return ii;
  }

  /** DELETE /v1/subscriptions/:id: ends it now, optionally crediting unused time on a final invoice. */
  cancelSubscription(sub: SubscriptionRecord, p: SubscriptionCancel): void {
    if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
      throw invalidRequest(`A canceled subscription can only update its cancellation_details and metadata.`, {
        code: 'resource_missing',
      });
    }
    this.assertClockReady(sub.clock);
    const customer = this.s.customers.require(sub.customer);
    const now = this.s.now(sub.clock);
    if (p.prorate && sub.status !== 'trialing') {
      const period = this.currentPeriod(sub);
      const fraction = (period.end - now) / Math.max(1, period.end - period.start);
      for (const item of this.liveItems(sub)) {
        const price = this.s.prices.require(item.price);
        const amount = -Math.round(this.itemAmount(price, item.quantity) * fraction);
        if (amount !== 0) {
          this.createProrationItem(
            sub,
            customer,
            { amount, description: `Unused time on ${item.quantity ?? 1} × ${this.productName(price)} after ${formatDate(now)}`, price, quantity: item.quantity ?? 1, item },
            now,
            period.end,
          );
        }
      }
    }
    if (p.cancellation_details) {
      if (p.cancellation_details.comment !== undefined) sub.cancellationComment = p.cancellation_details.comment;
      if (p.cancellation_details.feedback !== undefined) sub.cancellationFeedback = p.cancellation_details.feedback;
    }
    this.cancelNow(sub, { reason: 'cancellation_requested' });
    if (p.invoice_now) {
      const period = this.currentPeriod(sub);
      const pending = this.pendingItemLines(customer.id, sub.id, false);
      if (pending.items.length > 0) {
        const inv = this.createInvoice(customer, { sub, billingReason: 'subscription_cycle', lines: [], currency: sub.currency, periodStart: period.start, periodEnd: now });
        this.finalizeInvoice(inv);
        if (inv.status === 'open' && inv.collectionMethod === 'charge_automatically') this.attemptPayment(inv, { automatic: false });
      }
    }
  }

  /** Ends a subscription now: `customer.subscription.deleted`, and its invoices stop collecting. */
  cancelNow(sub: SubscriptionRecord, opts: { reason: 'cancellation_requested' | 'payment_failed' | 'payment_disputed' }): void {
    const now = this.s.now(sub.clock);
    // A scheduled cancellation keeps the time it was requested; anything else is canceled now.
    const scheduled = (sub.cancelAtPeriodEnd || sub.cancelAt !== null) && sub.canceledAt !== null && opts.reason === 'cancellation_requested';
    sub.status = 'canceled';
    sub.endedAt = now;
    if (!scheduled) sub.canceledAt = now;
    sub.cancellationReason = opts.reason;
    sub.pauseCollection = null;
    for (const inv of this.s.invoices.where('subscription', sub.id)) {
      if (inv.status === 'draft' || inv.status === 'open') {
        inv.autoAdvance = false;
        inv.nextPaymentAttempt = null;
        inv.automaticallyFinalizesAt = null;
      }
    }
    this.emitSub('customer.subscription.deleted', sub);
  }

  private expireIncomplete(sub: SubscriptionRecord): void {
    const now = this.s.now(sub.clock);
    this.trackSubscription(sub, () => {
      sub.status = 'incomplete_expired';
      sub.canceledAt = now;
      sub.endedAt = now;
    });
    const inv = sub.latestInvoice ? this.s.invoices.get(sub.latestInvoice) : undefined;
    if (inv && inv.status === 'open') this.voidInvoice(inv);
  }

  /** POST /v1/subscriptions/:id/resume: a `paused` subscription starts a new period and bills it. */
  resumeSubscription(sub: SubscriptionRecord): void {
    if (sub.status !== 'paused') {
      throw invalidRequest('Only subscriptions with status `paused` can be resumed.', { param: 'subscription' });
    }
    this.assertClockReady(sub.clock);
    const customer = this.s.customers.require(sub.customer);
    const now = this.s.now(sub.clock);
    const items = this.liveItems(sub);
    const first = items[0];
    const rec = first ? this.s.prices.require(first.price).recurring : null;
    if (!rec) return;
    const end = addIntervals(now, rec.interval, rec.intervalCount);
    this.trackSubscription(sub, () => {
      for (const item of items) {
        item.periodStart = now;
        item.periodEnd = end;
      }
      sub.billingCycleAnchor = now;
      sub.status = 'active';
    });
    this.emitSub('customer.subscription.resumed', sub);
    const inv = this.createInvoice(customer, { sub, billingReason: 'subscription_update', lines: this.itemLines(sub, items, now, end), currency: sub.currency, periodStart: now, periodEnd: now });
    this.trackSubscription(sub, () => {
      sub.latestInvoice = inv.id;
    });
    this.finalizeInvoice(inv);
    if (inv.status === 'open' && inv.collectionMethod === 'charge_automatically') this.attemptPayment(inv, { automatic: false });
    this.scheduleSubscription(sub);
  }

  /** The trial is over: the first paid period starts and is invoiced (charged an hour later, like a renewal). */
  private endTrial(sub: SubscriptionRecord, opts: { immediate: boolean }): void {
    const customer = this.s.customers.require(sub.customer);
    const now = this.s.now(sub.clock);
    if (!this.hasPaymentMethod(sub, customer) && sub.collectionMethod === 'charge_automatically') {
      if (sub.missingPaymentMethodBehavior === 'cancel') {
        this.cancelNow(sub, { reason: 'cancellation_requested' });
        return;
      }
      if (sub.missingPaymentMethodBehavior === 'pause') {
        this.trackSubscription(sub, () => {
          sub.status = 'paused';
          sub.trialEnd = now;
        });
        this.emitSub('customer.subscription.paused', sub);
        return;
      }
    }
    const items = this.liveItems(sub);
    const first = items[0];
    const rec = first ? this.s.prices.require(first.price).recurring : null;
    if (!rec) return;
    const end = addIntervals(now, rec.interval, rec.intervalCount);
    const oldPeriodStart = first?.periodStart ?? now;
    this.trackSubscription(sub, () => {
      for (const item of items) {
        item.periodStart = now;
        item.periodEnd = end;
      }
      sub.billingCycleAnchor = now;
      sub.trialEnd = now;
      sub.status = 'active';
    });
    const inv = this.createInvoice(customer, {
      sub,
      billingReason: opts.immediate ? 'subscription_update' : 'subscription_cycle',
      lines: this.itemLines(sub, items, now, end),
      currency: sub.currency,
      periodStart: oldPeriodStart,
      periodEnd: now,
    });
    this.trackSubscription(sub, () => {
      sub.latestInvoice = inv.id;
    });
    if (opts.immediate || inv.amountDue === 0) {
      this.finalizeInvoice(inv);
      if (inv.status === 'open' && inv.collectionMethod === 'charge_automatically') this.attemptPayment(inv, { automatic: !opts.immediate });
    }
  }

  /** A new billing period: items move forward and the period is invoiced in advance. */
  private renew(sub: SubscriptionRecord): void {
    const customer = this.s.customers.require(sub.customer);
    const items = this.liveItems(sub);
    const first = items[0];
    if (!first) return;
    const price = this.s.prices.require(first.price);
    const rec = price.recurring;
    if (!rec) return;
    const oldStart = first.periodStart;
    const oldEnd = first.periodEnd;
    const cycleEnd = nextBoundary(sub.billingCycleAnchor, oldEnd, rec.interval, rec.intervalCount);
    // A cancel_at inside the coming period makes it the last, shorter one, billed pro rata.
    const newEnd = sub.cancelAt !== null && sub.cancelAt > oldEnd && sub.cancelAt < cycleEnd ? sub.cancelAt : cycleEnd;
    const fraction = newEnd < cycleEnd ? (newEnd - oldEnd) / (cycleEnd - oldEnd) : undefined;
    // Metered usage is billed in arrears for the period that just ended.
    const meteredLines = this.itemLines(
      sub,
      items.filter((i) => this.s.prices.require(i.price).recurring?.usageType === 'metered'),
      oldStart,
      oldEnd,
    );
    this.trackSubscription(sub, () => {
      for (const item of items) {
        item.periodStart = oldEnd;
        item.periodEnd = newEnd;
      }
    });
    const licensed = items.filter((i) => this.s.prices.require(i.price).recurring?.usageType !== 'metered');
    const pause = sub.pauseCollection;
    const inv = this.createInvoice(customer, {
      sub,
      billingReason: 'subscription_cycle',
      lines: [...this.itemLines(sub, licensed, oldEnd, newEnd, fraction !== undefined ? { fraction } : {}), ...meteredLines],
      currency: sub.currency,
      periodStart: oldStart,
      periodEnd: oldEnd,
      // Unpaid subscriptions keep invoicing, but leave the invoices in draft.
      autoAdvance: sub.status !== 'unpaid' && pause?.behavior !== 'keep_as_draft',
    });
    if (!inv.autoAdvance) {
      inv.automaticallyFinalizesAt = null;
      inv.nextPaymentAttempt = null;
    }
    this.trackSubscription(sub, () => {
      sub.latestInvoice = inv.id;
    });
    if (pause && pause.behavior !== 'keep_as_draft') {
      this.finalizeInvoice(inv, { autoAdvance: false });
      if (inv.status === 'open') {
        if (pause.behavior === 'void') this.voidInvoice(inv);
        else this.markUncollectible(inv, { automatic: true });
      }
    } else if (inv.autoAdvance && inv.total <= 0) {
      this.finalizeInvoice(inv);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Time: what is due when, and moving clocks.

  private nextSubscriptionWake(sub: SubscriptionRecord): number | null {
    const candidates: number[] = [];
    if (sub.pauseCollection?.resumesAt) candidates.push(sub.pauseCollection.resumesAt);
    switch (sub.status) {
      case 'canceled':
      case 'incomplete_expired':
      case 'paused':
        return null;
      case 'incomplete':
        return sub.created + this.s.billing.incompleteExpirySeconds;
      case 'trialing':
        if (sub.trialEnd !== null) {
          if (sub.trialWillEndSentFor !== sub.trialEnd) candidates.push(sub.trialEnd - TRIAL_WILL_END_NOTICE);
          candidates.push(sub.trialEnd);
        }
        break;
      default: {
        const items = this.liveItems(sub);
        if (items.length === 0) return null;
        const end = Math.min(...items.map((i) => i.periodEnd));
        candidates.push(sub.cancelAt !== null && sub.cancelAt < end ? sub.cancelAt : end);
        const days = this.s.billing.upcomingInvoiceDays;
        const start = Math.min(...items.map((i) => i.periodStart));
        if (sub.cancelAt === null && days > 0 && end - start > days * DAY && sub.upcomingSentFor !== end) candidates.push(end - days * DAY);
      }
    }
    return candidates.length > 0 ? Math.min(...candidates) : null;
  }

  scheduleSubscription(sub: SubscriptionRecord): void {
    const at = this.nextSubscriptionWake(sub);
    if (at !== null) this.s.schedule(sub.clock, at, sub.id);
  }

  scheduleInvoice(inv: InvoiceRecord): void {
    let at: number | null = null;
    if (inv.status === 'draft' && inv.autoAdvance && inv.automaticallyFinalizesAt !== null) at = inv.automaticallyFinalizesAt;
    else if (inv.status === 'open' && inv.collectionMethod === 'charge_automatically' && inv.nextPaymentAttempt !== null && inv.autoAdvance) {
      at = inv.nextPaymentAttempt;
    } else if (inv.status === 'open' && inv.collectionMethod === 'send_invoice' && inv.dueDate !== null) at = inv.dueDate;
    if (at !== null) this.s.schedule(inv.clock, at, inv.id);
  }

  /** Does whatever is due for one object at its clock's current time, then books its next wake-up. */
  wake(target: string): void {
    const now = (clock: ClockId) => this.s.now(clock);
    if (target.startsWith('sub_')) {
      const sub = this.s.subscriptions.get(target);
      if (!sub) return;
      const t = now(sub.clock);
      const due = this.nextSubscriptionWake(sub);
      if (due === null || due > t) {
        if (due !== null) this.s.schedule(sub.clock, due, sub.id);
        return;
      }
      this.wakeSubscription(sub, t);
      this.scheduleSubscription(sub);
      return;
    }
    if (target.startsWith('in_')) {
      const inv = this.s.invoices.get(target);
      if (!inv) return;
      this.wakeInvoice(inv, now(inv.clock));
    }
  }

  private wakeSubscription(sub: SubscriptionRecord, now: number): void {
    if (sub.pauseCollection?.resumesAt != null && sub.pauseCollection.resumesAt <= now) {
      this.trackSubscription(sub, () => {
        sub.pauseCollection = null;
      });
      return;
    }
    if (sub.status === 'incomplete') {
      if (now >= sub.created + this.s.billing.incompleteExpirySeconds) this.expireIncomplete(sub);
      return;
    }
    if (sub.status === 'trialing' && sub.trialEnd !== null) {
      if (sub.trialWillEndSentFor !== sub.trialEnd && now >= sub.trialEnd - TRIAL_WILL_END_NOTICE) {
        sub.trialWillEndSentFor = sub.trialEnd;
        this.emitSub('customer.subscription.trial_will_end', sub);
        return;
      }
      if (now >= sub.trialEnd) this.endTrial(sub, { immediate: false });
      return;
    }
    if (sub.status === 'active' || sub.status === 'past_due' || sub.status === 'unpaid') {
      const { end } = this.currentPeriod(sub);
      if (sub.cancelAt !== null && now >= sub.cancelAt) {
        this.cancelNow(sub, { reason: 'cancellation_requested' });
        return;
      }
      if (now >= end) {
        if (sub.cancelAtPeriodEnd) this.cancelNow(sub, { reason: 'cancellation_requested' });
        else this.renew(sub);
        return;
      }
      const days = this.s.billing.upcomingInvoiceDays;
      const start = this.currentPeriod(sub).start;
      if (sub.cancelAt === null && days > 0 && end - start > days * DAY && sub.upcomingSentFor !== end && now >= end - days * DAY) {
        sub.upcomingSentFor = end;
        const customer = this.s.customers.get(sub.customer);
        if (customer && this.s.recordEvents) this.s.emit('invoice.upcoming', sub.clock, this.previewInvoice(customer, sub));
      }
    }
  }

  private wakeInvoice(inv: InvoiceRecord, now: number): void {
    if (inv.status === 'draft' && inv.autoAdvance && inv.automaticallyFinalizesAt !== null) {
      if (now < inv.automaticallyFinalizesAt) return this.scheduleInvoice(inv);
      this.finalizeInvoice(inv);
      if (isOpen(inv) && inv.collectionMethod === 'charge_automatically') this.attemptPayment(inv, { automatic: true });
      return;
    }
    if (inv.status !== 'open') return;
    if (inv.collectionMethod === 'charge_automatically' && inv.autoAdvance && inv.nextPaymentAttempt !== null) {
      if (now < inv.nextPaymentAttempt) return this.scheduleInvoice(inv);
      this.attemptPayment(inv, { automatic: true });
      return;
    }
    if (inv.collectionMethod === 'send_invoice' && inv.dueDate !== null && now >= inv.dueDate) {
      this.emitInvoice('invoice.overdue', inv);
      this.setDelinquent(inv.customer, true);
      const sub = inv.subscription ? this.s.subscriptions.get(inv.subscription) : undefined;
      if (sub && sub.latestInvoice === inv.id && sub.status === 'active') {
        this.trackSubscription(sub, () => {
          sub.status = 'past_due';
        });
      }
    }
  }

  /** Runs every wake-up due on `clock` up to `until`, in time order, moving a test clock's time along. */
  runDue(clock: ClockId, until: number): void {
    for (;;) {
      const job = this.s.nextDue(clock, until);
      if (!job) break;
      if (clock !== null) {
        const c = this.s.testClocks.get(clock);
        if (!c) break;
        c.frozenTime = Math.max(c.frozenTime, job.at);
      }
      this.wake(job.target);
    }
    if (clock !== null) {
      const c = this.s.testClocks.get(clock);
      if (c) c.frozenTime = Math.max(c.frozenTime, until);
    }
  }

  /**
   * Stripe caps an advance at two intervals of the shortest subscription on the clock, so a test
   * cannot skip over billing cycles it never observed.
   */
  maxAdvance(clock: string, from: number): number | null {
    let limit: number | null = null;
    for (const customer of this.s.customers.where('clock', clock)) {
      for (const sub of this.s.subscriptions.where('customer', customer.id)) {
        if (sub.status === 'canceled' || sub.status === 'incomplete_expired') continue;
        for (const item of this.liveItems(sub)) {
          const rec = this.s.prices.get(item.price)?.recurring;
          if (!rec) continue;
          const l = addIntervals(from, rec.interval, 2 * rec.intervalCount);
          limit = limit === null ? l : Math.min(limit, l);
        }
      }
    }
    return limit;
  }
}

/** Re-reads the status after calls that change it (TypeScript keeps the narrowed type otherwise). */
function isOpen(inv: InvoiceRecord): boolean {
  return inv.status === 'open';
}

function notAttached(id: string, param: string) {
  return invalidRequest(
    `The customer does not have a payment method with the ID ${id}. The payment method must be attached to the customer.`,
    { param, code: 'resource_missing' },
  );
}

function missingPriceParam(param: string) {
  return invalidRequest(`Missing required param: ${param}[price].`, { param: `${param}[price]`, code: 'parameter_missing' });
}
