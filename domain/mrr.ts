import type { DiscountSnapshot, PriceSnapshot, SubscriptionItemSnapshot, SubscriptionSnapshot } from './billing-snapshot.js';
import { DuplicateSubscriptionError } from './errors.js';
import * as exact from './exact.js';
import type { Rational } from './exact.js';
import type { MoneyByCurrency } from './money.js';
import { moneyEquals } from './money.js';
import { addCalendarMonths, assertTimestamp } from './time.js';
import type { Timestamp } from './time.js';

/**
 * Monthly recurring revenue, following Stripe Billing's definition (docs.stripe.com/billing/subscriptions/
 * analytics/glossary and support.stripe.com/questions/billing-analytics):
 *
 * - Only `active` and `past_due` subscriptions count. Trialing, incomplete, unpaid, paused and canceled
 *   ones do not ("once a subscription is unpaid ... it does not count towards MRR").
 * - Each licensed item's price per billing period is normalised to a month: month ÷ interval_count,
 *   year ÷ (12 × count), week × 52/12 ÷ count, day × 365/12 ÷ count; then multiplied by quantity
 *   (after `transform_quantity`), with tiered prices evaluated at that quantity.
 * - Metered (usage-based) items, one-time prices and taxes are excluded (Stripe's MRR excludes them; tax is
 *   never part of a price's amount here because snapshots carry prices, not invoices).
 * - Discounts depend on `MrrOptions.discounts` (Stripe lets the account choose, support.stripe.com/questions/
 *   impact-of-discounts-and-coupons-on-monthly-recurring-revenue-mrr-in-billing):
 *     'apply'        forever coupons always, repeating coupons while active at `now`, once-coupons never
 *                    (they affect a single invoice, not the run rate);
 *     'forever_only' only forever coupons (Stripe's original definition);
 *     'ignore'       list price.
 *   Item discounts apply before subscription discounts; a subscription without discounts of its own
 *   inherits the customer's (Stripe's documented inheritance). Stacked discounts apply in order, each to
 *   what the previous left. An amount-off coupon comes off every invoice, so it is normalised by the
 *   invoices per month of the items it covers (shortest interval for mixed-interval subscriptions).
 *   Nothing goes below zero.
 * - Amounts are exact rationals until the end, then rounded half-up to integer minor units per currency.
 *   Currencies are never added together.
 */

export type MrrDiscountMode = 'apply' | 'forever_only' | 'ignore';

export interface MrrOptions {
  /** Evaluation time (Unix seconds): decides whether repeating coupons are still running. */
  readonly now: Timestamp;
  readonly discounts: MrrDiscountMode;
  /** The customer's own discount, inherited by subscriptions that have no discounts of their own. */
  readonly customerDiscount?: DiscountSnapshot | null;
  /**
   * When a scheduled cancellation (`cancel_at_period_end` or `cancel_at`) leaves MRR. Stripe's default counts
   * the subscription until it actually ends ('at_period_end'); 'immediately' is the conservative option.
   */
  readonly cancellations?: 'at_period_end' | 'immediately';
  /**
   * Subscriptions with `pause_collection` stay `active` in Stripe, so by default they count; 'exclude' drops
   * them while the pause lasts (Stripe warns that pausing collection can affect MRR).
   */
  readonly pausedCollection?: 'count' | 'exclude';
}

/** MRR per lowercase currency, integer minor units; currencies with zero MRR are omitted. */
export type MrrByCurrency = MoneyByCurrency;

export const MRR_STATUSES: ReadonlySet<string> = new Set(['active', 'past_due']);

export type SubscriptionExclusion = 'status' | 'scheduled_cancellation' | 'collection_paused';

/**
 * Why an item adds nothing: metered usage; a one-time price; `unpriced` when the payload lacks the amounts
 * (tiers not expanded, a currency option missing, an unknown interval).
 */
export type ItemExclusion = 'metered' | 'one_time' | 'unpriced';

export interface ItemMrr {
  itemId: string;
  priceId: string;
  /** Monthly-normalised list amount, minor units (rounded for display; totals are summed exactly). */
  grossAmount: number;
  /** After item and subscription discounts. */
  netAmount: number;
  excludedReason: ItemExclusion | null;
}

export interface SubscriptionMrr {
  subscriptionId: string;
  currency: string;
  /** False when the subscription contributes nothing because of its status, a scheduled end or a pause. */
  counted: boolean;
  excludedReason: SubscriptionExclusion | null;
  /** Monthly list amount of the counted items, before discounts (0 when not counted). */
  grossAmount: number;
  /** MRR after discounts, rounded half-up (0 when not counted). */
  amount: number;
  items: ItemMrr[];
  /** Discounts that reduced this subscription's MRR. */
  appliedDiscountIds: string[];
  /** Discounts whose coupon terms were unknown, so they could not be applied. */
  unresolvedDiscountIds: string[];
}

