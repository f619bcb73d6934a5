import { ApplicationFailure, Context } from '@temporalio/activity';
import { sql, type Kysely } from 'kysely';
import Stripe from 'stripe';
import { accountRequestOptions } from '../clients/stripe.js';
import type { BackfillStatus } from '../db/backfill-tables.js';
import type { Database } from '../db/database.js';
import {
  customerSnapshotFromStripe,
  discountSnapshotFromStripe,
  subscriptionSnapshotFromStripe,
  type DiscountSnapshot,
  type StripeSubscriptionInput,
  type SubscriptionSnapshot,
} from '../domain/billing-snapshot.js';
import {
  addCounts,
  BACKFILL_OUTCOMES,
  BACKFILL_PAGE_SIZE,
  backfillAccountFields,
  emptyCounts,
  type BackfillOutcomeName,
  type OutcomeCounts,
} from '../domain/backfill.js';
import type { SyncSettings } from '../domain/crm-plan.js';
import { companyDomainOf } from '../domain/identity.js';
import type { FetchedCustomer } from '../domain/customer-sync-state.js';
import { CrmRateLimitError, type AccountInput, type BatchUpsertResult, type CrmAdapter } from './crm/types.js';
import { createStripeActivities } from './stripe.js';

export interface BackfillActivityDeps {
  db: Kysely<Database>;
  stripe: Stripe;
  crm: CrmAdapter;
  primaryAccountId: string;
  settings: SyncSettings;
  crmTaskQueue: string;
  /** The CRM queue's activities per second (CRM_RATE_LIMIT_PER_SECOND), for estimates. */
  crmRateLimitPerSecond: number;
  /** SALESFORCE_BULK_THRESHOLD: runs above this many records write through Bulk API 2.0 (0: never). */
  salesforceBulkThreshold: number;
}

export interface BackfillPageInput {
  runId: string;
  accountId: string;
  dryRun: boolean;
  includeSubscriptions: boolean;
  /** A created-time slice and where its previous page stopped. */
  segment: { from: number; to: number; cursor: string | null };
  /** Retry run: the failed records of this run are the source instead of the customer list. */
  retryOf?: string;
  /** Large runs on Salesforce: read this many pages and write them as one Bulk API 2.0 job. */
  bulkPages?: number;
}

export interface BackfillPageResult {
  /** starting_after for the next page; null with `hasMore` false when the segment is finished */
  nextCursor: string | null;
  cursorCreated: number | null;
  hasMore: boolean;
  records: number;
  counts: OutcomeCounts;
  stripeReads: number;
}

/** What a page's attempt has already done, so a retried attempt resumes instead of starting over. */
interface PageProgress {
  read?: { nextCursor: string | null; cursorCreated: number | null; hasMore: boolean; stripeReads: number };
  written?: Array<{ customerId: string; outcome: BackfillOutcomeName; reason: string | null; crmRecordId: string | null; stateAt: number }>;
}

interface BulkProgress {
  read: NonNullable<PageProgress['read']>;
  skipped: NonNullable<PageProgress['written']>;
  stateAt: number;
  jobId?: string;
}

interface PageRecord {
  customerId: string;
  fetchedAt: number;
  account: AccountInput | null;
  skipReason: string | null;
}

const NEWER_DATA = 'the customer workflow has written newer Stripe state';

/** Runs `fn` over `items` with at most `limit` in flight. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

/**
 * The backfill's activities. `backfillPage` reads one Stripe page (100 customers with their
 * subscriptions, one list call in the common case) and writes it with one CRM batch call; it runs on the
 * CRM task queue, so the queue's server-side rate limit bounds every worker's backfill writes together,
 * and each page costs one Stripe read per CRM write.
 */
