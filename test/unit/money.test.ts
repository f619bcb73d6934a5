import { describe, expect, it } from 'vitest';
import { AmountOverflowError, InvalidAmountError, InvalidCurrencyError } from '../../domain/errors.js';
import {
  addAmount,
  addMoney,
  currencyExponent,
  formatMajorUnits,
  formatMoney,
  isZeroMoney,
  moneyEquals,
  normalizeCurrency,
  subtractMoney,
  sumByCurrency,
  THREE_DECIMAL_CURRENCIES,
  toMajorUnits,
  toMinorUnits,
  ZERO_DECIMAL_CURRENCIES,
} from '../../domain/money.js';

describe('currency exponents', () => {
  it('lists exactly Stripe\'s zero- and three-decimal currencies', () => {
    expect([...ZERO_DECIMAL_CURRENCIES].sort()).toEqual(
      ['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf'],
    );
    expect([...THREE_DECIMAL_CURRENCIES].sort()).toEqual(['bhd', 'jod', 'kwd', 'omr', 'tnd']);
  });

  it.each([
    ['usd', 2], ['USD', 2], ['eur', 2], ['isk', 2], ['huf', 2], ['twd', 2],
    ['jpy', 0], ['krw', 0], ['xpf', 0], ['VND', 0], ['ugx', 0],
    ['kwd', 3], ['bhd', 3], ['jod', 3], ['omr', 3], ['tnd', 3],
  ] as const)('%s has %i decimals', (currency, exponent) => {
    expect(currencyExponent(currency)).toBe(exponent);
  });

  it.each(['', 'us', 'usdd', '12a', 'u$d'])('rejects %j as a currency code', (code) => {
    expect(() => normalizeCurrency(code)).toThrow(InvalidCurrencyError);
  });
});

describe('toMajorUnits / formatMajorUnits', () => {
  it.each([
    [4950, 'usd', 49.5, '49.50'],
    [30, 'usd', 0.3, '0.30'],
    [1, 'usd', 0.01, '0.01'],
    [0, 'usd', 0, '0.00'],
    [-5, 'usd', -0.05, '-0.05'],
    [-4950, 'eur', -49.5, '-49.50'],
    [1000, 'jpy', 1000, '1000'],
    [-1000, 'jpy', -1000, '-1000'],
    [1234, 'kwd', 1.234, '1.234'],
    [1500, 'kwd', 1.5, '1.500'],
    [5, 'bhd', 0.005, '0.005'],
    [999_999_999_999, 'usd', 9_999_999_999.99, '9999999999.99'],
    [Number.MAX_SAFE_INTEGER, 'usd', 90_071_992_547_409.91, '90071992547409.91'],
    [Number.MAX_SAFE_INTEGER, 'jpy', Number.MAX_SAFE_INTEGER, '9007199254740991'],
  ] as const)('%i %s → %d ("%s")', (minor, currency, major, text) => {
    expect(toMajorUnits(minor, currency)).toBe(major);
    expect(formatMajorUnits(minor, currency)).toBe(text);
  });

  it('never produces float noise when summing cents', () => {
    // 0.1 + 0.2 in floats is 0.30000000000000004; through minor units it is exactly 0.3.
    const total = sumByCurrency([{ amount: 10, currency: 'usd' }, { amount: 20, currency: 'usd' }]);
    expect(toMajorUnits(total.usd ?? 0, 'usd')).toBe(0.3);
    expect(String(toMajorUnits(total.usd ?? 0, 'usd'))).toBe('0.3');
  });

  it('keeps exact digits for bigint amounts beyond 2^53', () => {
    expect(formatMajorUnits(123_456_789_012_345_678_901n, 'usd')).toBe('1234567890123456789.01');
  });

  it('returns 0, not -0, for a negative zero', () => {
    expect(Object.is(toMajorUnits(-0, 'usd'), 0)).toBe(true);
  });

  it.each([1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])('rejects %d as minor units', (amount) => {
    expect(() => toMajorUnits(amount, 'usd')).toThrow(InvalidAmountError);
  });

  it('formats money with the ISO code', () => {
    expect(formatMoney(1000, 'usd')).toBe('USD 10.00');
    expect(formatMoney(1000, 'jpy')).toBe('JPY 1000');
    expect(formatMoney(-1500, 'kwd')).toBe('KWD -1.500');
  });
});

