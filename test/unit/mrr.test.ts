import { describe, expect, it } from 'vitest';
import type { DiscountSnapshot, PriceSnapshot, SubscriptionSnapshot } from '../../domain/billing-snapshot.js';
import { DuplicateSubscriptionError } from '../../domain/errors.js';
import type { MrrByCurrency, MrrOptions } from '../../domain/mrr.js';
import {
  classifyMrrChange,
  computeMrr,
  computeSubscriptionMrr,
  INITIAL_MRR_HISTORY,
  recordMrr,
} from '../../domain/mrr.js';
import { amountOff, DAY, discount, item, percentOff, price, recurringPrice, subscription, T0 } from './billing-builders.js';

const apply: MrrOptions = { now: T0, discounts: 'apply' };

function monthly(amount: number, quantity = 1) {
  return item(recurringPrice(amount, 'month'), quantity);
}

describe('computeMrr: normalisation to a month', () => {
  it.each<[string, SubscriptionSnapshot[], MrrByCurrency]>([
    ['monthly $10', [subscription([monthly(1000)])], { usd: 1000 }],
    ['monthly $10 × 3 seats', [subscription([monthly(1000, 3)])], { usd: 3000 }],
    ['yearly $1200 counts $100', [subscription([item(recurringPrice(120_000, 'year'))])], { usd: 10_000 }],
    ['yearly $100 → 833.33 cents rounds to 833', [subscription([item(recurringPrice(10_000, 'year'))])], { usd: 833 }],
    ['weekly $10 × 52/12', [subscription([item(recurringPrice(1000, 'week'))])], { usd: 4333 }],
    ['every 2 weeks $10 × 52/24', [subscription([item(recurringPrice(1000, 'week', 2))])], { usd: 2167 }],
    ['daily $1 × 365/12', [subscription([item(recurringPrice(100, 'day'))])], { usd: 3042 }],
    ['quarterly (3 months) $30', [subscription([item(recurringPrice(3000, 'month', 3))])], { usd: 1000 }],
    ['half-yearly (6 months) $60', [subscription([item(recurringPrice(6000, 'month', 6))])], { usd: 1000 }],
    ['every 2 years $2400', [subscription([item(recurringPrice(240_000, 'year', 2))])], { usd: 10_000 }],
    ['yearly 6 cents is 0.5 cent: rounds half up', [subscription([item(recurringPrice(6, 'year'))])], { usd: 1 }],
    ['yearly 5 cents is 0.42 cent: rounds to zero and is omitted', [subscription([item(recurringPrice(5, 'year'))])], {}],
    ['sub-cent unit price 0.5 × 1000 units', [subscription([item(recurringPrice('0.5'), 1000)])], { usd: 500 }],
    ['12-decimal unit price stays exact', [subscription([item(recurringPrice('0.333333333333'), 3000)])], { usd: 1000 }],
    [
      'several items: base $50 + 5 seats × $10 + yearly add-on $120',
      [subscription([monthly(5000), monthly(1000, 5), item(recurringPrice(12_000, 'year'))])],
      { usd: 11_000 },
    ],
    [
      'Stripe glossary example per subscriber: $100/month plus $600/year',
      [subscription([monthly(10_000)], { id: 'sub_a' }), subscription([item(recurringPrice(60_000, 'year'))], { id: 'sub_b' })],
      { usd: 15_000 },
    ],
    [
      'several subscriptions are summed exactly before rounding (8.33 + 8.33 → 17, not 16)',
      [
        subscription([item(recurringPrice(100, 'year'))], { id: 'sub_a' }),
        subscription([item(recurringPrice(100, 'year'))], { id: 'sub_b' }),
      ],
      { usd: 17 },
    ],
    [
      'multiple currencies are kept apart',
      [
        subscription([monthly(1000)], { id: 'sub_usd' }),
        subscription([item(recurringPrice(2000, 'month', 1, { currency: 'eur' }))], { id: 'sub_eur', currency: 'eur' }),
        subscription([item(recurringPrice(1200, 'year', 1, { currency: 'jpy' }))], { id: 'sub_jpy', currency: 'jpy' }),
        subscription([item(recurringPrice(12_000, 'year', 1, { currency: 'kwd' }))], { id: 'sub_kwd', currency: 'kwd' }),
      ],
      { eur: 2000, jpy: 100, kwd: 1000, usd: 1000 },
    ],
    [
      'metered items are excluded',
      [subscription([monthly(2000), item(price({ id: 'price_metered', unitAmountDecimal: '5', recurring: { interval: 'month', intervalCount: 1, usageType: 'metered' } }))])],
      { usd: 2000 },
    ],
    ['one-time prices are excluded', [subscription([monthly(2000), item(price({ id: 'price_setup', recurring: null, unitAmountDecimal: '9900' }))])], { usd: 2000 }],
    ['free plans add nothing', [subscription([monthly(0)])], {}],
    ['no subscriptions', [], {}],
  ])('%s', (_name, subscriptions, expected) => {
    expect(computeMrr(subscriptions, apply)).toEqual(expected);
  });
});

