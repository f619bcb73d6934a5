import type Stripe from 'stripe';
import type { CustomerSnapshot, DiscountSnapshot, StripeInvoiceInput, SubscriptionSnapshot } from './billing-snapshot.js';
import { paymentFromCharge, paymentFromInvoice, paymentFromRefund } from './billing-snapshot.js';
import type { CrmFieldName } from './crm-field-names.js';
import { computeCrmFields, type CrmFieldValues, type MrrSettings } from './crm-fields.js';
import { planDeals, type PlannedDeal, type SyncSettings } from './crm-plan.js';
import { chargeTimeline, disputeTimeline, invoiceTimeline, refundTimeline, type TimelineEntry } from './customer-events.js';
import { applyFetchedCustomer, initialSyncState, type FetchedCustomer } from './customer-sync-state.js';

/**
 * Pure parts of the historical backfill: which Stripe lists a run reads and in what order, the work
 * split over created-time ranges, the CRM writes a page turns into and how they are grouped into
 * batch requests, progress and ETA. Used by the workflow, the activities and the API.
 */

export const BACKFILL_OBJECTS = ['customers', 'subscriptions', 'invoices', 'charges'] as const;
export type BackfillObject = (typeof BACKFILL_OBJECTS)[number];

/** One Stripe list the backfill pages through. `charges` (the object filter) reads three of them. */
export type BackfillStream = 'customers' | 'subscriptions' | 'invoices' | 'charges' | 'refunds' | 'disputes';

export interface StreamPlan {
  stream: BackfillStream;
  /**
   * Streams of a later phase write only once every earlier one is written: deals and timeline
   * activities attach to the customer's company or contact, which the customers stream creates.
   */
  phase: number;
}

export function streamsFor(objects: readonly BackfillObject[]): StreamPlan[] {
  const plans: StreamPlan[] = [];
  if (objects.includes('customers')) plans.push({ stream: 'customers', phase: 0 });
  if (objects.includes('subscriptions')) plans.push({ stream: 'subscriptions', phase: 1 });
  if (objects.includes('invoices')) plans.push({ stream: 'invoices', phase: 1 });
  if (objects.includes('charges')) plans.push({ stream: 'charges', phase: 1 }, { stream: 'refunds', phase: 1 }, { stream: 'disputes', phase: 1 });
  return plans;
}

/** The migration log's object type of a record of a stream (customers also log their B2B contact as 'contact'). */
export const STREAM_OBJECT_TYPE: Readonly<Record<BackfillStream, string>> = {
  customers: 'customer', subscriptions: 'subscription', invoices: 'invoice', charges: 'charge', refunds: 'refund', disputes: 'dispute',
};

/**
 * The Stripe id behind a log record. Timeline activities are logged under their key (one invoice gives a
 * note when paid and a task per failed attempt): `invoice_paid:in_1`, `payment_failed:in_1:2`, `dispute:dp_1:opened`.
 */
export function stripeIdOfLogRecord(objectType: string, stripeId: string): string {
  if (objectType === 'customer' || objectType === 'contact' || objectType === 'subscription') return stripeId;
  return stripeId.split(':')[1] ?? stripeId;
}

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

export function countOutcomes(outcomes: ReadonlyArray<{ outcome: BackfillOutcomeName }>): OutcomeCounts {
  const counts = emptyCounts();
  for (const o of outcomes) counts[o.outcome]++;
  return counts;
}

/** Stripe's list page size ceiling, which is also HubSpot's batch size. */
export const BACKFILL_PAGE_SIZE = 100;
/** No Stripe object predates Stripe: an open-ended range starts here (2010-01-01). */
export const STRIPE_EPOCH = 1_262_304_000;
/** Ranges narrower than this are not split further: too few records to be worth a parallel reader. */
const MIN_SPLIT_SECONDS = 60;

/**
 * A slice of the created-time range read by one chain of list calls. Stripe lists newest first, so
 * after a page whose last object was created at `cursorCreated`, what is left is [from, cursorCreated].
 */
export interface BackfillSegment {
  /** inclusive (created[gte]) */
  from: number;
  /** exclusive (created[lt]) */
  to: number;
  /** starting_after: the last id read */
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
 * overlaps the other nor anything already read, so no record is read twice. Null when too narrow.
 */
export function splitSegment(s: BackfillSegment): [BackfillSegment, BackfillSegment] | null {
  const span = remainingSpan(s);
  if (span < 2 * MIN_SPLIT_SECONDS) return null;
  const mid = s.from + Math.floor(span / 2);
  return [{ ...s, from: mid }, newSegment(s.from, mid)];
}

/** Fraction of the created range read so far (records are assumed spread evenly over time). */
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
  /** total records expected, from what was processed and the fraction of the work it covered */
  estimatedTotal: number | null;
}

