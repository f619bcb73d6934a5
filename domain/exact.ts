import { InvalidAmountError } from './errors.js';

/**
 * Exact rational numbers on BigInt. MRR multiplies prices with up to 12 decimal places by factors such as
 * 52/12 and percentages such as 33.3; doing that in floating point drifts by a cent here and there, which
 * then shows up as a phantom "expansion" in the CRM. Everything is exact until the single final rounding.
 *
 * Values are plain objects so they never need to leave this module in serialised form (bigint is not JSON).
 */
export interface Rational {
  /** Numerator, carries the sign. */
  readonly n: bigint;
  /** Denominator, always > 0. */
  readonly d: bigint;
}


export const ZERO: Rational = { n: 0n, d: 1n };
export const ONE: Rational = { n: 1n, d: 1n };

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) {
    const t = x % y;
    x = y;
    y = t;
  }
  return x;
}

export function ratio(numerator: bigint, denominator: bigint): Rational {
  if (denominator === 0n) throw new RangeError('Rational with zero denominator');
  const sign = denominator < 0n ? -1n : 1n;
  const g = gcd(numerator, denominator);
  if (g === 0n) return ZERO;
  return { n: (sign * numerator) / g, d: (sign * denominator) / g };
}

export function fromInteger(value: number | bigint): Rational {
  if (typeof value === 'bigint') return { n: value, d: 1n };
  if (!Number.isSafeInteger(value)) throw new InvalidAmountError(`Expected a safe integer, got ${String(value)}`);
  return { n: BigInt(value), d: 1n };
}

const DECIMAL_PATTERN = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Parses a decimal string ("1234.5678", "-0.5", "1e-7") or a finite number exactly as written in its
 * shortest decimal form (String(0.1) is "0.1", so 0.1 becomes 1/10, not the binary approximation).
 */
export function fromDecimal(value: string | number): Rational {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new InvalidAmountError(`Expected a finite number, got ${String(value)}`);
  }
  const text = String(value).trim();
  const match = DECIMAL_PATTERN.exec(text);
  const intPart = match?.[2] ?? '';
  const fracPart = match?.[3] ?? '';
  if (!match || (intPart === '' && fracPart === '')) {
    throw new InvalidAmountError(`Not a decimal number: ${JSON.stringify(text)}`);
  }
  const exponent = Number(match[4] ?? '0') - fracPart.length;
  const digits = BigInt(`${intPart}${fracPart}` || '0') * (match[1] === '-' ? -1n : 1n);
  if (exponent >= 0) return ratio(digits * 10n ** BigInt(exponent), 1n);
  return ratio(digits, 10n ** BigInt(-exponent));
}

export function add(a: Rational, b: Rational): Rational {
  return ratio(a.n * b.d + b.n * a.d, a.d * b.d);
}

export function sub(a: Rational, b: Rational): Rational {
  return ratio(a.n * b.d - b.n * a.d, a.d * b.d);
}

export function mul(a: Rational, b: Rational): Rational {
  return ratio(a.n * b.n, a.d * b.d);
}

export function div(a: Rational, b: Rational): Rational {
  if (b.n === 0n) throw new RangeError('Division by zero');
  return ratio(a.n * b.d, a.d * b.n);
}

export function cmp(a: Rational, b: Rational): -1 | 0 | 1 {
  const left = a.n * b.d;
  const right = b.n * a.d;
  return left < right ? -1 : left > right ? 1 : 0;
}

export function min(a: Rational, b: Rational): Rational {
  return cmp(a, b) <= 0 ? a : b;
}

export function max(a: Rational, b: Rational): Rational {
  return cmp(a, b) >= 0 ? a : b;
}

export function isZero(a: Rational): boolean {
  return a.n === 0n;
}

export function isPositive(a: Rational): boolean {
  return a.n > 0n;
}

/** Rounds to the nearest integer, halves away from zero (so "half-up" for the non-negative MRR values). */
export function roundHalfAwayFromZero(a: Rational): bigint {
  const negative = a.n < 0n;
  const absN = negative ? -a.n : a.n;
  const rounded = (2n * absN + a.d) / (2n * a.d);
  return negative ? -rounded : rounded;
}

/** Floor division for integers, towards negative infinity. */
export function floor(a: Rational): bigint {
  const q = a.n / a.d;
  return a.n < 0n && q * a.d !== a.n ? q - 1n : q;
}

/** Ceiling for rationals. */
export function ceil(a: Rational): bigint {
  return -floor({ n: -a.n, d: a.d });
}

/** Converts a bigint that is known to be in range to a number, refusing silent precision loss. */
export function toSafeNumber(value: bigint): number {
  const result = Number(value);
  if (!Number.isSafeInteger(result)) {
    throw new InvalidAmountError(`Amount ${value.toString()} does not fit in a safe integer`);
  }
  return result;
}