describe('computeMrr: tiered prices and quantity transforms', () => {
  const tiers = [
    { upTo: 5, unitAmountDecimal: '1000', flatAmountDecimal: null },
    { upTo: 10, unitAmountDecimal: '800', flatAmountDecimal: null },
    { upTo: null, unitAmountDecimal: '500', flatAmountDecimal: null },
  ];
  const tiered = (mode: 'graduated' | 'volume', overrides: Partial<PriceSnapshot> = {}) =>
    price({ id: `price_${mode}`, billingScheme: 'tiered', unitAmount: null, unitAmountDecimal: null, tiersMode: mode, tiers, ...overrides });

  it.each<[string, PriceSnapshot, number, MrrByCurrency]>([
    ['graduated, 12 units: 5×10 + 5×8 + 2×5', tiered('graduated'), 12, { usd: 10_000 }],
    ['graduated, 3 units stay in tier 1', tiered('graduated'), 3, { usd: 3000 }],
    ['graduated, exactly at a boundary (5)', tiered('graduated'), 5, { usd: 5000 }],
    ['volume, 12 units all at tier 3', tiered('volume'), 12, { usd: 6000 }],
    ['volume, 6 units all at tier 2', tiered('volume'), 6, { usd: 4800 }],
    [
      'graduated with a flat fee on the first tier',
      tiered('graduated', { tiers: [{ upTo: 5, unitAmountDecimal: '0', flatAmountDecimal: '2000' }, { upTo: null, unitAmountDecimal: '300', flatAmountDecimal: null }] }),
      7,
      { usd: 2600 },
    ],
    ['tiered, zero quantity', tiered('graduated'), 0, {}],
    ['tiered but tiers not in the payload: unpriced', tiered('graduated', { tiers: null }), 12, {}],
    [
      'graduated tiers that end before the quantity: unpriced rather than guessed',
      tiered('graduated', { tiers: [{ upTo: 5, unitAmountDecimal: '1000', flatAmountDecimal: null }] }),
      6,
      {},
    ],
    ['transform_quantity: 25 units per 10, rounded up → 3 packs', price({ unitAmountDecimal: '1000', transformQuantity: { divideBy: 10, round: 'up' } }), 25, { usd: 3000 }],
    ['transform_quantity: 25 units per 10, rounded down → 2 packs', price({ unitAmountDecimal: '1000', transformQuantity: { divideBy: 10, round: 'down' } }), 25, { usd: 2000 }],
  ])('%s', (_name, itemPrice, quantity, expected) => {
    expect(computeMrr([subscription([item(itemPrice, quantity)])], apply)).toEqual(expected);
  });
});

describe('computeMrr: subscription status and scheduling', () => {
  it.each<[string, Partial<SubscriptionSnapshot>, MrrOptions, MrrByCurrency]>([
    ['active counts', { status: 'active' }, apply, { usd: 1000 }],
    ['past_due counts', { status: 'past_due' }, apply, { usd: 1000 }],
    ['trialing does not count', { status: 'trialing', trialEnd: T0 + 7 * DAY }, apply, {}],
    ['unpaid does not count', { status: 'unpaid' }, apply, {}],
    ['canceled does not count', { status: 'canceled', canceledAt: T0 - DAY, endedAt: T0 - DAY }, apply, {}],
    ['incomplete does not count', { status: 'incomplete' }, apply, {}],
    ['incomplete_expired does not count', { status: 'incomplete_expired' }, apply, {}],
    ['paused does not count', { status: 'paused' }, apply, {}],
    ['a status Stripe adds later does not count', { status: 'suspended' }, apply, {}],
    ['cancel_at_period_end still counts until it ends (default)', { cancelAtPeriodEnd: true }, apply, { usd: 1000 }],
    ['cancel_at_period_end counts zero with cancellations=immediately', { cancelAtPeriodEnd: true }, { ...apply, cancellations: 'immediately' }, {}],
    ['cancel_at counts zero with cancellations=immediately', { cancelAt: T0 + 10 * DAY }, { ...apply, cancellations: 'immediately' }, {}],
    ['paused collection still counts by default', { pauseCollection: { behavior: 'void', resumesAt: null } }, apply, { usd: 1000 }],
    ['paused collection excluded when asked', { pauseCollection: { behavior: 'void', resumesAt: T0 + DAY } }, { ...apply, pausedCollection: 'exclude' }, {}],
    ['a pause that already ended counts', { pauseCollection: { behavior: 'void', resumesAt: T0 - DAY } }, { ...apply, pausedCollection: 'exclude' }, { usd: 1000 }],
  ])('%s', (_name, overrides, options, expected) => {
    expect(computeMrr([subscription([monthly(1000)], overrides)], options)).toEqual(expected);
  });

  it('refuses the same subscription twice instead of double counting', () => {
    const sub = subscription([monthly(1000)]);
    expect(() => computeMrr([sub, sub], apply)).toThrow(DuplicateSubscriptionError);
  });
});

