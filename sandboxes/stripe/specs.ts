import {
  arrayOf,
  bool,
  createdFilter,
  decimal,
  decimalString,
  emptyable,
  int,
  metadata,
  object,
  oneOf,
  required,
  str,
  timestamp,
  withPaging,
  type ShapeOut,
} from './params.js';

/**
 * Parameter specs of every endpoint the sandbox serves, named after stripe-node's `*Params` types.
 * A parameter the real API accepts but the sandbox does not model is left out on purpose: it is then
 * rejected as `parameter_unknown` instead of being silently ignored.
 */

const address = object({
  city: emptyable(str()),
  country: emptyable(str()),
  line1: emptyable(str()),
  line2: emptyable(str()),
  postal_code: emptyable(str()),
  state: emptyable(str()),
});

const customFields = emptyable(arrayOf(object({ name: required(str({ max: 40 })), value: required(str({ max: 140 })) }), { max: 4 }));

const customerInvoiceSettings = object({
  custom_fields: customFields,
  default_payment_method: emptyable(str()),
  footer: emptyable(str()),
});

const shipping = emptyable(object({ address: required(address), name: required(str()), phone: emptyable(str()) }));

const customerCommon = {
  address: emptyable(address),
  balance: int(),
  business_name: emptyable(str({ max: 150 })),
  description: emptyable(str()),
  email: emptyable(str({ max: 512 })),
  individual_name: emptyable(str({ max: 150 })),
  invoice_prefix: emptyable(str()),
  invoice_settings: customerInvoiceSettings,
  metadata: metadata(),
  name: emptyable(str({ max: 256 })),
  next_invoice_sequence: int({ min: 1 }),
  phone: emptyable(str({ max: 20 })),
  preferred_locales: emptyable(arrayOf(str())),
  shipping,
  tax_exempt: emptyable(oneOf(['none', 'exempt', 'reverse'])),
  /** Removed from current API versions; still accepted as it was, for older integrations. */
  coupon: emptyable(str()),
};

export const customerCreate = { ...customerCommon, payment_method: str(), test_clock: str(), validate: bool() };
export const customerUpdate = { ...customerCommon, validate: bool() };
export const customerList = withPaging({ created: createdFilter, email: str({ max: 512 }), test_clock: str() });
export type CustomerCreate = ShapeOut<typeof customerCreate>;
export type CustomerUpdate = ShapeOut<typeof customerUpdate>;

const interval = oneOf(['day', 'week', 'month', 'year']);

export const productCreate = {
  id: str(),
  name: required(str({ nonEmpty: true })),
  active: bool(),
  description: str(),
  metadata: metadata(),
  images: arrayOf(str(), { max: 8 }),
  marketing_features: arrayOf(object({ name: required(str()) }), { max: 15 }),
  statement_descriptor: str({ max: 22 }),
  tax_code: str(),
  unit_label: str({ max: 12 }),
  url: str(),
  shippable: bool(),
  default_price_data: object({
    currency: required(str()),
    unit_amount: int({ min: 0 }),
    unit_amount_decimal: decimalString(),
    recurring: object({ interval: required(interval), interval_count: int({ min: 1 }) }),
    tax_behavior: oneOf(['exclusive', 'inclusive', 'unspecified']),
    metadata: metadata(),
  }),
};
export const productUpdate = {
  active: bool(),
  name: str({ nonEmpty: true }),
  description: emptyable(str()),
  metadata: metadata(),
  images: emptyable(arrayOf(str(), { max: 8 })),
  marketing_features: emptyable(arrayOf(object({ name: required(str()) }), { max: 15 })),
  default_price: str(),
  statement_descriptor: str({ max: 22 }),
  tax_code: emptyable(str()),
  unit_label: emptyable(str({ max: 12 })),
  url: emptyable(str()),
  shippable: bool(),
};
export const productList = withPaging({ active: bool(), created: createdFilter, ids: arrayOf(str()), shippable: bool(), url: str() });
export type ProductCreate = ShapeOut<typeof productCreate>;
export type ProductUpdate = ShapeOut<typeof productUpdate>;

const recurring = object({
  interval: required(interval),
  interval_count: int({ min: 1 }),
  usage_type: oneOf(['licensed', 'metered']),
  meter: str(),
  trial_period_days: int({ min: 0, max: 730 }),
});

