import Stripe from 'stripe';
import type {
  ChargeRecord,
  CouponRecord,
  CustomerRecord,
  DiscountRecord,
  DisputeRecord,
  EventRecord,
  InvoiceItemRecord,
  InvoiceRecord,
  LineRecord,
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
import { API_VERSION, type StripeState } from './state.js';

/**
 * Records → API objects, typed with the stripe package's own interfaces so the compiler checks every
 * field against the API version stripe-node speaks. References are ids; expansion happens on the way out.
 */

const decimal = (s: string): Stripe.Decimal => Stripe.Decimal.from(s);

export function list<T>(data: T[], url: string, hasMore = false): Stripe.ApiList<T> {
  return { object: 'list', data, has_more: hasMore, url };
}

export function renderCustomer(state: StripeState, r: CustomerRecord): Stripe.Customer | Stripe.DeletedCustomer {
  if (r.deleted) return { id: r.id, object: 'customer', deleted: true };
  const discount = r.discount ? state.discounts.get(r.discount) : undefined;
  return {
    id: r.id,
    object: 'customer',
    address: r.address,
    balance: r.balance,
    created: r.created,
    currency: r.currency,
    customer_account: null,
    default_source: null,
    delinquent: r.delinquent,
    description: r.description,
    discount: discount && !discount.ended ? renderDiscount(state, discount) : null,
    email: r.email,
    invoice_prefix: r.invoicePrefix,
    invoice_settings: {
      custom_fields: r.invoiceCustomFields,
      default_payment_method: r.defaultPaymentMethod,
      footer: r.invoiceFooter,
      rendering_options: null,
    },
    livemode: false,
    metadata: r.metadata,
    name: r.name,
    next_invoice_sequence: r.nextInvoiceSequence,
    phone: r.phone,
    preferred_locales: r.preferredLocales,
    shipping: r.shipping,
    tax_exempt: r.taxExempt,
    test_clock: r.clock,
    ...(r.businessName !== null ? { business_name: r.businessName } : {}),
    ...(r.individualName !== null ? { individual_name: r.individualName } : {}),
  };
}

export function renderProduct(r: ProductRecord): Stripe.Product | Stripe.DeletedProduct {
  if (r.deleted) return { id: r.id, object: 'product', deleted: true };
  return {
    id: r.id,
    object: 'product',
    active: r.active,
    created: r.created,
    default_price: r.defaultPrice,
    description: r.description,
    images: r.images,
    livemode: false,
    marketing_features: r.marketingFeatures,
    metadata: r.metadata,
    name: r.name,
    package_dimensions: null,
    shippable: null,
    statement_descriptor: r.statementDescriptor,
    tax_code: r.taxCode,
    tax_details: null,
    type: 'service',
    unit_label: r.unitLabel,
    updated: r.updated,
    url: r.url,
  };
}

export function renderPrice(r: PriceRecord): Stripe.Price {
  return {
    id: r.id,
    object: 'price',
    active: r.active,
    billing_scheme: 'per_unit',
    created: r.created,
    currency: r.currency,
    custom_unit_amount: null,
    livemode: false,
    lookup_key: r.lookupKey,
    metadata: r.metadata,
    nickname: r.nickname,
    product: r.product,
    recurring: r.recurring
      ? {
          interval: r.recurring.interval,
          interval_count: r.recurring.intervalCount,
          meter: r.recurring.meter,
          trial_period_days: r.recurring.trialPeriodDays,
          usage_type: r.recurring.usageType,
        }
      : null,
    tax_behavior: r.taxBehavior,
    tiers_mode: null,
    transform_quantity: null,
    type: r.recurring ? 'recurring' : 'one_time',
    unit_amount: r.unitAmount,
    unit_amount_decimal: decimal(r.unitAmountDecimal),
  };
}

/** The legacy `plan` view of a recurring price that subscription items still carry. */
export function renderPlan(r: PriceRecord): Stripe.Plan {
  const recurring = r.recurring ?? { interval: 'month', intervalCount: 1, usageType: 'licensed', meter: null, trialPeriodDays: null };
  return {
    id: r.id,
    object: 'plan',
    active: r.active,
    amount: r.unitAmount,
    amount_decimal: decimal(r.unitAmountDecimal),
    billing_scheme: 'per_unit',
    created: r.created,
    currency: r.currency,
    interval: recurring.interval,
    interval_count: recurring.intervalCount,
    livemode: false,
    metadata: r.metadata,
    meter: recurring.meter,
    nickname: r.nickname,
    product: r.product,
    tiers_mode: null,
    transform_usage: null,
    trial_period_days: recurring.trialPeriodDays,
    usage_type: recurring.usageType,
  };
}

export function renderCoupon(r: CouponRecord, now: number): Stripe.Coupon | Stripe.DeletedCoupon {
  if (r.deleted) return { id: r.id, object: 'coupon', deleted: true };
  return {
    id: r.id,
    object: 'coupon',
    amount_off: r.amountOff,
    created: r.created,
    currency: r.currency,
    duration: r.duration,
    duration_in_months: r.durationInMonths,
    livemode: false,
    max_redemptions: r.maxRedemptions,
    metadata: r.metadata,
    name: r.name,
    percent_off: r.percentOff,
    redeem_by: r.redeemBy,
    times_redeemed: r.timesRedeemed,
    valid: couponValid(r, now),
  };
}

export function couponValid(r: CouponRecord, now: number): boolean {
  if (r.deleted) return false;
  if (r.maxRedemptions !== null && r.timesRedeemed >= r.maxRedemptions) return false;
  if (r.redeemBy !== null && now > r.redeemBy) return false;
  return true;
}

export function renderDiscount(_state: StripeState, r: DiscountRecord): Stripe.Discount {
  return {
    id: r.id,
    object: 'discount',
    checkout_session: null,
    customer: r.customer,
    customer_account: null,
    end: r.end,
    invoice: r.invoice,
    invoice_item: null,
    promotion_code: null,
    source: { coupon: r.coupon, type: 'coupon' },
    start: r.start,
    subscription: r.subscription,
    subscription_item: null,
  };
}

export function renderDeletedDiscount(r: DiscountRecord): Stripe.DeletedDiscount {
  return {
    id: r.id,
    object: 'discount',
    checkout_session: null,
    customer: r.customer,
    customer_account: null,
    deleted: true,
    invoice: r.invoice,
    invoice_item: null,
    promotion_code: null,
    source: { coupon: r.coupon, type: 'coupon' },
    start: r.start,
    subscription: r.subscription,
    subscription_item: null,
  };
}

export function renderPaymentMethod(r: PaymentMethodRecord): Stripe.PaymentMethod {
  return {
    id: r.id,
    object: 'payment_method',
    allow_redisplay: r.allowRedisplay,
    billing_details: r.billingDetails,
    card: {
      brand: r.card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
      country: r.card.country,
      display_brand: r.card.brand,
      exp_month: r.card.expMonth,
      exp_year: r.card.expYear,
      fingerprint: r.card.fingerprint,
      funding: r.card.funding,
      generated_from: null,
      last4: r.card.last4,
      networks: { available: [r.card.brand], preferred: null },
      regulated_status: 'unregulated',
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created: r.created,
    customer: r.customer,
    customer_account: null,
    livemode: false,
    metadata: r.metadata,
    type: 'card',
  };
}

export function renderSubscriptionItem(state: StripeState, r: SubscriptionItemRecord): Stripe.SubscriptionItem {
  const price = state.prices.require(r.price);
  const out: Stripe.SubscriptionItem = {
    id: r.id,
    object: 'subscription_item',
    billing_thresholds: null,
    created: r.created,
    current_period_end: r.periodEnd,
    current_period_start: r.periodStart,
    current_trial: null,
    discounts: [],
    metadata: r.metadata,
    plan: renderPlan(price),
    price: renderPrice(price),
    subscription: r.subscription,
    tax_rates: [],
  };
  // Metered items have no quantity in the API.
  if (r.quantity !== null) out.quantity = r.quantity;
  return out;
}

export function renderSubscription(state: StripeState, r: SubscriptionRecord): Stripe.Subscription {
  const items = r.items.map((id) => renderSubscriptionItem(state, state.subscriptionItems.require(id)));
  return {
    id: r.id,
    object: 'subscription',
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: r.billingCycleAnchor,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: 'classic' },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: r.cancelAt,
    cancel_at_period_end: r.cancelAtPeriodEnd,
    canceled_at: r.canceledAt,
    cancellation_details: {
      comment: r.cancellationComment,
      feedback: r.cancellationFeedback,
      feedback_option: null,
      reason: r.cancellationReason,
    },
    collection_method: r.collectionMethod,
    created: r.created,
    currency: r.currency,
    customer: r.customer,
    customer_account: null,
    days_until_due: r.daysUntilDue,
    default_payment_method: r.defaultPaymentMethod,
    default_source: null,
    default_tax_rates: [],
    description: r.description,
    discounts: r.discounts.filter((id) => !state.discounts.get(id)?.ended),
    ended_at: r.endedAt,
    invoice_settings: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: { type: 'self' } },
    items: list(items, `/v1/subscription_items?subscription=${r.id}`),
    latest_invoice: r.latestInvoice,
    livemode: false,
    managed_payments: null,
    metadata: r.metadata,
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: r.pauseCollection ? { behavior: r.pauseCollection.behavior, resumes_at: r.pauseCollection.resumesAt } : null,
    payment_settings: {
      payment_method_options: null,
      payment_method_types: null,
      save_default_payment_method: r.saveDefaultPaymentMethod,
    },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: r.startDate,
    status: r.status,
    test_clock: r.clock,
    transfer_data: null,
    trial_end: r.trialEnd,
    trial_settings: { end_behavior: { billing_cycle_anchor: null, missing_payment_method: r.missingPaymentMethodBehavior } },
    trial_start: r.trialStart,
  };
}

