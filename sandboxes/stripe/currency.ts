import { invalidRequest } from './errors.js';

/** Currencies Stripe settles card payments in (presentment currencies, lower case as the API wants). */
const SUPPORTED = new Set(
  (
    'usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn bzd cad cdf chf ' +
    'clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils ' +
    'inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk ' +
    'mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp ' +
    'sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw'
  ).split(' '),
);

/** Amounts in these are whole units: `unit_amount: 2000` in jpy is ¥2,000. */
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

export function parseCurrency(raw: string, param: string): string {
  const c = raw.toLowerCase();
  if (!SUPPORTED.has(c)) {
    throw invalidRequest(
      `Invalid currency: ${raw}. Stripe currently supports these currencies: ${[...SUPPORTED].join(', ')}`,
      { param },
    );
  }
  return c;
}

export function minorUnits(currency: string): number {
  if (ZERO_DECIMAL.has(currency)) return 0;
  if (THREE_DECIMAL.has(currency)) return 3;
  return 2;
}

const formatters = new Map<string, Intl.NumberFormat | null>();

/** `$20.00`, `¥2,000`: how Stripe writes prices into invoice line descriptions. */
export function formatAmount(amount: number, currency: string): string {
  const digits = minorUnits(currency);
  const value = amount / 10 ** digits;
  // Building a NumberFormat is far slower than using one; seeding formats 100k lines.
  // Sub-cent prices (`unit_amount_decimal`) keep their precision: $0.025, not $0.03.
  const fractional = !Number.isInteger(amount);
  const key = fractional ? `${currency}+` : currency;
  let f = formatters.get(key);
  if (f === undefined) {
    try {
      f = new Intl.NumberFormat('en-US', {
        style: 'currency',
        currency: currency.toUpperCase(),
        minimumFractionDigits: digits,
        maximumFractionDigits: fractional ? Math.min(20, digits + 12) : digits,
      });
    } catch {
      f = null;
    }
    formatters.set(key, f);
  }
  return f ? f.format(value) : `${value.toFixed(digits)} ${currency.toUpperCase()}`;
}
