import type {
  CustomerSnapshot,
  DiscountSnapshot,
  PaymentSnapshot,
  SubscriptionSnapshot,
} from './billing-snapshot.js';
import type { CrmFieldName, CrmFieldNameMap, MRR_CHANGE_KINDS, PAYMENT_METHOD_STATUSES } from './crm-field-names.js';
import { CRM_FIELD_NAMES, SUBSCRIPTION_STATUS_PRIORITY } from './crm-field-names.js';
import { InvalidArgumentError } from './errors.js';
import { formatMoney, toMajorUnits } from './money.js';
import type { MrrByCurrency, MrrHistory, MrrOptions } from './mrr.js';
import { computeMrr, computeSubscriptionMrr, INITIAL_MRR_HISTORY, recordMrr } from './mrr.js';
import type { PaymentAggregates, PaymentAggregatesOptions } from './payment-aggregates.js';
import { applyPayment, createPaymentAggregates, lifetimeValue } from './payment-aggregates.js';
import { addCalendarMonths, assertTimestamp, SECONDS_PER_DAY, startOfMonthAfter, toIsoDate, toIsoDateTime } from './time.js';
import type { Timestamp } from './time.js';

/**
 * A customer's aggregated billing state, as a workflow keeps it, and its mapping to CRM field values.
 * Every function here is pure: the reducers return new objects (or the same one when nothing changed).
 */

export interface CustomerBillingState {
  customer: CustomerSnapshot;
  /** By subscription id; canceled subscriptions stay so churn and history remain explainable. */
  subscriptions: Readonly<Record<string, SubscriptionSnapshot>>;
  payments: PaymentAggregates;
  mrr: MrrHistory;
  /** Product names learnt from `product.*` events or lookups, for payloads that name products by id only. */
  productNames: Readonly<Record<string, string>>;
}

export function createCustomerBillingState(customer: CustomerSnapshot, options: PaymentAggregatesOptions = {}): CustomerBillingState {
  return { customer, subscriptions: {}, payments: createPaymentAggregates(options), mrr: INITIAL_MRR_HISTORY, productNames: {} };
}

export function withCustomer(state: CustomerBillingState, customer: CustomerSnapshot): CustomerBillingState {
  return { ...state, customer };
}

export function withSubscription(state: CustomerBillingState, subscription: SubscriptionSnapshot): CustomerBillingState {
  return { ...state, subscriptions: { ...state.subscriptions, [subscription.id]: subscription } };
}

export function withProductName(state: CustomerBillingState, productId: string, name: string): CustomerBillingState {
  if (state.productNames[productId] === name) return state;
  return { ...state, productNames: { ...state.productNames, [productId]: name } };
}

/** Folds a payment into the state's aggregates (idempotent, see applyPayment). */
export function withPayment(state: CustomerBillingState, payment: PaymentSnapshot): CustomerBillingState {
  const payments = applyPayment(state.payments, payment);
  return payments === state.payments ? state : { ...state, payments };
}

export type MrrSettings = Omit<MrrOptions, 'now' | 'customerDiscount'>;

const DEFAULT_MRR_SETTINGS: MrrSettings = { discounts: 'apply' };

/** Current MRR of the state's subscriptions, with the customer's discount inherited where Stripe would. */
export function stateMrr(state: CustomerBillingState, now: Timestamp, settings: MrrSettings = DEFAULT_MRR_SETTINGS): MrrByCurrency {
  return computeMrr(Object.values(state.subscriptions), { ...settings, now, customerDiscount: state.customer.discount });
}

/**
 * Recomputes MRR and records the movement, if any, at `at` (the Stripe event time). Returns the same state
 * when MRR did not change, so replays leave `lastChange` alone.
 */
export function withRecordedMrr(state: CustomerBillingState, at: Timestamp, settings: MrrSettings = DEFAULT_MRR_SETTINGS): CustomerBillingState {
  const mrr = recordMrr(state.mrr, stateMrr(state, at, settings), at);
  return mrr === state.mrr ? state : { ...state, mrr };
}

// ---------------------------------------------------------------------------------------------------------
// CRM field values
// ---------------------------------------------------------------------------------------------------------

export type PaymentMethodStatus = (typeof PAYMENT_METHOD_STATUSES)[number];
export type SubscriptionStatusValue = (typeof SUBSCRIPTION_STATUS_PRIORITY)[number] | 'none' | (string & Record<never, never>);

/**
 * Values per logical field, ready for a CRM adapter. Null means "clear the field". Money is a number in
 * major units; dates are `YYYY-MM-DD` strings; `synced_at` is an ISO 8601 UTC datetime string.
 */