export function renderLine(invoiceId: string | null, l: LineRecord): Stripe.InvoiceLineItem {
  const proration = l.proration;
  const parent: Stripe.InvoiceLineItem.Parent =
    l.subscriptionItem !== null
      ? {
          type: 'subscription_item_details',
          invoice_item_details: null,
          subscription_item_details: {
            invoice_item: l.invoiceItem,
            proration,
            proration_details: { credited_items: null },
            subscription: l.subscription,
            subscription_item: l.subscriptionItem,
          },
        }
      : {
          type: 'invoice_item_details',
          subscription_item_details: null,
          invoice_item_details: {
            invoice_item: l.invoiceItem ?? '',
            proration,
            proration_details: { credited_items: null },
            subscription: l.subscription,
          },
        };
  const unit = l.quantity && l.quantity !== 0 ? String(Math.round((l.amount / l.quantity) * 1e12) / 1e12) : String(l.amount);
  return {
    id: l.id,
    object: 'line_item',
    amount: l.amount,
    currency: l.currency,
    description: l.description,
    discount_amounts: l.discountAmounts,
    discountable: l.discountable,
    discounts: [],
    invoice: invoiceId,
    livemode: false,
    metadata: l.metadata,
    parent,
    period: { end: l.periodEnd, start: l.periodStart },
    pretax_credit_amounts: l.discountAmounts.map((d) => ({ amount: d.amount, discount: d.discount, type: 'discount' })),
    pricing: {
      type: 'price_details',
      ...(l.price !== null ? { price_details: { price: l.price, product: '' } } : {}),
      unit_amount_decimal: decimal(unit.replace(/^-/, '')),
    },
    quantity: l.quantity,
    quantity_decimal: l.quantity === null ? null : decimal(String(l.quantity)),
    subscription: l.subscription,
    subtotal: l.amount,
    taxes: [],
  };
}