describe('computeMrr: discounts', () => {
  const expired = { start: T0 - 120 * DAY, end: T0 - 30 * DAY };
  const running = { start: T0 - 30 * DAY, end: T0 + 60 * DAY, durationInMonths: 3 };

  it.each<[string, number, DiscountSnapshot[], MrrOptions, MrrByCurrency]>([
    ['forever 20% off', 1000, [percentOff(20)], apply, { usd: 800 }],
    ['forever 25.5% off keeps the decimal', 10_000, [percentOff(25.5)], apply, { usd: 7450 }],
    ['forever 33.3% off $10 → 667 (exact 667, no float drift)', 1000, [percentOff(33.3)], apply, { usd: 667 }],
    ['forever $3 off', 1000, [amountOff(300, 'usd')], apply, { usd: 700 }],
    ['once 50% off does not affect MRR', 1000, [percentOff(50, 'once')], apply, { usd: 1000 }],
    ['once $5 off does not affect MRR', 1000, [amountOff(500, 'usd', 'once')], apply, { usd: 1000 }],
    ['repeating 50% off while active', 1000, [percentOff(50, 'repeating', running)], apply, { usd: 500 }],
    ['repeating 50% off after it ended', 1000, [percentOff(50, 'repeating', expired)], apply, { usd: 1000 }],
    [
      'repeating end derived from start + duration_in_months when `end` is missing (still running)',
      1000,
      [percentOff(50, 'repeating', { start: T0 - 30 * DAY, end: null, durationInMonths: 2 })],
      apply,
      { usd: 500 },
    ],
    [
      'repeating end derived from start + duration_in_months when `end` is missing (ended)',
      1000,
      [percentOff(50, 'repeating', { start: T0 - 95 * DAY, end: null, durationInMonths: 3 })],
      apply,
      { usd: 1000 },
    ],
    ['repeating $2 off while active', 1000, [amountOff(200, 'usd', 'repeating', running)], apply, { usd: 800 }],
    ['a discount that starts in the future does not apply yet', 1000, [percentOff(50, 'forever', { start: T0 + DAY })], apply, { usd: 1000 }],
    ['100% off forever is zero MRR', 1000, [percentOff(100)], apply, {}],
    ['amount off larger than the price never goes below zero', 1000, [amountOff(5000, 'usd')], apply, {}],
    ['an amount-off coupon in another currency does not apply', 1000, [amountOff(300, 'eur')], apply, { usd: 1000 }],
    ['an amount-off coupon with a currency option for USD applies', 1000, [amountOff(300, 'eur', 'forever', { amountOffByCurrency: { usd: 250 } })], apply, { usd: 750 }],
    ['stacked: 50% then $2 → 300', 1000, [percentOff(50), amountOff(200, 'usd')], apply, { usd: 300 }],
    ['stacked: $2 then 50% → 400 (order matters, as in Stripe)', 1000, [amountOff(200, 'usd'), percentOff(50)], apply, { usd: 400 }],
    ['stacked: 50% then 50% compounds to 25%', 1000, [percentOff(50), { ...percentOff(50), id: 'di_other' }], apply, { usd: 250 }],
    ['forever_only mode ignores a running repeating coupon', 1000, [percentOff(50, 'repeating', running)], { ...apply, discounts: 'forever_only' }, { usd: 1000 }],
    ['forever_only mode applies forever coupons', 1000, [percentOff(50)], { ...apply, discounts: 'forever_only' }, { usd: 500 }],
    ['ignore mode reports list price', 1000, [percentOff(50), amountOff(100, 'usd')], { ...apply, discounts: 'ignore' }, { usd: 1000 }],
    ['unknown coupon terms are not guessed', 1000, [discount({ duration: null, couponId: 'SPRING' })], apply, { usd: 1000 }],
  ])('%s', (_name, amount, discounts, options, expected) => {
    expect(computeMrr([subscription([monthly(amount)], { discounts })], options)).toEqual(expected);
  });

  it('takes an amount-off coupon off every invoice: $12 off a $120 yearly plan is $1 a month', () => {
    const sub = subscription([item(recurringPrice(12_000, 'year'))], { discounts: [amountOff(1200, 'usd')] });
    expect(computeMrr([sub], apply)).toEqual({ usd: 900 });
  });

  it('takes an amount-off coupon off each weekly invoice', () => {
    const sub = subscription([item(recurringPrice(1000, 'week'))], { discounts: [amountOff(100, 'usd')] });
    expect(computeMrr([sub], apply)).toEqual({ usd: 3900 }); // (10 − 1) × 52/12 = 39.00
  });

  it('applies item discounts to their item only, before subscription discounts', () => {
    const sub = subscription(
      [item(recurringPrice(1000), 1, { discounts: [percentOff(50)] }), item(recurringPrice(2000, 'month', 1, { productId: 'prod_addon' }))],
      { discounts: [amountOff(300, 'usd')] },
    );
    // Item 1: 1000 → 500. Then $3 off the 2500 subtotal → 2200.
    expect(computeMrr([sub], apply)).toEqual({ usd: 2200 });
  });

  it('honours coupon product restrictions', () => {
    const restricted = percentOff(50, 'forever', { appliesToProducts: ['prod_addon'] });
    const sub = subscription(
      [monthly(1000), item(recurringPrice(2000, 'month', 1, { productId: 'prod_addon' }))],
      { discounts: [restricted] },
    );
    expect(computeMrr([sub], apply)).toEqual({ usd: 2000 });
  });

  it('inherits the customer discount only when the subscription has none of its own', () => {
    const customerDiscount = percentOff(10, 'forever', { id: 'di_customer' });
    const plain = subscription([monthly(1000)], { id: 'sub_plain' });
    const own = subscription([monthly(1000)], { id: 'sub_own', discounts: [percentOff(50)] });
    expect(computeMrr([plain], { ...apply, customerDiscount })).toEqual({ usd: 900 });
    expect(computeMrr([own], { ...apply, customerDiscount })).toEqual({ usd: 500 });
    expect(computeMrr([plain, own], { ...apply, customerDiscount })).toEqual({ usd: 1400 });
  });

  it('does not discount metered or excluded items', () => {
    const metered = item(price({ id: 'price_metered', unitAmountDecimal: '1', recurring: { interval: 'month', intervalCount: 1, usageType: 'metered' } }));
    const sub = subscription([metered], { discounts: [amountOff(500, 'usd')] });
    expect(computeMrr([sub], apply)).toEqual({});
  });
});