export const priceCreate = {
  currency: required(str()),
  product: str(),
  product_data: object({
    name: required(str({ nonEmpty: true })),
    id: str(),
    active: bool(),
    metadata: metadata(),
    statement_descriptor: str({ max: 22 }),
    tax_code: str(),
    unit_label: str({ max: 12 }),
  }),
  unit_amount: int({ min: 0 }),
  unit_amount_decimal: decimalString(),
  recurring,
  lookup_key: str({ max: 200 }),
  transfer_lookup_key: bool(),
  nickname: str(),
  metadata: metadata(),
  active: bool(),
  tax_behavior: oneOf(['exclusive', 'inclusive', 'unspecified']),
};
export const priceUpdate = {
  active: bool(),
  lookup_key: emptyable(str({ max: 200 })),
  transfer_lookup_key: bool(),
  nickname: emptyable(str()),
  metadata: metadata(),
  tax_behavior: oneOf(['exclusive', 'inclusive', 'unspecified']),
};
export const priceList = withPaging({
  active: bool(),
  currency: str(),
  product: str(),
  type: oneOf(['one_time', 'recurring']),
  lookup_keys: arrayOf(str(), { max: 10 }),
  recurring: object({ interval, usage_type: oneOf(['licensed', 'metered']), meter: str() }),
  created: createdFilter,
});
export type PriceCreate = ShapeOut<typeof priceCreate>;
export type PriceUpdate = ShapeOut<typeof priceUpdate>;

export const couponCreate = {
  id: str(),
  name: str({ max: 40 }),
  percent_off: decimal({ min: 0, max: 100, exclusiveMin: true }),
  amount_off: int({ min: 1 }),
  currency: str(),
  duration: oneOf(['forever', 'once', 'repeating']),
  duration_in_months: int({ min: 1 }),
  max_redemptions: int({ min: 1 }),
  redeem_by: timestamp(),
  metadata: metadata(),
};
export const couponUpdate = { name: str({ max: 40 }), metadata: metadata() };
export const couponList = withPaging({ created: createdFilter });
export type CouponCreate = ShapeOut<typeof couponCreate>;

const billingDetails = object({
  address: emptyable(address),
  email: emptyable(str()),
  name: emptyable(str()),
  phone: emptyable(str()),
});
export const paymentMethodCreate = {
  type: required(oneOf(['card'])),
  card: object({ token: str(), number: str(), exp_month: int({ min: 1, max: 12 }), exp_year: int(), cvc: str() }),
  billing_details: billingDetails,
  metadata: metadata(),
  allow_redisplay: oneOf(['always', 'limited', 'unspecified']),
};
export const paymentMethodUpdate = {
  billing_details: billingDetails,
  metadata: metadata(),
  card: object({ exp_month: int({ min: 1, max: 12 }), exp_year: int() }),
  allow_redisplay: oneOf(['always', 'limited', 'unspecified']),
};
export const paymentMethodList = withPaging({ customer: str(), type: str() });
export const customerPaymentMethodList = withPaging({ type: str(), allow_redisplay: oneOf(['always', 'limited', 'unspecified']) });
export const paymentMethodAttach = { customer: required(str()) };
export type PaymentMethodCreate = ShapeOut<typeof paymentMethodCreate>;

const discountsParam = emptyable(arrayOf(object({ coupon: str(), discount: str(), promotion_code: str() }), { max: 20 }));

const subscriptionItemCreate = object({
  price: str(),
  plan: str(),
  price_data: object({
    currency: required(str()),
    product: required(str()),
    recurring: required(object({ interval: required(interval), interval_count: int({ min: 1 }) })),
    unit_amount: int({ min: 0 }),
    unit_amount_decimal: decimalString(),
    tax_behavior: oneOf(['exclusive', 'inclusive', 'unspecified']),
  }),
  quantity: int({ min: 0 }),
  metadata: metadata(),
  discounts: discountsParam,
});

const cancellationDetails = object({
  comment: emptyable(str({ max: 500 })),
  feedback: emptyable(
    oneOf(['customer_service', 'low_quality', 'missing_features', 'other', 'switched_service', 'too_complex', 'too_expensive', 'unused']),
  ),
});

const paymentBehavior = oneOf(['allow_incomplete', 'default_incomplete', 'error_if_incomplete', 'pending_if_incomplete']);
const prorationBehavior = oneOf(['always_invoice', 'create_prorations', 'none']);
const trialSettings = object({
  end_behavior: required(object({ missing_payment_method: required(oneOf(['cancel', 'create_invoice', 'pause'])) })),
});
const paymentSettings = object({ save_default_payment_method: oneOf(['off', 'on_subscription']) });