/** Lines shown inline on an invoice; the rest are paged through `/v1/invoices/:id/lines`. */
export const INLINE_LINES = 10;

export function invoiceAmountRemaining(r: InvoiceRecord): number {
  if (r.status === 'paid') return 0;
  return Math.max(0, r.amountDue - r.amountPaid);
}

export function renderInvoice(state: StripeState, r: InvoiceRecord, opts: { preview?: boolean } = {}): Stripe.Invoice {
  const lines = r.lines.map((l) => {
    const rendered = renderLine(opts.preview ? null : r.id, l);
    if (rendered.pricing?.price_details && l.price) {
      rendered.pricing.price_details.product = state.prices.get(l.price)?.product ?? '';
    }
    return rendered;
  });
  const finalized = r.finalizedAt !== null;
  const hosted = `https://invoice.stripe.com/i/${state.accountId}/test_${r.id.slice(3)}`;
  return {
    id: r.id,
    object: 'invoice',
    account_country: 'US',
    account_name: 'Stripe Sandbox',
    account_tax_ids: null,
    amount_due: r.amountDue,
    amount_overpaid: 0,
    amount_paid: r.amountPaid,
    amount_remaining: invoiceAmountRemaining(r),
    amount_shipping: 0,
    application: null,
    attempt_count: r.attemptCount,
    attempted: r.attempted,
    auto_advance: r.autoAdvance,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: r.status === 'draft' ? r.automaticallyFinalizesAt : null,
    billing_reason: r.billingReason,
    collection_method: r.collectionMethod,
    created: r.created,
    currency: r.currency,
    custom_fields: null,
    customer: r.customer,
    customer_account: null,
    customer_address: r.customerAddress,
    customer_email: r.customerEmail,
    customer_name: r.customerName,
    customer_phone: r.customerPhone,
    customer_shipping: null,
    customer_tax_exempt: 'none',
    customer_tax_ids: [],
    default_payment_method: r.defaultPaymentMethod,
    default_source: null,
    default_tax_rates: [],
    description: r.description,
    discounts: r.discounts,
    due_date: r.dueDate,
    effective_at: r.finalizedAt,
    ending_balance: r.endingBalance,
    footer: r.footer,
    from_invoice: null,
    hosted_invoice_url: finalized ? hosted : null,
    invoice_pdf: finalized ? `${hosted}/pdf` : null,
    issuer: { type: 'self' },
    last_finalization_error: null,
    latest_revision: null,
    lines: list(lines.slice(0, INLINE_LINES), `/v1/invoices/${r.id}/lines`, lines.length > INLINE_LINES),
    livemode: false,
    metadata: r.metadata,
    next_payment_attempt: r.nextPaymentAttempt,
    number: r.number,
    on_behalf_of: null,
    parent:
      r.subscription !== null
        ? {
            type: 'subscription_details',
            quote_details: null,
            subscription_details: { metadata: r.subscriptionMetadata, subscription: r.subscription },
          }
        : null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: r.periodEnd,
    period_start: r.periodStart,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: r.startingBalance,
    statement_descriptor: null,
    status: r.status,
    status_transitions: {
      finalized_at: r.finalizedAt,
      marked_uncollectible_at: r.markedUncollectibleAt,
      paid_at: r.paidAt,
      voided_at: r.voidedAt,
    },
    subtotal: r.subtotal,
    subtotal_excluding_tax: r.subtotal,
    test_clock: r.clock,
    total: r.total,
    total_discount_amounts: r.totalDiscountAmounts,
    total_excluding_tax: r.total,
    total_pretax_credit_amounts: r.totalDiscountAmounts.map((d) => ({ amount: d.amount, discount: d.discount, type: 'discount' })),
    total_taxes: [],
    webhooks_delivered_at: r.webhooksDeliveredAt,
  };
}

