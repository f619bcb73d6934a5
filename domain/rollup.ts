import type { CrmFieldValues } from './crm-fields.js';
import { SUBSCRIPTION_STATUS_PRIORITY, type PAYMENT_METHOD_STATUSES } from './crm-field-names.js';

/** Worst first: a declined card needs someone today; no card on file may be invoice billing. */
const METHOD_SEVERITY: Partial<Record<string, number>> & Record<(typeof PAYMENT_METHOD_STATUSES)[number], number> = { failed: 0, missing: 1, expiring: 2, valid: 3 };

/**
 * Roll-up of several Stripe customers linked to one CRM record (several Stripe accounts, products or
 * regions of one company). Each member's fields are computed as for a single customer; the record
 * shows their combination. Pure: the same members in any order give the same fields.
 *
 * - Money is summed per currency. The record's `mrr`, `ltv` and `last_mrr_change` are the sums in its
 *   main currency: the currency of most members (ties: the larger MRR sum, then the code). The sums in
 *   every currency are in `byCurrency` (served by the API, see README "Roll-up records").
 * - Status-like fields take the member that matters most: the best subscription status, the worst
 *   payment method, delinquent if any member is.
 * - Dates: the latest payment, the nearest renewal and trial end, the latest MRR movement.
 * - `customer_id` is left out: the record keeps the Stripe id it carries (its first customer's).
 */
export interface RollupMember {
  customerId: string;
  fields: CrmFieldValues;
}

export interface Rollup {
  fields: Omit<CrmFieldValues, 'customer_id'>;
  /** Upper-case currency → sums in major units. */
  byCurrency: Record<string, { mrr: number; ltv: number; members: number }>;
  members: string[];
}

export function rollUpAccountFields(members: readonly RollupMember[]): Rollup {
  if (members.length === 0) throw new RangeError('a roll-up needs at least one member');
  // Sorted by customer id: the result must not depend on the order the links were read in.
  const sorted = [...members].sort((a, b) => a.customerId.localeCompare(b.customerId));
  const all = sorted.map((m) => m.fields);

  const byCurrency: Rollup['byCurrency'] = {};
  for (const f of all) {
    if (f.currency === null) continue;
    const sums = (byCurrency[f.currency] ??= { mrr: 0, ltv: 0, members: 0 });
    sums.mrr = roundMoney(sums.mrr + f.mrr);
    sums.ltv = roundMoney(sums.ltv + f.ltv);
    sums.members++;
  }
  const currency = Object.entries(byCurrency)
    .sort(([ca, a], [cb, b]) => b.members - a.members || b.mrr - a.mrr || ca.localeCompare(cb))[0]?.[0] ?? null;
  const inCurrency = all.filter((f) => f.currency === currency);

  const statusRank = (s: string) => {
    const i = (SUBSCRIPTION_STATUS_PRIORITY as readonly string[]).indexOf(s);
    return s === 'none' ? SUBSCRIPTION_STATUS_PRIORITY.length + 1 : i >= 0 ? i : SUBSCRIPTION_STATUS_PRIORITY.length - 0.5;
  };
  // The member whose subscription speaks for the record: best status, then highest MRR in the main currency.
  const lead = [...sorted].sort((a, b) =>
    statusRank(a.fields.subscription_status) - statusRank(b.fields.subscription_status)
    || (b.fields.currency === currency ? b.fields.mrr : 0) - (a.fields.currency === currency ? a.fields.mrr : 0))[0]!.fields;
  const methodRank = (s: string) => METHOD_SEVERITY[s] ?? METHOD_SEVERITY.missing!;
  const latestPayment = maxBy(all.filter((f) => f.last_payment_date !== null), (f) => f.last_payment_date!);
  const latestChange = maxBy(inCurrency.filter((f) => f.last_mrr_change_date !== null), (f) => f.last_mrr_change_date!);
  const distinct = (values: Array<string | null>) => [...new Set(values.filter((v): v is string => v !== null && v !== ''))];
  const plans = distinct(sorted.filter((m) => statusRank(m.fields.subscription_status) <= statusRank('trialing')).map((m) => m.fields.plan_name));
  const intervals = distinct(all.filter((f) => f.plan_name !== null).map((f) => f.billing_interval));

  return {
    fields: {
      subscription_status: lead.subscription_status,
      mrr: currency === null ? 0 : byCurrency[currency]!.mrr,
      currency,
      plan_name: plans.length > 0 ? plans.sort().join(', ') : lead.plan_name,
      billing_interval: intervals.length > 1 ? 'mixed' : intervals[0] ?? null,
      next_renewal_date: minOf(all.map((f) => f.next_renewal_date)),
      trial_end_date: minOf(all.map((f) => f.trial_end_date)),
      payment_method_status: [...all].sort((a, b) => methodRank(a.payment_method_status) - methodRank(b.payment_method_status))[0]!.payment_method_status,
      ltv: currency === null ? 0 : byCurrency[currency]!.ltv,
      last_payment_date: latestPayment?.last_payment_date ?? null,
      last_payment_amount: latestPayment?.last_payment_amount ?? null,
      failed_payment_count: all.reduce((n, f) => n + f.failed_payment_count, 0),
      last_payment_failure: distinct(all.map((f) => f.last_payment_failure)).join('; ') || null,
      delinquent: all.some((f) => f.delinquent),
      // The company is gone from Stripe only when every customer of it is.
      customer_deleted: all.every((f) => f.customer_deleted),
      days_to_first_payment: minOf(all.map((f) => f.days_to_first_payment)),
      discount: distinct(all.map((f) => f.discount)).join('; ') || null,
      cancel_at_period_end: lead.cancel_at_period_end,
      last_mrr_change: latestChange?.last_mrr_change ?? null,
      last_mrr_change_kind: latestChange?.last_mrr_change_kind ?? null,
      last_mrr_change_date: latestChange?.last_mrr_change_date ?? null,
      synced_at: maxBy(all, (f) => f.synced_at)!.synced_at,
    },
    byCurrency,
    members: sorted.map((m) => m.customerId),
  };
}

function roundMoney(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}

function minOf<T extends string | number>(values: Array<T | null>): T | null {
  const present = values.filter((v): v is T => v !== null);
  if (present.length === 0) return null;
  return present.reduce((a, b) => (b < a ? b : a));
}

function maxBy<T>(items: readonly T[], key: (item: T) => string): T | undefined {
  let best: T | undefined;
  for (const item of items) if (best === undefined || key(item) > key(best)) best = item;
  return best;
}
