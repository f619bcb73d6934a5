import type { Billing } from './billing.js';
import { invalidRequest } from './errors.js';
import { describeItem, newCustomer, newInvoice, newPrice, newProduct, newSubscription, newSubscriptionItem, nextInvoiceNumber } from './model.js';
import { emptyMetadata, type Metadata } from './params.js';
import type {
  ChargeRecord,
  CustomerRecord,
  InvoiceRecord,
  PaymentIntentRecord,
  PaymentMethodRecord,
  PriceRecord,
  SubscriptionRecord,
  SubscriptionStatus,
} from './records.js';
import { renderCustomer, renderInvoice, renderPaymentMethod, renderSubscription } from './render.js';
import type { StripeState } from './state.js';
import { DAY, periodAround } from './time.js';

export type SeedStatus = 'active' | 'trialing' | 'past_due' | 'canceled';

export interface SeedOptions {
  /** Number of customers to create. */
  customers: number;
  /** Subscriptions per customer (default 1; 0 for customers only). */
  subscriptionsPerCustomer?: number;
  /** One invoice per subscription for its current (or last) period, with its payment (default true). */
  withInvoices?: boolean;
  /** A card attached to each customer as the default payment method (default true). */
  withPaymentMethods?: boolean;
  /** Customer creation times are spread over this range (unix seconds; default: the past year). */
  createdRange?: { from: number; to: number };
  /** Recurring prices to subscribe to; default: a small seeded catalog (monthly, yearly, jpy). */
  prices?: string[];
  /** Relative weights of subscription states (default: all active). */
  statuses?: Partial<Record<SeedStatus, number>>;
  /** Record events (and so deliver webhooks) for seeded objects; off by default, as for an import. */
  emitEvents?: boolean;
  /** Put the customers on this test clock. */
  testClock?: string;
  /** Customers get `customer<n>@<emailDomain>` (default example.com). */
  emailDomain?: string;
  /** Metadata set on every customer (handy to find seeded data). */
  metadata?: Record<string, string>;
}

export interface SeedResult {
  customers: number;
  subscriptions: number;
  invoices: number;
  charges: number;
  paymentMethods: number;
  prices: string[];
  durationMs: number;
  /** A few created ids, to start exploring from. */
  sample: { customers: string[]; subscriptions: string[]; invoices: string[] };
}

const CARD = { brand: 'visa', last4: '4242', funding: 'credit' as const, country: 'US', fingerprint: 'NDI0MjQyNDI0MjQy' };

function seedCatalog(s: StripeState, now: number): PriceRecord[] {
  const specs: Array<{ name: string; currency: string; amount: string; interval: 'month' | 'year'; key: string }> = [
    { name: 'Starter', currency: 'usd', amount: '2900', interval: 'month', key: 'seed_starter_monthly' },
    { name: 'Business', currency: 'usd', amount: '99000', interval: 'year', key: 'seed_business_yearly' },
    { name: 'Team (JP)', currency: 'jpy', amount: '4900', interval: 'month', key: 'seed_team_jpy_monthly' },
  ];
  return specs.map((spec) => {
    const existing = s.lookupKeys.get(spec.key);
    const found = existing ? s.prices.get(existing) : undefined;
    if (found) return found;
    const product = s.products.insert(newProduct(s, now, spec.name));
    const price = newPrice(s, now, product.id, spec.currency, spec.amount, {
      recurring: { interval: spec.interval, intervalCount: 1, usageType: 'licensed', meter: null, trialPeriodDays: null },
      lookupKey: spec.key,
    });
    s.prices.insert(price);
    s.lookupKeys.set(spec.key, price.id);
    product.defaultPrice = price.id;
    return price;
  });
}

function picker<T extends string>(weights: Partial<Record<T, number>>, random: () => number): () => T {
  const entries = Object.entries(weights).filter(([, w]) => typeof w === 'number' && w > 0) as Array<[T, number]>;
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  return () => {
    let r = random() * total;
    for (const [k, w] of entries) {
      r -= w;
      if (r <= 0) return k;
    }
    return (entries[entries.length - 1] as [T, number])[0];
  };
}

/**
 * Builds a large, realistic account quickly: customers with a default card, subscriptions in a mix
 * of states with their current invoice and payment. Objects are made with the same constructors,
 * ids and collections as API-created ones; events are off unless asked for.
 */