/** An invoice preview (create_preview, `invoice.upcoming`) has no id: Stripe has not created it. */
export function renderInvoicePreview(state: StripeState, r: InvoiceRecord): Omit<Stripe.Invoice, 'id'> {
  const { id: _id, ...rest } = renderInvoice(state, r, { preview: true });
  return { ...rest, lines: { ...rest.lines, url: '/v1/invoices/upcoming/lines' } };
}

/** Each finalized invoice has one default invoice payment, backed by its PaymentIntent. */
export function invoicePaymentId(invoiceId: string): string {
  return `inpay_${invoiceId.slice(3)}`;
}

export function renderInvoicePayment(state: StripeState, r: InvoiceRecord): Stripe.InvoicePayment | null {
  if (!r.paymentIntent) return null;
  const pi = state.paymentIntents.get(r.paymentIntent);
  const paid = r.status === 'paid' && pi?.status === 'succeeded';
  const canceled = r.status === 'void' || pi?.status === 'canceled';
  return {
    id: invoicePaymentId(r.id),
    object: 'invoice_payment',
    amount_paid: paid ? r.amountPaid : null,
    amount_requested: r.amountDue,
    created: r.finalizedAt ?? r.created,
    currency: r.currency,
    invoice: r.id,
    is_default: true,
    livemode: false,
    payment: { type: 'payment_intent', payment_intent: r.paymentIntent },
    status: paid ? 'paid' : canceled ? 'canceled' : 'open',
    status_transitions: { canceled_at: canceled ? r.voidedAt : null, paid_at: paid ? r.paidAt : null },
  };
}