export const subscriptionCreate = {
  customer: required(str()),
  items: required(arrayOf(subscriptionItemCreate, { max: 20 })),
  trial_period_days: int({ min: 0, max: 730 }),
  trial_end: timestamp({ now: true }),
  trial_from_plan: bool(),
  trial_settings: trialSettings,
  discounts: discountsParam,
  /** Removed from current API versions; still accepted as it was, for older integrations. */
  coupon: str(),
  cancel_at_period_end: bool(),
  cancel_at: timestamp(),
  collection_method: oneOf(['charge_automatically', 'send_invoice']),
  days_until_due: int({ min: 0 }),
  default_payment_method: str(),
  description: str({ max: 500 }),
  metadata: metadata(),
  payment_behavior: paymentBehavior,
  proration_behavior: prorationBehavior,
  billing_cycle_anchor: timestamp(),
  currency: str(),
  off_session: bool(),
  payment_settings: paymentSettings,
};
export type SubscriptionCreate = ShapeOut<typeof subscriptionCreate>;

export const subscriptionUpdate = {
  items: arrayOf(
    object({
      id: str(),
      price: str(),
      plan: str(),
      price_data: object({
        currency: required(str()),
        product: required(str()),
        recurring: required(object({ interval: required(interval), interval_count: int({ min: 1 }) })),
        unit_amount: int({ min: 0 }),
        unit_amount_decimal: decimalString(),
        tax_behavior: oneOf(['exclusive', 'inclusive', 'unspecified']),
      }),
      quantity: int({ min: 0 }),
      metadata: metadata(),
      deleted: bool(),
      clear_usage: bool(),
      discounts: discountsParam,
    }),
    { max: 20 },
  ),
  proration_behavior: prorationBehavior,
  proration_date: timestamp(),
  payment_behavior: paymentBehavior,
  cancel_at_period_end: bool(),
  cancel_at: emptyable(timestamp()),
  cancellation_details: cancellationDetails,
  pause_collection: emptyable(
    object({ behavior: required(oneOf(['keep_as_draft', 'mark_uncollectible', 'void'])), resumes_at: timestamp() }),
  ),
  trial_end: timestamp({ now: true }),
  trial_from_plan: bool(),
  trial_settings: trialSettings,
  default_payment_method: emptyable(str()),
  description: emptyable(str({ max: 500 })),
  metadata: metadata(),
  collection_method: oneOf(['charge_automatically', 'send_invoice']),
  days_until_due: int({ min: 0 }),
  discounts: discountsParam,
  coupon: emptyable(str()),
  billing_cycle_anchor: oneOf(['now', 'unchanged']),
  off_session: bool(),
  payment_settings: paymentSettings,
};
export type SubscriptionUpdate = ShapeOut<typeof subscriptionUpdate>;

export const subscriptionCancel = { invoice_now: bool(), prorate: bool(), cancellation_details: cancellationDetails };
export type SubscriptionCancel = ShapeOut<typeof subscriptionCancel>;
export const subscriptionResume = { billing_cycle_anchor: oneOf(['now', 'unchanged']), proration_behavior: prorationBehavior, proration_date: timestamp() };

const subscriptionStatus = oneOf([
  'active',
  'all',
  'canceled',
  'ended',
  'incomplete',
  'incomplete_expired',
  'past_due',
  'paused',
  'trialing',
  'unpaid',
]);
export const subscriptionList = withPaging({
  customer: str(),
  price: str(),
  plan: str(),
  status: subscriptionStatus,
  collection_method: oneOf(['charge_automatically', 'send_invoice']),
  created: createdFilter,
  current_period_end: createdFilter,
  current_period_start: createdFilter,
  test_clock: str(),
});

export const subscriptionItemCreateParams = {
  subscription: required(str()),
  price: str(),
  plan: str(),
  quantity: int({ min: 0 }),
  metadata: metadata(),
  proration_behavior: prorationBehavior,
  proration_date: timestamp(),
  payment_behavior: paymentBehavior,
};
export const subscriptionItemUpdateParams = {
  price: str(),
  plan: str(),
  quantity: int({ min: 0 }),
  metadata: metadata(),
  proration_behavior: prorationBehavior,
  proration_date: timestamp(),
  payment_behavior: paymentBehavior,
  off_session: bool(),
};
export const subscriptionItemDeleteParams = { proration_behavior: prorationBehavior, proration_date: timestamp(), clear_usage: bool() };
export const subscriptionItemList = withPaging({ subscription: required(str()) });

