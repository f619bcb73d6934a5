import type { PaymentKind, PaymentSnapshot } from './billing-snapshot.js';
import { InvalidAmountError, InvalidArgumentError } from './errors.js';
import type { MoneyByCurrency } from './money.js';
import { addAmount, normalizeCurrency } from './money.js';
import { assertTimestamp } from './time.js';
import type { Timestamp } from './time.js';

/**
 * Running payment totals for one customer, folded from payment snapshots with `applyPayment`.
 *
 * Idempotency without unbounded growth. Stripe delivers events at least once and in no particular order,
 * and the same object arrives in several events (charge.succeeded, charge.updated, charge.captured...).
 * A set of "seen ids" would grow for the life of the customer and ride along in every Temporal history.
 * Instead the aggregates keep, for the newest `maxTracked` payments (by `created`), what each one
 * contributed (paid, refunded, failed attempts) and a lifecycle rank. A new version of a tracked payment
 * is merged monotonically (a later lifecycle stage replaces the amounts; failure counts only grow) and
 * only the difference goes into the totals, so replays add nothing and the final totals do not depend on
 * the order versions arrive in. When the window is full the oldest entry is dropped (its contribution
 * stays in the totals) and `horizon` remembers its (created, id). A payment at or below the horizon that is
 * not tracked is treated as already counted and ignored: after `maxTracked` newer payments, a late event
 * for an old payment is far likelier a redelivery than news. A full resync rebuilds the aggregates from
 * Stripe's lists if that assumption ever needs correcting. Refunds are tracked by their own id and
 * creation time, so a refund of an old charge is still counted.
 *
 * What counts, to count every money movement exactly once:
 * - ledger 'charges' (default): succeeded charges are payments; failed charges are failed attempts;
 *   invoices are ignored because the charge that pays an invoice is already counted. One-off charges
 *   outside invoices are included.
 * - ledger 'invoices': paid invoices are payments (including those paid out of band or from credit),
 *   failed attempts come from `attempt_count`; charges are ignored.
 * - refunds count in both ledgers when they succeed, and stop counting if they later fail or are canceled.
 */

export type PaymentLedger = 'charges' | 'invoices';

/** What one payment contributed, kept for the newest payments only. */
export interface TrackedPayment {
  id: string;
  kind: PaymentKind;
  created: Timestamp;
  currency: string;
  /** Lifecycle stage; a version with a lower rank than the tracked one is stale. */
  rank: number;
  /** Minor units counted as paid. */
  paid: number;
  /** Minor units counted as refunded. */
  refunded: number;
  /** Failed collection attempts counted. */
  failures: number;
}

export interface LastPayment {
  id: string;
  /** Minor units. */
  amount: number;
  currency: string;
  at: Timestamp;
}

export interface LastFailure {
  id: string;
  at: Timestamp;
  code: string | null;
  message: string | null;
  paymentMethodId: string | null;
}

export interface PaymentAggregates {
  ledger: PaymentLedger;
  /** Size of the idempotency window. */
  maxTracked: number;
  /** Money collected per currency, minor units (refunds not subtracted). */
  paidTotal: MoneyByCurrency;
  /** Money refunded per currency, minor units. */
  refundedTotal: MoneyByCurrency;
  failedPaymentCount: number;
  /** Earliest successful payment of a non-zero amount. */
  firstPaymentAt: Timestamp | null;
  /** Latest successful payment of a non-zero amount (by when it was paid, not by arrival). */
  lastPayment: LastPayment | null;
  /** Latest failed attempt. */
  lastFailure: LastFailure | null;
  /** Newest payments, ascending by (created, id). */
  tracked: TrackedPayment[];
  /** (created, id) of the newest payment dropped from `tracked`; anything at or below is not re-counted. */
  horizon: { created: Timestamp; id: string } | null;
}

export interface PaymentAggregatesOptions {
  readonly ledger?: PaymentLedger;
  /** Default 200: years of monthly billing with room for retries and refunds, a few kB of state. */
  readonly maxTracked?: number;
}

export const DEFAULT_MAX_TRACKED_PAYMENTS = 200;