export function renderInvoiceItem(r: InvoiceItemRecord): Stripe.InvoiceItem | Stripe.DeletedInvoiceItem {
  if (r.deleted) return { id: r.id, object: 'invoiceitem', deleted: true };
  return {
    id: r.id,
    object: 'invoiceitem',
    amount: r.amount,
    currency: r.currency,
    customer: r.customer,
    customer_account: null,
    date: r.created,
    description: r.description,
    discountable: r.discountable,
    discounts: [],
    invoice: r.invoice,
    livemode: false,
    metadata: r.metadata,
    net_amount: r.amount,
    parent:
      r.subscription !== null
        ? {
            type: 'subscription_details',
            subscription_details: {
              subscription: r.subscription,
              ...(r.subscriptionItem !== null ? { subscription_item: r.subscriptionItem } : {}),
            },
          }
        : null,
    period: { end: r.periodEnd, start: r.periodStart },
    pricing: {
      type: 'price_details',
      ...(r.price !== null ? { price_details: { price: r.price, product: '' } } : {}),
      unit_amount_decimal: decimal(r.unitAmountDecimal.replace(/^-/, '')),
    },
    proration: r.proration,
    proration_details: { credited_items: null, discount_amounts: [] },
    quantity: r.quantity,
    quantity_decimal: decimal(String(r.quantity)),
    tax_rates: [],
    test_clock: null,
  };
}

function cardDetailsForCharge(r: ChargeRecord): Stripe.Charge.PaymentMethodDetails | null {
  if (!r.card) return null;
  return {
    type: 'card',
    card: {
      amount_authorized: r.status === 'succeeded' ? r.amount : null,
      authorization_code: r.status === 'succeeded' ? '123456' : null,
      brand: r.card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: null },
      country: r.card.country,
      electronic_commerce_indicator: null,
      exp_month: r.card.expMonth,
      exp_year: r.card.expYear,
      extended_authorization: { status: 'disabled' },
      fingerprint: r.card.fingerprint,
      funding: r.card.funding,
      incremental_authorization: { status: 'unavailable' },
      installments: null,
      last4: r.card.last4,
      mandate: null,
      multicapture: { status: 'unavailable' },
      network: r.card.brand,
      network_token: { used: false },
      network_transaction_id: r.status === 'succeeded' ? '123456789012345' : null,
      overcapture: { maximum_amount_capturable: r.amount, status: 'unavailable' },
      regulated_status: 'unregulated',
      three_d_secure: null,
      transaction_link_id: null,
      wallet: null,
    },
  };
}

