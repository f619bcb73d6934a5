import type { CustomerSnapshot, DiscountSnapshot, SubscriptionSnapshot } from './billing-snapshot.js';
import { computeCrmFields, type CrmFieldValues, type MrrSettings } from './crm-fields.js';
import { CRM_FIELDS, type CrmFieldName, type CrmFieldNameMap } from './crm-field-names.js';
import { applyFetchedCustomer, initialSyncState } from './customer-sync-state.js';
import type { PaymentAggregates } from './payment-aggregates.js';

/**
 * Reconciliation's pure half: what the CRM should hold for a customer, computed by the same
 * functions the real-time path uses, and which Stripe-owned fields differ from what it does hold.
 */

/**
 * Fields a customer and its subscriptions determine. The streaming scan compares these; anything
 * it flags is checked again with the customer's payment history (PRECISE_FIELDS) before it counts.
 */
export const SNAPSHOT_FIELDS = [
  'subscription_status', 'mrr', 'currency', 'plan_name', 'billing_interval', 'next_renewal_date', 'trial_end_date',
  'payment_method_status', 'delinquent', 'discount', 'cancel_at_period_end', 'customer_deleted',
] as const satisfies readonly CrmFieldName[];

/**
 * Every Stripe-owned field a fresh read of one customer determines. Left out: `customer_id` (the
 * key), `synced_at` (when we wrote, not what Stripe says) and `last_mrr_change*`, which describe
 * the movement between two states in event order and cannot be recomputed from one state.
 */
export const PRECISE_FIELDS = [
  ...SNAPSHOT_FIELDS,
  'ltv', 'last_payment_date', 'last_payment_amount', 'failed_payment_count', 'last_payment_failure', 'days_to_first_payment',
] as const satisfies readonly CrmFieldName[];

/** Fields whose value can only be confirmed with payment history (see `computeExpected`). */
const PAYMENT_DEPENDENT: ReadonlySet<CrmFieldName> = new Set(['payment_method_status']);

export interface FieldDifference {
  field: CrmFieldName;
  expected: string | null;
  actual: string | null;
}

export interface ExpectedInput {
  customer: CustomerSnapshot;
  subscriptions: SubscriptionSnapshot[];
  discounts: DiscountSnapshot[];
  productNames: Record<string, string>;
  /** Null when the payment history was not read (the streaming scan). */
  payments: PaymentAggregates | null;
}

/** CRM field values for a customer as the real-time workflow would write them after a full read at `now`. */
export function computeExpected(input: ExpectedInput, mrr: MrrSettings, now: number): CrmFieldValues {
  let state = initialSyncState('reconciliation', input.customer.id);
  state = applyFetchedCustomer(state, { fetchedAt: now, customer: input.customer, subscriptions: input.subscriptions, discounts: input.discounts, productNames: input.productNames }, mrr);
  if (input.payments) state = { ...state, billing: { ...state.billing, payments: input.payments } };
  return computeCrmFields(state.billing, { now, mrr });
}

/**
 * One representation per value, whatever the CRM stores: HubSpot keeps every property as a string
 * ('' for empty, 'true', '49.5'), Salesforce returns numbers and booleans, dates may come back as
 * midnight timestamps. Money is compared to a thousandth (the precision the properties are provisioned with).
 */
export function normalizeFieldValue(field: CrmFieldName, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const text = typeof value === 'string' ? value.trim() : String(value);
  if (text === '') return null;
  switch (CRM_FIELDS[field].type) {
    case 'number': {
      const n = Number(text);
      return Number.isFinite(n) ? String(Math.round(n * 1000) / 1000) : text;
    }
    case 'bool':
      return text.toLowerCase() === 'true' ? 'true' : text.toLowerCase() === 'false' ? 'false' : text;
    case 'date':
      if (/^\d{11,}$/.test(text)) return new Date(Number(text)).toISOString().slice(0, 10);
      return text.slice(0, 10);
    default:
      return field === 'currency' ? text.toUpperCase() : text;
  }
}

/**
 * Differences between expected values and a CRM record's properties (by provider property name).
 * Fields switched off in the name map are not held by the CRM and so cannot drift.
 */
export function compareFields(
  expected: CrmFieldValues,
  properties: Record<string, unknown>,
  names: CrmFieldNameMap,
  fields: readonly CrmFieldName[],
): FieldDifference[] {
  const out: FieldDifference[] = [];
  for (const field of fields) {
    const name = names[field];
    if (name === undefined) continue;
    const want = normalizeFieldValue(field, expected[field]);
    const have = normalizeFieldValue(field, properties[name]);
    if (want !== have) out.push({ field, expected: want, actual: have });
  }
  return out;
}

/**
 * A snapshot-only comparison cannot see payment failures, so a CRM that says `failed` where the
 * snapshot says otherwise is a suspect to re-check, not yet a drift. Returns whether any difference
 * needs the precise check (all of them do; this only names why for the progress counters).
 */
export function needsPaymentHistory(differences: readonly FieldDifference[]): boolean {
  return differences.some((d) => PAYMENT_DEPENDENT.has(d.field));
}

/** The company domain the CRM holds, lower-cased, or the email's domain; null for none. */
export function domainOf(value: string | null | undefined): string | null {
  if (!value) return null;
  const text = value.trim().toLowerCase();
  const domain = text.includes('@') ? text.split('@')[1] : text.replace(/^https?:\/\//, '').replace(/^www\./, '').split('/')[0];
  return domain ? domain : null;
}