export function seed(s: StripeState, billing: Billing, o: SeedOptions): SeedResult {
  const started = performance.now();
  if (!Number.isInteger(o.customers) || o.customers < 0 || o.customers > 2_000_000) {
    throw invalidRequest('customers must be an integer between 0 and 2000000.', { param: 'customers' });
  }
  const clock = o.testClock ?? null;
  if (clock !== null) s.testClocks.require(clock, 'testClock');
  const now = s.now(clock);
  const random = s.ids.random;
  const perCustomer = o.subscriptionsPerCustomer ?? 1;
  const withInvoices = o.withInvoices ?? true;
  const withCards = o.withPaymentMethods ?? true;
  const from = o.createdRange?.from ?? now - 365 * DAY;
  const to = Math.min(o.createdRange?.to ?? now, now);
  if (from > to) throw invalidRequest('createdRange.from must not be after createdRange.to (or the current time).', { param: 'createdRange' });
  const prices = o.prices
    ? o.prices.map((id) => {
        const p = s.prices.require(id, 'prices');
        if (!p.recurring) throw invalidRequest(`Price ${id} is not recurring.`, { param: 'prices' });
        return p;
      })
    : seedCatalog(s, from);
  const pickStatus = picker<SeedStatus>(o.statuses ?? { active: 1 }, random);
  const domain = o.emailDomain ?? 'example.com';
  const metadata: Metadata = o.metadata && Object.keys(o.metadata).length > 0 ? Object.freeze({ ...o.metadata }) : emptyMetadata();
  const base = s.customers.size;
  const result: SeedResult = {
    customers: 0,
    subscriptions: 0,
    invoices: 0,
    charges: 0,
    paymentMethods: 0,
    prices: prices.map((p) => p.id),
    durationMs: 0,
    sample: { customers: [], subscriptions: [], invoices: [] },
  };
  const wasRecording = s.recordEvents;
  s.recordEvents = o.emitEvents ?? false;
  try {
    for (let i = 0; i < o.customers; i++) {
      const n = base + i + 1;
      const created = from + Math.floor(random() * (to - from + 1));
      const customer = newCustomer(s, created, clock, {
        email: `customer${n}@${domain}`,
        name: `Customer ${n}`,
        metadata,
      });
      s.customers.insert(customer);
      result.customers++;
      if (result.sample.customers.length < 5) result.sample.customers.push(customer.id);
      let card: PaymentMethodRecord | null = null;
      if (withCards) {
        card = {
          id: s.ids.next('pm'),
          created,
          seq: s.nextSeq(),
          customer: customer.id,
          card: { ...CARD, expMonth: 1 + (n % 12), expYear: new Date(now * 1000).getUTCFullYear() + 2 },
          behavior: 'succeed',
          billingDetails: { address: null, email: customer.email, name: customer.name, phone: null, tax_id: null },
          metadata: emptyMetadata(),
          allowRedisplay: 'unspecified',
          attachDecline: null,
        };
        s.paymentMethods.insert(card);
        customer.defaultPaymentMethod = card.id;
        result.paymentMethods++;
      }
      const subs: SubscriptionRecord[] = [];
      for (let j = 0; j < perCustomer; j++) {
        const price = prices[Math.floor(random() * prices.length)] as PriceRecord;
        const status = pickStatus();
        const sub = seedSubscription(s, customer, price, status, now, random);
        result.subscriptions++;
        if (result.sample.subscriptions.length < 5) result.sample.subscriptions.push(sub.id);
        if (withInvoices) {
          const inv = seedInvoice(s, customer, sub, price, card, now, result);
          if (result.sample.invoices.length < 5) result.sample.invoices.push(inv.id);
          billing.scheduleInvoice(inv);
        }
        billing.scheduleSubscription(sub);
        subs.push(sub);
      }
      if (s.recordEvents) {
        s.emit('customer.created', clock, renderCustomer(s, customer));
        if (card) s.emit('payment_method.attached', clock, renderPaymentMethod(card));
        for (const sub of subs) {
          s.emit('customer.subscription.created', clock, renderSubscription(s, sub));
          const inv = sub.latestInvoice ? s.invoices.get(sub.latestInvoice) : undefined;
          if (inv) s.emit(inv.status === 'paid' ? 'invoice.paid' : 'invoice.payment_failed', clock, renderInvoice(s, inv));
        }
      }
    }
  } finally {
    s.recordEvents = wasRecording;
  }
  result.durationMs = Math.round(performance.now() - started);
  return result;
}

function seedSubscription(
  s: StripeState,
  customer: CustomerRecord,
  price: PriceRecord,
  status: SeedStatus,
  now: number,
  random: () => number,
): SubscriptionRecord {
  const rec = price.recurring ?? { interval: 'month' as const, intervalCount: 1 };
  customer.currency ??= price.currency;
  let start = customer.created + Math.floor(random() * 3600);
  if (start > now) start = now;
  const quantity = 1 + Math.floor(random() * 5);
  let periodStart: number;
  let periodEnd: number;
  let subStatus: SubscriptionStatus = status;
  const fields: Partial<SubscriptionRecord> = {};
  if (status === 'trialing') {
    start = Math.max(start, now - 7 * DAY);
    periodStart = start;
    periodEnd = Math.max(now + DAY, start + 14 * DAY);
    Object.assign(fields, { trialStart: start, trialEnd: periodEnd, billingCycleAnchor: periodEnd });
  } else if (status === 'canceled') {
    const endedAt = start + Math.floor(random() * Math.max(1, now - start));
    ({ start: periodStart, end: periodEnd } = periodAround(start, endedAt, rec.interval, rec.intervalCount));
    Object.assign(fields, { canceledAt: endedAt, endedAt, cancellationReason: 'cancellation_requested' });
  } else {
    ({ start: periodStart, end: periodEnd } = periodAround(start, now, rec.interval, rec.intervalCount));
    subStatus = status;
  }
  const sub = newSubscription(s, start, customer, price.currency, {
    status: subStatus,
    billingCycleAnchor: start,
    startDate: start,
    // Notices a real account would already have sent are not sent again in a burst after seeding.
    upcomingSentFor: periodEnd - now <= s.billing.upcomingInvoiceDays * DAY ? periodEnd : null,
    trialWillEndSentFor: status === 'trialing' && periodEnd - now <= 3 * DAY ? periodEnd : null,
    ...fields,
  });
  const item = newSubscriptionItem(s, start, sub.id, price, quantity, periodStart, periodEnd);
  s.subscriptionItems.insert(item);
  sub.items = [item.id];
  s.subscriptions.insert(sub);
  return sub;
}