export function renderCharge(state: StripeState, r: ChargeRecord, opts: { includeRefunds?: boolean } = {}): Stripe.Charge {
  const ok = r.status === 'succeeded';
  const out: Stripe.Charge = {
    id: r.id,
    object: 'charge',
    amount: r.amount,
    amount_captured: ok ? r.amount : 0,
    amount_refunded: r.amountRefunded,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: r.balanceTransaction,
    billing_details: { address: null, email: null, name: null, phone: null, tax_id: null },
    calculated_statement_descriptor: 'STRIPE SANDBOX',
    captured: ok,
    created: r.created,
    currency: r.currency,
    customer: r.customer,
    description: r.description,
    disputed: r.disputed,
    failure_balance_transaction: null,
    failure_code: r.failure?.code ?? null,
    failure_message: r.failure?.message ?? null,
    fraud_details: {},
    livemode: false,
    metadata: r.metadata,
    on_behalf_of: null,
    outcome: ok
      ? {
          advice_code: null,
          network_advice_code: null,
          network_decline_code: null,
          network_status: 'approved_by_network',
          reason: null,
          risk_level: 'normal',
          risk_score: 32,
          seller_message: 'Payment complete.',
          type: 'authorized',
        }
      : {
          advice_code: 'try_again_later',
          network_advice_code: null,
          network_decline_code: null,
          network_status: 'declined_by_network',
          reason: r.failure?.declineCode ?? 'generic_decline',
          risk_level: 'normal',
          risk_score: 32,
          seller_message: 'The bank did not return any further details with this decline.',
          type: 'issuer_declined',
        },
    paid: ok,
    payment_intent: r.paymentIntent,
    payment_method: r.paymentMethod,
    payment_method_details: cardDetailsForCharge(r),
    receipt_email: r.receiptEmail,
    receipt_number: null,
    receipt_url: ok ? `https://pay.stripe.com/receipts/payment/${state.accountId}/${r.id}` : null,
    refunded: r.amountRefunded >= r.amount && r.amount > 0,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: r.status,
    transfer_data: null,
    transfer_group: null,
  };
  if (opts.includeRefunds) {
    const refunds = [...state.refunds.where('charge', r.id)].reverse().map(renderRefund);
    out.refunds = list(refunds, `/v1/charges/${r.id}/refunds`);
  }
  return out;
}

