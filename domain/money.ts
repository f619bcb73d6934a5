import { AmountOverflowError, InvalidAmountError, InvalidCurrencyError } from './errors.js';

/**
 * Money in Stripe's representation: an integer count of the currency's smallest unit plus a lowercase ISO
 * currency code. Conversions to major units are done on the decimal digits, never by dividing floats, so
 * 4950 USD is exactly 49.5 and 30 + 0 cents never prints as 0.30000000000000004.
 */

/**
 * Currencies Stripe treats as zero-decimal: amounts are already in major units (1000 JPY is ¥1000).
 * Source: Stripe docs, "Supported currencies > Zero-decimal currencies".
 */
export const ZERO_DECIMAL_CURRENCIES: ReadonlySet<string> = new Set([
  'bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf',
]);

/**
 * Currencies Stripe represents with three decimals (1000 KWD minor units is 1.000 KWD). Stripe requires the
 * last digit to be 0 when charging them, but amounts we read back can be anything, so we do not enforce it.
 * Source: Stripe docs, "Supported currencies > Three-decimal currencies".
 */
export const THREE_DECIMAL_CURRENCIES: ReadonlySet<string> = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

/** Amounts per lowercase currency code, in minor units. Zero entries are dropped so equal totals compare equal. */
export type MoneyByCurrency = Readonly<Record<string, number>>;

const CURRENCY_PATTERN = /^[a-z]{3}$/;

/**
 * Lowercases and validates a currency code. Stripe always sends lowercase codes; CRM or config input may not.
 * ISK, HUF and TWD stay two-decimal here: Stripe's API keeps them two-decimal for backwards compatibility.
 */
export function normalizeCurrency(currency: string): string {
  const code = currency.trim().toLowerCase();
  if (!CURRENCY_PATTERN.test(code)) throw new InvalidCurrencyError(`Not an ISO 4217 currency code: ${JSON.stringify(currency)}`);
  return code;
}

/** Number of decimal places between Stripe's minor unit and the major unit. */
export function currencyExponent(currency: string): 0 | 2 | 3 {
  const code = normalizeCurrency(currency);
  if (ZERO_DECIMAL_CURRENCIES.has(code)) return 0;
  if (THREE_DECIMAL_CURRENCIES.has(code)) return 3;
  return 2;
}

function assertMinorAmount(amount: number | bigint): bigint {
  if (typeof amount === 'bigint') return amount;
  if (!Number.isSafeInteger(amount)) {
    throw new InvalidAmountError(`Amounts are integers in minor units, got ${String(amount)}`);
  }
  return BigInt(amount);
}

/**
 * Formats minor units as a plain decimal string with exactly the currency's number of decimals:
 * (4950, 'usd') → "49.50", (-5, 'usd') → "-0.05", (1000, 'jpy') → "1000", (1500, 'kwd') → "1.500".
 */
export function formatMajorUnits(amountMinor: number | bigint, currency: string): string {
  const exponent = currencyExponent(currency);
  const value = assertMinorAmount(amountMinor);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString();
  if (exponent === 0) return `${negative ? '-' : ''}${digits}`;
  const padded = digits.padStart(exponent + 1, '0');
  const whole = padded.slice(0, padded.length - exponent);
  const fraction = padded.slice(padded.length - exponent);
  return `${negative ? '-' : ''}${whole}.${fraction}`;
}

/**
 * Minor units to a major-unit number: (4950, 'usd') → 49.5, (1000, 'jpy') → 1000, (1234, 'kwd') → 1.234.
 * The number is parsed from the exact decimal string, so it is the double closest to the true value and
 * prints without float noise. Beyond 2^53 the result is rounded like any large double; use
 * formatMajorUnits when digits must survive.
 */
export function toMajorUnits(amountMinor: number | bigint, currency: string): number {
  const result = Number(formatMajorUnits(amountMinor, currency));
  return Object.is(result, -0) ? 0 : result;
}

const MAJOR_PATTERN = /^([+-]?)(\d+)(?:\.(\d+))?$/;