export function rateAndEta(processed: number, activeSeconds: number, fraction: number): RateAndEta {
  const rate = activeSeconds > 0 ? processed / activeSeconds : 0;
  if (fraction >= 1) return { rate, etaSeconds: 0, estimatedTotal: processed };
  if (fraction <= 0 || processed === 0 || rate === 0) return { rate, etaSeconds: null, estimatedTotal: null };
  const estimatedTotal = Math.round(processed / fraction);
  return { rate, etaSeconds: Math.max(0, (estimatedTotal - processed) / rate), estimatedTotal };
}

/**
 * How long a run takes at the configured rates: each CRM write request and each Stripe read is one
 * token of its limit, and the two proceed in parallel, so the slower of the two decides.
 */
export function estimateRunSeconds(work: { crmRequests: number; stripeReads: number }, rates: { crmPerSecond: number; stripeReadsPerSecond: number }): number {
  return Math.max(work.crmRequests / rates.crmPerSecond, work.stripeReads / rates.stripeReadsPerSecond);
}

// ---------------------------------------------------------------------------------------------------------
// Write steps: what one page turns into, in requests the CRM can take
// ---------------------------------------------------------------------------------------------------------

/**
 * One kind of CRM batch request. Notes and tasks are separate HubSpot objects (separate requests);
 * Salesforce stores both as Tasks, so it writes them together as `activities`.
 */
export type WriteKind = 'accounts' | 'contacts' | 'deals' | 'notes' | 'tasks' | 'activities';

/** Part `part` of a page's records of one kind: at most one request's worth (the CRM's batch limit). */
export interface WriteStep {
  kind: WriteKind;
  part: number;
  count: number;
}

/** Splits a page's writes into steps of at most `limit` records, in the order they must run. */
export function planSteps(countsByKind: ReadonlyArray<[WriteKind, number]>, limit: number): WriteStep[] {
  const steps: WriteStep[] = [];
  for (const [kind, count] of countsByKind) {
    for (let part = 0; part * limit < count; part++) steps.push({ kind, part, count: Math.min(limit, count - part * limit) });
  }
  return steps;
}

/** A staged page and how far its steps have got, as the workflow tracks it. */
export interface ReadyBatch {
  batchId: string;
  stream: BackfillStream;
  phase: number;
  steps: WriteStep[];
  /** index of the next step to write */
  next: number;
}

/**
 * The next write request: the oldest ready page's next step, joined by the next steps of the same
 * kind of later pages while they fit in one request (`limit`: Salesforce collections take 200, two
 * pages; a bulk job many). Steps within a page run in order (contacts after the accounts they join).
 * With `minRecords`, only a group of at least that many records qualifies (partial pages wait to be
 * joined while more are coming). Returns the batches' indexes in `ready`, or null when nothing qualifies.
 */