describe('computeMrr at volume', () => {
  it('sums 6,000 subscriptions exactly and fast', () => {
    const subscriptions: SubscriptionSnapshot[] = [];
    for (let i = 0; i < 2000; i += 1) {
      subscriptions.push(subscription([item(recurringPrice(100, 'year'))], { id: `sub_y${i}` })); // 100/12 each
      subscriptions.push(subscription([item(recurringPrice(10, 'week'))], { id: `sub_w${i}` })); // 10 × 52/12 each
      subscriptions.push(subscription([item(recurringPrice(1000), 3)], { id: `sub_m${i}`, discounts: [percentOff(33.3)] })); // 3000 × 0.667
    }
    const started = performance.now();
    const mrr = computeMrr(subscriptions, apply);
    const elapsedMs = performance.now() - started;
    // Exact: 2000 × (100/12 + 520/12 + 2001) = 2000 × 2052.666… = 4,105,333.33 → 4,105,333.
    expect(mrr).toEqual({ usd: 4_105_333 });
    expect(elapsedMs).toBeLessThan(5_000);
  });
});

describe('computeSubscriptionMrr breakdown', () => {
  it('explains each item and discount', () => {
    const metered = item(price({ id: 'price_metered', recurring: { interval: 'month', intervalCount: 1, usageType: 'metered' } }), 1, { id: 'si_metered' });
    const unpriced = item(price({ id: 'price_tiered', billingScheme: 'tiered', tiersMode: 'volume', tiers: null, unitAmount: null, unitAmountDecimal: null }), 3, { id: 'si_tiered' });
    const base = item(recurringPrice(12_000, 'year'), 1, { id: 'si_base' });
    const sub = subscription([base, metered, unpriced], {
      discounts: [percentOff(25), discount({ id: 'di_unknown', duration: null })],
    });
    expect(computeSubscriptionMrr(sub, apply)).toEqual({
      subscriptionId: 'sub_1',
      currency: 'usd',
      counted: true,
      excludedReason: null,
      grossAmount: 1000,
      amount: 750,
      items: [
        { itemId: 'si_base', priceId: base.price.id, grossAmount: 1000, netAmount: 750, excludedReason: null },
        { itemId: 'si_metered', priceId: 'price_metered', grossAmount: 0, netAmount: 0, excludedReason: 'metered' },
        { itemId: 'si_tiered', priceId: 'price_tiered', grossAmount: 0, netAmount: 0, excludedReason: 'unpriced' },
      ],
      appliedDiscountIds: ['di_25pct_forever'],
      unresolvedDiscountIds: ['di_unknown'],
    });
  });

  it('reports why a subscription does not count', () => {
    const result = computeSubscriptionMrr(subscription([monthly(1000)], { status: 'trialing' }), apply);
    expect(result).toMatchObject({ counted: false, excludedReason: 'status', amount: 0, grossAmount: 0 });
  });
});