/**
 * Parses a major-unit amount ("49.5", "49.50", 49.5) into minor units (4950). Rejects more decimals than the
 * currency has ("1.005" USD) instead of silently rounding money.
 */
export function toMinorUnits(amountMajor: string | number, currency: string): number {
  const exponent = currencyExponent(currency);
  if (typeof amountMajor === 'number' && !Number.isFinite(amountMajor)) {
    throw new InvalidAmountError(`Not a finite amount: ${String(amountMajor)}`);
  }
  const text = typeof amountMajor === 'number' ? numberToPlainString(amountMajor) : amountMajor.trim();
  const match = MAJOR_PATTERN.exec(text);
  if (!match) throw new InvalidAmountError(`Not a decimal amount: ${JSON.stringify(amountMajor)}`);
  const fraction = (match[3] ?? '').replace(/0+$/, '');
  if (fraction.length > exponent) {
    throw new InvalidAmountError(`${text} has more than ${exponent} decimals for ${normalizeCurrency(currency)}`);
  }
  const minor = BigInt(`${match[2] ?? '0'}${fraction.padEnd(exponent, '0')}`) * (match[1] === '-' ? -1n : 1n);
  const result = Number(minor);
  if (!Number.isSafeInteger(result)) throw new AmountOverflowError(`${text} is too large to represent exactly`);
  return result === 0 ? 0 : result;
}

function numberToPlainString(value: number): string {
  const text = String(value);
  if (!/e/i.test(text)) return text;
  // 1e-7 and 1e21 are printed in exponent form; toFixed(20) covers every amount a currency could carry.
  return value.toFixed(20).replace(/\.?0+$/, '');
}

/** "USD 49.50": ISO code and exact digits, unambiguous in any CRM locale. */
export function formatMoney(amountMinor: number | bigint, currency: string): string {
  return `${normalizeCurrency(currency).toUpperCase()} ${formatMajorUnits(amountMinor, currency)}`;
}

function checkedSum(a: number, b: number): number {
  const result = a + b;
  if (!Number.isSafeInteger(result)) throw new AmountOverflowError(`Sum ${a} + ${b} exceeds the safe integer range`);
  return result;
}

/** Returns a new total with `amountMinor` added to `currency` (negative amounts subtract). */
export function addAmount(totals: MoneyByCurrency, currency: string, amountMinor: number): MoneyByCurrency {
  assertMinorAmount(amountMinor);
  const code = normalizeCurrency(currency);
  const next: Record<string, number> = { ...totals };
  const sum = checkedSum(next[code] ?? 0, amountMinor);
  if (sum === 0) delete next[code];
  else next[code] = sum;
  return next;
}

/** Adds two per-currency totals. */
export function addMoney(a: MoneyByCurrency, b: MoneyByCurrency): MoneyByCurrency {
  let result = a;
  for (const [currency, amount] of Object.entries(b)) result = addAmount(result, currency, amount);
  return result === a ? { ...a } : result;
}

/** a − b per currency. */
export function subtractMoney(a: MoneyByCurrency, b: MoneyByCurrency): MoneyByCurrency {
  let result = a;
  for (const [currency, amount] of Object.entries(b)) result = addAmount(result, currency, -amount);
  return result === a ? { ...a } : result;
}

/** Totals a list of amounts per currency. */
export function sumByCurrency(amounts: Iterable<{ readonly amount: number; readonly currency: string }>): MoneyByCurrency {
  let result: MoneyByCurrency = {};
  for (const { amount, currency } of amounts) result = addAmount(result, currency, amount);
  return result;
}

/** True when every currency's total is zero (an empty record included). */
export function isZeroMoney(totals: MoneyByCurrency): boolean {
  return Object.values(totals).every((amount) => amount === 0);
}

/** Same amounts per currency, ignoring zero entries and key order. */
export function moneyEquals(a: MoneyByCurrency, b: MoneyByCurrency): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if ((a[key] ?? 0) !== (b[key] ?? 0)) return false;
  return true;
}