export interface CrmFieldValues {
  customer_id: string;
  subscription_status: SubscriptionStatusValue;
  mrr: number;
  /** Upper-case ISO code of `mrr`, `ltv` and `last_mrr_change`; null when the customer has no currency yet. */
  currency: string | null;
  plan_name: string | null;
  billing_interval: string | null;
  next_renewal_date: string | null;
  trial_end_date: string | null;
  payment_method_status: PaymentMethodStatus;
  ltv: number;
  last_payment_date: string | null;
  /** In the payment's own currency (the same as `currency` except for multi-currency customers). */
  last_payment_amount: number | null;
  failed_payment_count: number;
  last_payment_failure: string | null;
  delinquent: boolean;
  customer_deleted: boolean;
  days_to_first_payment: number | null;
  discount: string | null;
  cancel_at_period_end: boolean;
  last_mrr_change: number | null;
  last_mrr_change_kind: (typeof MRR_CHANGE_KINDS)[number] | null;
  last_mrr_change_date: string | null;
  /** Only on the write that creates a record the matcher found no candidate for (never computed from Stripe). */
  needs_enrichment?: boolean;
  synced_at: string;
}

export type CrmFieldValue = CrmFieldValues[CrmFieldName];

export interface CrmFieldOptions {
  /** Evaluation time, Unix seconds (also written to `synced_at`). */
  readonly now: Timestamp;
  readonly mrr?: MrrSettings;
  /** A card expiring within this many days is `expiring`. Default 30. */
  readonly expiringWithinDays?: number;
}

function statusRank(status: string): number {
  const index = (SUBSCRIPTION_STATUS_PRIORITY as readonly string[]).indexOf(status);
  // Statuses Stripe may add later rank just above canceled: still a subscription, but not a known live one.
  return index >= 0 ? index : SUBSCRIPTION_STATUS_PRIORITY.length - 1.5;
}

/**
 * The subscription that speaks for the customer: best status by SUBSCRIPTION_STATUS_PRIORITY, then the
 * highest MRR, then the most recently created, then the smallest id (so the choice is deterministic).
 */
export function primarySubscription(
  subscriptions: readonly SubscriptionSnapshot[],
  options: MrrOptions,
): SubscriptionSnapshot | null {
  let best: { subscription: SubscriptionSnapshot; rank: number; mrr: number } | null = null;
  for (const subscription of subscriptions) {
    const candidate = { subscription, rank: statusRank(subscription.status), mrr: computeSubscriptionMrr(subscription, options).amount };
    if (
      !best ||
      candidate.rank < best.rank ||
      (candidate.rank === best.rank && candidate.mrr > best.mrr) ||
      (candidate.rank === best.rank && candidate.mrr === best.mrr && subscription.created > best.subscription.created) ||
      (candidate.rank === best.rank && candidate.mrr === best.mrr && subscription.created === best.subscription.created && subscription.id < best.subscription.id)
    ) {
      best = candidate;
    }
  }
  return best?.subscription ?? null;
}

const LIVE_STATUSES: ReadonlySet<string> = new Set(['active', 'past_due', 'trialing']);
const ENDED_STATUSES: ReadonlySet<string> = new Set(['canceled', 'incomplete_expired']);

/** When the subscription next renews (or its trial converts); null when it will not renew. */
export function nextRenewal(subscription: SubscriptionSnapshot): Timestamp | null {
  if (!LIVE_STATUSES.has(subscription.status) || subscription.cancelAtPeriodEnd) return null;
  let renewal: Timestamp | null;
  if (subscription.status === 'trialing' && subscription.trialEnd !== null) {
    renewal = subscription.trialEnd;
  } else {
    const ends = subscription.items.map((item) => item.currentPeriodEnd).filter((end): end is number => end !== null);
    renewal = ends.length > 0 ? Math.min(...ends) : null;
  }
  // A cancellation scheduled for or before the renewal means there will be no renewal.
  if (renewal !== null && subscription.cancelAt !== null && subscription.cancelAt <= renewal) return null;
  return renewal;
}

function intervalLabel(interval: string, count: number): string {
  return count === 1 ? interval : `${count} ${interval}s`;
}

