import type Stripe from 'stripe';
import type { CardDecline } from './errors.js';
import type { Metadata } from './params.js';
import type { Row } from './store.js';

/**
 * The sandbox's state model. Records hold what Stripe's behaviour depends on, compactly (a seeded
 * data set has hundreds of thousands of them); render.ts turns them into full API objects typed with
 * the `stripe` package's own types. Records are replaced field by field, never shared mutable
 * structures, so an event snapshot rendered earlier cannot change later.
 */

export type Interval = 'day' | 'week' | 'month' | 'year';

/** Which clock an object lives on: `null` for wall-clock time, else a test clock id. */
export type ClockId = string | null;

export interface CustomerRecord extends Row {
  clock: ClockId;
  deleted: boolean;
  email: string | null;
  name: string | null;
  description: string | null;
  phone: string | null;
  businessName: string | null;
  individualName: string | null;
  metadata: Metadata;
  address: Stripe.Address | null;
  shipping: Stripe.Customer.Shipping | null;
  balance: number;
  currency: string | null;
  invoicePrefix: string;
  nextInvoiceSequence: number;
  defaultPaymentMethod: string | null;
  invoiceFooter: string | null;
  invoiceCustomFields: Array<{ name: string; value: string }> | null;
  delinquent: boolean;
  discount: string | null;
  preferredLocales: string[];
  taxExempt: 'none' | 'exempt' | 'reverse';
}

export interface ProductRecord extends Row {
  active: boolean;
  deleted: boolean;
  name: string;
  description: string | null;
  metadata: Metadata;
  defaultPrice: string | null;
  images: string[];
  unitLabel: string | null;
  url: string | null;
  statementDescriptor: string | null;
  taxCode: string | null;
  marketingFeatures: Array<{ name: string }>;
  updated: number;
}

export interface RecurringSpec {
  interval: Interval;
  intervalCount: number;
  usageType: 'licensed' | 'metered';
  meter: string | null;
  trialPeriodDays: number | null;
}

export interface PriceRecord extends Row {
  active: boolean;
  deleted: boolean;
  currency: string;
  product: string;
  unitAmount: number | null;
  unitAmountDecimal: string;
  recurring: RecurringSpec | null;
  lookupKey: string | null;
  nickname: string | null;
  metadata: Metadata;
  taxBehavior: 'exclusive' | 'inclusive' | 'unspecified';
  /** Prices made from `price_data` are not listed, as in Stripe. */
  inline: boolean;
}

export interface CouponRecord extends Row {
  deleted: boolean;
  name: string | null;
  percentOff: number | null;
  amountOff: number | null;
  currency: string | null;
  duration: 'once' | 'repeating' | 'forever';
  durationInMonths: number | null;
  maxRedemptions: number | null;
  redeemBy: number | null;
  timesRedeemed: number;
  metadata: Metadata;
}

export interface DiscountRecord extends Row {
  coupon: string;
  customer: string | null;
  subscription: string | null;
  invoice: string | null;
  start: number;
  end: number | null;
  /** `once` coupons stop after the first invoice they discount. */
  invoicesApplied: number;
  ended: boolean;
}

export type CardBehavior = 'succeed' | 'decline_on_charge' | 'dispute';

export interface CardDetails {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  funding: 'credit' | 'debit' | 'prepaid' | 'unknown';
  country: string;
  fingerprint: string;
}

export interface PaymentMethodRecord extends Row {
  customer: string | null;
  card: CardDetails;
  behavior: CardBehavior;
  billingDetails: Stripe.PaymentMethod.BillingDetails;
  metadata: Metadata;
  allowRedisplay: 'always' | 'limited' | 'unspecified';
  /** Test cards that fail the check Stripe runs when a card is attached to a customer. */
  attachDecline: CardDecline | null;
}

export type SubscriptionStatus = Stripe.Subscription.Status;

export interface SubscriptionRecord extends Row {
  clock: ClockId;
  customer: string;
  status: SubscriptionStatus;
  items: string[];
  currency: string;
  collectionMethod: 'charge_automatically' | 'send_invoice';
  daysUntilDue: number | null;
  defaultPaymentMethod: string | null;
  description: string | null;
  metadata: Metadata;
  billingCycleAnchor: number;
  startDate: number;
  trialStart: number | null;
  trialEnd: number | null;
  cancelAt: number | null;
  cancelAtPeriodEnd: boolean;
  canceledAt: number | null;
  endedAt: number | null;
  cancellationReason: Stripe.Subscription.CancellationDetails.Reason | null;
  cancellationComment: string | null;
  cancellationFeedback: Stripe.Subscription.CancellationDetails.Feedback | null;
  discounts: string[];
  latestInvoice: string | null;
  pauseCollection: { behavior: 'keep_as_draft' | 'mark_uncollectible' | 'void'; resumesAt: number | null } | null;
  missingPaymentMethodBehavior: 'cancel' | 'create_invoice' | 'pause';
  saveDefaultPaymentMethod: 'off' | 'on_subscription' | null;
  /** Period end for which `trial_will_end` / `invoice.upcoming` already went out. */
  trialWillEndSentFor: number | null;
  upcomingSentFor: number | null;
}