const TWELVE = exact.fromInteger(12);
const HUNDRED = exact.fromInteger(100);

/** Billing periods per month for a price's interval; null when the interval cannot be normalised. */
export function periodsPerMonth(interval: string, intervalCount: number): Rational | null {
  if (!Number.isSafeInteger(intervalCount) || intervalCount <= 0) return null;
  const count = BigInt(intervalCount);
  switch (interval) {
    case 'month':
      return exact.ratio(1n, count);
    case 'year':
      return exact.ratio(1n, 12n * count);
    case 'week':
      return exact.div(exact.ratio(52n, count), TWELVE);
    case 'day':
      return exact.div(exact.ratio(365n, count), TWELVE);
    default:
      return null;
  }
}

function billedQuantity(price: PriceSnapshot, quantity: number): bigint {
  const units = BigInt(Math.max(0, Math.trunc(quantity)));
  const transform = price.transformQuantity;
  if (!transform || transform.divideBy <= 0) return units;
  const quotient = exact.ratio(units, BigInt(Math.trunc(transform.divideBy)));
  return transform.round === 'up' ? exact.ceil(quotient) : exact.floor(quotient);
}

function decimalOrZero(value: string | null): Rational {
  return value === null ? exact.ZERO : exact.fromDecimal(value);
}

/** Amount for one billing period at `quantity`, or null when the payload does not carry the amounts. */
export function periodAmount(price: PriceSnapshot, quantity: number): Rational | null {
  const units = billedQuantity(price, quantity);
  if (price.billingScheme === 'per_unit') {
    if (price.unitAmountDecimal === null) return null;
    return exact.mul(exact.fromDecimal(price.unitAmountDecimal), exact.fromInteger(units));
  }
  if (!price.tiers || price.tiers.length === 0 || price.tiersMode === null) return null;
  // No seats, no revenue: neither mode charges a tier's flat fee at quantity 0 for MRR purposes.
  if (units === 0n) return exact.ZERO;
  if (price.tiersMode === 'volume') {
    const tier = price.tiers.find((candidate) => candidate.upTo === null || units <= BigInt(candidate.upTo));
    if (!tier) return null;
    return exact.add(exact.mul(decimalOrZero(tier.unitAmountDecimal), exact.fromInteger(units)), decimalOrZero(tier.flatAmountDecimal));
  }
  let total = exact.ZERO;
  let lower = 0n;
  for (const tier of price.tiers) {
    const upper = tier.upTo === null ? units : BigInt(tier.upTo);
    const inTier = (units < upper ? units : upper) - lower;
    if (inTier > 0n) {
      total = exact.add(total, exact.mul(decimalOrZero(tier.unitAmountDecimal), exact.fromInteger(inTier)));
      total = exact.add(total, decimalOrZero(tier.flatAmountDecimal));
    }
    if (tier.upTo === null || units <= upper) return total;
    lower = upper;
  }
  // Tiers ended before the quantity did: the price object is inconsistent, so do not guess.
  return null;
}

type DiscountEffect =
  | { kind: 'percent'; fraction: Rational }
  | { kind: 'amount'; perInvoice: Rational }
  | { kind: 'unresolved' }
  | { kind: 'none' };

function discountEffect(discount: DiscountSnapshot, mode: MrrDiscountMode, now: Timestamp, currency: string): DiscountEffect {
  if (mode === 'ignore') return { kind: 'none' };
  if (discount.duration === null) return { kind: 'unresolved' };
  if (discount.start !== null && discount.start > now) return { kind: 'none' };
  if (discount.duration === 'once') return { kind: 'none' };
  if (discount.duration === 'repeating') {
    if (mode !== 'apply') return { kind: 'none' };
    const end = discount.end
      ?? (discount.start !== null && discount.durationInMonths !== null ? addCalendarMonths(discount.start, discount.durationInMonths) : null);
    if (end === null) return { kind: 'unresolved' };
    if (end <= now) return { kind: 'none' };
  }
  if (discount.percentOff !== null) {
    const percent = exact.min(exact.max(exact.fromDecimal(discount.percentOff), exact.ZERO), HUNDRED);
    return { kind: 'percent', fraction: exact.div(percent, HUNDRED) };
  }
  const amountOff = discount.amountOffByCurrency[currency] ?? (discount.currency === currency ? discount.amountOff : null);
  if (amountOff === null || amountOff <= 0) return { kind: 'none' };
  return { kind: 'amount', perInvoice: exact.fromInteger(amountOff) };
}

function eligible(discount: DiscountSnapshot, item: SubscriptionItemSnapshot): boolean {
  return discount.appliesToProducts === null || (item.price.productId !== null && discount.appliesToProducts.includes(item.price.productId));
}

