import { describe, expect, it } from 'vitest';
import type { PaymentSnapshot } from '../../domain/billing-snapshot.js';
import { InvalidAmountError, InvalidArgumentError } from '../../domain/errors.js';
import type { PaymentAggregates, PaymentAggregatesOptions } from '../../domain/payment-aggregates.js';
import { applyPayment, applyPayments, createPaymentAggregates, lifetimeValue } from '../../domain/payment-aggregates.js';
import { DAY, payment, T0 } from './billing-builders.js';

function fold(payments: PaymentSnapshot[], options: PaymentAggregatesOptions = {}): PaymentAggregates {
  return applyPayments(createPaymentAggregates(options), payments);
}

/** The part of the aggregates a CRM sees; must not depend on delivery order or duplicates. */
function visible(aggregates: PaymentAggregates) {
  const { paidTotal, refundedTotal, failedPaymentCount, firstPaymentAt, lastPayment } = aggregates;
  return { paidTotal, refundedTotal, failedPaymentCount, firstPaymentAt, lastPayment, ltv: lifetimeValue(aggregates) };
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, index) => permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]));
}

const charge = (id: string, created: number, amount = 1000, extra: Partial<PaymentSnapshot> = {}) =>
  payment({ id, kind: 'charge', created, amount, ...extra });
const failedCharge = (id: string, created: number, code = 'card_declined') =>
  payment({ id, kind: 'charge', outcome: 'failed', status: 'failed', created, failureCode: code, failureMessage: 'Your card was declined.' });
const refund = (id: string, created: number, amount: number, status: string) =>
  payment({
    id, kind: 'refund', created, amount, status, attemptCount: 0, chargeId: 'ch_1',
    outcome: status === 'succeeded' ? 'succeeded' : status === 'failed' ? 'failed' : status === 'canceled' ? 'canceled' : 'pending',
  });
const invoice = (status: 'open' | 'paid' | 'uncollectible' | 'void', attemptCount: number, extra: Partial<PaymentSnapshot> = {}) =>
  payment({
    id: 'in_1', kind: 'invoice', status, attemptCount, created: T0, amount: 2000,
    outcome: status === 'paid' ? 'succeeded' : status === 'void' ? 'canceled' : attemptCount > 0 || status === 'uncollectible' ? 'failed' : 'pending',
    paidAt: status === 'paid' ? T0 + attemptCount * DAY : null,
    ...extra,
  });