export interface SubscriptionItemRecord extends Row {
  subscription: string;
  price: string;
  quantity: number | null;
  metadata: Metadata;
  periodStart: number;
  periodEnd: number;
  deleted: boolean;
}

export interface LineRecord {
  id: string;
  amount: number;
  currency: string;
  description: string;
  periodStart: number;
  periodEnd: number;
  quantity: number | null;
  price: string | null;
  subscription: string | null;
  subscriptionItem: string | null;
  invoiceItem: string | null;
  proration: boolean;
  discountable: boolean;
  discountAmounts: Array<{ amount: number; discount: string }>;
  metadata: Metadata;
}

export type InvoiceStatus = 'draft' | 'open' | 'paid' | 'void' | 'uncollectible';

export interface InvoiceRecord extends Row {
  clock: ClockId;
  customer: string;
  subscription: string | null;
  status: InvoiceStatus;
  number: string | null;
  billingReason: Stripe.Invoice.BillingReason;
  collectionMethod: 'charge_automatically' | 'send_invoice';
  currency: string;
  lines: LineRecord[];
  discounts: string[];
  subtotal: number;
  total: number;
  totalDiscountAmounts: Array<{ amount: number; discount: string }>;
  startingBalance: number;
  endingBalance: number | null;
  amountDue: number;
  amountPaid: number;
  autoAdvance: boolean;
  attemptCount: number;
  attempted: boolean;
  nextPaymentAttempt: number | null;
  paymentIntent: string | null;
  periodStart: number;
  periodEnd: number;
  dueDate: number | null;
  finalizedAt: number | null;
  paidAt: number | null;
  voidedAt: number | null;
  markedUncollectibleAt: number | null;
  automaticallyFinalizesAt: number | null;
  webhooksDeliveredAt: number | null;
  metadata: Metadata;
  description: string | null;
  footer: string | null;
  defaultPaymentMethod: string | null;
  /** Copied from the customer at finalization, as Stripe freezes them on the invoice. */
  customerEmail: string | null;
  customerName: string | null;
  customerPhone: string | null;
  customerAddress: Stripe.Address | null;
  subscriptionMetadata: Metadata | null;
  /** Set when the invoice was created by seeding or by a payment outside the retry schedule. */
  paidOutOfBand: boolean;
}

export interface InvoiceItemRecord extends Row {
  customer: string;
  subscription: string | null;
  subscriptionItem: string | null;
  invoice: string | null;
  amount: number;
  currency: string;
  description: string;
  periodStart: number;
  periodEnd: number;
  price: string | null;
  quantity: number;
  unitAmountDecimal: string;
  proration: boolean;
  discountable: boolean;
  metadata: Metadata;
  deleted: boolean;
}

export interface PaymentErrorInfo {
  code: string;
  declineCode: string;
  message: string;
  charge: string | null;
  paymentMethod: string | null;
}

export interface PaymentIntentRecord extends Row {
  customer: string | null;
  invoice: string | null;
  amount: number;
  amountReceived: number;
  currency: string;
  status: Stripe.PaymentIntent.Status;
  paymentMethod: string | null;
  latestCharge: string | null;
  lastPaymentError: PaymentErrorInfo | null;
  description: string | null;
  metadata: Metadata;
  canceledAt: number | null;
  clientSecret: string;
}

export interface ChargeRecord extends Row {
  customer: string | null;
  paymentIntent: string | null;
  invoice: string | null;
  paymentMethod: string | null;
  card: CardDetails | null;
  amount: number;
  currency: string;
  status: 'succeeded' | 'failed';
  failure: { code: string; declineCode: string; message: string } | null;
  amountRefunded: number;
  disputed: boolean;
  description: string | null;
  metadata: Metadata;
  balanceTransaction: string | null;
  receiptEmail: string | null;
}

export interface RefundRecord extends Row {
  charge: string;
  paymentIntent: string | null;
  customer: string | null;
  amount: number;
  currency: string;
  reason: Stripe.Refund.Reason | null;
  metadata: Metadata;
  paymentMethod: string | null;
}

export interface DisputeRecord extends Row {
  charge: string;
  paymentIntent: string | null;
  amount: number;
  currency: string;
  reason: string;
  status: Stripe.Dispute.Status;
  metadata: Metadata;
}

export interface TestClockRecord extends Row {
  name: string | null;
  frozenTime: number;
  status: 'ready' | 'advancing' | 'internal_failure';
  advancingTo: number | null;
  deletesAfter: number;
}

export interface WebhookEndpointRecord extends Row {
  url: string;
  enabledEvents: string[];
  description: string | null;
  metadata: Metadata;
  secret: string;
  status: 'enabled' | 'disabled';
  apiVersion: string | null;
}

export interface EventRecord extends Row {
  /** The test clock whose advance caused the event, if any. */
  clock: ClockId;
  type: Stripe.Event.Type;
  /** JSON of `data`, frozen when the event happened. */
  dataJson: string;
  requestId: string | null;
  idempotencyKey: string | null;
  pendingWebhooks: number;
  /** Ids of the objects in `data.object`, for the per-object filters of the events list. */
  objectId: string;
}
