import type { CustomerSnapshot, DiscountSnapshot, SubscriptionSnapshot } from './billing-snapshot.js';
import { computeCrmFields, stateMrr, type CrmFieldValues, type MrrSettings } from './crm-fields.js';
import { CRM_FIELDS, MRR_CHANGE_KINDS, type CrmFieldName, type CrmFieldNameMap } from './crm-field-names.js';
import { applyFetchedCustomer, initialSyncState } from './customer-sync-state.js';
import { normalizeCurrency } from './money.js';
import type { PaymentAggregates } from './payment-aggregates.js';
import { toIsoDate } from './time.js';

/**
 * Reconciliation's pure half: what the CRM should hold for a customer, computed by the same
 * functions the real-time path uses, and which Stripe-owned fields differ from what it does hold.
 */

/**
 * The fields a customer and its subscriptions determine without the payment history: what a run
 * started before the payments stream existed (continued across a deploy) can still compare.
 */
export const SNAPSHOT_FIELDS = [
  'subscription_status', 'mrr', 'currency', 'plan_name', 'billing_interval', 'next_renewal_date', 'trial_end_date',
  'payment_method_status', 'delinquent', 'discount', 'cancel_at_period_end', 'customer_deleted',
] as const satisfies readonly CrmFieldName[];

/**
 * Fields one fresh read of a customer determines exactly: the customer, its subscriptions (any
 * status) and its payment history (charges and refunds). A full run compares all of them for every
 * linked customer, from the account-wide lists it streams; anything that differs is read again on
 * its own before it counts.
 */
export const STATE_FIELDS = [
  ...SNAPSHOT_FIELDS,
  'ltv', 'last_payment_date', 'last_payment_amount', 'failed_payment_count', 'last_payment_failure', 'days_to_first_payment',
] as const satisfies readonly CrmFieldName[];

/**
 * The latest MRR movement. It is history (the step between the two last MRR values, in event
 * order), which one state cannot reproduce, so it is not compared for equality: `movementDifferences`
 * reports only what the current state contradicts.
 */
export const MOVEMENT_FIELDS = ['last_mrr_change', 'last_mrr_change_kind', 'last_mrr_change_date'] as const satisfies readonly CrmFieldName[];

/** Never compared: the key a record is found by, and when we last wrote (not something Stripe says). */
export const UNCOMPARED_FIELDS = ['customer_id', 'synced_at', 'needs_enrichment'] as const satisfies readonly CrmFieldName[];

export interface FieldDifference {
  field: CrmFieldName;
  /** The value Stripe gives; for a movement field, the condition the value breaks (see `rule`). */
  expected: string | null;
  actual: string | null;
  /** Why a movement field is wrong, when the difference is a contradiction rather than a value. */
  rule?: string;
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
  return expectedFor(input, mrr, now).fields;
}

