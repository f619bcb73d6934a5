import type Stripe from 'stripe';
import {
  customerSnapshotFromStripe,
  discountSnapshotFromStripe,
  paymentFromCharge,
  paymentFromInvoice,
  paymentFromRefund,
  paymentMethodSnapshotFromStripe,
  subscriptionSnapshotFromStripe,
  type CustomerSnapshot,
  type DiscountSnapshot,
  type PaymentMethodSnapshot,
  type PaymentSnapshot,
  type StripeInvoiceInput,
  type StripeSubscriptionInput,
  type SubscriptionSnapshot,
} from './billing-snapshot.js';
import type { RawStripeEvent } from './event-routing.js';
import { formatMoney } from './money.js';

/**
 * The compact form of a customer-scoped Stripe event that travels to the customer's workflow.
 * The API builds it from the webhook payload, so Temporal history holds snapshots of a few hundred
 * bytes instead of whole invoices, and never the payload's personal data beyond what the CRM needs.
 */
export interface CustomerEvent {
  eventId: string;
  type: string;
  /** Stripe's `event.created` (seconds): the age of the object state the event carries. */
  created: number;
  /** When the API accepted it (ms since epoch), for freshness metrics. */
  receivedAtMs: number;
  accountId: string;
  customerId: string;
  objectId: string | null;
  payload: CustomerEventPayload;
}

export type CustomerEventPayload =
  | { kind: 'customer'; customer: CustomerSnapshot }
  /** `previous` is the subscription before this change (from `previous_attributes`); null when the event carries none. */
  | { kind: 'subscription'; subscription: SubscriptionSnapshot; previous: SubscriptionSnapshot | null }
  | { kind: 'payment'; payment: PaymentSnapshot; timeline: TimelineEntry | null }
  | { kind: 'discount'; discount: DiscountSnapshot | null; discountId: string; subscriptionId: string | null; deleted: boolean }
  | { kind: 'payment_method'; paymentMethod: PaymentMethodSnapshot; attached: boolean }
  | { kind: 'timeline'; timeline: TimelineEntry }
  /** A product was renamed (sent by the catalog workflow to customers on it). */
  | { kind: 'product'; productId: string; name: string }
  /** Acknowledged and deduplicated, but carrying nothing the CRM shows (invoice.upcoming, payment_intent.*). */
  | { kind: 'other' };

/** One activity on the CRM timeline (a HubSpot note or task, a Salesforce Task). */
export interface TimelineEntry {
  /** Unique per real-world occurrence, so a replayed event finds the entry it already wrote. */
  key: string;
  kind: 'invoice_paid' | 'payment_failed' | 'charge_succeeded' | 'refund' | 'dispute';
  /** Seconds since epoch. */
  occurredAt: number;
  subject: string;
  body: string;
  /** A task for a person to act on (failed payment, dispute) rather than a note. */
  actionable: boolean;
}

const money = (amount: number, currency: string) => formatMoney(amount, currency);

// The timeline builders are shared with the backfill (domain/backfill.ts): both paths derive the same
// entry, under the same key, from one Stripe object, so neither ever adds a second activity for it.
export function invoiceTimeline(type: string, invoice: Stripe.Invoice, payment: PaymentSnapshot): TimelineEntry | null {
  if (type === 'invoice.paid' && payment.outcome === 'succeeded') {
    return {
      key: `invoice_paid:${invoice.id}`,
      kind: 'invoice_paid',
      occurredAt: payment.paidAt ?? payment.created,
      subject: `Invoice ${invoice.number ?? invoice.id} paid: ${money(payment.amount, payment.currency)}`,
      body: `Stripe invoice ${invoice.id} was paid (${money(payment.amount, payment.currency)}).`,
      actionable: false,
    };
  }
  if (type === 'invoice.payment_failed') {
    const attempt = invoice.attempt_count ?? 1;
    const next = invoice.next_payment_attempt ? ` Next attempt: ${new Date(invoice.next_payment_attempt * 1000).toISOString().slice(0, 10)}.` : '';
    return {
      key: `payment_failed:${invoice.id}:${attempt}`,
      kind: 'payment_failed',
      occurredAt: invoice.status_transitions?.finalized_at ?? invoice.created,
      subject: `Payment failed (attempt ${attempt}): ${money(payment.amount, payment.currency)}`,
      body: `Collecting Stripe invoice ${invoice.id} failed on attempt ${attempt}.${payment.failureMessage ? ` Reason: ${payment.failureMessage}.` : ''}${next}`,
      actionable: true,
    };
  }
  return null;
}

/**
 * Whether a charge pays an invoice. Current API versions dropped `charge.invoice` (the link is the
 * invoice_payment object, which may arrive after the charge), so the payment intent description
 * Stripe gives invoice payments ("Subscription creation", "Subscription update", ...) decides.
 */
export function isInvoiceCharge(charge: Stripe.Charge): boolean {
  const legacyInvoice = (charge as { invoice?: unknown }).invoice;
  if (legacyInvoice) return true;
  return /^(Subscription (creation|update|cycle)|Invoice [A-Z0-9-]+)/.test(charge.description ?? '');
}