export function renderRefund(r: RefundRecord): Stripe.Refund {
  return {
    id: r.id,
    object: 'refund',
    amount: r.amount,
    balance_transaction: null,
    charge: r.charge,
    created: r.created,
    currency: r.currency,
    customer: r.customer,
    customer_account: null,
    destination_details: {
      type: 'card',
      card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' },
    },
    metadata: r.metadata,
    payment_intent: r.paymentIntent,
    payment_method: r.paymentMethod,
    reason: r.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
}

export function renderPaymentIntent(r: PaymentIntentRecord): Stripe.PaymentIntent {
  const error = r.lastPaymentError;
  return {
    id: r.id,
    object: 'payment_intent',
    allowed_payment_method_types: null,
    amount: r.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: r.amountReceived,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: r.canceledAt,
    cancellation_reason: r.canceledAt !== null ? 'void_invoice' : null,
    capture_method: 'automatic',
    client_secret: r.clientSecret,
    confirmation_method: 'automatic',
    created: r.created,
    currency: r.currency,
    customer: r.customer,
    customer_account: null,
    description: r.description,
    excluded_payment_method_types: null,
    last_payment_error: error
      ? {
          type: 'card_error',
          code: error.code,
          decline_code: error.declineCode,
          message: error.message,
          doc_url: `https://stripe.com/docs/error-codes/${error.code.replace(/_/g, '-')}`,
          ...(error.charge !== null ? { charge: error.charge } : {}),
        }
      : null,
    latest_charge: r.latestCharge,
    livemode: false,
    managed_payments: null,
    metadata: r.metadata,
    next_action: null,
    on_behalf_of: null,
    payment_method: r.paymentMethod,
    payment_method_configuration_details: null,
    payment_method_options: {
      card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' },
    },
    payment_method_types: ['card'],
    payment_record: null,
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: r.status,
    transfer_data: null,
    transfer_group: null,
  };
}

export function renderDispute(r: DisputeRecord): Stripe.Dispute {
  return {
    id: r.id,
    object: 'dispute',
    amount: r.amount,
    balance_transactions: [],
    charge: r.charge,
    created: r.created,
    currency: r.currency,
    enhanced_eligibility_types: [],
    evidence: {
      access_activity_log: null,
      billing_address: null,
      cancellation_policy: null,
      cancellation_policy_disclosure: null,
      cancellation_rebuttal: null,
      customer_communication: null,
      customer_email_address: null,
      customer_name: null,
      customer_purchase_ip: null,
      customer_signature: null,
      duplicate_charge_documentation: null,
      duplicate_charge_explanation: null,
      duplicate_charge_id: null,
      enhanced_evidence: {},
      product_description: null,
      receipt: null,
      refund_policy: null,
      refund_policy_disclosure: null,
      refund_refusal_explanation: null,
      service_date: null,
      service_documentation: null,
      shipping_address: null,
      shipping_carrier: null,
      shipping_date: null,
      shipping_documentation: null,
      shipping_tracking_number: null,
      uncategorized_file: null,
      uncategorized_text: null,
    },
    evidence_details: {
      due_by: r.created + 7 * 86400,
      enhanced_eligibility: {},
      has_evidence: false,
      past_due: false,
      submission_count: 0,
      submission_method: 'not_submitted',
    },
    intended_submission_method: null,
    is_charge_refundable: false,
    livemode: false,
    metadata: r.metadata,
    payment_intent: r.paymentIntent,
    reason: r.reason,
    status: r.status,
  };
}

export function renderTestClock(r: TestClockRecord): Stripe.TestHelpers.TestClock {
  return {
    id: r.id,
    object: 'test_helpers.test_clock',
    created: r.created,
    deletes_after: r.deletesAfter,
    frozen_time: r.frozenTime,
    livemode: false,
    name: r.name,
    status: r.status,
    status_details: r.status === 'advancing' && r.advancingTo !== null ? { advancing: { target_frozen_time: r.advancingTo } } : {},
  };
}

export function renderWebhookEndpoint(r: WebhookEndpointRecord, withSecret = false): Stripe.WebhookEndpoint {
  const out: Stripe.WebhookEndpoint = {
    id: r.id,
    object: 'webhook_endpoint',
    api_version: r.apiVersion,
    application: null,
    created: r.created,
    description: r.description,
    enabled_events: r.enabledEvents,
    livemode: false,
    metadata: r.metadata,
    status: r.status,
    url: r.url,
  };
  // The signing secret is only ever returned by the create call.
  if (withSecret) out.secret = r.secret;
  return out;
}

/** The event as JSON text: `data` was frozen at the time of the event, `pending_webhooks` is live. */
export function eventJson(r: EventRecord, apiVersion: string | null = API_VERSION, data: string = r.dataJson): string {
  return (
    `{"id":${JSON.stringify(r.id)},"object":"event","api_version":${JSON.stringify(apiVersion)},` +
    `"created":${r.created},"data":${data},"livemode":false,"pending_webhooks":${r.pendingWebhooks},` +
    `"request":{"id":${JSON.stringify(r.requestId)},"idempotency_key":${JSON.stringify(r.idempotencyKey)}},` +
    `"type":${JSON.stringify(r.type)}}`
  );
}

export function renderEvent(r: EventRecord): Stripe.Event {
  return JSON.parse(eventJson(r)) as Stripe.Event;
}
