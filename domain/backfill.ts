import type { CrmFieldName } from './crm-field-names.js';
import { computeCrmFields, type CrmFieldValues, type MrrSettings } from './crm-fields.js';
import { applyFetchedCustomer, initialSyncState, type FetchedCustomer } from './customer-sync-state.js';

/**
 * Pure parts of the historical backfill: the work split over Stripe's created-time ranges, progress
 * and ETA, and the CRM fields a backfill may write. Used by the workflow, the activities and the API.
 */

export const BACKFILL_OBJECTS = ['customers', 'subscriptions', 'invoices', 'charges'] as const;
export type BackfillObject = (typeof BACKFILL_OBJECTS)[number];
/** What this version writes; the others are accepted by name but refused until they are implemented. */
export const SUPPORTED_BACKFILL_OBJECTS: readonly BackfillObject[] = ['customers', 'subscriptions'];

export type BackfillOutcomeName = 'created' | 'matched' | 'updated' | 'skipped' | 'failed';
export const BACKFILL_OUTCOMES: readonly BackfillOutcomeName[] = ['created', 'matched', 'updated', 'skipped', 'failed'];
export type OutcomeCounts = Record<BackfillOutcomeName, number>;

export function emptyCounts(): OutcomeCounts {
  return { created: 0, matched: 0, updated: 0, skipped: 0, failed: 0 };
}

export function addCounts(a: OutcomeCounts, b: Partial<OutcomeCounts>): OutcomeCounts {
  const out = { ...a };
  for (const k of BACKFILL_OUTCOMES) out[k] += b[k] ?? 0;
  return out;
}

/** Stripe's list page size ceiling, which is also HubSpot's batch size. */
export const BACKFILL_PAGE_SIZE = 100;
/** No Stripe object predates Stripe: an open-ended range starts here (2010-01-01). */
export const STRIPE_EPOCH = 1_262_304_000;
/** Ranges narrower than this are not split further: too few customers to be worth a parallel reader. */
const MIN_SPLIT_SECONDS = 60;

/**
 * A slice of the created-time range read by one chain of list calls. Stripe lists newest first, so
 * after a page whose last customer was created at `cursorCreated`, what is left is [from, cursorCreated].
 */
export interface BackfillSegment {
  /** inclusive (created[gte]) */
  from: number;
  /** exclusive (created[lt]) */
  to: number;
  /** starting_after: the last customer id read */
  cursor: string | null;
  cursorCreated: number | null;
  done: boolean;
}

export function newSegment(from: number, to: number): BackfillSegment {
  return { from, to, cursor: null, cursorCreated: null, done: false };
}

/** Seconds of created time not yet read. */
export function remainingSpan(s: BackfillSegment): number {
  if (s.done) return 0;
  return Math.max(0, (s.cursorCreated ?? s.to) - s.from);
}

/**
 * Splits an idle segment in two at the middle of its unread range. The part above keeps the cursor
 * (its next list call simply gains a created[gte] bound); the part below starts fresh. Neither
 * overlaps the other nor anything already read, so no customer is read twice. Null when too narrow.
 */
export function splitSegment(s: BackfillSegment): [BackfillSegment, BackfillSegment] | null {
  const span = remainingSpan(s);
  if (span < 2 * MIN_SPLIT_SECONDS) return null;
  const mid = s.from + Math.floor(span / 2);
  return [{ ...s, from: mid }, newSegment(s.from, mid)];
}

/** Fraction of the created range read so far (customers are assumed spread evenly over time). */
export function progressFraction(segments: readonly BackfillSegment[], totalSpan: number): number {
  if (segments.every((s) => s.done)) return 1;
  if (totalSpan <= 0) return 0;
  const left = segments.reduce((sum, s) => sum + remainingSpan(s), 0);
  return Math.min(1, Math.max(0, 1 - left / totalSpan));
}

export interface RateAndEta {
  /** records per second while running */
  rate: number;
  /** seconds left, null until something is known */
  etaSeconds: number | null;
  /** total records expected, from what was read and the fraction of the range it covered */
  estimatedTotal: number | null;
}

export function rateAndEta(processed: number, activeSeconds: number, fraction: number): RateAndEta {
  const rate = activeSeconds > 0 ? processed / activeSeconds : 0;
  if (fraction >= 1) return { rate, etaSeconds: 0, estimatedTotal: processed };
  if (fraction <= 0 || processed === 0 || rate === 0) return { rate, etaSeconds: null, estimatedTotal: null };
  const estimatedTotal = Math.round(processed / fraction);
  return { rate, etaSeconds: Math.max(0, (estimatedTotal - processed) / rate), estimatedTotal };
}

/** How long writing `records` takes at the CRM queue's rate, each activity writing one batch. */
export function estimateRunSeconds(records: number, activitiesPerSecond: number, recordsPerActivity: number = BACKFILL_PAGE_SIZE): number {
  return records / (activitiesPerSecond * recordsPerActivity);
}

/**
 * Fields a backfill can know from a customer and its subscriptions. Payment totals (LTV, last payment,
 * failures, days to first payment) and the latest MRR movement need the payment and event history it
 * does not read: they are left out rather than written as zeros, so the CRM keeps what it has and the
 * customer's workflow fills them on its first full read.
 */
const UNKNOWN_TO_BACKFILL: readonly CrmFieldName[] = [
  'ltv', 'last_payment_date', 'last_payment_amount', 'failed_payment_count', 'last_payment_failure', 'days_to_first_payment',
  'last_mrr_change', 'last_mrr_change_kind', 'last_mrr_change_date',
];
const SUBSCRIPTION_FIELDS: readonly CrmFieldName[] = [
  'subscription_status', 'mrr', 'currency', 'plan_name', 'billing_interval', 'next_renewal_date', 'trial_end_date', 'discount', 'cancel_at_period_end',
];

/**
 * Fields a canceled subscription decides when nothing is live ('canceled' rather than 'none', the last
 * plan). A customer list embeds live subscriptions only, and reading each such customer's full list
 * would cost a Stripe read per customer: these are left for the customer's workflow instead.
 */
const DECIDED_BY_CANCELED: readonly CrmFieldName[] = ['subscription_status', 'plan_name', 'billing_interval'];

export function backfillAccountFields(
  accountId: string,
  fetched: FetchedCustomer,
  options: { now: number; mrr: MrrSettings; includeSubscriptions: boolean; canceledSubscriptionsRead?: boolean },
): Partial<CrmFieldValues> {
  const state = applyFetchedCustomer(initialSyncState(accountId, fetched.customer.id), fetched, options.mrr);
  const fields: Partial<CrmFieldValues> = { ...computeCrmFields(state.billing, { now: options.now, mrr: options.mrr }) };
  for (const name of UNKNOWN_TO_BACKFILL) delete fields[name];
  if (!options.includeSubscriptions) for (const name of SUBSCRIPTION_FIELDS) delete fields[name];
  else if (options.canceledSubscriptionsRead === false && fetched.subscriptions.length === 0) for (const name of DECIDED_BY_CANCELED) delete fields[name];
  return fields;
}

/** Business key of a backfill run's workflow, typed into the Temporal UI as is. */
export function backfillWorkflowId(accountId: string, runId: string): string {
  return `backfill/${accountId}/${runId}`;
}