export function createPaymentAggregates(options: PaymentAggregatesOptions = {}): PaymentAggregates {
  const maxTracked = options.maxTracked ?? DEFAULT_MAX_TRACKED_PAYMENTS;
  if (!Number.isSafeInteger(maxTracked) || maxTracked < 1) throw new InvalidArgumentError('maxTracked must be a positive integer');
  return {
    ledger: options.ledger ?? 'charges',
    maxTracked,
    paidTotal: {},
    refundedTotal: {},
    failedPaymentCount: 0,
    firstPaymentAt: null,
    lastPayment: null,
    lastFailure: null,
    tracked: [],
    horizon: null,
  };
}

interface Contribution {
  rank: number;
  paid: number;
  refunded: number;
  failures: number;
}

/** Lifecycle ranks: a stage can only be followed by a higher one (refunds can fail after succeeding). */
function rankOf(payment: PaymentSnapshot): number {
  switch (payment.kind) {
    case 'invoice':
      // draft/open → attempted and failed → uncollectible → void | paid (paid after uncollectible is possible).
      if (payment.outcome === 'succeeded') return 4;
      if (payment.status === 'void') return 3;
      if (payment.status === 'uncollectible') return 2;
      return payment.outcome === 'failed' ? 1 : 0;
    case 'charge':
      // pending → authorised (pending, uncaptured) → failed | captured.
      if (payment.outcome === 'succeeded') return 3;
      if (payment.outcome === 'failed') return 2;
      return payment.status === 'succeeded' ? 1 : 0;
    case 'refund':
      // requires_action → pending → succeeded → failed | canceled.
      if (payment.outcome === 'failed' || payment.outcome === 'canceled') return 3;
      if (payment.outcome === 'succeeded') return 2;
      return payment.status === 'pending' ? 1 : 0;
  }
}

function contributionOf(payment: PaymentSnapshot): Contribution {
  const rank = rankOf(payment);
  const succeeded = payment.outcome === 'succeeded';
  switch (payment.kind) {
    case 'refund':
      return { rank, paid: 0, refunded: succeeded ? payment.amount : 0, failures: 0 };
    case 'charge':
      return { rank, paid: succeeded ? payment.amount : 0, refunded: 0, failures: payment.outcome === 'failed' ? 1 : 0 };
    case 'invoice': {
      // Every attempt but a successful last one failed. Out-of-band payment after failures is covered by
      // the monotonic merge: the earlier failed version's count is kept.
      const attempts = Math.max(0, payment.attemptCount);
      const failures = succeeded ? Math.max(0, attempts - 1) : payment.outcome === 'failed' ? Math.max(1, attempts) : 0;
      return { rank, paid: succeeded ? payment.amount : 0, refunded: 0, failures };
    }
  }
}

function counts(ledger: PaymentLedger, kind: PaymentKind): boolean {
  return kind === 'refund' || (ledger === 'charges' ? kind === 'charge' : kind === 'invoice');
}