export function createBackfillActivities(deps: BackfillActivityDeps) {
  const opts = (accountId: string) => accountRequestOptions(accountId, deps.primaryAccountId);
  const { lookupProductNames } = createStripeActivities(deps);
  // Every page names the same few products: remember them briefly instead of asking the database per page.
  // Short-lived, so a rename (stripe_products, kept current by the catalog workflow) shows within a minute.
  let productCache = new Map<string, string>();
  let productCacheAt = Date.now();
  async function productNamesFor(accountId: string, productIds: string[]): Promise<Record<string, string>> {
    if (Date.now() - productCacheAt > 60_000) {
      productCache = new Map();
      productCacheAt = Date.now();
    }
    const names: Record<string, string> = {};
    const missing: string[] = [];
    for (const id of productIds) {
      const known = productCache.get(`${accountId}/${id}`);
      if (known === undefined) missing.push(id);
      else names[id] = known;
    }
    if (missing.length > 0) {
      for (const [id, name] of Object.entries(await lookupProductNames({ accountId, productIds: missing }))) {
        productCache.set(`${accountId}/${id}`, name);
        names[id] = name;
      }
    }
    return names;
  }

  function stripeFailure(err: unknown): never {
    if (err instanceof Stripe.errors.StripeInvalidRequestError) {
      throw ApplicationFailure.create({ type: 'StripeInvalidRequest', message: err.message, nonRetryable: true });
    }
    if (err instanceof Stripe.errors.StripeRateLimitError) {
      throw ApplicationFailure.create({ type: 'StripeRateLimited', message: err.message, nextRetryDelay: '2 seconds' });
    }
    throw err;
  }

  async function subscriptionsOf(accountId: string, customerId: string): Promise<StripeSubscriptionInput[]> {
    const subs: StripeSubscriptionInput[] = [];
    for await (const sub of deps.stripe.subscriptions.list({ customer: customerId, status: 'all', limit: 100, expand: ['data.discounts'] }, opts(accountId))) {
      subs.push(sub as StripeSubscriptionInput);
    }
    return subs;
  }

  function fetchedFrom(customer: Stripe.Customer, subs: StripeSubscriptionInput[], fetchedAt: number, productNames: Record<string, string>): FetchedCustomer {
    const subscriptions: SubscriptionSnapshot[] = [];
    const discounts: DiscountSnapshot[] = [];
    for (const sub of subs) {
      subscriptions.push(subscriptionSnapshotFromStripe(sub));
      for (const d of sub.discounts ?? []) {
        if (typeof d === 'string') continue;
        const s = discountSnapshotFromStripe(d);
        if (s) discounts.push(s);
      }
    }
    return { fetchedAt, customer: customerSnapshotFromStripe(customer), subscriptions, discounts, productNames };
  }

  /** One page of customers with their subscriptions, turned into account writes. */
  async function readPage(input: BackfillPageInput): Promise<{ records: PageRecord[]; read: NonNullable<PageProgress['read']> }> {
    const fetchedAt = Math.floor(Date.now() / 1000);
    let stripeReads = 0;
    let customers: Stripe.Customer[];
    let nextCursor: string | null;
    let hasMore: boolean;
    const expand = ['data.invoice_settings.default_payment_method', ...(input.includeSubscriptions ? ['data.subscriptions', 'data.subscriptions.data.discounts'] : [])];
    try {
      if (input.retryOf) {
        const failed = await deps.db.selectFrom('backfillRecords').select('stripeId')
          .where('runId', '=', input.retryOf).where('objectType', '=', 'customer').where('outcome', '=', 'failed')
          .$if(input.segment.cursor !== null, (q) => q.where('stripeId', '>', input.segment.cursor!))
          .orderBy('stripeId').limit(BACKFILL_PAGE_SIZE).execute();
        const retrieved = await mapLimit(failed, 8, async (row): Promise<Stripe.Customer | Stripe.DeletedCustomer> => {
          stripeReads++;
          return deps.stripe.customers.retrieve(row.stripeId, { expand: expand.map((e) => e.replace(/^data\./, '')) }, opts(input.accountId));
        });
        customers = retrieved.filter((c): c is Stripe.Customer => c.deleted !== true);
        nextCursor = failed.at(-1)?.stripeId ?? input.segment.cursor;
        hasMore = failed.length === BACKFILL_PAGE_SIZE;
      } else {
        const page = await deps.stripe.customers.list({
          limit: BACKFILL_PAGE_SIZE,
          created: { gte: input.segment.from, lt: input.segment.to },
          ...(input.segment.cursor ? { starting_after: input.segment.cursor } : {}),
          expand,
        }, opts(input.accountId));
        stripeReads++;
        customers = page.data;
        nextCursor = page.data.at(-1)?.id ?? input.segment.cursor;
        hasMore = page.has_more;
      }
      // The embedded list stops at 10: read those customers' full list. It also leaves out canceled
      // subscriptions; reading them for every customer with nothing live would cost a Stripe read per
      // customer (most of a churned or never-subscribed base), so the fields they decide are left out instead.
      const subsByCustomer = new Map<string, StripeSubscriptionInput[]>();
      const fullyRead = new Set<string>();
      if (input.includeSubscriptions) {
        const incomplete: string[] = [];
        for (const c of customers) {
          const embedded = c.subscriptions;
          if (!embedded || embedded.has_more) incomplete.push(c.id);
          else subsByCustomer.set(c.id, embedded.data as StripeSubscriptionInput[]);
        }
        await mapLimit(incomplete, 4, async (id) => {
          stripeReads++;
          subsByCustomer.set(id, await subscriptionsOf(input.accountId, id));
          fullyRead.add(id);
        });
      }
      const productIds = new Set<string>();
      for (const subs of subsByCustomer.values()) {
        for (const sub of subs) {
          for (const item of sub.items.data) {
            const product = item.price.product;
            if (typeof product === 'string') productIds.add(product);
          }
        }
      }
      const productNames = await productNamesFor(input.accountId, [...productIds]);
      const records = customers.map((customer): PageRecord => {
        const fetched = fetchedFrom(customer, subsByCustomer.get(customer.id) ?? [], fetchedAt, productNames);
        const fields = backfillAccountFields(input.accountId, fetched, {
          now: fetchedAt, mrr: deps.settings.mrr, includeSubscriptions: input.includeSubscriptions, canceledSubscriptionsRead: fullyRead.has(customer.id),
        });
        return {
          customerId: customer.id,
          fetchedAt,
          account: { customerId: customer.id, name: customer.name ?? null, domain: companyDomainOf(customer.email ?? null), fields },
          skipReason: null,
        };
      });
      const last = customers.at(-1);
      return { records, read: { nextCursor, cursorCreated: input.retryOf ? null : (last?.created ?? null), hasMore, stripeReads } };
    } catch (err) {
      return stripeFailure(err);
    }
  }

  /** Customers whose link records newer Stripe state than this read are left to their workflow. */
  async function markNewer(accountId: string, records: PageRecord[]): Promise<void> {
    if (records.length === 0) return;
    const links = await deps.db.selectFrom('crmLinks').select(['customerId', 'stripeStateAt'])
      .where('accountId', '=', accountId).where('customerId', 'in', records.map((r) => r.customerId)).execute();
    const stateAt = new Map(links.map((l) => [l.customerId, l.stripeStateAt ? Math.floor(l.stripeStateAt.getTime() / 1000) : 0]));
    for (const r of records) {
      // Strictly newer: a backfill's own earlier link carries its read time, which a rerun may share.
      if ((stateAt.get(r.customerId) ?? 0) > r.fetchedAt) {
        r.skipReason = NEWER_DATA;
        r.account = null;
      }
    }
  }

  async function write(input: BackfillPageInput, records: PageRecord[]): Promise<NonNullable<PageProgress['written']>> {
    const outcomes: NonNullable<PageProgress['written']> = [];
    const toWrite = records.filter((r) => r.account !== null);
    for (const r of records) {
      if (r.skipReason) outcomes.push({ customerId: r.customerId, outcome: 'skipped', reason: r.skipReason, crmRecordId: null, stateAt: r.fetchedAt });
    }
    if (toWrite.length === 0) return outcomes;
    const fetchedAt = new Map(toWrite.map((r) => [r.customerId, r.fetchedAt]));
    try {
      if (input.dryRun) {
        if (!deps.crm.findAccountsBatch) throw ApplicationFailure.create({ type: 'BackfillUnsupported', message: `${deps.crm.provider} adapter cannot look up accounts in batches`, nonRetryable: true });
        const found = await deps.crm.findAccountsBatch(toWrite.map((r) => r.customerId));
        for (const r of toWrite) {
          const id = found[r.customerId];
          outcomes.push({ customerId: r.customerId, outcome: id ? 'matched' : 'created', reason: null, crmRecordId: id ?? null, stateAt: r.fetchedAt });
        }
        return outcomes;
      }
      if (!deps.crm.upsertAccountsBatch) throw ApplicationFailure.create({ type: 'BackfillUnsupported', message: `${deps.crm.provider} adapter has no batch upsert`, nonRetryable: true });
      const results: BatchUpsertResult[] = await deps.crm.upsertAccountsBatch(toWrite.map((r) => r.account!));
      for (const result of results) {
        const stateAt = fetchedAt.get(result.customerId) ?? 0;
        outcomes.push(result.ok
          ? { customerId: result.customerId, outcome: result.created ? 'created' : 'updated', reason: null, crmRecordId: result.id, stateAt }
          : { customerId: result.customerId, outcome: 'failed', reason: result.reason, crmRecordId: null, stateAt });
      }
      return outcomes;
    } catch (err) {
      if (err instanceof CrmRateLimitError) {
        // Honour the CRM's delay; the page has not been written, so the retry writes it whole.
        throw ApplicationFailure.create({ type: 'CrmRateLimited', message: `backfill batch: ${err.message}`, nextRetryDelay: err.retryAfterMs });
      }
      throw err;
    }
  }

  /** Migration log and, for written accounts, the cross-reference link customer workflows start from. */
  async function record(input: BackfillPageInput, outcomes: NonNullable<PageProgress['written']>): Promise<void> {
    if (outcomes.length === 0) return;
    const now = new Date();
    const rows = outcomes.map((o) => ({ runId: input.runId, objectType: 'customer', stripeId: o.customerId, customerId: o.customerId, outcome: o.outcome, reason: o.reason, crmRecordId: o.crmRecordId, updatedAt: now }));
    await deps.db.transaction().execute(async (trx) => {
      await trx.insertInto('backfillRecords').values(rows)
        .onConflict((oc) => oc.columns(['runId', 'objectType', 'stripeId']).doUpdateSet((eb) => ({
          outcome: eb.ref('excluded.outcome'), reason: eb.ref('excluded.reason'), crmRecordId: eb.ref('excluded.crmRecordId'),
          attempts: sql<number>`backfill_records.attempts + 1`, updatedAt: now,
        }))).execute();
      if (input.retryOf) {
        // The original run's log shows the retried records' new outcome.
        for (const o of outcomes) {
          await trx.updateTable('backfillRecords').set({ outcome: o.outcome, reason: o.reason, crmRecordId: o.crmRecordId, attempts: sql<number>`attempts + 1`, updatedAt: now })
            .where('runId', '=', input.retryOf).where('objectType', '=', 'customer').where('stripeId', '=', o.customerId).execute();
        }
      }
      if (input.dryRun) return;
      const written = outcomes.filter((o) => o.crmRecordId !== null && (o.outcome === 'created' || o.outcome === 'updated'));
      if (written.length === 0) return;
      await trx.insertInto('crmLinks').values(written.map((o) => ({
        accountId: input.accountId, customerId: o.customerId, provider: deps.crm.provider, companyId: o.crmRecordId, contactId: null,
        dealIds: '{}', matchMethod: 'external-id', productIds: [], stripeStateAt: new Date(o.stateAt * 1000), lastSyncedAt: now,
      }))).onConflict((oc) => oc.columns(['accountId', 'customerId']).doUpdateSet((eb) => ({
        companyId: eb.ref('excluded.companyId'),
        // Never move the recorded Stripe state age backwards: a customer workflow may have written newer since.
        stripeStateAt: sql`greatest(crm_links.stripe_state_at, excluded.stripe_state_at)`,
        lastSyncedAt: eb.ref('excluded.lastSyncedAt'),
        updatedAt: now,
      }))).execute();
    });
  }

  function countsOf(outcomes: NonNullable<PageProgress['written']>): OutcomeCounts {
    return addCounts(emptyCounts(), Object.fromEntries(BACKFILL_OUTCOMES.map((o) => [o, outcomes.filter((w) => w.outcome === o).length])));
  }

  /**
   * Several pages as one Salesforce bulk job. The heartbeat carries the job id once the job is closed, so
   * a retried attempt collects that job's results instead of reading and submitting again.
   */
  async function bulkPages(input: BackfillPageInput, pages: number): Promise<BackfillPageResult> {
    const ctx = Context.current();
    let progress = ctx.info.heartbeatDetails as BulkProgress | undefined;
    // Polling a bulk job can take minutes: keep the activity's heartbeat alive meanwhile.
    const keepAlive = setInterval(() => ctx.heartbeat(progress), 15_000);
    try {
      let results: BatchUpsertResult[];
      if (progress?.jobId) {
        results = await deps.crm.upsertAccountsBulk!([], { jobId: progress.jobId });
      } else {
        const records: PageRecord[] = [];
        let read: NonNullable<PageProgress['read']> = { nextCursor: input.segment.cursor, cursorCreated: null, hasMore: true, stripeReads: 0 };
        for (let i = 0; i < pages && read.hasMore; i++) {
          const page = await readPage({ ...input, segment: { ...input.segment, cursor: read.nextCursor } });
          records.push(...page.records);
          read = { ...page.read, cursorCreated: page.read.cursorCreated ?? read.cursorCreated, stripeReads: read.stripeReads + page.read.stripeReads };
          ctx.heartbeat();
        }
        await markNewer(input.accountId, records);
        const stateAt = Math.min(...records.map((r) => r.fetchedAt));
        const skipped = records.filter((r) => r.skipReason).map((r) => ({ customerId: r.customerId, outcome: 'skipped' as const, reason: r.skipReason, crmRecordId: null, stateAt: r.fetchedAt }));
        const toWrite = records.filter((r) => r.account !== null).map((r) => r.account!);
        const pending: BulkProgress = { read, skipped, stateAt };
        progress = pending;
        results = toWrite.length === 0 ? [] : await deps.crm.upsertAccountsBulk!(toWrite, {
          onJobCreated: (jobId) => {
            progress = { ...pending, jobId };
            ctx.heartbeat(progress);
          },
        });
      }
      const done = progress!;
      const outcomes: NonNullable<PageProgress['written']> = [
        ...done.skipped,
        ...results.map((r) => r.ok
          ? { customerId: r.customerId, outcome: r.created ? 'created' as const : 'updated' as const, reason: null, crmRecordId: r.id, stateAt: done.stateAt }
          : { customerId: r.customerId, outcome: 'failed' as const, reason: r.reason, crmRecordId: null, stateAt: done.stateAt }),
      ];
      await record(input, outcomes);
      return { ...done.read, records: outcomes.length, counts: countsOf(outcomes), stripeReads: done.read.stripeReads };
    } catch (err) {
      if (err instanceof CrmRateLimitError) throw ApplicationFailure.create({ type: 'CrmRateLimited', message: `backfill bulk: ${err.message}`, nextRetryDelay: err.retryAfterMs });
      throw err;
    } finally {
      clearInterval(keepAlive);
    }
  }

  return {
    /** One page: read, skip what customer workflows wrote newer, write in one batch, log. Resumes from its heartbeat. */
    async backfillPage(input: BackfillPageInput): Promise<BackfillPageResult> {
      if (input.bulkPages && input.bulkPages > 1 && !input.dryRun && !input.retryOf && deps.crm.upsertAccountsBulk) return bulkPages(input, input.bulkPages);
      const ctx = Context.current();
      const progress: PageProgress = { ...(ctx.info.heartbeatDetails as PageProgress | undefined) };
      let records: PageRecord[] = [];
      if (!progress.written) {
        const page = await readPage(input);
        records = page.records;
        progress.read = page.read;
        await markNewer(input.accountId, records);
        progress.written = await write(input, records);
        // Once written, a retried attempt only records: the batch is not written or read again.
        ctx.heartbeat(progress);
      }
      const read = progress.read!;
      await record(input, progress.written);
      const counts = countsOf(progress.written);
      return { nextCursor: read.nextCursor, cursorCreated: read.cursorCreated, hasMore: read.hasMore, records: progress.written.length, counts, stripeReads: read.stripeReads };
    },

    /** Read once per workflow run. */
    async getBackfillSettings(): Promise<{ provider: string; mode: 'b2b' | 'b2c'; crmTaskQueue: string; crmRateLimitPerSecond: number; pageSize: number; bulkThreshold: number }> {
      return {
        provider: deps.crm.provider, mode: deps.settings.mode, crmTaskQueue: deps.crmTaskQueue, crmRateLimitPerSecond: deps.crmRateLimitPerSecond, pageSize: BACKFILL_PAGE_SIZE,
        bulkThreshold: deps.crm.upsertAccountsBulk ? deps.salesforceBulkThreshold : 0,
      };
    },

    async backfillSetStatus(input: { runId: string; status: BackfillStatus; summary?: unknown }): Promise<void> {
      const now = new Date();
      const finished = input.status === 'completed' || input.status === 'canceled' || input.status === 'failed';
      await deps.db.updateTable('backfillRuns')
        .set({ status: input.status, provider: deps.crm.provider, updatedAt: now, ...(finished ? { finishedAt: now } : {}), ...(input.summary !== undefined ? { summary: JSON.stringify(input.summary) } : {}) })
        .where('id', '=', input.runId).execute();
    },
  };
}