export function chargeTimeline(type: string, charge: Stripe.Charge, payment: PaymentSnapshot): TimelineEntry | null {
  // Invoice payments get their entry from invoice.paid; only one-off charges get their own.
  if (type === 'charge.succeeded' && !isInvoiceCharge(charge) && payment.outcome === 'succeeded') {
    return {
      key: `charge_succeeded:${charge.id}`,
      kind: 'charge_succeeded',
      occurredAt: charge.created,
      subject: `Payment received: ${money(payment.amount, payment.currency)}`,
      body: `Stripe charge ${charge.id} succeeded${charge.description ? ` (${charge.description})` : ''}.`,
      actionable: false,
    };
  }
  return null;
}

export function refundTimeline(refund: Stripe.Refund, payment: PaymentSnapshot): TimelineEntry | null {
  if (payment.outcome !== 'succeeded') return null;
  return {
    key: `refund:${refund.id}`,
    kind: 'refund',
    occurredAt: refund.created,
    subject: `Refund: ${money(payment.amount, payment.currency)}`,
    body: `Stripe refund ${refund.id} of charge ${payment.chargeId ?? 'unknown'}${refund.reason ? ` (${refund.reason})` : ''}.`,
    actionable: false,
  };
}

export function disputeTimeline(type: string, dispute: Stripe.Dispute): TimelineEntry | null {
  if (type !== 'charge.dispute.created' && type !== 'charge.dispute.closed') return null;
  const opened = type === 'charge.dispute.created';
  return {
    key: `dispute:${dispute.id}:${opened ? 'opened' : 'closed'}`,
    kind: 'dispute',
    occurredAt: dispute.created,
    subject: opened
      ? `Dispute opened: ${money(dispute.amount, dispute.currency)} (${dispute.reason})`
      : `Dispute closed: ${dispute.status}`,
    body: `Stripe dispute ${dispute.id} on charge ${typeof dispute.charge === 'string' ? dispute.charge : dispute.charge.id}: ${dispute.status}.`,
    actionable: opened,
  };
}

/** Builds the compact event; `customerId` and `accountId` come from routing. */
export function compactCustomerEvent(event: RawStripeEvent, accountId: string, customerId: string, receivedAtMs: number): CustomerEvent {
  const object = event.data.object as { id?: string; object?: string };
  const base = { eventId: event.id, type: event.type, created: event.created, receivedAtMs, accountId, customerId, objectId: object.id ?? null };
  return { ...base, payload: compactPayload(event) };
}

function compactPayload(event: RawStripeEvent): CustomerEventPayload {
  const object = event.data.object as { object?: string };
  switch (object.object) {
    case 'customer':
      return { kind: 'customer', customer: customerSnapshotFromStripe(object as unknown as Stripe.Customer) };
    case 'subscription': {
      const raw = object as unknown as StripeSubscriptionInput;
      const previousAttributes = event.data.previous_attributes;
      // The state before the change, so the MRR movement of this event is known whatever order events arrive in.
      // Without previous_attributes (customer.subscription.deleted, created) the workflow uses what it held.
      const previous = previousAttributes && event.type !== 'customer.subscription.created'
        ? subscriptionSnapshotFromStripe({ ...raw, ...previousAttributes } as StripeSubscriptionInput)
        : null;
      return { kind: 'subscription', subscription: subscriptionSnapshotFromStripe(raw), previous };
    }
    case 'invoice': {
      if (event.type === 'invoice.upcoming') return { kind: 'other' };
      const invoice = object as unknown as StripeInvoiceInput;
      const payment = paymentFromInvoice(invoice);
      return { kind: 'payment', payment, timeline: invoiceTimeline(event.type, invoice, payment) };
    }
    case 'charge': {
      const charge = object as unknown as Stripe.Charge;
      const payment = paymentFromCharge(charge);
      return { kind: 'payment', payment, timeline: chargeTimeline(event.type, charge, payment) };
    }
    case 'refund': {
      const refund = object as unknown as Stripe.Refund;
      const payment = paymentFromRefund(refund);
      return { kind: 'payment', payment, timeline: refundTimeline(refund, payment) };
    }
    case 'dispute': {
      const timeline = disputeTimeline(event.type, object as unknown as Stripe.Dispute);
      return timeline ? { kind: 'timeline', timeline } : { kind: 'other' };
    }
    case 'discount': {
      const raw = object as unknown as Stripe.Discount;
      const deleted = event.type === 'customer.discount.deleted';
      return {
        kind: 'discount',
        discount: deleted ? null : discountSnapshotFromStripe(raw),
        discountId: raw.id,
        subscriptionId: typeof raw.subscription === 'string' ? raw.subscription : null,
        deleted,
      };
    }
    case 'payment_method':
      return {
        kind: 'payment_method',
        paymentMethod: paymentMethodSnapshotFromStripe(object as unknown as Stripe.PaymentMethod),
        attached: event.type !== 'payment_method.detached',
      };
    default:
      return { kind: 'other' };
  }
}