describe('toMinorUnits', () => {
  it.each([
    ['49.5', 'usd', 4950],
    ['49.50', 'usd', 4950],
    [49.5, 'usd', 4950],
    [0.3, 'usd', 30],
    ['-0.05', 'usd', -5],
    ['1000', 'jpy', 1000],
    ['1000.0', 'jpy', 1000],
    ['1.234', 'kwd', 1234],
    ['+7', 'usd', 700],
    [1e-2, 'usd', 1],
  ] as const)('%j %s → %i', (major, currency, minor) => {
    expect(toMinorUnits(major, currency)).toBe(minor);
  });

  it.each([
    ['1.005', 'usd'],
    ['0.5', 'jpy'],
    ['1.2345', 'kwd'],
    ['abc', 'usd'],
    ['1,50', 'usd'],
    ['', 'usd'],
  ] as const)('rejects %j %s instead of rounding', (major, currency) => {
    expect(() => toMinorUnits(major, currency)).toThrow(InvalidAmountError);
  });

  it('rejects amounts beyond the safe integer range', () => {
    expect(() => toMinorUnits('90071992547409.92', 'usd')).toThrow(AmountOverflowError);
  });

  it('round-trips every cent value through major units', () => {
    for (let minor = -1000; minor <= 1000; minor += 7) {
      expect(toMinorUnits(toMajorUnits(minor, 'usd'), 'usd')).toBe(minor);
      expect(toMinorUnits(formatMajorUnits(minor, 'kwd'), 'kwd')).toBe(minor);
    }
  });
});

describe('per-currency totals', () => {
  it('adds per currency, drops zero totals and never mixes currencies', () => {
    let totals = addAmount({}, 'USD', 1000);
    totals = addAmount(totals, 'eur', 500);
    totals = addAmount(totals, 'usd', 250);
    expect(totals).toEqual({ usd: 1250, eur: 500 });
    expect(addAmount(totals, 'eur', -500)).toEqual({ usd: 1250 });
  });

  it('adds and subtracts whole records', () => {
    expect(addMoney({ usd: 100, jpy: 5 }, { usd: 50, kwd: 1234 })).toEqual({ usd: 150, jpy: 5, kwd: 1234 });
    expect(subtractMoney({ usd: 100, jpy: 5 }, { usd: 100, jpy: 10 })).toEqual({ jpy: -5 });
  });

  it('does not mutate its inputs', () => {
    const a = Object.freeze({ usd: 100 });
    const b = Object.freeze({ usd: 1 });
    expect(addMoney(a, b)).toEqual({ usd: 101 });
    expect(a).toEqual({ usd: 100 });
  });

  it('compares totals ignoring zero entries', () => {
    expect(moneyEquals({ usd: 0, eur: 5 }, { eur: 5 })).toBe(true);
    expect(moneyEquals({ usd: 1 }, { eur: 1 })).toBe(false);
    expect(isZeroMoney({})).toBe(true);
    expect(isZeroMoney({ usd: 0 })).toBe(true);
    expect(isZeroMoney({ usd: 1 })).toBe(false);
  });

  it('refuses sums that would lose precision', () => {
    expect(() => addAmount({ usd: Number.MAX_SAFE_INTEGER }, 'usd', 1)).toThrow(AmountOverflowError);
  });

  it('rejects fractional amounts', () => {
    expect(() => addAmount({}, 'usd', 0.5)).toThrow(InvalidAmountError);
  });
});
