import { formatAmount } from './currency.js';
import { emptyMetadata } from './params.js';
import type {
  ClockId,
  CustomerRecord,
  InvoiceRecord,
  PriceRecord,
  ProductRecord,
  SubscriptionItemRecord,
  SubscriptionRecord,
} from './records.js';
import type { StripeState } from './state.js';

/**
 * Record constructors shared by the API handlers and bulk seeding, so seeded objects have exactly the
 * shape, defaults and id scheme of objects created through the API.
 */

export function newCustomer(s: StripeState, created: number, clock: ClockId, fields: Partial<CustomerRecord> = {}): CustomerRecord {
  return {
    id: s.ids.next('cus'),
    created,
    seq: s.nextSeq(),
    clock,
    deleted: false,
    email: null,
    name: null,
    description: null,
    phone: null,
    businessName: null,
    individualName: null,
    metadata: emptyMetadata(),
    address: null,
    shipping: null,
    balance: 0,
    currency: null,
    invoicePrefix: s.ids.invoicePrefix(),
    nextInvoiceSequence: 1,
    defaultPaymentMethod: null,
    invoiceFooter: null,
    invoiceCustomFields: null,
    delinquent: false,
    discount: null,
    preferredLocales: [],
    taxExempt: 'none',
    ...fields,
  };
}

export function newProduct(s: StripeState, created: number, name: string, fields: Partial<ProductRecord> = {}): ProductRecord {
  return {
    id: s.ids.next('prod'),
    created,
    seq: s.nextSeq(),
    active: true,
    deleted: false,
    name,
    description: null,
    metadata: emptyMetadata(),
    defaultPrice: null,
    images: [],
    unitLabel: null,
    url: null,
    statementDescriptor: null,
    taxCode: null,
    marketingFeatures: [],
    updated: created,
    ...fields,
  };
}

export function newPrice(
  s: StripeState,
  created: number,
  product: string,
  currency: string,
  unitAmountDecimal: string,
  fields: Partial<PriceRecord> = {},
): PriceRecord {
  const n = Number(unitAmountDecimal);
  return {
    id: s.ids.next('price'),
    created,
    seq: s.nextSeq(),
    active: true,
    deleted: false,
    currency,
    product,
    unitAmount: Number.isInteger(n) ? n : null,
    unitAmountDecimal,
    recurring: null,
    lookupKey: null,
    nickname: null,
    metadata: emptyMetadata(),
    taxBehavior: 'unspecified',
    inline: false,
    ...fields,
  };
}

export function newSubscription(
  s: StripeState,
  created: number,
  customer: CustomerRecord,
  currency: string,
  fields: Partial<SubscriptionRecord> = {},
): SubscriptionRecord {
  return {
    id: s.ids.next('sub'),
    created,
    seq: s.nextSeq(),
    clock: customer.clock,
    customer: customer.id,
    status: 'incomplete',
    items: [],
    currency,
    collectionMethod: 'charge_automatically',
    daysUntilDue: null,
    defaultPaymentMethod: null,
    description: null,
    metadata: emptyMetadata(),
    billingCycleAnchor: created,
    startDate: created,
    trialStart: null,
    trialEnd: null,
    cancelAt: null,
    cancelAtPeriodEnd: false,
    canceledAt: null,
    endedAt: null,
    cancellationReason: null,
    cancellationComment: null,
    cancellationFeedback: null,
    discounts: [],
    latestInvoice: null,
    pauseCollection: null,
    missingPaymentMethodBehavior: 'create_invoice',
    saveDefaultPaymentMethod: 'off',
    trialWillEndSentFor: null,
    upcomingSentFor: null,
    ...fields,
  };
}

export function newSubscriptionItem(
  s: StripeState,
  created: number,
  subscription: string,
  price: PriceRecord,
  quantity: number | null,
  periodStart: number,
  periodEnd: number,
): SubscriptionItemRecord {
  return {
    id: s.ids.next('si'),
    created,
    seq: s.nextSeq(),
    subscription,
    price: price.id,
    quantity: price.recurring?.usageType === 'metered' ? null : quantity,
    metadata: emptyMetadata(),
    periodStart,
    periodEnd,
    deleted: false,
  };
}

export function newInvoice(
  s: StripeState,
  created: number,
  customer: CustomerRecord,
  currency: string,
  fields: Partial<InvoiceRecord> = {},
): InvoiceRecord {
  return {
    id: s.ids.next('in'),
    created,
    seq: s.nextSeq(),
    clock: customer.clock,
    customer: customer.id,
    subscription: null,
    status: 'draft',
    number: null,
    billingReason: 'manual',
    collectionMethod: 'charge_automatically',
    currency,
    lines: [],
    discounts: [],
    subtotal: 0,
    total: 0,
    totalDiscountAmounts: [],
    startingBalance: 0,
    endingBalance: null,
    amountDue: 0,
    amountPaid: 0,
    autoAdvance: true,
    attemptCount: 0,
    attempted: false,
    nextPaymentAttempt: null,
    paymentIntent: null,
    periodStart: created,
    periodEnd: created,
    dueDate: null,
    finalizedAt: null,
    paidAt: null,
    voidedAt: null,
    markedUncollectibleAt: null,
    automaticallyFinalizesAt: null,
    webhooksDeliveredAt: null,
    metadata: emptyMetadata(),
    description: null,
    footer: null,
    defaultPaymentMethod: null,
    customerEmail: customer.email,
    customerName: customer.name,
    customerPhone: customer.phone,
    customerAddress: customer.address,
    subscriptionMetadata: null,
    paidOutOfBand: false,
    ...fields,
  };
}

/** `INV-0001`-style invoice number from the customer's prefix and sequence. */
export function nextInvoiceNumber(customer: CustomerRecord): string {
  const n = customer.nextInvoiceSequence;
  customer.nextInvoiceSequence = n + 1;
  return `${customer.invoicePrefix}-${String(n).padStart(4, '0')}`;
}

/** `2 × Pro (at $20.00 / month)`: Stripe's description of a subscription line. */
export function describeItem(s: StripeState, price: PriceRecord, quantity: number | null): string {
  const name = s.products.get(price.product)?.name ?? price.product;
  const unit = formatAmount(Number(price.unitAmountDecimal), price.currency);
  const r = price.recurring;
  const per = !r ? '' : r.intervalCount === 1 ? ` / ${r.interval}` : ` every ${r.intervalCount} ${r.interval}s`;
  if (r?.usageType === 'metered') return `${name} (at ${unit} per unit${per})`;
  return `${quantity ?? 1} × ${name} (at ${unit}${per})`;
}
