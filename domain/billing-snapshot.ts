import type Stripe from 'stripe';
import { normalizeCurrency } from './money.js';
import type { Timestamp } from './time.js';

/**
 * Compact snapshots of a customer's billing state, built from Stripe webhook payloads or API objects.
 *
 * They travel through Temporal history on every signal and continue-as-new, so they are small, plain JSON
 * (no Date, no bigint, no undefined: absent is `null`) and carry no personal data beyond what the CRM needs
 * (no addresses, phone numbers or billing details; card brand/last4/expiry only, which are not PCI data).
 *
 * Converters accept the current API version's shapes and, because a webhook endpoint may be pinned to an
 * older version, the pre-2025 shapes too: `current_period_*` on the subscription, `subscription.discount`,
 * `invoice.subscription`, and `discount.coupon` instead of `discount.source.coupon`.
 * All amounts are integers in the currency's minor units; all timestamps are Unix seconds.
 */

// ---------------------------------------------------------------------------------------------------------
// Snapshot types
// ---------------------------------------------------------------------------------------------------------

/** Statuses Stripe documents today; Stripe may add more, which the domain treats as non-revenue. */
export type KnownSubscriptionStatus =
  | 'active'
  | 'past_due'
  | 'trialing'
  | 'unpaid'
  | 'paused'
  | 'incomplete'
  | 'incomplete_expired'
  | 'canceled';

/** A Stripe status string; `KnownSubscriptionStatus` lists the ones with meaning here. */
export type SubscriptionStatus = KnownSubscriptionStatus | (string & Record<never, never>);

export type CouponDuration = 'once' | 'repeating' | 'forever';

/** A discount (an applied coupon) on a customer, subscription or subscription item. */
export interface DiscountSnapshot {
  /** Discount id (`di_...`). */
  id: string;
  /** Coupon id, or null when the payload only named the discount and no lookup resolved it. */
  couponId: string | null;
  /** Coupon's display name, e.g. "Launch 20%". */
  couponName: string | null;
  /** Percentage off (0-100, may have decimals such as 25.5), or null for an amount-off coupon. */
  percentOff: number | null;
  /** Amount off per invoice, minor units of `currency`, or null for a percent-off coupon. */
  amountOff: number | null;
  /** Currency of `amountOff`. */
  currency: string | null;
  /** Amount off in other currencies (`coupon.currency_options`), minor units; empty when none. */
  amountOffByCurrency: Record<string, number>;
  /**
   * How long the discount applies. Null means the coupon's terms are unknown: the payload carried only a
   * coupon or discount id (current API versions do not expand `discount.source.coupon` in webhooks) and no
   * lookup was given. Such a discount is never applied to MRR and is reported as unresolved.
   */
  duration: CouponDuration | null;
  /** Months a `repeating` coupon lasts. */
  durationInMonths: number | null;
  /** Products the coupon is restricted to (`coupon.applies_to.products`), or null for all products. */
  appliesToProducts: string[] | null;
  /** When the discount was applied; null when unknown. */
  start: Timestamp | null;
  /** When a `repeating` discount ends; null for `once`/`forever` or when unknown. */
  end: Timestamp | null;
}

/** A customer's default payment method, as far as the payload tells. */
export interface PaymentMethodSnapshot {
  /** `pm_...`, `card_...`, `src_...` or `ba_...`. */
  id: string;
  /** Payment method type (`card`, `sepa_debit`, ...), null when only the id is known. */
  type: string | null;
  /** Lowercase card brand (`visa`), null for non-cards or when unknown. */
  brand: string | null;
  last4: string | null;
  /** Card expiry month 1-12; null for payment methods that do not expire. */
  expMonth: number | null;
  expYear: number | null;
}