describe('classifyMrrChange', () => {
  it.each<[string, number | MrrByCurrency, number | MrrByCurrency, boolean, ReturnType<typeof classifyMrrChange>]>([
    ['first MRR is new', 0, 1000, false, 'new'],
    ['MRR after having had MRR is reactivation', 0, 1000, true, 'reactivation'],
    ['to zero is churn', 1000, 0, true, 'churn'],
    ['up is expansion', 1000, 1500, true, 'expansion'],
    ['down is contraction', 1500, 1000, true, 'contraction'],
    ['unchanged is no movement', 1000, 1000, true, null],
    ['zero to zero is no movement', 0, 0, true, null],
    ['records: first MRR', {}, { usd: 1000 }, false, 'new'],
    ['records: a second currency is expansion', { usd: 1000 }, { usd: 1000, eur: 500 }, true, 'expansion'],
    ['records: dropping a currency is contraction', { usd: 1000, eur: 500 }, { usd: 1000 }, true, 'contraction'],
    ['records: everything to zero is churn', { usd: 1000, eur: 10 }, {}, true, 'churn'],
    ['records: a currency switch cannot be ranked without FX rates', { usd: 1000 }, { eur: 900 }, true, null],
  ])('%s', (_name, previous, next, hasHadMrr, expected) => {
    expect(classifyMrrChange(previous, next, { hasHadMrr })).toBe(expected);
  });
});

describe('recordMrr', () => {
  it('tracks a customer through new, expansion, churn and reactivation', () => {
    const steps: [MrrByCurrency, number, string | null][] = [
      [{ usd: 1000 }, T0, 'new'],
      [{ usd: 1000 }, T0 + DAY, 'new'], // replay: unchanged
      [{ usd: 3000 }, T0 + 2 * DAY, 'expansion'],
      [{ usd: 2000 }, T0 + 3 * DAY, 'contraction'],
      [{}, T0 + 4 * DAY, 'churn'],
      [{ usd: 2000 }, T0 + 5 * DAY, 'reactivation'],
    ];
    let history = INITIAL_MRR_HISTORY;
    for (const [mrr, at, kind] of steps) {
      const next = recordMrr(history, mrr, at);
      expect(next.lastChange?.kind ?? null).toBe(kind);
      expect(next.current).toEqual(mrr);
      history = next;
    }
    expect(history.lastChange).toEqual({ kind: 'reactivation', at: T0 + 5 * DAY, previous: {}, next: { usd: 2000 } });
  });

  it('returns the same object when MRR did not change, so replays are no-ops', () => {
    const history = recordMrr(INITIAL_MRR_HISTORY, { usd: 1000 }, T0);
    expect(recordMrr(history, { usd: 1000 }, T0 + DAY)).toBe(history);
    expect(recordMrr(INITIAL_MRR_HISTORY, {}, T0)).toBe(INITIAL_MRR_HISTORY);
  });

  it('updates the amount but keeps the last classified change on a currency switch', () => {
    const history = recordMrr(INITIAL_MRR_HISTORY, { usd: 1000 }, T0);
    const switched = recordMrr(history, { eur: 900 }, T0 + DAY);
    expect(switched.current).toEqual({ eur: 900 });
    expect(switched.lastChange).toEqual(history.lastChange);
  });

  it('survives a JSON round trip (Temporal history)', () => {
    const history = recordMrr(recordMrr(INITIAL_MRR_HISTORY, { usd: 1000 }, T0), { usd: 1500 }, T0 + DAY);
    expect(JSON.parse(JSON.stringify(history))).toEqual(history);
  });
});