describe('applyPayment: what counts', () => {
  it.each<[string, PaymentSnapshot[], PaymentAggregatesOptions, ReturnType<typeof visible>]>([
    [
      'a succeeded charge',
      [charge('ch_1', T0)],
      {},
      { paidTotal: { usd: 1000 }, refundedTotal: {}, failedPaymentCount: 0, firstPaymentAt: T0, lastPayment: { id: 'ch_1', amount: 1000, currency: 'usd', at: T0 }, ltv: { usd: 1000 } },
    ],
    [
      'a declined charge counts a failure and no money',
      [failedCharge('ch_1', T0)],
      {},
      { paidTotal: {}, refundedTotal: {}, failedPaymentCount: 1, firstPaymentAt: null, lastPayment: null, ltv: {} },
    ],
    [
      'charges plus a refund: LTV is paid minus refunded',
      [charge('ch_1', T0, 5000), charge('ch_2', T0 + DAY, 3000), refund('re_1', T0 + 2 * DAY, 1500, 'succeeded')],
      {},
      { paidTotal: { usd: 8000 }, refundedTotal: { usd: 1500 }, failedPaymentCount: 0, firstPaymentAt: T0, lastPayment: { id: 'ch_2', amount: 3000, currency: 'usd', at: T0 + DAY }, ltv: { usd: 6500 } },
    ],
    [
      'several currencies are kept apart',
      [charge('ch_1', T0, 1000), charge('ch_2', T0 + DAY, 500, { currency: 'eur' }), charge('ch_3', T0 + 2 * DAY, 1000, { currency: 'jpy' })],
      {},
      { paidTotal: { usd: 1000, eur: 500, jpy: 1000 }, refundedTotal: {}, failedPaymentCount: 0, firstPaymentAt: T0, lastPayment: { id: 'ch_3', amount: 1000, currency: 'jpy', at: T0 + 2 * DAY }, ltv: { usd: 1000, eur: 500, jpy: 1000 } },
    ],
    [
      'a $0 charge is not a first or last payment',
      [charge('ch_0', T0, 0)],
      {},
      { paidTotal: {}, refundedTotal: {}, failedPaymentCount: 0, firstPaymentAt: null, lastPayment: null, ltv: {} },
    ],
    [
      'charges ledger ignores invoices (their charges carry the money)',
      [invoice('paid', 1), charge('ch_1', T0, 2000)],
      {},
      { paidTotal: { usd: 2000 }, refundedTotal: {}, failedPaymentCount: 0, firstPaymentAt: T0, lastPayment: { id: 'ch_1', amount: 2000, currency: 'usd', at: T0 }, ltv: { usd: 2000 } },
    ],
    [
      'invoices ledger ignores charges and counts failed attempts from attempt_count',
      [invoice('paid', 3), charge('ch_1', T0, 2000), failedCharge('ch_0', T0)],
      { ledger: 'invoices' },
      { paidTotal: { usd: 2000 }, refundedTotal: {}, failedPaymentCount: 2, firstPaymentAt: T0 + 3 * DAY, lastPayment: { id: 'in_1', amount: 2000, currency: 'usd', at: T0 + 3 * DAY }, ltv: { usd: 2000 } },
    ],
    [
      'refunds count in the invoices ledger too',
      [invoice('paid', 1), refund('re_1', T0 + 5 * DAY, 500, 'succeeded')],
      { ledger: 'invoices' },
      { paidTotal: { usd: 2000 }, refundedTotal: { usd: 500 }, failedPaymentCount: 0, firstPaymentAt: T0 + DAY, lastPayment: { id: 'in_1', amount: 2000, currency: 'usd', at: T0 + DAY }, ltv: { usd: 1500 } },
    ],
  ])('%s', (_name, payments, options, expected) => {
    expect(visible(fold(payments, options))).toEqual(expected);
  });
});