interface ItemWork {
  item: SubscriptionItemSnapshot;
  perMonth: Rational | null;
  gross: Rational;
  net: Rational;
  excludedReason: ItemExclusion | null;
}

interface ExactSubscriptionMrr {
  result: SubscriptionMrr;
  net: Rational;
}

function itemWork(item: SubscriptionItemSnapshot, currency: string): ItemWork {
  const base = { item, perMonth: null, gross: exact.ZERO, net: exact.ZERO };
  const recurring = item.price.recurring;
  if (!recurring) return { ...base, excludedReason: 'one_time' };
  if (recurring.usageType === 'metered') return { ...base, excludedReason: 'metered' };
  const perMonth = periodsPerMonth(recurring.interval, recurring.intervalCount);
  const amount = item.price.currency === currency ? periodAmount(item.price, item.quantity) : null;
  if (perMonth === null || amount === null) return { ...base, excludedReason: 'unpriced' };
  const gross = exact.mul(amount, perMonth);
  return { item, perMonth, gross, net: gross, excludedReason: null };
}

function exclusionOf(subscription: SubscriptionSnapshot, options: MrrOptions): SubscriptionExclusion | null {
  if (!MRR_STATUSES.has(subscription.status)) return 'status';
  if (options.cancellations === 'immediately' && (subscription.cancelAtPeriodEnd || subscription.cancelAt !== null)) {
    return 'scheduled_cancellation';
  }
  const pause = subscription.pauseCollection;
  if (options.pausedCollection === 'exclude' && pause && (pause.resumesAt === null || pause.resumesAt > options.now)) {
    return 'collection_paused';
  }
  return null;
}

function applyDiscount(
  discount: DiscountSnapshot,
  targets: ItemWork[],
  options: MrrOptions,
  currency: string,
  applied: string[],
  unresolved: string[],
): void {
  const covered = targets.filter((work) => work.excludedReason === null && work.perMonth !== null && eligible(discount, work.item));
  if (covered.length === 0) return;
  const effect = discountEffect(discount, options.discounts, options.now, currency);
  if (effect.kind === 'unresolved') {
    if (!unresolved.includes(discount.id)) unresolved.push(discount.id);
    return;
  }
  if (effect.kind === 'none') return;
  const subtotal = covered.reduce((sum, work) => exact.add(sum, work.net), exact.ZERO);
  if (!exact.isPositive(subtotal)) return;
  if (effect.kind === 'percent') {
    for (const work of covered) work.net = exact.sub(work.net, exact.mul(work.net, effect.fraction));
  } else {
    // Stripe takes the amount off each invoice; invoices arrive at the cadence of the shortest interval covered.
    const invoicesPerMonth = covered.reduce((acc, work) => exact.max(acc, work.perMonth ?? exact.ZERO), exact.ZERO);
    const reduction = exact.min(exact.mul(effect.perInvoice, invoicesPerMonth), subtotal);
    // Spread over the covered items in proportion to what they still bring in.
    for (const work of covered) work.net = exact.sub(work.net, exact.div(exact.mul(reduction, work.net), subtotal));
  }
  if (!applied.includes(discount.id)) applied.push(discount.id);
}

function round(value: Rational): number {
  return exact.toSafeNumber(exact.roundHalfAwayFromZero(value));
}

function computeExact(subscription: SubscriptionSnapshot, options: MrrOptions): ExactSubscriptionMrr {
  assertTimestamp(options.now, 'now');
  const currency = subscription.currency;
  const works = subscription.items.map((item) => itemWork(item, currency));
  const excludedReason = exclusionOf(subscription, options);
  const applied: string[] = [];
  const unresolved: string[] = [];

  if (excludedReason === null) {
    for (const work of works) {
      for (const discount of work.item.discounts) applyDiscount(discount, [work], options, currency, applied, unresolved);
    }
    const subscriptionDiscounts = subscription.discounts.length > 0
      ? subscription.discounts
      : options.customerDiscount ? [options.customerDiscount] : [];
    for (const discount of subscriptionDiscounts) applyDiscount(discount, works, options, currency, applied, unresolved);
  }

  const counted = excludedReason === null;
  const gross = counted ? works.reduce((sum, work) => exact.add(sum, work.gross), exact.ZERO) : exact.ZERO;
  const net = counted ? works.reduce((sum, work) => exact.add(sum, work.net), exact.ZERO) : exact.ZERO;
  return {
    net,
    result: {
      subscriptionId: subscription.id,
      currency,
      counted,
      excludedReason,
      grossAmount: round(gross),
      amount: round(net),
      items: works.map((work) => ({
        itemId: work.item.id,
        priceId: work.item.price.id,
        grossAmount: round(work.gross),
        netAmount: counted ? round(work.net) : 0,
        excludedReason: work.excludedReason,
      })),
      appliedDiscountIds: applied,
      unresolvedDiscountIds: unresolved,
    },
  };
}