function compareKey(a: { created: Timestamp; id: string }, b: { created: Timestamp; id: string }): number {
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function merge(existing: Contribution | undefined, incoming: Contribution): Contribution {
  if (!existing) return incoming;
  const failures = Math.max(existing.failures, incoming.failures);
  if (incoming.rank > existing.rank) return { ...incoming, failures };
  if (incoming.rank < existing.rank) return { ...existing, failures };
  return {
    rank: existing.rank,
    paid: Math.max(existing.paid, incoming.paid),
    refunded: Math.max(existing.refunded, incoming.refunded),
    failures,
  };
}

function validate(payment: PaymentSnapshot): void {
  if (!Number.isSafeInteger(payment.amount) || payment.amount < 0) {
    throw new InvalidAmountError(`Payment ${payment.id} has amount ${String(payment.amount)}; expected non-negative minor units`);
  }
  assertTimestamp(payment.created, `created of ${payment.id}`);
  if (payment.paidAt !== null) assertTimestamp(payment.paidAt, `paidAt of ${payment.id}`);
}

function laterOf<T extends { at: Timestamp; id: string }>(current: T | null, candidate: T): T {
  if (!current) return candidate;
  if (current.id === candidate.id) return candidate.at >= current.at ? candidate : { ...candidate, at: current.at };
  return candidate.at > current.at || (candidate.at === current.at && candidate.id > current.id) ? candidate : current;
}

/**
 * Folds one payment version into the aggregates. Pure and idempotent: replaying a payment, or receiving its
 * versions in any order, yields the same totals. Returns the same object when nothing changes.
 */
export function applyPayment(aggregates: PaymentAggregates, payment: PaymentSnapshot): PaymentAggregates {
  validate(payment);
  if (!counts(aggregates.ledger, payment.kind)) return aggregates;
  const index = aggregates.tracked.findIndex((entry) => entry.id === payment.id);
  const existing = index >= 0 ? aggregates.tracked[index] : undefined;
  if (!existing && aggregates.horizon && compareKey(payment, aggregates.horizon) <= 0) return aggregates;

  const incoming = contributionOf(payment);
  const merged = merge(existing, incoming);
  if (
    existing &&
    merged.rank === existing.rank &&
    merged.paid === existing.paid &&
    merged.refunded === existing.refunded &&
    merged.failures === existing.failures
  ) {
    return aggregates; // a replay, or a stale version already superseded
  }

  // Identity fields stay as first seen: a payment's creation time and currency never change in Stripe.
  const entry: TrackedPayment = {
    id: payment.id,
    kind: payment.kind,
    created: existing?.created ?? payment.created,
    currency: existing?.currency ?? normalizeCurrency(payment.currency),
    ...merged,
  };
  let tracked = index >= 0 ? aggregates.tracked.map((item, i) => (i === index ? entry : item)) : [...aggregates.tracked, entry];
  tracked.sort(compareKey);
  let horizon = aggregates.horizon;
  if (tracked.length > aggregates.maxTracked) {
    const evicted = tracked.slice(0, tracked.length - aggregates.maxTracked);
    tracked = tracked.slice(tracked.length - aggregates.maxTracked);
    const newest = evicted[evicted.length - 1];
    if (newest && (!horizon || compareKey(newest, horizon) > 0)) horizon = { created: newest.created, id: newest.id };
  }

  // Only a version at the merged lifecycle stage speaks for the payment's current state.
  const current = merged.rank === incoming.rank;
  let { firstPaymentAt, lastPayment, lastFailure } = aggregates;
  if (current && payment.kind !== 'refund' && payment.outcome === 'succeeded' && merged.paid > 0) {
    const at = payment.paidAt ?? payment.created;
    firstPaymentAt = firstPaymentAt === null ? at : Math.min(firstPaymentAt, at);
    lastPayment = laterOf(lastPayment, { id: payment.id, amount: merged.paid, currency: entry.currency, at });
  }
  if (current && payment.kind !== 'refund' && payment.outcome === 'failed') {
    lastFailure = laterOf(lastFailure, {
      id: payment.id,
      at: payment.created,
      code: payment.failureCode,
      message: payment.failureMessage,
      paymentMethodId: payment.paymentMethodId,
    });
  }

  const deltaPaid = merged.paid - (existing?.paid ?? 0);
  const deltaRefunded = merged.refunded - (existing?.refunded ?? 0);
  return {
    ...aggregates,
    paidTotal: deltaPaid === 0 ? aggregates.paidTotal : addAmount(aggregates.paidTotal, entry.currency, deltaPaid),
    refundedTotal: deltaRefunded === 0 ? aggregates.refundedTotal : addAmount(aggregates.refundedTotal, entry.currency, deltaRefunded),
    failedPaymentCount: aggregates.failedPaymentCount + merged.failures - (existing?.failures ?? 0),
    firstPaymentAt,
    lastPayment,
    lastFailure,
    tracked,
    horizon,
  };
}

/** Folds many payments, e.g. when rebuilding aggregates from a full Stripe listing during a resync. */
export function applyPayments(aggregates: PaymentAggregates, payments: Iterable<PaymentSnapshot>): PaymentAggregates {
  let result = aggregates;
  for (const payment of payments) result = applyPayment(result, payment);
  return result;
}

/** Lifetime value: paid minus refunded, per currency, minor units. */
export function lifetimeValue(aggregates: PaymentAggregates): MoneyByCurrency {
  let result: MoneyByCurrency = aggregates.paidTotal;
  for (const [currency, amount] of Object.entries(aggregates.refundedTotal)) result = addAmount(result, currency, -amount);
  return result;
}