describe('applyPayment: idempotency', () => {
  it('returns the same object for a replay', () => {
    const once = fold([charge('ch_1', T0), failedCharge('ch_2', T0 + DAY), refund('re_1', T0 + 2 * DAY, 100, 'succeeded')]);
    for (const replay of [charge('ch_1', T0), failedCharge('ch_2', T0 + DAY), refund('re_1', T0 + 2 * DAY, 100, 'succeeded')]) {
      expect(applyPayment(once, replay)).toBe(once);
    }
  });

  it('counts each payment once however often it is delivered', () => {
    const events = [charge('ch_1', T0), charge('ch_1', T0), failedCharge('ch_2', T0 + DAY), failedCharge('ch_2', T0 + DAY), charge('ch_1', T0)];
    expect(visible(fold(events))).toMatchObject({ paidTotal: { usd: 1000 }, failedPaymentCount: 1 });
  });

  it.each<[string, PaymentSnapshot[], PaymentAggregatesOptions]>([
    [
      'charge lifecycle: authorised, captured, replayed; plus a declined retry and a refund',
      [
        charge('ch_1', T0, 2000, { outcome: 'pending', status: 'succeeded', paidAt: null }),
        charge('ch_1', T0, 2000),
        charge('ch_1', T0, 2000),
        failedCharge('ch_0', T0 - DAY),
        refund('re_1', T0 + DAY, 700, 'pending'),
        refund('re_1', T0 + DAY, 700, 'succeeded'),
      ],
      {},
    ],
    [
      'refund that succeeds and then fails (bank refunds can)',
      [charge('ch_1', T0, 2000), refund('re_1', T0 + DAY, 2000, 'pending'), refund('re_1', T0 + DAY, 2000, 'succeeded'), refund('re_1', T0 + DAY, 2000, 'failed')],
      {},
    ],
    [
      'invoice dunning: two failed attempts, then paid, in the invoices ledger',
      [invoice('open', 0), invoice('open', 1), invoice('open', 2), invoice('paid', 3), refund('re_1', T0 + 9 * DAY, 500, 'succeeded')],
      { ledger: 'invoices' },
    ],
    [
      'invoice: failed attempts, uncollectible, then paid out of band',
      [invoice('open', 1), invoice('open', 2), invoice('uncollectible', 2), invoice('paid', 2, { paidAt: T0 + 20 * DAY })],
      { ledger: 'invoices' },
    ],
  ])('gives the same result in every delivery order: %s', (_name, events, options) => {
    const orders = permutations(events);
    const expected = visible(fold(events, options));
    for (const order of orders) expect(visible(fold(order, options))).toEqual(expected);
  });

  it('lands on the final lifecycle stage for each of those histories', () => {
    expect(visible(fold([refund('re_1', T0, 2000, 'failed'), refund('re_1', T0, 2000, 'succeeded')]))).toMatchObject({ refundedTotal: {} });
    expect(visible(fold([invoice('paid', 3), invoice('open', 1)], { ledger: 'invoices' }))).toMatchObject({ paidTotal: { usd: 2000 }, failedPaymentCount: 2 });
    // Paid out of band after two declines: attempt_count stays 2, yet both failures are kept.
    expect(visible(fold([invoice('open', 2), invoice('paid', 2)], { ledger: 'invoices' }))).toMatchObject({ failedPaymentCount: 2, paidTotal: { usd: 2000 } });
    expect(visible(fold([charge('ch_1', T0, 2000), charge('ch_1', T0, 2000, { outcome: 'pending', status: 'succeeded', paidAt: null })]))).toMatchObject({ paidTotal: { usd: 2000 } });
  });

  it('keeps the latest payment by payment time, not by arrival', () => {
    const result = fold([charge('ch_new', T0 + 10 * DAY, 3000), charge('ch_old', T0, 1000)]);
    expect(result.lastPayment).toEqual({ id: 'ch_new', amount: 3000, currency: 'usd', at: T0 + 10 * DAY });
    expect(result.firstPaymentAt).toBe(T0);
  });

  it('records the latest failure with its decline code', () => {
    const result = fold([failedCharge('ch_2', T0 + DAY, 'insufficient_funds'), failedCharge('ch_1', T0, 'expired_card')]);
    expect(result.lastFailure).toEqual({ id: 'ch_2', at: T0 + DAY, code: 'insufficient_funds', message: 'Your card was declined.', paymentMethodId: 'pm_1' });
  });
});

describe('applyPayment: bounded memory', () => {
  it('tracks at most maxTracked payments and never re-counts evicted ones', () => {
    const payments = Array.from({ length: 5 }, (_, i) => charge(`ch_${i}`, T0 + i * DAY, 100 * (i + 1)));
    const result = fold(payments, { maxTracked: 3 });
    expect(result.tracked.map((entry) => entry.id)).toEqual(['ch_2', 'ch_3', 'ch_4']);
    expect(result.horizon).toEqual({ created: T0 + DAY, id: 'ch_1' });
    expect(result.paidTotal).toEqual({ usd: 1500 });
    // Redelivery of evicted payments is ignored; tracked ones still merge.
    expect(applyPayment(result, payments[0] as PaymentSnapshot)).toBe(result);
    expect(applyPayment(result, payments[1] as PaymentSnapshot)).toBe(result);
    expect(applyPayment(result, payments[3] as PaymentSnapshot)).toBe(result);
  });

  it('still counts a new refund of an evicted charge, because refunds are keyed by their own creation', () => {
    const charges = Array.from({ length: 4 }, (_, i) => charge(`ch_${i}`, T0 + i * DAY, 1000));
    const result = applyPayment(fold(charges, { maxTracked: 2 }), refund('re_old', T0 + 30 * DAY, 1000, 'succeeded'));
    expect(lifetimeValue(result)).toEqual({ usd: 3000 });
  });

  it('treats an unseen payment older than the horizon as already counted (documented trade-off)', () => {
    const result = fold(Array.from({ length: 4 }, (_, i) => charge(`ch_${i}`, T0 + i * DAY)), { maxTracked: 2 });
    expect(applyPayment(result, charge('ch_ancient', T0 - 100 * DAY))).toBe(result);
  });

  it('keeps state small for a long-lived customer (it rides in Temporal history)', () => {
    const payments = Array.from({ length: 1200 }, (_, i) => (i % 10 === 9 ? failedCharge(`ch_${i}`, T0 + i * DAY) : charge(`ch_${i}`, T0 + i * DAY, 1000)));
    const result = fold(payments);
    expect(result.tracked).toHaveLength(200);
    expect(result.paidTotal).toEqual({ usd: 1_080_000 });
    expect(result.failedPaymentCount).toBe(120);
    expect(JSON.stringify(result).length).toBeLessThan(40_000);
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });
});