export interface CustomerSnapshot {
  /** `cus_...` */
  id: string;
  /** Used by the CRM to find or create the contact. */
  email: string | null;
  name: string | null;
  /** The customer's default billing currency, lowercase; null until the first invoice or subscription. */
  currency: string | null;
  /** Stripe's flag: the latest invoice or charge failed and is unpaid. */
  delinquent: boolean;
  /** When the customer was created; null when the payload was a bare deletion stub. */
  created: Timestamp | null;
  deleted: boolean;
  /** `invoice_settings.default_payment_method`, falling back to the legacy `default_source`. */
  defaultPaymentMethod: PaymentMethodSnapshot | null;
  /** Customer-level discount; subscriptions without discounts of their own inherit it. */
  discount: DiscountSnapshot | null;
  /** Stripe metadata (string values, at most 50 keys by Stripe's limits). */
  metadata: Record<string, string>;
}

export type RecurringInterval = 'day' | 'week' | 'month' | 'year';

/** One tier of a tiered price. Decimals are strings so sub-cent prices stay exact. */
export interface PriceTierSnapshot {
  /** Inclusive upper bound of the tier in units; null for the last ("inf") tier. */
  upTo: number | null;
  /** Per-unit amount in minor units as a decimal string, or null. */
  unitAmountDecimal: string | null;
  /** Flat amount for the whole tier in minor units as a decimal string, or null. */
  flatAmountDecimal: string | null;
}

export interface PriceSnapshot {
  /** `price_...` (or a legacy plan id). */
  id: string;
  productId: string | null;
  /** Product name when the product was expanded or looked up. */
  productName: string | null;
  nickname: string | null;
  /** Currency the amounts below are in (the subscription's currency when currency options were used). */
  currency: string;
  billingScheme: 'per_unit' | 'tiered';
  /** Per-unit amount in minor units when it is a whole number, else null (see `unitAmountDecimal`). */
  unitAmount: number | null;
  /** Exact per-unit amount in minor units as a decimal string (up to 12 decimals), or null. */
  unitAmountDecimal: string | null;
  tiersMode: 'graduated' | 'volume' | null;
  /** Tiers of a tiered price; null when the price is tiered but the payload did not include them. */
  tiers: PriceTierSnapshot[] | null;
  /** Bill per `divideBy` units, rounding the quotient up or down. */
  transformQuantity: { divideBy: number; round: 'up' | 'down' } | null;
  /** Null for one-time prices. */
  recurring: { interval: RecurringInterval; intervalCount: number; usageType: 'licensed' | 'metered' } | null;
}

export interface SubscriptionItemSnapshot {
  /** `si_...` */
  id: string;
  price: PriceSnapshot;
  /** Licensed quantity; 1 when Stripe omits it (metered items have none). */
  quantity: number;
  currentPeriodStart: Timestamp | null;
  currentPeriodEnd: Timestamp | null;
  /** Item-level discounts, applied before subscription-level ones. */
  discounts: DiscountSnapshot[];
}

export interface SubscriptionSnapshot {
  /** `sub_...` */
  id: string;
  customerId: string;
  status: SubscriptionStatus;
  created: Timestamp;
  startDate: Timestamp;
  currency: string;
  items: SubscriptionItemSnapshot[];
  /** False when Stripe paginated the items list (`has_more`): MRR from this snapshot is incomplete. */
  itemsComplete: boolean;
  /** Subscription-level discounts in Stripe's order; empty means the customer's discount is inherited. */
  discounts: DiscountSnapshot[];
  trialStart: Timestamp | null;
  trialEnd: Timestamp | null;
  cancelAtPeriodEnd: boolean;
  /** A scheduled cancellation time, or when a cancellation took effect. */
  cancelAt: Timestamp | null;
  canceledAt: Timestamp | null;
  endedAt: Timestamp | null;
  /** Payment collection paused on an otherwise running subscription. */
  pauseCollection: { behavior: string; resumesAt: Timestamp | null } | null;
  /** Overrides the customer's default payment method for this subscription's invoices. */
  defaultPaymentMethodId: string | null;
}

export type PaymentKind = 'invoice' | 'charge' | 'refund';

/**
 * Outcome normalised across kinds:
 * - invoice: paid → succeeded; open and attempted → failed; uncollectible → failed; void → canceled;
 *   draft or unattempted → pending.
 * - charge: succeeded and captured → succeeded; authorised but uncaptured → pending; failed → failed.
 * - refund: succeeded → succeeded; pending/requires_action → pending; failed → failed; canceled → canceled.
 */
