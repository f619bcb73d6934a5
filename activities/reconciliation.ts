import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateStage } from '@temporalio/client';
import { sql, type Kysely } from 'kysely';
import type Stripe from 'stripe';
import { accountRequestOptions } from '../clients/stripe.js';
import type { Database } from '../db/database.js';
import type { DiscrepancyKind, DiscrepancyStatus, ReconciliationKind, ReconciliationMode } from '../db/reconciliation-tables.js';
import {
  customerSnapshotFromStripe,
  subscriptionSnapshotFromStripe,
  type CustomerSnapshot,
  type StripeSubscriptionInput,
  type SubscriptionSnapshot,
} from '../domain/billing-snapshot.js';
import type { SyncSettings } from '../domain/crm-plan.js';
import { compareFields, computeExpected, domainOf, PRECISE_FIELDS, SNAPSHOT_FIELDS, type FieldDifference } from '../domain/reconciliation.js';
import { CRM_FIELD_NAMES, type CrmFieldNameMap } from '../domain/crm-field-names.js';
import { customerWorkflowId } from '../domain/workflow-ids.js';
import { CrmRateLimitError, type CrmAdapter } from './crm/types.js';
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

function crmFailure(err: unknown): never {
  if (err instanceof CrmRateLimitError) {
    throw ApplicationFailure.create({ type: 'CrmRateLimited', message: err.message, nextRetryDelay: err.retryAfterMs });
  }
  throw err;
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
      fields: JSON.stringify(Object.fromEntries((r.fields ?? []).map((d) => [d.field, { expected: d.expected, actual: d.actual }]))),
      details: JSON.stringify(r.details ?? {}), status: r.status,
    }))).execute();
  }

  async function allProductNames(accountId: string): Promise<Record<string, string>> {
    // The catalog is small next to the customer base (and the real-time path keeps the same table).
    const names: Record<string, string> = {};
    for await (const product of deps.stripe.products.list({ limit: 100 }, opts(accountId))) names[product.id] = product.name;
    return names;
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

    /** Full runs: every Stripe customer, then every subscription (any status), into staging. */
    async reconcileScanStripe(input: { runId: string; accountId: string; object: 'customers' | 'subscriptions'; cursor: string | null }): Promise<SliceResult> {
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
        } else {
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
     * Compares a slice of staged Stripe customers (by id) with their staged CRM records on the
     * fields a snapshot determines. Differences, missing records and unlinked customers only make
     * the customer a suspect: `reconcileVerify` re-reads both sides before anything is reported.
     */
    async reconcileCompare(input: { runId: string; accountId: string; after: string | null }): Promise<CompareResult> {
      const rows = await sql<{ customerId: string; snapshot: CustomerSnapshot; subscriptions: SubscriptionSnapshot[] | null; records: Array<{ id: string; properties: Record<string, string | null> }> | null }>`
        select c.customer_id, c.snapshot,
          (select json_agg(s.snapshot) from reconciliation_stripe_subscriptions s where s.run_id = c.run_id and s.customer_id = c.customer_id) as subscriptions,
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
        const expected = computeExpected({ customer: row.snapshot, subscriptions: row.subscriptions ?? [], discounts: [], productNames, payments: null }, deps.settings.mrr, now);
        totals.customers++;
        addMrr(totals.mrr, expected.currency, expected.mrr);
        const record = row.records?.[0];
        if (!record || (row.records?.length ?? 0) > 1 || compareFields(expected, record.properties, LOGICAL_NAMES, SNAPSHOT_FIELDS).length > 0) suspects.push(row.customerId);
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
      const links = new Set((await db.selectFrom('crmLinks').select('customerId').where('accountId', '=', input.accountId).where('customerId', 'in', ids).execute()).map((l) => l.customerId));
      const inFlight = new Set((await db.selectFrom('stripeEvents').select('customerId').distinct()
        .where('accountId', '=', input.accountId).where('customerId', 'in', ids).where('processedAt', 'is', null)
        .where('disposition', '=', 'routed').where('receivedAt', '>', new Date(Date.now() - IN_FLIGHT_WINDOW_MS)).execute()).map((e) => e.customerId));
      const found: Parameters<typeof insertDiscrepancies>[0] = [];
      for (const customerId of ids) {
        Context.current().heartbeat(customerId);
        result.verified++;
        if (inFlight.has(customerId)) {
          result.skippedInFlight++;
          continue;
        }
        const records = byCustomer.get(customerId) ?? [];
        let fetched: Awaited<ReturnType<typeof stripeActivities.fetchStripeCustomer>> | null = null;
        try {
          fetched = await stripeActivities.fetchStripeCustomer({ accountId: input.accountId, customerId, includePayments: true });
        } catch (err) {
          if (!(err instanceof ApplicationFailure && err.type === 'StripeInvalidRequest')) throw err;
        }
        const gone = !fetched || fetched.customer.customer.deleted;
        // Created after the run began: the real-time path is handling it now.
        if (!gone && (fetched!.customer.customer.created ?? 0) > input.startedAt) continue;
        if (gone) {
          for (const r of records) found.push({ runId: input.runId, kind: 'orphan', customerId, crmRecordId: r.id, details: { reason: 'the Stripe customer does not exist or was deleted' }, status: 'needs-review' });
          continue;
        }
        if (records.length === 0) {
          if (links.has(customerId)) found.push({ runId: input.runId, kind: 'missing-record', customerId, crmRecordId: null, details: { reason: 'linked, but the CRM record is gone' }, status: 'open' });
          else found.push({ runId: input.runId, kind: 'unlinked', customerId, crmRecordId: null, details: { email: fetched!.customer.customer.email }, status: 'needs-review' });
          continue;
        }
        const { customer } = fetched!;
        const productIds = [...new Set(customer.subscriptions.flatMap((s) => s.items.filter((i) => !i.price.productName && i.price.productId).map((i) => i.price.productId!)))];
        const productNames = await stripeActivities.lookupProductNames({ accountId: input.accountId, productIds });
        const expected = computeExpected({ ...customer, productNames: { ...customer.productNames, ...productNames }, payments: fetched!.payments }, deps.settings.mrr, Math.floor(Date.now() / 1000));
        // Duplicates are the duplicate scan's business; the oldest record (lowest id) is the one compared.
        const differences = compareFields(expected, records[0]!.properties, LOGICAL_NAMES, PRECISE_FIELDS);
        if (differences.length > 0) found.push({ runId: input.runId, kind: 'drift', customerId, crmRecordId: records[0]!.id, fields: differences, status: 'open' });
      }
      await insertDiscrepancies(found);
      for (const f of found) result.found[f.kind] = (result.found[f.kind] ?? 0) + 1;
      result.next = candidates.length < VERIFY_BATCH ? null : ids.at(-1)!;
      return result;
    },

    /**
     * After a full scan: CRM records naming a Stripe customer the scan did not see (confirmed one by
     * one, as a customer created since is not an orphan), and duplicate records, all set-based in SQL.
     */
    async reconcileCrmOnly(input: { runId: string; accountId: string; kind: ReconciliationKind }): Promise<{ orphans: number; duplicates: number; crm: StripeTotals }> {
      let orphans = 0;
      if (input.kind === 'full') {
        let after = '';
        for (;;) {
          const page = await sql<{ recordId: string; customerId: string }>`
            select r.record_id, r.customer_id from reconciliation_crm_records r
            where r.run_id = ${input.runId} and r.record_id > ${after}
              and not exists (select 1 from reconciliation_stripe_customers c where c.run_id = r.run_id and c.customer_id = r.customer_id)
            order by r.record_id limit 200`.execute(db);
          const rows: Parameters<typeof insertDiscrepancies>[0] = [];
          for (const r of page.rows) {
            Context.current().heartbeat(r.recordId);
            let exists = false;
            try {
              const c = await deps.stripe.customers.retrieve(r.customerId, {}, opts(input.accountId));
              exists = !('deleted' in c && c.deleted);
            } catch (err) {
              if (!(err instanceof Error && 'statusCode' in err && (err as { statusCode?: number }).statusCode === 404)) throw err;
            }
            if (!exists) rows.push({ runId: input.runId, kind: 'orphan', customerId: r.customerId, crmRecordId: r.recordId, details: { reason: 'the Stripe customer does not exist or was deleted' }, status: 'needs-review' });
          }
          await insertDiscrepancies(rows);
          orphans += rows.length;
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
          select ${input.runId}, kind, case when kind = 'duplicate-stripe-id' then key end, records->0->>'recordId', json_build_object('key', key, 'records', records), 'needs-review'
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
      return { orphans, duplicates: duplicates.rows[0]?.n ?? 0, crm };
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
      for (const table of ['reconciliationCandidates', 'reconciliationCrmRecords', 'reconciliationStripeSubscriptions', 'reconciliationStripeCustomers'] as const) {
        await db.deleteFrom(table).where('runId', '=', input.runId).execute();
      }
    },

    /** Progress, written as the run goes so the API shows it without asking Temporal. */
    async reconcileSaveProgress(input: { runId: string; summary: unknown }): Promise<void> {
      await db.updateTable('reconciliationRuns').set({ summary: JSON.stringify(input.summary) }).where('id', '=', input.runId).execute();
    },
  };
}