export function pickWriteGroup(ready: readonly ReadyBatch[], busy: ReadonlySet<string>, maxPhase: number, limit: number, minRecords = 0): number[] | null {
  const writable = (b: ReadyBatch) => !busy.has(b.batchId) && b.phase <= maxPhase && b.next < b.steps.length;
  const taken = new Set<number>();
  for (let first = 0; first < ready.length; first++) {
    if (taken.has(first) || !writable(ready[first]!)) continue;
    const head = ready[first]!.steps[ready[first]!.next]!;
    const group = [first];
    let total = head.count;
    for (let i = first + 1; i < ready.length && total < limit; i++) {
      const b = ready[i]!;
      if (!writable(b)) continue;
      const step = b.steps[b.next]!;
      if (step.kind !== head.kind || total + step.count > limit) continue;
      group.push(i);
      total += step.count;
    }
    if (total >= minRecords) return group;
    // Its kind cannot fill a request now: the pages it could join are not considered again.
    for (const i of group) taken.add(i);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// What a backfill writes
// ---------------------------------------------------------------------------------------------------------

/**
 * Fields a backfill can know from a customer and its subscriptions. Payment totals (LTV, last payment,
 * failures, days to first payment) and the latest MRR movement need the payment and event history it
 * does not read per customer: they are left out rather than written as zeros, so the CRM keeps what it
 * has and the customer's workflow fills them on its first full read.
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

/**
 * A subscription's deal exactly as the customer's workflow plans it (domain/crm-plan.ts): same name,
 * amount, stage and close date, upserted by the same subscription id, so the two paths share one record.
 */
export function backfillDeal(
  accountId: string,
  input: { customer: CustomerSnapshot; subscription: SubscriptionSnapshot; discounts: DiscountSnapshot[]; productNames: Record<string, string>; readAt: number },
  settings: Pick<SyncSettings, 'mrr'> & Partial<SyncSettings>,
): PlannedDeal {
  const fetched: FetchedCustomer = { fetchedAt: input.readAt, customer: input.customer, subscriptions: [input.subscription], discounts: input.discounts, productNames: input.productNames };
  const state = applyFetchedCustomer(initialSyncState(accountId, input.customer.id), fetched, settings.mrr);
  const [deal] = planDeals(state, { mode: 'b2b', debounceMs: 0, identity: { plusAddressing: false, autoLinkScore: 1, reviewScore: 1, noCandidate: 'create' }, ...settings }, input.readAt);
  if (!deal) throw new Error(`no deal planned for ${input.subscription.id}`);
  return deal;
}

/**
 * Timeline activities of an invoice, under the keys the real-time path gives them: the paid note
 * (`invoice_paid:<id>`, from invoice.paid) and one task per failed collection attempt
 * (`payment_failed:<id>:<attempt>`, from each invoice.payment_failed). The invoice only tells how many
 * attempts there were: all failed except the last of a paid invoice (unless it was paid out of band).
 */
export function invoiceEntries(invoice: StripeInvoiceInput): TimelineEntry[] {
  const payment = paymentFromInvoice(invoice);
  const entries: TimelineEntry[] = [];
  const attempts = invoice.attempted ? invoice.attempt_count ?? 0 : 0;
  const paid = invoice.status === 'paid';
  // `paid_out_of_band` left the Invoice type in 2025 API versions; older accounts still send it.
  const outOfBand = (invoice as { paid_out_of_band?: boolean }).paid_out_of_band === true;
  const failed = paid && !outOfBand ? Math.max(0, attempts - 1) : attempts;
  for (let attempt = 1; attempt <= failed; attempt++) {
    // Earlier attempts: their next attempt is the one that followed, already in the past.
    const at = attempt === attempts && !paid ? invoice : { ...invoice, attempt_count: attempt, next_payment_attempt: null };
    const entry = invoiceTimeline('invoice.payment_failed', at as Stripe.Invoice, payment);
    if (entry) entries.push(entry);
  }
  if (paid) {
    const entry = invoiceTimeline('invoice.paid', invoice as Stripe.Invoice, payment);
    if (entry) entries.push(entry);
  }
  return entries;
}

/** A one-off payment's note; an invoice's charge gives none (the invoice's note says it). */
export function chargeEntries(charge: Stripe.Charge): TimelineEntry[] {
  const entry = chargeTimeline('charge.succeeded', charge, paymentFromCharge(charge));
  return entry ? [entry] : [];
}

export function refundEntries(refund: Stripe.Refund): TimelineEntry[] {
  const entry = refundTimeline(refund, paymentFromRefund(refund));
  return entry ? [entry] : [];
}

const CLOSED_DISPUTE = new Set(['won', 'lost', 'warning_closed']);

/** The task for an opened dispute and, once Stripe closed it, the note for its closing. */
export function disputeEntries(dispute: Stripe.Dispute): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  const opened = disputeTimeline('charge.dispute.created', dispute);
  if (opened) entries.push(opened);
  if (CLOSED_DISPUTE.has(dispute.status)) {
    const closed = disputeTimeline('charge.dispute.closed', dispute);
    if (closed) entries.push(closed);
  }
  return entries;
}

/**
 * Whether the customer's workflow may have written Stripe state newer than a backfill read. Both are
 * whole seconds: a workflow state from the same second as the read may be the newer one (a change made
 * just after the read), so a tie counts as newer. Only workflows record this age; the backfill never does.
 */
export function newerThanRead(recordedStateAt: number | null, readAt: number): boolean {
  return recordedStateAt !== null && recordedStateAt >= readAt;
}

/** Business key of a backfill run's workflow, typed into the Temporal UI as is. */
export function backfillWorkflowId(accountId: string, runId: string): string {
  return `backfill/${accountId}/${runId}`;
}