export type PaymentOutcome = 'succeeded' | 'failed' | 'pending' | 'canceled';

export interface PaymentSnapshot {
  /** `in_...`, `ch_...`/`py_...` or `re_...`. */
  id: string;
  kind: PaymentKind;
  outcome: PaymentOutcome;
  /** Stripe's own status string, kept for diagnostics. */
  status: string | null;
  /**
   * Minor units. Invoice: `amount_paid` when paid, else `amount_remaining`. Charge: `amount_captured`
   * once captured, else `amount`. Refund: `amount`.
   */
  amount: number;
  currency: string;
  created: Timestamp;
  /** When money moved: invoice `status_transitions.paid_at`, else `created` for succeeded charges/refunds. */
  paidAt: Timestamp | null;
  /** Invoice payment attempts so far (`attempt_count`); 1 for charges; 0 for refunds. */
  attemptCount: number;
  failureCode: string | null;
  failureMessage: string | null;
  /** Charge's payment method id (to tell whether a failure concerns the current default). */
  paymentMethodId: string | null;
  /** Refund's charge. */
  chargeId: string | null;
  /** Invoice's subscription (`parent.subscription_details.subscription`). */
  subscriptionId: string | null;
}

// ---------------------------------------------------------------------------------------------------------
// Lookups: objects that the payload references by id only
// ---------------------------------------------------------------------------------------------------------

/**
 * Objects fetched separately (by an activity) or cached from other events, used to resolve ids in a payload.
 * Webhook payloads in current API versions name coupons, discounts and products by id only.
 */
export interface StripeLookups {
  readonly coupons?: Readonly<Record<string, Stripe.Coupon>>;
  readonly discounts?: Readonly<Record<string, Stripe.Discount>>;
  readonly products?: Readonly<Record<string, Pick<Stripe.Product, 'id' | 'name'>>>;
  readonly paymentMethods?: Readonly<Record<string, Stripe.PaymentMethod>>;
}

// Fields of older API versions still seen from pinned webhook endpoints.
type LegacyDiscount = { coupon?: string | Stripe.Coupon | null };
type LegacySubscription = {
  current_period_start?: number | null;
  current_period_end?: number | null;
  discount?: Stripe.Discount | null;
};
type LegacyInvoice = { subscription?: string | Stripe.Subscription | null };

export type StripeDiscountInput = string | ((Stripe.Discount | Stripe.DeletedDiscount) & LegacyDiscount);
export type StripeSubscriptionInput = Stripe.Subscription & LegacySubscription;
export type StripeInvoiceInput = Stripe.Invoice & LegacyInvoice;

// ---------------------------------------------------------------------------------------------------------
// Converters
// ---------------------------------------------------------------------------------------------------------

/**
 * Coupon ids these discounts name without their terms (a list's expansion stops four levels deep): what a
 * caller must look up and pass as `lookups.coupons` for MRR to apply the terms.
 */
export function unresolvedCouponIds(discounts: ReadonlyArray<StripeDiscountInput | null | undefined>): string[] {
  const ids = new Set<string>();
  for (const discount of discounts) {
    if (!discount || typeof discount === 'string' || discount.deleted === true) continue;
    const coupon = discount.source?.coupon ?? (discount as LegacyDiscount).coupon ?? null;
    if (typeof coupon === 'string') ids.add(coupon);
  }
  return [...ids];
}

function idOf(value: string | { id: string } | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : value.id;
}

/** Stripe decimals arrive as strings in webhooks and as `Stripe.Decimal` objects from the client. */
function decimalText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : null;
  if (typeof value === 'object' || typeof value === 'bigint') return String(value);
  return null;
}

function lowercaseOrNull(value: string | null | undefined): string | null {
  return value === null || value === undefined || value === '' ? null : normalizeCurrency(value);
}

function toDuration(value: string | null | undefined): CouponDuration | null {
  return value === 'once' || value === 'repeating' || value === 'forever' ? value : null;
}

interface CouponTerms {
  couponId: string | null;
  couponName: string | null;
  percentOff: number | null;
  amountOff: number | null;
  currency: string | null;
  amountOffByCurrency: Record<string, number>;
  duration: CouponDuration | null;
  durationInMonths: number | null;
  appliesToProducts: string[] | null;
}

