import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateStage } from '@temporalio/client';
import { sql, type Kysely } from 'kysely';
import type Stripe from 'stripe';
import { accountRequestOptions } from '../clients/stripe.js';
import type { Database } from '../db/database.js';
import type { DiscrepancyKind, DiscrepancyStatus, ReconciliationKind, ReconciliationMode } from '../db/reconciliation-tables.js';
import {
  customerSnapshotFromStripe,
  paymentFromCharge,
  paymentFromRefund,
  subscriptionSnapshotFromStripe,
  type CustomerSnapshot,
  type PaymentSnapshot,
  type StripeSubscriptionInput,
  type SubscriptionSnapshot,
} from '../domain/billing-snapshot.js';
import type { SyncSettings } from '../domain/crm-plan.js';
import { companyDomainOf, matchCustomer, reviewCandidates } from '../domain/identity.js';
import { applyPayments, createPaymentAggregates } from '../domain/payment-aggregates.js';
import {
  compareFields,
  domainOf,
  expectedFor,
  movementDifferences,
  queueDecision,
  reviewFindingOf,
  SNAPSHOT_FIELDS,
  STATE_FIELDS,
  type FieldDifference,
  type ReviewFinding,
  type ReviewFindingKind,
} from '../domain/reconciliation.js';
import { CRM_FIELD_NAMES, type CrmFieldNameMap } from '../domain/crm-field-names.js';
import { rollUpAccountFields, type RollupMember } from '../domain/rollup.js';
import { customerWorkflowId } from '../domain/workflow-ids.js';
import type { CrmAdapter } from './crm/types.js';
import { crmRateLimitRetry } from './crm.js';
import type { ScannedRecord } from './crm/scan.js';
import { createStripeActivities } from './stripe.js';

/**
 * Reconciliation's I/O. Both sides are streamed page by page into unlogged staging tables keyed by
 * the run, and Postgres joins them, so a worker's memory does not grow with the number of
 * customers. Each activity does one bounded slice and returns a cursor; the workflow loops.
 */
export interface ReconciliationActivityDeps {
  db: Kysely<Database>;
  stripe: Stripe;
  primaryAccountId: string;
  crm: CrmAdapter;
  settings: SyncSettings;
}

/** Stripe events are kept for 30 days: an incremental run cannot look further back. */
const EVENT_RETENTION_SECONDS = 30 * 86_400;
/** Stripe pages (of 100) per activity call: a few seconds of work between heartbeats and results. */
const STRIPE_PAGES_PER_CALL = 20;
const COMPARE_BATCH = 500;
/** At most one CRM batch read (100 records) per verify call, so the CRM queue's rate limit still counts requests. */
const VERIFY_BATCH = 100;
const REPAIR_BATCH = 100;
const REVIEW_BATCH = 100;
/** The discrepancy kinds a person decides on (the review queue), as opposed to what a resync repairs. */
const REVIEW_KINDS: DiscrepancyKind[] = ['unlinked', 'orphan', 'duplicate-stripe-id', 'duplicate-email', 'duplicate-domain'];
/** A customer with a webhook still in flight is skipped rather than reported: the sync is about to write it. */
const IN_FLIGHT_WINDOW_MS = 10 * 60_000;

/** Logical names: scanned records carry their properties under them, so comparisons need no provider map. */
const LOGICAL_NAMES = Object.fromEntries(CRM_FIELD_NAMES.map((f) => [f, f])) as CrmFieldNameMap;

export interface RunStart {
  runId: string;
  /** Unix seconds; incremental runs only. */
  since: number | null;
  startedAt: number;
}

export interface StripeTotals {
  customers: number;
  /** Currency (upper-case) → MRR in major units. */
  mrr: Record<string, number>;
}

export interface SliceResult {
  next: string | null;
  /** Items read in this slice. */
  read: number;
  /** Requests made (for the CRM read bound). */
  requests: number;
}

export interface CompareResult {
  next: string | null;
  compared: number;
  suspects: number;
  totals: StripeTotals;
}

/** A record a review offers, as the queue stores it. */
interface ReviewCandidate {
  recordId: string;
  method: string;
  score: number;
  name?: string | null;
  domain?: string | null;
  /** The Stripe customer the record names, if any. */
  customerId?: string | null;
}

export interface ReviewQueueResult {
  next: string | null;
  /** New reviews opened. */
  queued: number;
  /** Findings whose review was already open (from an earlier run, or the customer workflow's matcher). */
  alreadyOpen: number;
  /** Findings a person already dismissed. */
  ignored: number;
}

export interface VerifyResult {
  next: string | null;
  verified: number;
  found: Partial<Record<DiscrepancyKind, number>>;
  skippedInFlight: number;
}

export class ReconciliationUnsupportedError extends Error {
  override name = 'ReconciliationUnsupportedError';
}

function addMrr(into: Record<string, number>, currency: string | null, amount: number): void {
  if (currency === null || !Number.isFinite(amount) || amount === 0) return;
  into[currency] = Math.round(((into[currency] ?? 0) + amount) * 1000) / 1000;
}

/** A CRM record several Stripe customers are linked to, and those customers. */
interface RollupGroup {
  recordId: string;
  members: Array<{ accountId: string; customerId: string }>;
}

function crmFailure(err: unknown): never {
  throw crmRateLimitRetry('reconciliation', err);
}