function distinct(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function planName(subscription: SubscriptionSnapshot, productNames: Readonly<Record<string, string>>): string | null {
  const names = subscription.items.map(({ price }) =>
    price.productName ?? (price.productId !== null ? productNames[price.productId] : undefined) ?? price.nickname ?? price.productId ?? price.id,
  );
  return names.length > 0 ? distinct(names).join(', ') : null;
}

function billingInterval(subscription: SubscriptionSnapshot): string | null {
  const labels = subscription.items.flatMap(({ price }) => (price.recurring ? [intervalLabel(price.recurring.interval, price.recurring.intervalCount)] : []));
  return labels.length > 0 ? distinct(labels).join(', ') : null;
}

function trimPercent(value: number): string {
  return String(Math.round(value * 10_000) / 10_000);
}

function discountActive(discount: DiscountSnapshot, now: Timestamp): boolean {
  if (discount.start !== null && discount.start > now) return false;
  if (discount.duration !== 'repeating') return true;
  const end = discount.end
    ?? (discount.start !== null && discount.durationInMonths !== null ? addCalendarMonths(discount.start, discount.durationInMonths) : null);
  return end === null || end > now;
}

/** "20% off (repeating, 3 months)", "USD 10.00 off (once)", "25.5% off (forever)". */
export function describeDiscount(discount: DiscountSnapshot): string {
  let amount: string;
  if (discount.percentOff !== null) amount = `${trimPercent(discount.percentOff)}% off`;
  else if (discount.amountOff !== null && discount.currency !== null) amount = `${formatMoney(discount.amountOff, discount.currency)} off`;
  else return `coupon ${discount.couponId ?? discount.id}`;
  if (discount.duration === null) return amount;
  const months = discount.duration === 'repeating' && discount.durationInMonths !== null
    ? `, ${discount.durationInMonths} ${discount.durationInMonths === 1 ? 'month' : 'months'}`
    : '';
  return `${amount} (${discount.duration}${months})`;
}

function discountText(subscription: SubscriptionSnapshot | null, customerDiscount: DiscountSnapshot | null, now: Timestamp): string | null {
  const subscriptionLevel = subscription && subscription.discounts.length > 0 ? subscription.discounts : customerDiscount ? [customerDiscount] : [];
  const itemLevel = subscription ? subscription.items.flatMap((item) => item.discounts) : [];
  const seen = new Set<string>();
  const texts: string[] = [];
  for (const discount of [...itemLevel, ...subscriptionLevel]) {
    if (seen.has(discount.id) || !discountActive(discount, now)) continue;
    seen.add(discount.id);
    texts.push(describeDiscount(discount));
  }
  return texts.length > 0 ? distinct(texts).join(' + ') : null;
}

/**
 * valid / expiring / failed / missing for the payment method that the primary subscription (or else the
 * customer) would be charged with. `failed` covers an expired card and a failed attempt on that method that
 * no later successful payment has superseded.
 */
export function paymentMethodStatus(
  customer: CustomerSnapshot,
  subscription: SubscriptionSnapshot | null,
  payments: PaymentAggregates,
  now: Timestamp,
  expiringWithinDays = 30,
): PaymentMethodStatus {
  const methodId = subscription?.defaultPaymentMethodId ?? customer.defaultPaymentMethod?.id ?? null;
  if (methodId === null) return 'missing';
  const { lastFailure, lastPayment } = payments;
  if (
    lastFailure &&
    (lastPayment === null || lastFailure.at > lastPayment.at) &&
    (lastFailure.paymentMethodId === null || lastFailure.paymentMethodId === methodId)
  ) {
    return 'failed';
  }
  const details = customer.defaultPaymentMethod?.id === methodId ? customer.defaultPaymentMethod : null;
  if (details && details.expMonth !== null && details.expYear !== null) {
    const expiresAt = startOfMonthAfter(details.expYear, details.expMonth);
    if (now >= expiresAt) return 'failed';
    if (expiresAt - now <= expiringWithinDays * SECONDS_PER_DAY) return 'expiring';
  }
  return 'valid';
}

function pickCurrency(state: CustomerBillingState, primary: SubscriptionSnapshot | null, mrr: MrrByCurrency): string | null {
  const { customer, payments } = state;
  return customer.currency
    ?? primary?.currency
    ?? Object.keys(mrr)[0]
    ?? payments.lastPayment?.currency
    ?? Object.keys(payments.paidTotal)[0]
    ?? null;
}

function majorOrZero(amounts: MrrByCurrency, currency: string | null): number {
  return currency === null ? 0 : toMajorUnits(amounts[currency] ?? 0, currency);
}

function failureText(payments: PaymentAggregates): string | null {
  const { lastFailure, lastPayment } = payments;
  if (!lastFailure || (lastPayment !== null && lastPayment.at >= lastFailure.at)) return null;
  const parts = [lastFailure.code, lastFailure.message].filter((part): part is string => part !== null && part !== '');
  return parts.length > 0 ? parts.join(': ') : 'payment failed';
}

/** Maps the aggregated state to CRM field values at time `now`. */
export function computeCrmFields(state: CustomerBillingState, options: CrmFieldOptions): CrmFieldValues {
  const { now } = options;
  assertTimestamp(now, 'now');
  const expiringWithinDays = options.expiringWithinDays ?? 30;
  if (!Number.isFinite(expiringWithinDays) || expiringWithinDays < 0) throw new InvalidArgumentError('expiringWithinDays must be >= 0');
  const mrrOptions: MrrOptions = { ...(options.mrr ?? DEFAULT_MRR_SETTINGS), now, customerDiscount: state.customer.discount };
  const subscriptions = Object.values(state.subscriptions);
  const mrr = computeMrr(subscriptions, mrrOptions);
  const primary = primarySubscription(subscriptions, mrrOptions);
  const currency = pickCurrency(state, primary, mrr);
  const { payments, customer } = state;
  const lastChange = state.mrr.lastChange;
  const firstPaymentAt = payments.firstPaymentAt;

  return {
    customer_id: customer.id,
    subscription_status: primary?.status ?? 'none',
    mrr: majorOrZero(mrr, currency),
    currency: currency === null ? null : currency.toUpperCase(),
    plan_name: primary ? planName(primary, state.productNames) : null,
    billing_interval: primary ? billingInterval(primary) : null,
    next_renewal_date: primary ? mapNullable(nextRenewal(primary), toIsoDate) : null,
    trial_end_date: primary?.status === 'trialing' && primary.trialEnd !== null ? toIsoDate(primary.trialEnd) : null,
    payment_method_status: paymentMethodStatus(customer, primary, payments, now, expiringWithinDays),
    ltv: majorOrZero(lifetimeValue(payments), currency),
    last_payment_date: payments.lastPayment ? toIsoDate(payments.lastPayment.at) : null,
    last_payment_amount: payments.lastPayment ? toMajorUnits(payments.lastPayment.amount, payments.lastPayment.currency) : null,
    failed_payment_count: payments.failedPaymentCount,
    last_payment_failure: failureText(payments),
    delinquent: customer.delinquent,
    customer_deleted: customer.deleted,
    days_to_first_payment: firstPaymentAt !== null && customer.created !== null
      ? Math.max(0, Math.floor((firstPaymentAt - customer.created) / SECONDS_PER_DAY))
      : null,
    discount: discountText(primary, customer.discount, now),
    cancel_at_period_end: primary !== null && !ENDED_STATUSES.has(primary.status) && (primary.cancelAtPeriodEnd || primary.cancelAt !== null),
    last_mrr_change: lastChange && currency !== null ? mrrDelta(lastChange.previous, lastChange.next, currency) : null,
    last_mrr_change_kind: lastChange ? lastChange.kind : null,
    last_mrr_change_date: lastChange ? toIsoDate(lastChange.at) : null,
    synced_at: toIsoDateTime(now),
  };
}

function mapNullable<T, R>(value: T | null, fn: (value: T) => R): R | null {
  return value === null ? null : fn(value);
}

function mrrDelta(previous: MrrByCurrency, next: MrrByCurrency, currency: string): number {
  return toMajorUnits((next[currency] ?? 0) - (previous[currency] ?? 0), currency);
}

/**
 * Renames logical fields to provider properties, dropping fields the name map switched off.
 * Values stay typed (numbers, booleans, null); the adapter serialises them the way its API wants.
 */
export function toCrmProperties(values: CrmFieldValues, names: CrmFieldNameMap): Record<string, CrmFieldValue> {
  const result: Record<string, CrmFieldValue> = {};
  for (const field of CRM_FIELD_NAMES) {
    const name = names[field];
    // A field the values leave out (needs_enrichment, outside a creating write) is not written.
    if (name !== undefined && values[field] !== undefined) result[name] = values[field];
  }
  return result;
}

/** Fields whose value differs between two computations, e.g. to skip a CRM write when nothing changed. */
export function changedCrmFields(previous: CrmFieldValues | null, next: CrmFieldValues, ignore: readonly CrmFieldName[] = ['synced_at']): CrmFieldName[] {
  return CRM_FIELD_NAMES.filter((field) => !ignore.includes(field) && next[field] !== undefined && (previous === null || previous[field] !== next[field]));
}