function couponTerms(coupon: string | Stripe.Coupon | null | undefined, lookups: StripeLookups): CouponTerms {
  const couponId = idOf(coupon);
  const resolved = typeof coupon === 'object' && coupon !== null ? coupon : couponId ? lookups.coupons?.[couponId] : undefined;
  if (!resolved) {
    return {
      couponId, couponName: null, percentOff: null, amountOff: null, currency: null, amountOffByCurrency: {},
      duration: null, durationInMonths: null, appliesToProducts: null,
    };
  }
  const amountOffByCurrency: Record<string, number> = {};
  for (const [currency, option] of Object.entries(resolved.currency_options ?? {})) {
    amountOffByCurrency[normalizeCurrency(currency)] = option.amount_off;
  }
  return {
    couponId: resolved.id,
    couponName: resolved.name ?? null,
    percentOff: resolved.percent_off ?? null,
    amountOff: resolved.amount_off ?? null,
    currency: lowercaseOrNull(resolved.currency),
    amountOffByCurrency,
    duration: toDuration(resolved.duration),
    durationInMonths: resolved.duration_in_months ?? null,
    appliesToProducts: resolved.applies_to ? [...resolved.applies_to.products] : null,
  };
}

/**
 * Converts a discount (expanded or an id) into a snapshot. Returns null for a deleted discount, which no
 * longer applies. An id that no lookup resolves yields a snapshot with unknown terms (`duration: null`).
 */
export function discountSnapshotFromStripe(discount: StripeDiscountInput, lookups: StripeLookups = {}): DiscountSnapshot | null {
  const expanded = typeof discount === 'string' ? lookups.discounts?.[discount] : discount;
  if (!expanded) {
    return { id: discount as string, ...couponTerms(null, lookups), start: null, end: null };
  }
  if (expanded.deleted === true) return null;
  const legacy = expanded as LegacyDiscount;
  // `source.coupon` replaced `coupon` in 2025-09-30.clover; pinned endpoints still send the latter.
  const coupon = expanded.source?.coupon ?? legacy.coupon ?? null;
  return { id: expanded.id, ...couponTerms(coupon, lookups), start: expanded.start ?? null, end: expanded.end ?? null };
}

function discountList(discounts: readonly StripeDiscountInput[] | null | undefined, lookups: StripeLookups): DiscountSnapshot[] {
  const result: DiscountSnapshot[] = [];
  const seen = new Set<string>();
  for (const discount of discounts ?? []) {
    const snapshot = discountSnapshotFromStripe(discount, lookups);
    if (snapshot && !seen.has(snapshot.id)) {
      seen.add(snapshot.id);
      result.push(snapshot);
    }
  }
  return result;
}

type PaymentMethodInput = string | Stripe.PaymentMethod | Stripe.CustomerSource;

/** Converts a payment method, a legacy card/source/bank account, or a bare id. */
export function paymentMethodSnapshotFromStripe(method: PaymentMethodInput, lookups: StripeLookups = {}): PaymentMethodSnapshot {
  const resolved = typeof method === 'string' ? lookups.paymentMethods?.[method] : method;
  if (!resolved) return { id: method as string, type: null, brand: null, last4: null, expMonth: null, expYear: null };
  const card = (fields: { brand?: string | null; last4?: string | null; exp_month?: number | null; exp_year?: number | null } | null | undefined) => ({
    brand: fields?.brand ? fields.brand.toLowerCase() : null,
    last4: fields?.last4 ?? null,
    expMonth: fields?.exp_month ?? null,
    expYear: fields?.exp_year ?? null,
  });
  switch (resolved.object) {
    case 'payment_method': {
      if (resolved.type === 'card') return { id: resolved.id, type: 'card', ...card(resolved.card) };
      // Non-card methods (sepa_debit, us_bank_account, ...) keep their last4 under a key named after the type.
      const details = (resolved as unknown as Record<string, unknown>)[resolved.type];
      const last4 = typeof details === 'object' && details !== null && typeof (details as { last4?: unknown }).last4 === 'string'
        ? (details as { last4: string }).last4
        : null;
      return { id: resolved.id, type: resolved.type, brand: null, last4, expMonth: null, expYear: null };
    }
    case 'card':
      return { id: resolved.id, type: 'card', ...card(resolved) };
    case 'source':
      return { id: resolved.id, type: resolved.type, ...card(resolved.type === 'card' ? resolved.card : null) };
    case 'bank_account':
      return { id: resolved.id, type: 'bank_account', brand: null, last4: resolved.last4, expMonth: null, expYear: null };
    default:
      return { id: resolved.id, type: null, brand: null, last4: null, expMonth: null, expYear: null };
  }
}