export const invoiceCreate = {
  customer: str(),
  subscription: str(),
  auto_advance: bool(),
  collection_method: oneOf(['charge_automatically', 'send_invoice']),
  days_until_due: int({ min: 0 }),
  due_date: timestamp(),
  description: str({ max: 1500 }),
  footer: str({ max: 5000 }),
  metadata: metadata(),
  default_payment_method: str(),
  discounts: discountsParam,
  pending_invoice_items_behavior: oneOf(['exclude', 'include']),
  currency: str(),
};
export type InvoiceCreate = ShapeOut<typeof invoiceCreate>;
export const invoiceUpdate = {
  auto_advance: bool(),
  collection_method: oneOf(['charge_automatically', 'send_invoice']),
  days_until_due: int({ min: 0 }),
  due_date: timestamp(),
  description: emptyable(str({ max: 1500 })),
  footer: emptyable(str({ max: 5000 })),
  metadata: metadata(),
  default_payment_method: emptyable(str()),
  discounts: discountsParam,
};
export type InvoiceUpdate = ShapeOut<typeof invoiceUpdate>;
export const invoiceList = withPaging({
  customer: str(),
  subscription: str(),
  status: oneOf(['draft', 'open', 'paid', 'uncollectible', 'void']),
  collection_method: oneOf(['charge_automatically', 'send_invoice']),
  created: createdFilter,
  due_date: createdFilter,
});
export const invoiceFinalize = { auto_advance: bool() };
export const invoicePay = { payment_method: str(), paid_out_of_band: bool(), forgive: bool(), off_session: bool() };
export type InvoicePay = ShapeOut<typeof invoicePay>;
export const invoiceLinesList = withPaging({});
export const invoicePreview = { customer: str(), subscription: str() };

export const invoiceItemCreate = {
  customer: required(str()),
  amount: int(),
  currency: str(),
  description: str(),
  discountable: bool(),
  invoice: str(),
  subscription: str(),
  metadata: metadata(),
  period: object({ start: required(timestamp()), end: required(timestamp()) }),
  pricing: object({ price: str() }),
  quantity: int({ min: 0 }),
  unit_amount_decimal: decimalString(),
};
export type InvoiceItemCreate = ShapeOut<typeof invoiceItemCreate>;
export const invoiceItemUpdate = {
  amount: int(),
  description: str(),
  discountable: bool(),
  metadata: metadata(),
  quantity: int({ min: 0 }),
  unit_amount_decimal: decimalString(),
  period: object({ start: required(timestamp()), end: required(timestamp()) }),
};
export type InvoiceItemUpdate = ShapeOut<typeof invoiceItemUpdate>;
export const invoiceItemList = withPaging({ customer: str(), invoice: str(), pending: bool(), created: createdFilter });

export const invoicePaymentList = withPaging({
  invoice: str(),
  payment: object({ payment_intent: str(), type: required(oneOf(['payment_intent'])) }),
  status: oneOf(['canceled', 'open', 'paid']),
});

export const paymentIntentList = withPaging({ customer: str(), created: createdFilter });
export const paymentIntentUpdate = { metadata: metadata(), description: emptyable(str()) };
export const paymentIntentConfirm = { payment_method: str(), off_session: bool() };

export const chargeList = withPaging({ customer: str(), payment_intent: str(), created: createdFilter });
export const chargeUpdate = { description: emptyable(str()), metadata: metadata(), receipt_email: emptyable(str()) };

export const refundCreate = {
  charge: str(),
  payment_intent: str(),
  amount: int({ min: 1 }),
  reason: oneOf(['duplicate', 'fraudulent', 'requested_by_customer']),
  metadata: metadata(),
};
export type RefundCreate = ShapeOut<typeof refundCreate>;
export const refundList = withPaging({ charge: str(), payment_intent: str(), created: createdFilter });
export const refundUpdate = { metadata: metadata() };

export const disputeList = withPaging({ charge: str(), payment_intent: str(), created: createdFilter });
export const disputeUpdate = { metadata: metadata(), submit: bool() };

export const eventList = withPaging({
  type: str(),
  types: arrayOf(str(), { max: 20 }),
  created: createdFilter,
  delivery_success: bool(),
});

export const webhookEndpointCreate = {
  url: required(str({ max: 5000 })),
  enabled_events: required(arrayOf(str())),
  description: emptyable(str({ max: 5000 })),
  metadata: metadata(),
  api_version: str(),
  connect: bool(),
};
export const webhookEndpointUpdate = {
  url: str({ max: 5000 }),
  enabled_events: arrayOf(str()),
  description: emptyable(str({ max: 5000 })),
  metadata: metadata(),
  disabled: bool(),
};
export const webhookEndpointList = withPaging({});

export const testClockCreate = { frozen_time: required(timestamp()), name: str({ max: 300 }) };
export const testClockAdvance = { frozen_time: required(timestamp()) };
export const testClockList = withPaging({});

export const searchParams = { query: required(str()), limit: int({ min: 1, max: 100 }), page: str() };
