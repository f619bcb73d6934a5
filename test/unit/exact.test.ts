import { describe, expect, it } from 'vitest';
import { InvalidAmountError } from '../../domain/errors.js';
import { add, ceil, cmp, div, floor, fromDecimal, fromInteger, mul, ratio, roundHalfAwayFromZero, sub } from '../../domain/exact.js';

describe('exact rationals', () => {
  it.each<[string | number, bigint, bigint]>([
    ['1234.5678', 6_172_839n, 5000n],
    ['-0.5', -1n, 2n],
    ['.25', 1n, 4n],
    ['7', 7n, 1n],
    ['0.000000000001', 1n, 1_000_000_000_000n],
    ['1e-7', 1n, 10_000_000n],
    ['2.5E3', 2500n, 1n],
    [0.1, 1n, 10n],
    [33.3, 333n, 10n],
  ])('parses %j exactly', (input, n, d) => {
    expect(fromDecimal(input)).toEqual({ n, d });
  });

  it.each(['', '.', 'abc', '1,5', '--1', Number.NaN, Number.POSITIVE_INFINITY])('rejects %j', (input) => {
    expect(() => fromDecimal(input)).toThrow(InvalidAmountError);
  });

  it('does arithmetic without drift: 0.1 + 0.2 is exactly 0.3', () => {
    expect(cmp(add(fromDecimal('0.1'), fromDecimal('0.2')), fromDecimal('0.3'))).toBe(0);
    expect(mul(ratio(52n, 12n), fromInteger(12))).toEqual({ n: 52n, d: 1n });
    expect(sub(div(fromInteger(1), fromInteger(3)), ratio(1n, 3n))).toEqual({ n: 0n, d: 1n });
  });

  it.each<[bigint, bigint, bigint, bigint, bigint]>([
    [5n, 2n, 3n, 2n, 3n],
    [-5n, 2n, -3n, -3n, -2n],
    [7n, 3n, 2n, 2n, 3n],
    [-7n, 3n, -2n, -3n, -2n],
    [1n, 2n, 1n, 0n, 1n],
    [4n, 1n, 4n, 4n, 4n],
  ])('%i/%i rounds half away from zero to %i, floor %i, ceil %i', (n, d, rounded, floored, ceiled) => {
    const value = ratio(n, d);
    expect(roundHalfAwayFromZero(value)).toBe(rounded);
    expect(floor(value)).toBe(floored);
    expect(ceil(value)).toBe(ceiled);
  });
});