export interface CustomerConversionOptions {
  /** Set for `customer.deleted` events, whose payload is the customer as it was before deletion. */
  readonly deleted?: boolean;
}

/** Converts a customer (or a deletion stub) into a snapshot. */
export function customerSnapshotFromStripe(
  customer: Stripe.Customer | Stripe.DeletedCustomer,
  lookups: StripeLookups = {},
  options: CustomerConversionOptions = {},
): CustomerSnapshot {
  if (customer.deleted === true) {
    return {
      id: customer.id, email: null, name: null, currency: null, delinquent: false, created: null, deleted: true,
      defaultPaymentMethod: null, discount: null, metadata: {},
    };
  }
  const defaultMethod = customer.invoice_settings?.default_payment_method ?? customer.default_source ?? null;
  return {
    id: customer.id,
    email: customer.email ?? null,
    name: customer.name ?? null,
    currency: lowercaseOrNull(customer.currency),
    delinquent: customer.delinquent === true,
    created: customer.created,
    deleted: options.deleted === true,
    defaultPaymentMethod: defaultMethod ? paymentMethodSnapshotFromStripe(defaultMethod, lookups) : null,
    discount: customer.discount ? discountSnapshotFromStripe(customer.discount, lookups) : null,
    metadata: { ...(customer.metadata ?? {}) },
  };
}

function toInterval(value: string | null | undefined): RecurringInterval | null {
  return value === 'day' || value === 'week' || value === 'month' || value === 'year' ? value : null;
}

function productRef(product: string | Stripe.Product | Stripe.DeletedProduct | null | undefined, lookups: StripeLookups) {
  const productId = idOf(product);
  let productName: string | null = null;
  if (typeof product === 'object' && product !== null && product.deleted !== true) productName = product.name;
  else if (productId) productName = lookups.products?.[productId]?.name ?? null;
  return { productId, productName };
}

function wholeNumber(decimal: string | null): number | null {
  if (decimal === null) return null;
  const value = Number(decimal);
  return Number.isSafeInteger(value) && /^-?\d+(\.0*)?$/.test(decimal) ? value : null;
}

type TierInput = Pick<Stripe.Price.Tier, 'up_to' | 'unit_amount' | 'unit_amount_decimal' | 'flat_amount' | 'flat_amount_decimal'>;

function tierSnapshots(tiers: readonly TierInput[] | null | undefined): PriceTierSnapshot[] | null {
  if (!tiers) return null;
  return tiers.map((tier) => ({
    upTo: tier.up_to ?? null,
    unitAmountDecimal: decimalText(tier.unit_amount_decimal) ?? decimalText(tier.unit_amount),
    flatAmountDecimal: decimalText(tier.flat_amount_decimal) ?? decimalText(tier.flat_amount),
  }));
}

export interface PriceConversionOptions {
  /**
   * The subscription's currency. A multi-currency price bills in it using `currency_options[currency]`;
   * when the payload lacks those options the amounts are unknown (null) rather than wrong.
   */
  readonly currency?: string;
}