/** MRR of one subscription with a per-item breakdown. */
export function computeSubscriptionMrr(subscription: SubscriptionSnapshot, options: MrrOptions): SubscriptionMrr {
  return computeExact(subscription, options).result;
}

/**
 * Total MRR of several subscriptions per currency. Sums are exact and rounded once per currency, so the
 * total can differ by under one minor unit per subscription from adding `computeSubscriptionMrr` amounts.
 */
export function computeMrr(subscriptions: readonly SubscriptionSnapshot[], options: MrrOptions): MrrByCurrency {
  const seen = new Set<string>();
  const totals = new Map<string, Rational>();
  for (const subscription of subscriptions) {
    if (seen.has(subscription.id)) throw new DuplicateSubscriptionError(`Subscription ${subscription.id} passed twice`);
    seen.add(subscription.id);
    const { net } = computeExact(subscription, options);
    if (exact.isZero(net)) continue;
    totals.set(subscription.currency, exact.add(totals.get(subscription.currency) ?? exact.ZERO, net));
  }
  const result: Record<string, number> = {};
  for (const [currency, total] of [...totals.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const rounded = round(total);
    if (rounded !== 0) result[currency] = rounded;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// MRR movements
// ---------------------------------------------------------------------------------------------------------

/** Stripe's MRR movement categories (Billing analytics "MRR growth"). */
export type MrrChangeKind = 'new' | 'expansion' | 'contraction' | 'churn' | 'reactivation';

export interface MrrChangeContext {
  /** Whether the customer had MRR above zero at any earlier point (a paying subscriber before). */
  readonly hasHadMrr: boolean;
}

function asByCurrency(value: number | MrrByCurrency): MrrByCurrency {
  return typeof value === 'number' ? { '': value } : value;
}

function hasPositive(value: MrrByCurrency): boolean {
  return Object.values(value).some((amount) => amount > 0);
}

/**
 * Classifies a move from `previous` to `next` MRR (numbers, or per-currency records):
 * from zero to positive is `new`, or `reactivation` when the customer had MRR before; positive to zero is
 * `churn`; otherwise `expansion` or `contraction`. Returns null when nothing changed, and also when
 * amounts moved in opposite directions in different currencies (a currency switch): without exchange
 * rates that is neither growth nor shrinkage.
 */
export function classifyMrrChange(
  previous: number | MrrByCurrency,
  next: number | MrrByCurrency,
  context: MrrChangeContext,
): MrrChangeKind | null {
  const before = asByCurrency(previous);
  const after = asByCurrency(next);
  const wasPaying = hasPositive(before);
  const isPaying = hasPositive(after);
  if (!wasPaying && !isPaying) return null;
  if (!wasPaying) return context.hasHadMrr ? 'reactivation' : 'new';
  if (!isPaying) return 'churn';
  let up = false;
  let down = false;
  for (const currency of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const delta = (after[currency] ?? 0) - (before[currency] ?? 0);
    if (delta > 0) up = true;
    if (delta < 0) down = true;
  }
  if (up && !down) return 'expansion';
  if (down && !up) return 'contraction';
  return null;
}

export interface MrrChange {
  kind: MrrChangeKind;
  /** When the change was observed (the Stripe event's `created`). */
  at: Timestamp;
  previous: MrrByCurrency;
  next: MrrByCurrency;
}

/** What a workflow keeps between events to classify MRR movements. */
export interface MrrHistory {
  /** MRR as last recorded. */
  current: MrrByCurrency;
  /** Whether MRR was ever above zero (separates `reactivation` from `new`). */
  hasHadMrr: boolean;
  lastChange: MrrChange | null;
}

export const INITIAL_MRR_HISTORY: MrrHistory = { current: {}, hasHadMrr: false, lastChange: null };

/**
 * Records a freshly computed MRR. Returns the same object when nothing changed, so replaying an event is a
 * no-op. A change that cannot be classified (see classifyMrrChange) updates `current` but not `lastChange`.
 */
export function recordMrr(history: MrrHistory, next: MrrByCurrency, at: Timestamp): MrrHistory {
  assertTimestamp(at, 'at');
  if (moneyEquals(history.current, next)) return history;
  const kind = classifyMrrChange(history.current, next, { hasHadMrr: history.hasHadMrr });
  const current = { ...next };
  return {
    current,
    hasHadMrr: history.hasHadMrr || hasPositive(next),
    lastChange: kind === null ? history.lastChange : { kind, at, previous: history.current, next: current },
  };
}