/** The expected field values and the movement facts of one fresh read, from one state. */
export function expectedFor(input: ExpectedInput, mrr: MrrSettings, now: number): { fields: CrmFieldValues; movement: MovementFacts } {
  let state = initialSyncState('reconciliation', input.customer.id);
  state = applyFetchedCustomer(state, { fetchedAt: now, customer: input.customer, subscriptions: input.subscriptions, discounts: input.discounts, productNames: input.productNames }, mrr);
  if (input.payments) state = { ...state, billing: { ...state.billing, payments: input.payments } };
  const fields = computeCrmFields(state.billing, { now, mrr });
  const positive = Object.entries(stateMrr(state.billing, now, mrr)).filter(([, amount]) => amount > 0);
  const currency = fields.currency === null ? null : normalizeCurrency(fields.currency);
  const single = positive.every(([c]) => normalizeCurrency(c) === currency);
  return {
    fields,
    movement: {
      paying: positive.length > 0,
      amount: currency === null || !single ? null : fields.mrr,
      everSubscribed: input.subscriptions.some((s) => !NEVER_STARTED.has(s.status)),
      createdDate: input.customer.created === null ? null : toIsoDate(input.customer.created),
    },
  };
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
  expected: Partial<CrmFieldValues>,
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

/** The company domain the CRM holds, lower-cased, or the email's domain; null for none. */
export function domainOf(value: string | null | undefined): string | null {
  if (!value) return null;
  const text = value.trim().toLowerCase();
  const domain = text.includes('@') ? text.split('@')[1] : text.replace(/^https?:\/\//, '').replace(/^www\./, '').split('/')[0];
  return domain ? domain : null;
}

// ---------------------------------------------------------------------------------------------------------
// The latest MRR movement
// ---------------------------------------------------------------------------------------------------------

/** What the current state says about the latest MRR movement, whatever the history was. */
export interface MovementFacts {
  /** MRR is above zero in some currency now. */
  paying: boolean;
  /** Current MRR in the CRM's currency (major units) when all of it is in that currency; else null. */
  amount: number | null;
  /**
   * The customer has or had a subscription that could have carried MRR. Without one there was never
   * a movement. Incomplete subscriptions never started; a trial may have been an active subscription
   * once, so it counts (the cautious side: fewer findings, never a wrong one).
   */
  everSubscribed: boolean;
  /** The customer's creation day (YYYY-MM-DD): no movement is older. */
  createdDate: string | null;
}

const NEVER_STARTED: ReadonlySet<string> = new Set(['incomplete', 'incomplete_expired']);

const LIVE_KINDS = 'new, expansion, contraction or reactivation';

/**
 * The movement fields' contradictions with the current state. Checked: a customer never subscribed
 * has no movement; a paying customer's latest movement is not churn, and a customer at zero MRR
 * has churned (or never had MRR); a new or reactivated customer's movement is its whole current MRR;
 * an expansion is positive, a contraction or churn negative; a movement is dated, and not before the
 * customer existed. An empty kind on a subscribed customer is not a finding: records the backfill
 * wrote carry no movement until the customer's next change.
 */
export function movementDifferences(facts: MovementFacts, properties: Record<string, unknown>, names: CrmFieldNameMap): FieldDifference[] {
  const read = (field: (typeof MOVEMENT_FIELDS)[number]) => (names[field] === undefined ? undefined : normalizeFieldValue(field, properties[names[field]]));
  const kind = read('last_mrr_change_kind');
  const amount = read('last_mrr_change');
  const date = read('last_mrr_change_date');
  const out: FieldDifference[] = [];
  const differ = (field: FieldDifference['field'], expected: string | null, actual: string | null, rule: string) => out.push({ field, expected, actual, rule });

  if (!facts.everSubscribed) {
    const rule = 'never subscribed, so no MRR movement';
    if (kind) differ('last_mrr_change_kind', null, kind, rule);
    if (amount) differ('last_mrr_change', null, amount, rule);
    if (date) differ('last_mrr_change_date', null, date, rule);
    return out;
  }
  if (!kind) return out;
  if (!(MRR_CHANGE_KINDS as readonly string[]).includes(kind)) {
    differ('last_mrr_change_kind', MRR_CHANGE_KINDS.join(', '), kind, 'not a movement kind');
    return out;
  }
  if (facts.paying && kind === 'churn') {
    differ('last_mrr_change_kind', LIVE_KINDS, kind, 'MRR is above zero, so the latest movement is not churn');
    return out;
  }
  if (!facts.paying && kind !== 'churn') {
    differ('last_mrr_change_kind', 'churn', kind, 'MRR is zero, so the latest movement is churn');
    return out;
  }
  if (amount === null) {
    if (names.last_mrr_change !== undefined) differ('last_mrr_change', 'an amount', null, `a ${kind} movement has an amount`);
  } else if (amount !== undefined) {
    const value = Number(amount);
    if ((kind === 'new' || kind === 'reactivation') && facts.amount !== null) {
      const whole = normalizeFieldValue('last_mrr_change', facts.amount);
      if (amount !== whole) differ('last_mrr_change', whole, amount, `a ${kind} movement is the whole current MRR`);
    } else if (kind === 'expansion' && !(value > 0)) {
      differ('last_mrr_change', 'positive', amount, 'an expansion is positive');
    } else if ((kind === 'contraction' || kind === 'churn') && !(value < 0)) {
      differ('last_mrr_change', 'negative', amount, `a ${kind} is negative`);
    }
  }
  if (date === null) differ('last_mrr_change_date', 'a date', null, 'a movement has a date');
  else if (date !== undefined && facts.createdDate !== null && date < facts.createdDate) {
    differ('last_mrr_change_date', `${facts.createdDate} or later`, date, 'a movement is not older than the customer');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Review queue
// ---------------------------------------------------------------------------------------------------------

/** The review kinds reconciliation queues (the customer workflow's matcher queues `match`). */
export type ReviewFindingKind = 'unlinked' | 'orphan' | 'duplicate-merge';

/** A discrepancy as the review queue holds it. */
export interface ReviewFinding {
  kind: ReviewFindingKind;
  reason: 'no-crm-record' | 'stripe-customer-missing' | 'duplicate-stripe-id' | 'duplicate-email' | 'duplicate-domain';
  /** What the finding is about, unique among open reviews of its kind: a second run finds the review, not a new one. */
  subject: string;
  customerId: string | null;
  /** The CRM records concerned (none for an unlinked customer). */
  recordIds: string[];
}

/** The review a reconciliation discrepancy becomes, or null for what a resync repairs (drift, missing records). */
export function reviewFindingOf(discrepancy: { kind: string; customerId: string | null; crmRecordId: string | null; details: unknown }): ReviewFinding | null {
  const { kind, customerId, crmRecordId } = discrepancy;
  switch (kind) {
    case 'unlinked':
      return customerId ? { kind: 'unlinked', reason: 'no-crm-record', subject: customerId, customerId, recordIds: [] } : null;
    case 'orphan':
      // Several records naming the same missing customer are one finding.
      return customerId ? { kind: 'orphan', reason: 'stripe-customer-missing', subject: customerId, customerId, recordIds: crmRecordId ? [crmRecordId] : [] } : null;
    case 'duplicate-stripe-id':
    case 'duplicate-email':
    case 'duplicate-domain': {
      const details = (discrepancy.details ?? {}) as { key?: unknown; records?: Array<{ recordId?: unknown }> };
      if (typeof details.key !== 'string') return null;
      const recordIds = (details.records ?? []).map((r) => r.recordId).filter((id): id is string => typeof id === 'string');
      return { kind: 'duplicate-merge', reason: kind, subject: `${kind}:${details.key}`, customerId: kind === 'duplicate-stripe-id' ? details.key : null, recordIds: [...new Set(recordIds)].sort() };
    }
    default:
      return null;
  }
}

/** A review already in the queue for the same subject. */
export interface ExistingReview {
  id: string;
  status: 'open' | 'resolved';
  /** The resolution's action, for resolved reviews. */
  action: string | null;
  recordIds: string[];
}

export type QueueDecision =
  | { action: 'queue' }
  /** Already open: the finding points at it; records found since are added to it. */
  | { action: 'already-open'; reviewId: string; recordIds: string[] }
  /** A person dismissed this very finding (the same records, or more): not queued again. */
  | { action: 'ignored'; reviewId: string };

/**
 * Whether a finding goes to the queue. An open review of the same subject takes it (never a second
 * one). An `ignore` resolution covering every record of the finding keeps it out: a duplicate group
 * someone declared distinct stays dismissed until another record joins it. Other resolutions
 * (a link, an unlink) were acted on; if the finding is back, it needs a person again.
 */
export function queueDecision(finding: ReviewFinding, existing: readonly ExistingReview[]): QueueDecision {
  const open = existing.find((r) => r.status === 'open');
  if (open) return { action: 'already-open', reviewId: open.id, recordIds: [...new Set([...open.recordIds, ...finding.recordIds])].sort() };
  const ignored = existing
    .filter((r) => r.status === 'resolved' && r.action === 'ignore' && finding.recordIds.every((id) => r.recordIds.includes(id)))
    .sort((a, b) => Number(b.id) - Number(a.id))[0];
  if (ignored) return { action: 'ignored', reviewId: ignored.id };
  return { action: 'queue' };
}