/** Converts a price (or a legacy plan) into a snapshot. */
export function priceSnapshotFromStripe(
  price: Stripe.Price | Stripe.Plan,
  lookups: StripeLookups = {},
  options: PriceConversionOptions = {},
): PriceSnapshot {
  const { productId, productName } = productRef(price.product, lookups);
  const billingScheme = price.billing_scheme === 'tiered' ? 'tiered' : 'per_unit';
  const mode: string | null = price.tiers_mode;
  const tiersMode = mode === 'graduated' || mode === 'volume' ? mode : null;
  const baseCurrency = normalizeCurrency(price.currency);
  const wanted = options.currency ? normalizeCurrency(options.currency) : baseCurrency;

  let unitAmountDecimal: string | null;
  let tiers: PriceTierSnapshot[] | null;
  if (price.object === 'plan') {
    unitAmountDecimal = decimalText(price.amount_decimal) ?? decimalText(price.amount);
    tiers = tierSnapshots(price.tiers);
  } else {
    unitAmountDecimal = decimalText(price.unit_amount_decimal) ?? decimalText(price.unit_amount);
    tiers = tierSnapshots(price.tiers);
  }
  if (wanted !== baseCurrency) {
    const option = price.object === 'price'
      ? Object.entries(price.currency_options ?? {}).find(([code]) => normalizeCurrency(code) === wanted)?.[1]
      : undefined;
    unitAmountDecimal = option ? decimalText(option.unit_amount_decimal) ?? decimalText(option.unit_amount) : null;
    tiers = option ? tierSnapshots(option.tiers) : null;
  }

  let recurring: PriceSnapshot['recurring'] = null;
  if (price.object === 'plan') {
    const interval = toInterval(price.interval);
    if (interval) {
      recurring = { interval, intervalCount: price.interval_count, usageType: price.usage_type === 'metered' ? 'metered' : 'licensed' };
    }
  } else if (price.recurring) {
    const interval = toInterval(price.recurring.interval);
    if (interval) {
      recurring = {
        interval,
        intervalCount: price.recurring.interval_count,
        usageType: price.recurring.usage_type === 'metered' ? 'metered' : 'licensed',
      };
    }
  }

  const transform = price.object === 'plan' ? price.transform_usage : price.transform_quantity;
  return {
    id: price.id,
    productId,
    productName,
    nickname: price.nickname ?? null,
    currency: wanted,
    billingScheme,
    unitAmount: wholeNumber(unitAmountDecimal),
    unitAmountDecimal,
    tiersMode,
    tiers: billingScheme === 'tiered' ? tiers : null,
    transformQuantity: transform ? { divideBy: transform.divide_by, round: transform.round === 'up' ? 'up' : 'down' } : null,
    recurring,
  };
}

/** Converts a subscription into a snapshot. */
export function subscriptionSnapshotFromStripe(subscription: StripeSubscriptionInput, lookups: StripeLookups = {}): SubscriptionSnapshot {
  const currency = normalizeCurrency(subscription.currency);
  const items = (subscription.items?.data ?? []).map((item): SubscriptionItemSnapshot => {
    const legacyItem = item as Partial<Stripe.SubscriptionItem>;
    // Prices replaced plans in 2020, but very old pinned payloads may still carry only `plan`.
    const priceSource: Stripe.Price | Stripe.Plan = legacyItem.price ?? item.plan;
    return {
      id: item.id,
      price: priceSnapshotFromStripe(priceSource, lookups, { currency }),
      quantity: item.quantity ?? 1,
      // Current versions moved billing periods to items (2025-03-31.basil); older ones keep them on the subscription.
      currentPeriodStart: legacyItem.current_period_start ?? subscription.current_period_start ?? null,
      currentPeriodEnd: legacyItem.current_period_end ?? subscription.current_period_end ?? null,
      discounts: discountList(item.discounts, lookups),
    };
  });
  // `discounts` (2024+) supersedes the single `discount`, which basil removed.
  const discounts = subscription.discounts !== undefined && subscription.discounts !== null
    ? discountList(subscription.discounts, lookups)
    : discountList(subscription.discount ? [subscription.discount] : [], lookups);
  return {
    id: subscription.id,
    customerId: idOf(subscription.customer) ?? '',
    status: subscription.status,
    created: subscription.created,
    startDate: subscription.start_date ?? subscription.created,
    currency,
    items,
    itemsComplete: subscription.items?.has_more !== true,
    discounts,
    trialStart: subscription.trial_start ?? null,
    trialEnd: subscription.trial_end ?? null,
    cancelAtPeriodEnd: subscription.cancel_at_period_end === true,
    cancelAt: subscription.cancel_at ?? null,
    canceledAt: subscription.canceled_at ?? null,
    endedAt: subscription.ended_at ?? null,
    pauseCollection: subscription.pause_collection
      ? { behavior: subscription.pause_collection.behavior, resumesAt: subscription.pause_collection.resumes_at ?? null }
      : null,
    defaultPaymentMethodId: idOf(subscription.default_payment_method),
  };
}