function seedInvoice(
  s: StripeState,
  customer: CustomerRecord,
  sub: SubscriptionRecord,
  price: PriceRecord,
  card: PaymentMethodRecord | null,
  now: number,
  result: SeedResult,
): InvoiceRecord {
  const item = s.subscriptionItems.require(sub.items[0] as string);
  const trial = sub.status === 'trialing';
  const amount = trial ? 0 : Math.round(Number(price.unitAmountDecimal) * (item.quantity ?? 1));
  const created = item.periodStart;
  const first = item.periodStart === sub.startDate;
  const failed = sub.status === 'past_due' || card === null;
  const inv = newInvoice(s, created, customer, price.currency, {
    subscription: sub.id,
    billingReason: first ? 'subscription_create' : 'subscription_cycle',
    periodStart: first ? created : created - (item.periodEnd - item.periodStart),
    periodEnd: created,
    subscriptionMetadata: sub.metadata,
  });
  const product = s.products.get(price.product)?.name ?? price.product;
  inv.lines = [
    {
      id: s.ids.next('il'),
      amount,
      currency: price.currency,
      description: trial ? `Trial period for ${product}` : describeItem(s, price, item.quantity),
      periodStart: item.periodStart,
      periodEnd: item.periodEnd,
      quantity: item.quantity,
      price: price.id,
      subscription: sub.id,
      subscriptionItem: item.id,
      invoiceItem: null,
      proration: false,
      discountable: true,
      discountAmounts: [],
      metadata: emptyMetadata(),
    },
  ];
  inv.subtotal = amount;
  inv.total = amount;
  inv.amountDue = amount;
  inv.number = nextInvoiceNumber(customer);
  inv.finalizedAt = created;
  inv.webhooksDeliveredAt = created;
  inv.endingBalance = 0;
  inv.automaticallyFinalizesAt = null;
  if (amount > 0) {
    const pi: PaymentIntentRecord = {
      id: s.ids.next('pi'),
      created,
      seq: s.nextSeq(),
      customer: customer.id,
      invoice: inv.id,
      amount,
      amountReceived: failed ? 0 : amount,
      currency: price.currency,
      status: failed ? 'requires_payment_method' : 'succeeded',
      paymentMethod: card?.id ?? null,
      latestCharge: null,
      lastPaymentError: null,
      description: first ? 'Subscription creation' : 'Subscription update',
      metadata: emptyMetadata(),
      canceledAt: null,
      clientSecret: `pi_secret_${s.ids.chars(25)}`,
    };
    inv.paymentIntent = pi.id;
    inv.attemptCount = 1;
    inv.attempted = true;
    if (card) {
      const ch: ChargeRecord = {
        id: s.ids.next('ch'),
        created,
        seq: s.nextSeq(),
        customer: customer.id,
        paymentIntent: pi.id,
        invoice: inv.id,
        paymentMethod: card.id,
        card: card.card,
        amount,
        currency: price.currency,
        status: failed ? 'failed' : 'succeeded',
        failure: failed ? { code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' } : null,
        amountRefunded: 0,
        disputed: false,
        description: pi.description,
        metadata: emptyMetadata(),
        balanceTransaction: null,
        receiptEmail: customer.email,
      };
      s.charges.insert(ch);
      pi.latestCharge = ch.id;
      if (failed) {
        pi.lastPaymentError = { code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.', charge: ch.id, paymentMethod: card.id };
      }
      result.charges++;
    }
    s.paymentIntents.insert(pi);
  }
  if (failed && amount > 0 && sub.status !== 'canceled') {
    inv.status = 'open';
    inv.nextPaymentAttempt = Math.max(now + 3600, created + (s.billing.retryScheduleDays[0] ?? 3) * DAY);
    customer.delinquent = true;
    if (sub.status === 'active') sub.status = 'past_due';
  } else {
    inv.status = 'paid';
    inv.amountPaid = amount;
    inv.paidAt = created;
  }
  s.invoices.insert(inv);
  sub.latestInvoice = inv.id;
  result.invoices++;
  return inv;
}