export function createReconciliationActivities(deps: ReconciliationActivityDeps) {
  const { db } = deps;
  const stripeActivities = createStripeActivities(deps);
  const opts = (accountId: string) => accountRequestOptions(accountId, deps.primaryAccountId);

  function scanner() {
    const scan = deps.crm.scanAccounts;
    if (!scan) {
      throw ApplicationFailure.create({ type: 'ReconciliationUnsupported', nonRetryable: true, message: `the ${deps.crm.provider} adapter cannot scan records` });
    }
    return scan.bind(deps.crm);
  }

  async function insertDiscrepancies(rows: Array<{ runId: string; kind: DiscrepancyKind; customerId: string | null; crmRecordId: string | null; fields?: FieldDifference[]; details?: unknown; status: DiscrepancyStatus }>) {
    if (rows.length === 0) return;
    await db.insertInto('reconciliationDiscrepancies').values(rows.map((r) => ({
      runId: r.runId, kind: r.kind, customerId: r.customerId, crmRecordId: r.crmRecordId,
      fields: JSON.stringify(Object.fromEntries((r.fields ?? []).map((d) => [d.field, { expected: d.expected, actual: d.actual, ...(d.rule ? { rule: d.rule } : {}) }]))),
      details: JSON.stringify(r.details ?? {}), status: r.status,
    }))).execute();
  }

  async function allProductNames(accountId: string): Promise<Record<string, string>> {
    // The catalog is small next to the customer base (and the real-time path keeps the same table).
    const names: Record<string, string> = {};
    for await (const product of deps.stripe.products.list({ limit: 100 }, opts(accountId))) names[product.id] = product.name;
    return names;
  }

  /** What the review shows for an orphan or a duplicate group: its records, and the customer each names. */
  function candidatesOf(finding: ReviewFinding, details: unknown): ReviewCandidate[] {
    const named = new Map(((details as { records?: Array<{ recordId: string; customerId: string | null }> } | null)?.records ?? []).map((r) => [r.recordId, r.customerId]));
    const method = finding.reason === 'duplicate-email' ? 'email' : finding.reason === 'duplicate-domain' ? 'domain' : 'external-id';
    return finding.recordIds.map((recordId) => ({ recordId, method, score: 1, customerId: named.get(recordId) ?? finding.customerId }));
  }

  /** The records the customer workflow's matcher would weigh for this customer, scored the same way. */
  async function unlinkedCandidates(customerId: string, email: string | null, name: string | null): Promise<ReviewCandidate[]> {
    const found = await deps.crm.findAccountCandidates({ customerId, email, domain: companyDomainOf(email) }).catch(crmFailure);
    const decision = matchCustomer({ id: customerId, email, name }, found, deps.settings.identity);
    const scored = decision.kind === 'link' ? [{ recordId: decision.recordId, method: decision.method, score: decision.score }]
      : decision.kind === 'review' ? decision.candidates : [];
    return reviewCandidates(scored, found);
  }

  /**
   * Customers (of these) linked to a CRM record that other Stripe customers share: a roll-up record
   * (activities/rollup.ts). Its fields are the combination of its members', so neither member's own
   * computation can be compared with it.
   */
  async function rollupGroups(accountId: string, customerIds: string[]): Promise<Map<string, RollupGroup>> {
    const provider = deps.crm.provider;
    const mine = await db.selectFrom('crmLinks').select(['customerId', 'companyId'])
      .where('accountId', '=', accountId).where('customerId', 'in', customerIds).where('provider', '=', provider).where('companyId', 'is not', null).execute();
    if (mine.length === 0) return new Map();
    const members = await db.selectFrom('crmLinks').select(['accountId', 'customerId', 'companyId'])
      .where('provider', '=', provider).where('companyId', 'in', [...new Set(mine.map((m) => m.companyId!))]).execute();
    const byRecord = new Map<string, Array<{ accountId: string; customerId: string }>>();
    for (const m of members) byRecord.set(m.companyId!, [...(byRecord.get(m.companyId!) ?? []), { accountId: m.accountId, customerId: m.customerId }]);
    const out = new Map<string, RollupGroup>();
    for (const m of mine) {
      const group = byRecord.get(m.companyId!) ?? [];
      if (group.length > 1) out.set(m.customerId, { recordId: m.companyId!, members: group });
    }
    return out;
  }

  type Fetched = Awaited<ReturnType<typeof stripeActivities.fetchStripeCustomer>>;

  /** A full read of the customer (payments included), as the workflow's full resync makes it; null when Stripe has no such customer. */
  async function fetchOrNull(accountId: string, customerId: string): Promise<Fetched | null> {
    try {
      return await stripeActivities.fetchStripeCustomer({ accountId, customerId, includePayments: true });
    } catch (err) {
      if (!(err instanceof ApplicationFailure && err.type === 'StripeInvalidRequest')) throw err;
      return null;
    }
  }

  /** What the customer workflow would write for a fetched customer, product names looked up as it does. */
  async function expectedOf(accountId: string, fetched: Fetched): Promise<ReturnType<typeof expectedFor>> {
    const { customer } = fetched;
    const productIds = [...new Set(customer.subscriptions.flatMap((s) => s.items.filter((i) => !i.price.productName && i.price.productId).map((i) => i.price.productId!)))];
    const productNames = await stripeActivities.lookupProductNames({ accountId, productIds });
    return expectedFor({ ...customer, productNames: { ...customer.productNames, ...productNames }, payments: fetched.payments }, deps.settings.mrr, Math.floor(Date.now() / 1000));
  }

  async function verifyRollup(runId: string, customerId: string, group: RollupGroup, scan: ReturnType<typeof scanner>): Promise<Parameters<typeof insertDiscrepancies>[0][number] | null> {
    const page = await scan({ cursor: null, customerIds: group.members.map((m) => m.customerId) }).catch(crmFailure);
    const record = page.records.find((r) => r.id === group.recordId);
    if (!record) return { runId, kind: 'missing-record', customerId, crmRecordId: group.recordId, details: { reason: 'the roll-up record shared by several Stripe customers is gone', members: group.members }, status: 'open' };
    const fresh: RollupMember[] = [];
    for (const member of group.members) {
      const fetched = await fetchOrNull(member.accountId, member.customerId);
      if (fetched) fresh.push({ customerId: `${member.accountId}/${member.customerId}`, fields: (await expectedOf(member.accountId, fetched)).fields });
    }
    if (fresh.length === 0) return null;
    const differences = compareFields(rollUpAccountFields(fresh).fields, record.properties, LOGICAL_NAMES, STATE_FIELDS);
    return differences.length > 0 ? { runId, kind: 'drift', customerId, crmRecordId: record.id, fields: differences, details: { rollupOf: group.members }, status: 'open' } : null;
  }

  return {
    /** Opens the run (idempotent per workflow id) and, for an incremental run, decides where it starts. */
    async reconcileStartRun(input: { accountId: string; kind: ReconciliationKind; mode: ReconciliationMode; workflowId: string }): Promise<RunStart> {
      const now = Math.floor(Date.now() / 1000);
      let since: number | null = null;
      if (input.kind === 'incremental') {
        const last = await db.selectFrom('reconciliationRuns').select('startedAt').where('accountId', '=', input.accountId)
          .where('kind', 'in', ['incremental', 'full']).where('status', '=', 'completed')
          .orderBy('startedAt', 'desc').limit(1).executeTakeFirst();
        const lastAt = last ? Math.floor(last.startedAt.getTime() / 1000) : 0;
        // Overlap the previous run by a minute: an event created while it started is not lost between them.
        since = Math.max(now - EVENT_RETENTION_SECONDS, lastAt - 60);
      }
      const row = await db.insertInto('reconciliationRuns')
        .values({ accountId: input.accountId, kind: input.kind, mode: input.mode, workflowId: input.workflowId, since: since === null ? null : new Date(since * 1000), summary: '{}' })
        .onConflict((oc) => oc.column('workflowId').doUpdateSet({ workflowId: input.workflowId }))
        .returning(['id', 'since', 'startedAt']).executeTakeFirstOrThrow();
      return { runId: String(row.id), since: row.since ? Math.floor(row.since.getTime() / 1000) : null, startedAt: Math.floor(row.startedAt.getTime() / 1000) };
    },

    /** Incremental runs: customers named by Stripe events since `since` become candidates. */
    async reconcileCollectActive(input: { runId: string; accountId: string; since: number; cursor: string | null }): Promise<SliceResult> {
      let cursor = input.cursor;
      let read = 0;
      let requests = 0;
      for (let page = 0; page < STRIPE_PAGES_PER_CALL; page++) {
        const events = await deps.stripe.events.list({ created: { gte: input.since }, limit: 100, ...(cursor ? { starting_after: cursor } : {}) }, opts(input.accountId));
        requests++;
        read += events.data.length;
        const ids = new Set<string>();
        for (const event of events.data) {
          const object = event.data.object as { object?: string; id?: string; customer?: string | { id: string } | null };
          const customerId = object.object === 'customer' ? object.id : typeof object.customer === 'string' ? object.customer : object.customer?.id;
          if (customerId?.startsWith('cus_')) ids.add(customerId);
        }
        if (ids.size > 0) {
          await db.insertInto('reconciliationCandidates').values([...ids].map((customerId) => ({ runId: input.runId, customerId })))
            .onConflict((oc) => oc.doNothing()).execute();
        }
        cursor = events.data.at(-1)?.id ?? cursor;
        Context.current().heartbeat(cursor);
        if (!events.has_more) return { next: null, read, requests };
      }
      return { next: cursor, read, requests };
    },

    /**
     * Full runs: every Stripe customer, every subscription (any status) and every charge with its
     * refunds, each list in its own stream, into staging. Reading the account-wide charge list once
     * costs a request per 100 charges, where the customer's own list would cost one per customer.
     */
    async reconcileScanStripe(input: { runId: string; accountId: string; object: 'customers' | 'subscriptions' | 'charges'; cursor: string | null }): Promise<SliceResult> {
      let cursor = input.cursor;
      let read = 0;
      let requests = 0;
      for (let page = 0; page < STRIPE_PAGES_PER_CALL; page++) {
        const after = cursor ? { starting_after: cursor } : {};
        let hasMore: boolean;
        if (input.object === 'customers') {
          const list = await deps.stripe.customers.list({ limit: 100, expand: ['data.invoice_settings.default_payment_method'], ...after }, opts(input.accountId));
          hasMore = list.has_more;
          read += list.data.length;
          cursor = list.data.at(-1)?.id ?? cursor;
          if (list.data.length > 0) {
            await db.insertInto('reconciliationStripeCustomers')
              .values(list.data.map((c) => ({ runId: input.runId, customerId: c.id, snapshot: JSON.stringify(customerSnapshotFromStripe(c)) })))
              .onConflict((oc) => oc.doNothing()).execute();
          }
        } else if (input.object === 'subscriptions') {
          const list = await deps.stripe.subscriptions.list({ limit: 100, status: 'all', expand: ['data.discounts'], ...after }, opts(input.accountId));
          hasMore = list.has_more;
          read += list.data.length;
          cursor = list.data.at(-1)?.id ?? cursor;
          if (list.data.length > 0) {
            await db.insertInto('reconciliationStripeSubscriptions')
              .values(list.data.map((s) => ({
                runId: input.runId, subscriptionId: s.id, customerId: typeof s.customer === 'string' ? s.customer : s.customer.id,
                snapshot: JSON.stringify(subscriptionSnapshotFromStripe(s as StripeSubscriptionInput)),
              })))
              .onConflict((oc) => oc.doNothing()).execute();
          }
        } else {
          // The same snapshots, with the same embedded refunds, as fetchStripeCustomer folds for one customer.
          const list = await deps.stripe.charges.list({ limit: 100, expand: ['data.refunds'], ...after }, opts(input.accountId));
          hasMore = list.has_more;
          read += list.data.length;
          cursor = list.data.at(-1)?.id ?? cursor;
          const rows: Array<{ runId: string; paymentId: string; customerId: string; snapshot: string }> = [];
          for (const charge of list.data) {
            const customerId = typeof charge.customer === 'string' ? charge.customer : charge.customer?.id;
            // A guest charge belongs to no customer, so to no CRM record.
            if (!customerId) continue;
            const payments: PaymentSnapshot[] = [paymentFromCharge(charge), ...(charge.refunds?.data ?? []).map(paymentFromRefund)];
            for (const p of payments) rows.push({ runId: input.runId, paymentId: p.id, customerId, snapshot: JSON.stringify(p) });
          }
          if (rows.length > 0) await db.insertInto('reconciliationStripePayments').values(rows).onConflict((oc) => oc.doNothing()).execute();
        }
        requests++;
        Context.current().heartbeat(cursor);
        if (!hasMore) return { next: null, read, requests };
      }
      return { next: cursor, read, requests };
    },

    /** One CRM page into staging; runs on the CRM queue, so its rate limit paces the scan. */
    async reconcileScanCrm(input: { runId: string; cursor: string | null }): Promise<SliceResult> {
      const scan = scanner();
      const page = await scan({ cursor: input.cursor }).catch(crmFailure);
      if (page.records.length > 0) {
        await db.insertInto('reconciliationCrmRecords').values(page.records.map((r) => ({
          runId: input.runId, recordId: r.id, customerId: r.customerId, email: r.email, domain: domainOf(r.domain),
          properties: JSON.stringify(r.properties),
        }))).onConflict((oc) => oc.doNothing()).execute();
      }
      return { next: page.next, read: page.read, requests: 1 };
    },

    /**
     * Compares a slice of staged Stripe customers (by id) with their staged CRM records on every
     * Stripe-owned field: the state fields against values computed from the staged customer,
     * subscriptions and payments, and the latest MRR movement against what that state allows.
     * Differences, missing records and unlinked customers only make the customer a suspect:
     * `reconcileVerify` re-reads both sides before anything is reported. `payments: false` is a run
     * that began before the payments stream existed: it compares what a snapshot determines.
     */
    async reconcileCompare(input: { runId: string; accountId: string; after: string | null; payments?: boolean }): Promise<CompareResult> {
      const withPayments = input.payments !== false;
      const rows = await sql<{ customerId: string; snapshot: CustomerSnapshot; subscriptions: SubscriptionSnapshot[] | null; payments: PaymentSnapshot[] | null; records: Array<{ id: string; properties: Record<string, string | null> }> | null }>`
        select c.customer_id, c.snapshot,
          (select json_agg(s.snapshot) from reconciliation_stripe_subscriptions s where s.run_id = c.run_id and s.customer_id = c.customer_id) as subscriptions,
          (select json_agg(p.snapshot order by (p.snapshot->>'created')::bigint, p.payment_id) from reconciliation_stripe_payments p where p.run_id = c.run_id and p.customer_id = c.customer_id) as payments,
          (select json_agg(json_build_object('id', r.record_id, 'properties', r.properties) order by r.record_id) from reconciliation_crm_records r where r.run_id = c.run_id and r.customer_id = c.customer_id) as records
        from reconciliation_stripe_customers c
        where c.run_id = ${input.runId} and c.customer_id > ${input.after ?? ''}
        order by c.customer_id limit ${COMPARE_BATCH}`.execute(db);
      const totals: StripeTotals = { customers: 0, mrr: {} };
      if (rows.rows.length === 0) return { next: null, compared: 0, suspects: 0, totals };
      const productNames = await allProductNames(input.accountId);
      const now = Math.floor(Date.now() / 1000);
      const suspects: string[] = [];
      for (const row of rows.rows) {
        // Folded oldest first, as fetchStripeCustomer does: the aggregates' window drops the oldest.
        const payments = withPayments ? applyPayments(createPaymentAggregates(), row.payments ?? []) : null;
        const { fields: expected, movement } = expectedFor({ customer: row.snapshot, subscriptions: row.subscriptions ?? [], discounts: [], productNames, payments }, deps.settings.mrr, now);
        totals.customers++;
        addMrr(totals.mrr, expected.currency, expected.mrr);
        const record = row.records?.[0];
        if (
          !record || (row.records?.length ?? 0) > 1 ||
          compareFields(expected, record.properties, LOGICAL_NAMES, withPayments ? STATE_FIELDS : SNAPSHOT_FIELDS).length > 0 ||
          movementDifferences(movement, record.properties, LOGICAL_NAMES).length > 0
        ) suspects.push(row.customerId);
      }
      if (suspects.length > 0) {
        await db.insertInto('reconciliationCandidates').values(suspects.map((customerId) => ({ runId: input.runId, customerId })))
          .onConflict((oc) => oc.doNothing()).execute();
      }
      return { next: rows.rows.length < COMPARE_BATCH ? null : rows.rows.at(-1)!.customerId, compared: rows.rows.length, suspects: suspects.length, totals };
    },

    /**
     * Checks candidates one by one the way the customer workflow computes them: a full read of the
     * customer (payments included) through the same activity code, against a fresh CRM read of
     * their records (one batch request). Only what survives this is a discrepancy.
     */
    async reconcileVerify(input: { runId: string; accountId: string; after: string | null; startedAt: number }): Promise<VerifyResult> {
      const scan = scanner();
      const candidates = await db.selectFrom('reconciliationCandidates').select('customerId')
        .where('runId', '=', input.runId).where('customerId', '>', input.after ?? '')
        .orderBy('customerId').limit(VERIFY_BATCH).execute();
      const result: VerifyResult = { next: null, verified: 0, found: {}, skippedInFlight: 0 };
      if (candidates.length === 0) return result;
      const ids = candidates.map((c) => c.customerId);
      const page = await scan({ cursor: null, customerIds: ids }).catch(crmFailure);
      const byCustomer = new Map<string, ScannedRecord[]>();
      for (const r of page.records) byCustomer.set(r.customerId, [...(byCustomer.get(r.customerId) ?? []), r]);
      // A link whose record ids are empty is a customer left unlinked on purpose (a review's `ignore`,
      // IDENTITY_NO_CANDIDATE=unlinked): unlinked, not a missing record a resync would bring back.
      const links = new Map((await db.selectFrom('crmLinks').select(['customerId', 'companyId', 'contactId']).where('accountId', '=', input.accountId).where('customerId', 'in', ids).execute())
        .map((l) => [l.customerId, l.companyId !== null || l.contactId !== null]));
      const inFlight = new Set((await db.selectFrom('stripeEvents').select('customerId').distinct()
        .where('accountId', '=', input.accountId).where('customerId', 'in', ids).where('processedAt', 'is', null)
        .where('disposition', '=', 'routed').where('receivedAt', '>', new Date(Date.now() - IN_FLIGHT_WINDOW_MS)).execute()).map((e) => e.customerId));
      const groups = await rollupGroups(input.accountId, ids);
      const rollupsVerified = new Set<string>();
      const found: Parameters<typeof insertDiscrepancies>[0] = [];
      for (const customerId of ids) {
        Context.current().heartbeat(customerId);
        result.verified++;
        if (inFlight.has(customerId)) {
          result.skippedInFlight++;
          continue;
        }
        const group = groups.get(customerId);
        if (group) {
          // A roll-up record is compared as a whole, once, against the roll-up of its members' fresh state.
          if (!rollupsVerified.has(group.recordId)) {
            rollupsVerified.add(group.recordId);
            const finding = await verifyRollup(input.runId, customerId, group, scan);
            if (finding) found.push(finding);
          }
          continue;
        }
        const records = byCustomer.get(customerId) ?? [];
        const fetched = await fetchOrNull(input.accountId, customerId);
        if (!fetched) {
          for (const r of records) found.push({ runId: input.runId, kind: 'orphan', customerId, crmRecordId: r.id, details: { reason: 'the Stripe customer does not exist' }, status: 'open' });
          continue;
        }
        const stripeCustomer = fetched.customer.customer;
        if (stripeCustomer.deleted) {
          // A deleted customer's record stays with its history; only the deletion flag is Stripe's news.
          for (const r of records) {
            const differences = compareFields({ customer_deleted: true }, r.properties, LOGICAL_NAMES, ['customer_deleted']);
            if (differences.length > 0) found.push({ runId: input.runId, kind: 'drift', customerId, crmRecordId: r.id, fields: differences, status: 'open' });
          }
          continue;
        }
        // Created after the run began: the real-time path is handling it now.
        if ((stripeCustomer.created ?? 0) > input.startedAt) continue;
        if (records.length === 0) {
          if (links.get(customerId) === true) found.push({ runId: input.runId, kind: 'missing-record', customerId, crmRecordId: null, details: { reason: 'linked, but the CRM record is gone' }, status: 'open' });
          else found.push({ runId: input.runId, kind: 'unlinked', customerId, crmRecordId: null, details: { email: stripeCustomer.email, name: stripeCustomer.name, leftUnlinked: links.has(customerId) }, status: 'open' });
          continue;
        }
        const { fields: expected, movement } = await expectedOf(input.accountId, fetched);
        // Duplicates are the duplicate scan's business; the oldest record (lowest id) is the one compared.
        const record = records[0]!;
        const differences = [...compareFields(expected, record.properties, LOGICAL_NAMES, STATE_FIELDS), ...movementDifferences(movement, record.properties, LOGICAL_NAMES)];
        if (differences.length > 0) found.push({ runId: input.runId, kind: 'drift', customerId, crmRecordId: record.id, fields: differences, status: 'open' });
      }
      await insertDiscrepancies(found);
      for (const f of found) result.found[f.kind] = (result.found[f.kind] ?? 0) + 1;
      result.next = candidates.length < VERIFY_BATCH ? null : ids.at(-1)!;
      return result;
    },

    /**
     * After a full scan: CRM records naming a Stripe customer the scan did not see (confirmed one by
     * one, as a customer created since is not an orphan), and duplicate records, all set-based in SQL.
     * A record of a customer deleted in Stripe is not an orphan (its record keeps the history), only
     * drift if it does not say so.
     */
    async reconcileCrmOnly(input: { runId: string; accountId: string; kind: ReconciliationKind }): Promise<{ orphans: number; drifts: number; duplicates: number; crm: StripeTotals }> {
      let orphans = 0;
      let drifts = 0;
      if (input.kind === 'full') {
        let after = '';
        for (;;) {
          const page = await sql<{ recordId: string; customerId: string; properties: Record<string, string | null> }>`
            select r.record_id, r.customer_id, r.properties from reconciliation_crm_records r
            where r.run_id = ${input.runId} and r.record_id > ${after}
              and not exists (select 1 from reconciliation_stripe_customers c where c.run_id = r.run_id and c.customer_id = r.customer_id)
            order by r.record_id limit 200`.execute(db);
          const rows: Parameters<typeof insertDiscrepancies>[0] = [];
          for (const r of page.rows) {
            Context.current().heartbeat(r.recordId);
            let state: 'exists' | 'deleted' | 'missing' = 'missing';
            try {
              const c = await deps.stripe.customers.retrieve(r.customerId, {}, opts(input.accountId));
              state = 'deleted' in c && c.deleted ? 'deleted' : 'exists';
            } catch (err) {
              if (!(err instanceof Error && 'statusCode' in err && (err as { statusCode?: number }).statusCode === 404)) throw err;
            }
            if (state === 'missing') {
              rows.push({ runId: input.runId, kind: 'orphan', customerId: r.customerId, crmRecordId: r.recordId, details: { reason: 'the Stripe customer does not exist' }, status: 'open' });
            } else if (state === 'deleted') {
              const differences = compareFields({ customer_deleted: true }, r.properties, LOGICAL_NAMES, ['customer_deleted']);
              if (differences.length > 0) rows.push({ runId: input.runId, kind: 'drift', customerId: r.customerId, crmRecordId: r.recordId, fields: differences, status: 'open' });
            }
          }
          await insertDiscrepancies(rows);
          orphans += rows.filter((row) => row.kind === 'orphan').length;
          drifts += rows.filter((row) => row.kind === 'drift').length;
          if (page.rows.length < 200) break;
          after = page.rows.at(-1)!.recordId;
        }
      }
      // Merge review: records sharing a Stripe id, or sharing an email or domain across different Stripe ids.
      const duplicates = await sql<{ n: number }>`
        with groups as (
          select 'duplicate-stripe-id' as kind, customer_id as key, json_agg(json_build_object('recordId', record_id, 'customerId', customer_id) order by record_id) as records
            from reconciliation_crm_records where run_id = ${input.runId} group by customer_id having count(*) > 1
          union all
          select 'duplicate-email', email, json_agg(json_build_object('recordId', record_id, 'customerId', customer_id) order by record_id)
            from reconciliation_crm_records where run_id = ${input.runId} and email is not null group by email having count(distinct customer_id) > 1
          union all
          select 'duplicate-domain', domain, json_agg(json_build_object('recordId', record_id, 'customerId', customer_id) order by record_id)
            from reconciliation_crm_records where run_id = ${input.runId} and domain is not null group by domain having count(distinct customer_id) > 1
        ), inserted as (
          insert into reconciliation_discrepancies (run_id, kind, customer_id, crm_record_id, details, status)
          select ${input.runId}, kind, case when kind = 'duplicate-stripe-id' then key end, records->0->>'recordId', json_build_object('key', key, 'records', records), 'open'
          from groups returning 1
        ) select count(*)::int as n from inserted`.execute(db);
      const crmTotals = await sql<{ currency: string | null; records: number; mrr: string | null }>`
        select upper(properties->>'currency') as currency, count(*)::int as records,
          sum(case when properties->>'mrr' ~ '^-?[0-9.]+$' then (properties->>'mrr')::numeric end)::text as mrr
        from reconciliation_crm_records where run_id = ${input.runId} group by 1`.execute(db);
      const crm: StripeTotals = { customers: 0, mrr: {} };
      for (const row of crmTotals.rows) {
        crm.customers += row.records;
        addMrr(crm.mrr, row.currency, Number(row.mrr ?? 0));
      }
      return { orphans, drifts, duplicates: duplicates.rows[0]?.n ?? 0, crm };
    },

    /**
     * Repair: each drifted or missing customer gets a full resync through its workflow (accepted,
     * not awaited: the CRM queue's rate limit decides when it is written); a customer without a
     * workflow yet is started with signal-with-start. Runs on the workflow task queue, which is
     * where customer workflows are started.
     */
    async reconcileRepair(input: { runId: string; accountId: string; after: string | null }): Promise<{ next: string | null; requested: number; failed: number }> {
      const { client, info } = Context.current();
      const rows = await db.selectFrom('reconciliationDiscrepancies').select(['id', 'customerId'])
        .where('runId', '=', input.runId).where('kind', 'in', ['drift', 'missing-record']).where('status', '=', 'open')
        .where(sql<boolean>`id > ${input.after ?? '0'}::bigint`).orderBy('id').limit(REPAIR_BATCH).execute();
      let requested = 0;
      let failed = 0;
      for (const row of rows) {
        if (!row.customerId) continue;
        Context.current().heartbeat(row.id);
        const workflowId = customerWorkflowId(input.accountId, row.customerId);
        let status: DiscrepancyStatus = 'repair-requested';
        let reason: string | null = null;
        try {
          try {
            await client.workflow.getHandle(workflowId).startUpdate('resync', { args: [{ full: true }], waitForStage: WorkflowUpdateStage.ACCEPTED });
          } catch (err) {
            if (!(err instanceof WorkflowNotFoundError)) throw err;
            await client.workflow.signalWithStart('customerSyncWorkflow', {
              workflowId, taskQueue: info.taskQueue, args: [{ accountId: input.accountId, customerId: row.customerId }], signal: 'adminRetry', signalArgs: [{}],
            });
          }
          requested++;
        } catch (err) {
          status = 'repair-failed';
          reason = err instanceof Error ? err.message : String(err);
          failed++;
        }
        await db.updateTable('reconciliationDiscrepancies')
          .set({ status, updatedAt: new Date(), ...(reason ? { details: JSON.stringify({ repairError: reason }) } : {}) })
          .where('id', '=', row.id).execute();
      }
      return { next: rows.length < REPAIR_BATCH ? null : rows.at(-1)!.id, requested, failed };
    },

    /**
     * Repair mode: orphans, unlinked customers and duplicates go to the review queue (the
     * identity_reviews table, `GET /reviews?kind=...`), one review per subject: a finding whose
     * review is still open points at it (records found since are added), one a person dismissed
     * with `ignore` is not queued again. An unlinked customer's review carries the CRM records that
     * may be it, found the way the customer workflow's matcher finds them: that search is the only
     * CRM request here, so a call stops after one of them (the CRM queue's rate limit counts calls).
     */
    async reconcileQueueReviews(input: { runId: string; accountId: string; after: string | null }): Promise<ReviewQueueResult> {
      const rows = await db.selectFrom('reconciliationDiscrepancies').select(['id', 'kind', 'customerId', 'crmRecordId', 'details'])
        .where('runId', '=', input.runId).where('kind', 'in', REVIEW_KINDS).where('status', '=', 'open')
        .where(sql<boolean>`id > ${input.after ?? '0'}::bigint`).orderBy('id').limit(REVIEW_BATCH).execute();
      const result: ReviewQueueResult = { next: null, queued: 0, alreadyOpen: 0, ignored: 0 };
      const mark = (id: string, status: DiscrepancyStatus, reviewId: string | null) => db.updateTable('reconciliationDiscrepancies')
        .set({ status, updatedAt: new Date(), details: sql`details || ${JSON.stringify(reviewId === null ? {} : { reviewId })}::jsonb` })
        .where('id', '=', id).execute();
      let searched = false;
      for (const row of rows) {
        Context.current().heartbeat(row.id);
        const finding = reviewFindingOf(row);
        if (!finding) continue;
        if (finding.kind === 'unlinked' && (row.details as { leftUnlinked?: boolean } | null)?.leftUnlinked === true) {
          // Left unlinked on purpose (a person's `ignore`, IDENTITY_NO_CANDIDATE=unlinked): already decided, not asked again.
          await mark(row.id, 'ignored', null);
          result.ignored++;
          continue;
        }
        if (finding.kind === 'unlinked') {
          // The customer's workflow may already be waiting on its matcher's review: that is the same question.
          const waiting = await db.selectFrom('identityReviews').select('id')
            .where('accountId', '=', input.accountId).where('customerId', '=', finding.customerId).where('kind', '=', 'match').where('status', '=', 'open')
            .executeTakeFirst();
          if (waiting) {
            await mark(row.id, 'needs-review', String(waiting.id));
            result.alreadyOpen++;
            continue;
          }
        }
        const existing = await db.selectFrom('identityReviews').select(['id', 'status', 'resolution', 'candidates'])
          .where('accountId', '=', input.accountId).where('kind', '=', finding.kind).where('subject', '=', finding.subject)
          .orderBy('id', 'desc').limit(20).execute();
        const decision = queueDecision(finding, existing.map((r) => ({
          id: String(r.id), status: r.status === 'open' ? 'open' : 'resolved',
          action: (r.resolution as { action?: string } | null)?.action ?? null,
          recordIds: r.candidates.map((c) => c.recordId),
        })));
        if (decision.action === 'ignored') {
          await mark(row.id, 'ignored', decision.reviewId);
          result.ignored++;
          continue;
        }
        if (decision.action === 'already-open') {
          const open = existing.find((r) => String(r.id) === decision.reviewId)!;
          const known = new Set(open.candidates.map((c) => c.recordId));
          const added = candidatesOf(finding, row.details).filter((c) => !known.has(c.recordId));
          if (added.length > 0) {
            await db.updateTable('identityReviews').set({ candidates: JSON.stringify([...open.candidates, ...added]) }).where('id', '=', open.id).execute();
          }
          await mark(row.id, 'needs-review', decision.reviewId);
          result.alreadyOpen++;
          continue;
        }
        let candidates = candidatesOf(finding, row.details);
        const details = row.details as { email?: string | null; name?: string | null; key?: string } | null;
        if (finding.kind === 'unlinked' && deps.settings.mode === 'b2b') {
          if (searched) {
            result.next = rows[rows.indexOf(row) - 1]!.id;
            return result;
          }
          searched = true;
          // Identity matching finds companies/Accounts (B2B); a B2C contact is keyed by email, not searched for.
          candidates = await unlinkedCandidates(finding.customerId!, details?.email ?? null, details?.name ?? null);
        }
        const inserted = await db.insertInto('identityReviews').values({
          accountId: input.accountId,
          customerId: finding.customerId,
          provider: deps.crm.provider,
          kind: finding.kind,
          reason: finding.reason,
          subject: finding.subject,
          source: 'reconciliation',
          customer: JSON.stringify(finding.kind === 'duplicate-merge' && finding.customerId === null ? null : { id: finding.customerId, email: details?.email ?? null, name: details?.name ?? null }),
          candidates: JSON.stringify(candidates),
          details: JSON.stringify({ runId: input.runId, discrepancyId: row.id, discrepancyKind: row.kind, ...(details?.key ? { key: details.key } : {}) }),
          resolution: null,
          resolvedAt: null,
        }).onConflict((oc) => oc.doNothing()).returning('id').executeTakeFirst();
        // Another run queued the same subject a moment ago: point at that one.
        const reviewId = inserted ? String(inserted.id) : String((await db.selectFrom('identityReviews').select('id')
          .where('accountId', '=', input.accountId).where('kind', '=', finding.kind).where('subject', '=', finding.subject).where('status', '=', 'open')
          .executeTakeFirstOrThrow()).id);
        await mark(row.id, 'needs-review', reviewId);
        if (inserted) result.queued++;
        else result.alreadyOpen++;
      }
      result.next = rows.length < REVIEW_BATCH ? null : rows.at(-1)!.id;
      return result;
    },

    /**
     * After a complete run in repair mode: reviews this kind of run would have found again but did
     * not are settled (someone fixed the CRM, or the customer was linked meanwhile), resolved as
     * `cleared` with the run that saw it. Only reviews opened before the run started: a concurrent
     * run may have queued newer ones.
     */
    async reconcileCloseStaleReviews(input: { runId: string; accountId: string; kinds: ReviewFindingKind[] }): Promise<{ closed: number }> {
      if (input.kinds.length === 0) return { closed: 0 };
      const closed = await sql<{ id: string }>`
        update identity_reviews r set status = 'resolved', resolved_at = now(),
          resolution = jsonb_build_object('action', 'cleared', 'runId', ${input.runId}::text, 'reason', 'reconciliation run ' || ${input.runId}::text || ' no longer finds it')
        where r.account_id = ${input.accountId} and r.source = 'reconciliation' and r.status = 'open' and r.kind = any(${input.kinds})
          and r.created_at < (select started_at from reconciliation_runs where id = ${input.runId}::bigint)
          and not exists (select 1 from reconciliation_discrepancies d where d.run_id = ${input.runId}::bigint and d.details->>'reviewId' = r.id::text)
          -- Verify skips a customer with an event in flight: not finding it again says nothing about it.
          and (r.customer_id is null or not exists (select 1 from stripe_events e where e.account_id = r.account_id and e.customer_id = r.customer_id
            and e.disposition = 'routed' and e.received_at > (select started_at from reconciliation_runs where id = ${input.runId}::bigint) - ${IN_FLIGHT_WINDOW_MS} * interval '1 millisecond'))
        returning r.id`.execute(db);
      return { closed: closed.rows.length };
    },

    /** Closes the run with its summary and drops its staging rows. */
    async reconcileFinish(input: { runId: string; status: 'completed' | 'failed'; summary: unknown; error?: string }): Promise<void> {
      const counts = await db.selectFrom('reconciliationDiscrepancies').select(['kind', 'status', sql<number>`count(*)::int`.as('n')])
        .where('runId', '=', input.runId).groupBy(['kind', 'status']).execute();
      const discrepancies: Record<string, Record<string, number>> = {};
      for (const c of counts) (discrepancies[c.kind] ??= {})[c.status] = c.n;
      await db.updateTable('reconciliationRuns').set({
        status: input.status, finishedAt: new Date(), error: input.error ?? null,
        summary: JSON.stringify({ ...(input.summary as object), discrepancies }),
      }).where('id', '=', input.runId).execute();
      for (const table of ['reconciliationCandidates', 'reconciliationCrmRecords', 'reconciliationStripePayments', 'reconciliationStripeSubscriptions', 'reconciliationStripeCustomers'] as const) {
        await db.deleteFrom(table).where('runId', '=', input.runId).execute();
      }
    },

    /** Progress, written as the run goes so the API shows it without asking Temporal. */
    async reconcileSaveProgress(input: { runId: string; summary: unknown }): Promise<void> {
      await db.updateTable('reconciliationRuns').set({ summary: JSON.stringify(input.summary) }).where('id', '=', input.runId).execute();
    },
  };
}