describe('applyPayment: randomised delivery against a reference model', () => {
  // Deterministic PRNG (mulberry32) so a failure reproduces.
  function random(seed: number) {
    let t = seed >>> 0;
    return () => {
      t = (t + 0x6d2b79f5) >>> 0;
      let r = Math.imul(t ^ (t >>> 15), 1 | t);
      r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
      return ((r ^ (r >>> 14)) >>> 0) / 4_294_967_296;
    };
  }

  it.each([1, 2, 3, 4, 5])('seed %i: 400 payments, their lifecycle versions duplicated and shuffled', (seed) => {
    const rand = random(seed);
    const versions: PaymentSnapshot[] = [];
    let expectedPaid = 0;
    let expectedRefunded = 0;
    let expectedFailures = 0;
    for (let i = 0; i < 400; i += 1) {
      const created = T0 + Math.floor(rand() * 365) * DAY + i;
      const amount = 100 + Math.floor(rand() * 10_000);
      const roll = rand();
      if (roll < 0.6) {
        // Authorised then captured; sometimes only authorised.
        const captured = rand() < 0.9;
        versions.push(charge(`ch_${i}`, created, amount, { outcome: 'pending', status: 'succeeded', paidAt: null }));
        if (captured) {
          versions.push(charge(`ch_${i}`, created, amount));
          expectedPaid += amount;
        }
      } else if (roll < 0.8) {
        versions.push(failedCharge(`ch_${i}`, created));
        expectedFailures += 1;
      } else {
        const final = rand() < 0.8 ? 'succeeded' : 'failed';
        versions.push(refund(`re_${i}`, created, amount, 'pending'), refund(`re_${i}`, created, amount, 'succeeded'));
        if (final === 'failed') versions.push(refund(`re_${i}`, created, amount, 'failed'));
        else expectedRefunded += amount;
      }
    }
    const deliveries = [...versions, ...versions.filter(() => rand() < 0.3)];
    for (let i = deliveries.length - 1; i > 0; i -= 1) {
      const j = Math.floor(rand() * (i + 1));
      [deliveries[i], deliveries[j]] = [deliveries[j] as PaymentSnapshot, deliveries[i] as PaymentSnapshot];
    }
    const result = fold(deliveries, { maxTracked: 1000 });
    expect(result.paidTotal).toEqual(expectedPaid === 0 ? {} : { usd: expectedPaid });
    expect(result.refundedTotal).toEqual(expectedRefunded === 0 ? {} : { usd: expectedRefunded });
    expect(result.failedPaymentCount).toBe(expectedFailures);
    expect(visible(result)).toEqual(visible(fold(versions, { maxTracked: 1000 })));
  });
});

describe('applyPayment: validation', () => {
  it.each([-1, 1.5, Number.NaN])('rejects amount %d', (amount) => {
    expect(() => applyPayment(createPaymentAggregates(), charge('ch_1', T0, amount))).toThrow(InvalidAmountError);
  });

  it.each([0, -1, 1.5])('rejects maxTracked %d', (maxTracked) => {
    expect(() => createPaymentAggregates({ maxTracked })).toThrow(InvalidArgumentError);
  });
});