/** The subscription an invoice belongs to, in either API shape. */
export function invoiceSubscriptionId(invoice: StripeInvoiceInput): string | null {
  return idOf(invoice.parent?.subscription_details?.subscription) ?? idOf(invoice.subscription);
}

function invoiceOutcome(invoice: Stripe.Invoice): PaymentOutcome {
  switch (invoice.status) {
    case 'paid':
      return 'succeeded';
    case 'void':
      return 'canceled';
    case 'uncollectible':
      return 'failed';
    case 'open':
      return invoice.attempted && invoice.attempt_count > 0 && invoice.amount_remaining > 0 ? 'failed' : 'pending';
    default:
      return 'pending';
  }
}

/** Converts an invoice. Its outcome says whether it was paid or its latest collection attempt failed. */
export function paymentFromInvoice(invoice: StripeInvoiceInput): PaymentSnapshot {
  const outcome = invoiceOutcome(invoice);
  const paidAt = outcome === 'succeeded' ? invoice.status_transitions?.paid_at ?? invoice.created : null;
  return {
    id: invoice.id,
    kind: 'invoice',
    outcome,
    status: invoice.status ?? null,
    amount: outcome === 'succeeded' ? invoice.amount_paid : invoice.amount_remaining,
    currency: normalizeCurrency(invoice.currency),
    created: invoice.created,
    paidAt,
    attemptCount: invoice.attempt_count ?? 0,
    failureCode: null,
    failureMessage: null,
    paymentMethodId: idOf(invoice.default_payment_method),
    chargeId: null,
    subscriptionId: invoiceSubscriptionId(invoice),
  };
}

function chargeOutcome(charge: Stripe.Charge): PaymentOutcome {
  if (charge.status === 'failed') return 'failed';
  if (charge.status === 'succeeded') return charge.captured ? 'succeeded' : 'pending';
  return 'pending';
}

/** Converts a charge. Authorised-but-uncaptured charges are pending: no money has moved yet. */
export function paymentFromCharge(charge: Stripe.Charge): PaymentSnapshot {
  const outcome = chargeOutcome(charge);
  return {
    id: charge.id,
    kind: 'charge',
    outcome,
    status: charge.status,
    amount: outcome === 'succeeded' ? charge.amount_captured : charge.amount,
    currency: normalizeCurrency(charge.currency),
    created: charge.created,
    paidAt: outcome === 'succeeded' ? charge.created : null,
    attemptCount: 1,
    failureCode: charge.failure_code ?? charge.outcome?.reason ?? null,
    failureMessage: charge.failure_message ?? null,
    paymentMethodId: charge.payment_method ?? null,
    chargeId: null,
    subscriptionId: null,
  };
}

function refundOutcome(status: string | null): PaymentOutcome {
  switch (status) {
    case 'succeeded':
      return 'succeeded';
    case 'failed':
      return 'failed';
    case 'canceled':
      return 'canceled';
    default:
      return 'pending';
  }
}

/** Converts a refund (from `refund.*` or `charge.refund.updated` events). */
export function paymentFromRefund(refund: Stripe.Refund): PaymentSnapshot {
  const outcome = refundOutcome(refund.status);
  return {
    id: refund.id,
    kind: 'refund',
    outcome,
    status: refund.status,
    amount: refund.amount,
    currency: normalizeCurrency(refund.currency),
    created: refund.created,
    paidAt: outcome === 'succeeded' ? refund.created : null,
    attemptCount: 0,
    failureCode: refund.failure_reason ?? null,
    failureMessage: null,
    paymentMethodId: idOf(refund.payment_method),
    chargeId: idOf(refund.charge),
    subscriptionId: null,
  };
}
