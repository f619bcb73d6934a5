import { ApplicationFailure, Context } from '@temporalio/activity';
import { sql, type Kysely, type Transaction } from 'kysely';
import Stripe from 'stripe';
import { accountRequestOptions } from '../clients/stripe.js';
import type { BackfillStatus } from '../db/backfill-tables.js';
import type { Database } from '../db/database.js';
import {
  customerSnapshotFromStripe,
  discountSnapshotFromStripe,
  subscriptionSnapshotFromStripe,
  type DiscountSnapshot,
  type StripeDiscountInput,
  type StripeInvoiceInput,
  type StripeSubscriptionInput,
  type SubscriptionSnapshot,
  unresolvedCouponIds,
  type StripeLookups,
} from '../domain/billing-snapshot.js';
import {
  BACKFILL_PAGE_SIZE,
  backfillAccountFields,
  backfillDeal,
  chargeEntries,
  countOutcomes,
  disputeEntries,
  invoiceEntries,
  newerThanRead,
  planSteps,
  refundEntries,
  STREAM_OBJECT_TYPE,
  stripeIdOfLogRecord,
  type BackfillOutcomeName,
  type BackfillStream,
  type OutcomeCounts,
  type WriteKind,
  type WriteStep,
} from '../domain/backfill.js';
import { heldDependentReason, IDENTITY_HOLD } from '../domain/backfill-identity.js';
import { splitName, type SyncSettings } from '../domain/crm-plan.js';
import type { TimelineEntry } from '../domain/customer-events.js';
import { companyDomainOf, DEFAULT_FIELD_OWNERSHIP, type IdentityOptions } from '../domain/identity.js';
import { isInvoiceCharge } from '../domain/customer-events.js';
import {
  CrmValidationError,
  type AccountInput,
  type AccountUpdateInput,
  type BatchWriteResult,
  type ContactInput,
  type CrmAdapter,
  type CrmBackfillWriter,
  type DealInput,
} from './crm/types.js';
import { crmRateLimitRetry } from './crm.js';
import { createBackfillIdentity, type AccountIdentity } from './backfill-identity.js';
import { catalogProductNames } from './product-names.js';
import { createRateBudget, type RateBudget } from './rate-budget.js';

export interface BackfillActivityDeps {
  db: Kysely<Database>;
  stripe: Stripe;
  crm: CrmAdapter;
  primaryAccountId: string;
  settings: SyncSettings;
  crmTaskQueue: string;
  /** Where backfillWrite runs (default: the CRM queue). */
  backfillWriteTaskQueue?: string;
  /** The CRM queue's activities per second (CRM_RATE_LIMIT_PER_SECOND): one batch request each. */
  crmRateLimitPerSecond: number;
  /** STRIPE_READ_RATE_LIMIT_PER_SECOND: Stripe requests per second per account, across every worker. */
  stripeReadRateLimitPerSecond: number;
  /** SALESFORCE_BULK_THRESHOLD: runs above this many records write through Bulk API 2.0 (0: never). */
  salesforceBulkThreshold: number;
  /** Tests replace the shared budget. */
  stripeReadBudget?: RateBudget;
}

export interface BackfillReadInput {
  runId: string;
  accountId: string;
  dryRun: boolean;
  stream: BackfillStream;
  /** Customers: read their live subscriptions too, for the account's subscription fields and their deals. */
  includeSubscriptions: boolean;
  /**
   * Subscriptions, in a run that reads customers (whose pages carry their live subscriptions): only the
   * ended ones, of customers created in this range (the list's own created filter covers the subscription).
   */
  endedSubscriptionsOf?: { from: number; to: number };
  /** A created-time slice and where its previous page stopped (for a retry: the last log id read). */
  segment: { from: number; to: number; cursor: string | null };
  /** Retry run: the failed records of this run are the source instead of Stripe's list. */
  retryOf?: string;
  /** Re-read these records by id: a customer workflow wrote between this run's check and its write. */
  repair?: { ids: string[]; seq: number };
}

export interface BackfillReadResult {
  /** The staged page (null when nothing in it needs a CRM write). */
  batchId: string | null;
  steps: WriteStep[];
  /** starting_after for the next page; `hasMore` false when the segment is finished */
  nextCursor: string | null;
  cursorCreated: number | null;
  hasMore: boolean;
  /** Records whose outcome the read itself decided (skipped with a reason), already in the log. */
  counts: OutcomeCounts;
  stripeReads: number;
}

export interface BackfillWriteInput {
  runId: string;
  accountId: string;
  dryRun: boolean;
  kind: WriteKind;
  /** Steps of staged pages written together in one request (several pages fill a Salesforce collection or bulk job). */
  parts: Array<{ batchId: string; part: number; last: boolean }>;
  retryOf?: string;
  /** One Bulk API 2.0 job instead of collections (Salesforce, large runs). */
  bulk?: boolean;
  /**
   * A B2B run with an identity index (see backfill-identity.ts): the accounts step matches customers
   * without a company link with these options, as the real-time path would, instead of upserting them.
   */
  identity?: IdentityOptions;
}

export interface BackfillWriteResult {
  counts: OutcomeCounts;
  /** Records a customer workflow wrote newer state for between this write's check and its record: re-read and write again. */
  repairs: Array<{ stream: BackfillStream; id: string }>;
}

/** A record staged between the read and the writes; JSON in backfill_batches.records. */
type StagedRecord =
  | { t: 'customer'; customerId: string; stateAt: number; account: AccountInput | null; contact: ContactInput | null }
  | { t: 'deal'; customerId: string; stateAt: number; deal: DealInput }
  | { t: 'activity'; customerId: string; objectType: string; entry: TimelineEntry };

interface LogRow {
  objectType: string;
  stripeId: string;
  customerId: string;
  outcome: BackfillOutcomeName;
  reason: string | null;
  crmRecordId: string | null;
}

type StepResults = Record<string, Record<string, string>>;

const NEWER_DATA = 'the customer workflow has written newer Stripe state';
const ROLLUP_RECORD = 'linked to a roll-up record shared with other Stripe customers: their workflows write its combined fields';
const NO_EMAIL_B2C = 'no email: in B2C a customer is a contact, which needs an email';
const NO_CRM_RECORD = 'the customer has no CRM record to attach this to (its customer failed, or it is outside the customers this run and its workflow wrote)';
const ACCOUNT_NOT_WRITTEN = 'its account was not written (see the customer\'s record)';
/** Subscriptions a customer's own list (and so a customer page) leaves out. */
const ENDED_STATUSES: ReadonlySet<string> = new Set(['canceled', 'incomplete_expired']);

/** The staged record's records of one write kind, in the order steps were planned. */
function recordsOfKind(records: readonly StagedRecord[], kind: WriteKind): StagedRecord[] {
  switch (kind) {
    case 'accounts':
      return records.filter((r) => r.t === 'customer' && r.account !== null);
    case 'contacts':
      return records.filter((r) => r.t === 'customer' && r.contact !== null);
    case 'deals':
      return records.filter((r) => r.t === 'deal');
    case 'notes':
      return records.filter((r) => r.t === 'activity' && !r.entry.actionable);
    case 'tasks':
      return records.filter((r) => r.t === 'activity' && r.entry.actionable);
    case 'activities':
      return records.filter((r) => r.t === 'activity');
  }
}

function stepsFor(records: readonly StagedRecord[], writer: Pick<CrmBackfillWriter, 'batchLimit' | 'separateTaskObjects'>, mode: 'b2b' | 'b2c'): WriteStep[] {
  const kinds: WriteKind[] = [
    ...(mode === 'b2b' ? ['accounts' as const] : []),
    'contacts', 'deals',
    ...(writer.separateTaskObjects ? ['notes' as const, 'tasks' as const] : ['activities' as const]),
  ];
  return planSteps(kinds.map((k) => [k, recordsOfKind(records, k).length]), writer.batchLimit);
}

/**
 * The backfill's activities. Reads and writes are separate activities, each under its own limit:
 * `backfillRead` pages through a Stripe list, turning a page into the CRM writes it needs (staged in
 * backfill_batches), with every Stripe request taking a token of the shared Stripe read budget;
 * `backfillWrite` makes one CRM batch request on the CRM task queue, whose server-side rate limit bounds
 * every worker's CRM requests together. The workflow pipelines the two, so the CRM queue never waits on
 * Stripe.
 */
export function createBackfillActivities(deps: BackfillActivityDeps) {
  const opts = (accountId: string) => accountRequestOptions(accountId, deps.primaryAccountId);
  const budget = deps.stripeReadBudget ?? createRateBudget({ db: deps.db, ratePerSecond: deps.stripeReadRateLimitPerSecond });
  const writer = (): CrmBackfillWriter => {
    if (!deps.crm.backfill) throw ApplicationFailure.create({ type: 'BackfillUnsupported', message: `the ${deps.crm.provider} adapter has no batch writes`, nonRetryable: true });
    return deps.crm.backfill;
  };
  const identity = createBackfillIdentity({ db: deps.db, provider: deps.crm.provider, writer });
  const ownership = deps.settings.ownership ?? DEFAULT_FIELD_OWNERSHIP;

  /** Every Stripe request of a backfill goes through here: one token of the account's shared read budget. */
  async function stripeRead<T>(accountId: string, counter: { reads: number }, request: () => Promise<T>): Promise<T> {
    await budget.take(`stripe-read/${accountId}`);
    counter.reads++;
    return request();
  }

  function stripeFailure(err: unknown): never {
    if (err instanceof Stripe.errors.StripeRateLimitError) {
      // Stripe's 429: retry the read after the delay it asks for (a second by default); nothing was staged.
      const retryAfter = Number(err.headers?.['retry-after']);
      throw ApplicationFailure.create({ type: 'StripeRateLimited', message: err.message, nextRetryDelay: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 1000 });
    }
    if (err instanceof Stripe.errors.StripeInvalidRequestError) {
      throw ApplicationFailure.create({ type: 'StripeInvalidRequest', message: err.message, nonRetryable: true });
    }
    throw err;
  }

  // Every page names the same few products: remember them briefly instead of asking per page.
  // Short-lived, so a rename (stripe_products, kept current by the catalog workflow) shows within a minute.
  let productCache = new Map<string, string>();
  let productCacheAt = Date.now();
  async function productNamesFor(accountId: string, productIds: Iterable<string>, counter: { reads: number }): Promise<Record<string, string>> {
    if (Date.now() - productCacheAt > 60_000) {
      productCache = new Map();
      productCacheAt = Date.now();
    }
    const names: Record<string, string> = {};
    const missing: string[] = [];
    for (const id of new Set(productIds)) {
      const known = productCache.get(`${accountId}/${id}`);
      if (known === undefined) missing.push(id);
      else names[id] = known;
    }
    if (missing.length === 0) return names;
    const found = await catalogProductNames(deps.db, accountId, missing, (id) => stripeRead(accountId, counter, () => deps.stripe.products.retrieve(id, {}, opts(accountId))));
    for (const [id, name] of Object.entries(found)) {
      productCache.set(`${accountId}/${id}`, name);
      names[id] = name;
    }
    return names;
  }

  // Coupons a page's discounts name by id (customer lists cannot expand that deep). Their terms hardly
  // change and a run's customers share a few: remembered for the worker's life, one read each.
  const couponCache = new Map<string, Stripe.Coupon | null>();
  async function couponLookups(accountId: string, discounts: ReadonlyArray<StripeDiscountInput | null | undefined>, counter: { reads: number }): Promise<StripeLookups> {
    const coupons: Record<string, Stripe.Coupon> = {};
    for (const id of unresolvedCouponIds(discounts)) {
      const key = `${accountId}/${id}`;
      if (!couponCache.has(key)) {
        try {
          couponCache.set(key, await stripeRead(accountId, counter, () => deps.stripe.coupons.retrieve(id, {}, opts(accountId))));
        } catch (err) {
          // A deleted coupon: its discounts keep unknown terms (MRR counts them undiscounted, as the real-time path would).
          if (!(err instanceof Stripe.errors.StripeInvalidRequestError && err.statusCode === 404)) throw err;
          couponCache.set(key, null);
        }
      }
      const coupon = couponCache.get(key);
      if (coupon) coupons[id] = coupon;
    }
    return { coupons };
  }

  function discountsOf(subs: readonly StripeSubscriptionInput[]): StripeDiscountInput[] {
    return subs.flatMap((s) => s.discounts ?? []);
  }

  function productIdsOf(subs: readonly StripeSubscriptionInput[]): string[] {
    return subs.flatMap((s) => s.items.data.map((i) => i.price.product)).filter((p): p is string => typeof p === 'string');
  }

  function snapshotsOf(subs: readonly StripeSubscriptionInput[], lookups: StripeLookups): { subscriptions: SubscriptionSnapshot[]; discounts: DiscountSnapshot[] } {
    const subscriptions: SubscriptionSnapshot[] = [];
    const discounts: DiscountSnapshot[] = [];
    for (const sub of subs) {
      subscriptions.push(subscriptionSnapshotFromStripe(sub, lookups));
      for (const d of sub.discounts ?? []) {
        if (typeof d === 'string') continue;
        const s = discountSnapshotFromStripe(d, lookups);
        if (s) discounts.push(s);
      }
    }
    return { subscriptions, discounts };
  }

  /** One page of a Stripe list, or (retry, repair) the records named by id. */
  interface Page<T> {
    items: T[];
    nextCursor: string | null;
    cursorCreated: number | null;
    hasMore: boolean;
    /** Retry/repair ids Stripe no longer has. */
    gone: string[];
  }

  /** The failed log records of the run being retried, 100 at a time by Stripe id. */
  async function failedIds(input: BackfillReadInput): Promise<{ ids: string[]; nextCursor: string | null; hasMore: boolean }> {
    const types = input.stream === 'customers' ? ['customer', 'contact'] : [STREAM_OBJECT_TYPE[input.stream]];
    const rows = await deps.db.selectFrom('backfillRecords').select(['objectType', 'stripeId'])
      .where('runId', '=', input.retryOf!).where('objectType', 'in', types).where('outcome', '=', 'failed')
      .$if(input.segment.cursor !== null, (q) => q.where('stripeId', '>', input.segment.cursor!))
      .orderBy('stripeId').limit(BACKFILL_PAGE_SIZE).execute();
    return {
      ids: [...new Set(rows.map((r) => stripeIdOfLogRecord(r.objectType, r.stripeId)))],
      nextCursor: rows.at(-1)?.stripeId ?? input.segment.cursor,
      hasMore: rows.length === BACKFILL_PAGE_SIZE,
    };
  }

  async function page<T extends { id: string; created: number }>(
    input: BackfillReadInput,
    counter: { reads: number },
    list: (params: { limit: number; created: { gte: number; lt: number }; starting_after?: string }) => Promise<Stripe.ApiList<T>>,
    retrieve: (id: string) => Promise<T | { id: string; deleted: true }>,
  ): Promise<Page<T>> {
    if (input.retryOf || input.repair) {
      const source = input.repair ? { ids: input.repair.ids, nextCursor: null, hasMore: false } : await failedIds(input);
      const items: T[] = [];
      const gone: string[] = [];
      for (const id of source.ids) {
        try {
          const item = await stripeRead(input.accountId, counter, () => retrieve(id));
          if ('deleted' in item && item.deleted === true) gone.push(id);
          else items.push(item as T);
        } catch (err) {
          if (err instanceof Stripe.errors.StripeInvalidRequestError && err.code === 'resource_missing') gone.push(id);
          else throw err;
        }
      }
      return { items, nextCursor: source.nextCursor, cursorCreated: null, hasMore: source.hasMore, gone };
    }
    const result = await stripeRead(input.accountId, counter, () => list({
      limit: BACKFILL_PAGE_SIZE,
      created: { gte: input.segment.from, lt: input.segment.to },
      ...(input.segment.cursor ? { starting_after: input.segment.cursor } : {}),
    }));
    const last = result.data.at(-1);
    return { items: result.data, nextCursor: last?.id ?? input.segment.cursor, cursorCreated: last?.created ?? null, hasMore: result.has_more, gone: [] };
  }

  /** Reads one page of `input.stream` and turns it into staged CRM writes and read-time outcomes. */
  async function readStream(input: BackfillReadInput, counter: { reads: number }): Promise<{ page: Page<{ id: string; created: number }>; staged: StagedRecord[]; logged: LogRow[] }> {
    const accountId = input.accountId;
    const o = opts(accountId);
    const readAt = Math.floor(Date.now() / 1000);
    const staged: StagedRecord[] = [];
    const logged: LogRow[] = [];
    const skip = (objectType: string, stripeId: string, customerId: string, reason: string) => logged.push({ objectType, stripeId, customerId, outcome: 'skipped', reason, crmRecordId: null });
    const activities = (objectType: string, customerId: string | null, stripeId: string, entries: TimelineEntry[], none: string) => {
      if (!customerId) return skip(objectType, stripeId, '', 'no customer: nothing in the CRM to attach it to');
      if (entries.length === 0) return skip(objectType, stripeId, customerId, none);
      for (const entry of entries) staged.push({ t: 'activity', customerId, objectType, entry });
    };

    switch (input.stream) {
      case 'customers': {
        const expand = ['invoice_settings.default_payment_method', ...(input.includeSubscriptions ? ['subscriptions', 'subscriptions.data.discounts'] : [])];
        const p = await page<Stripe.Customer>(input, counter,
          (params) => deps.stripe.customers.list({ ...params, expand: expand.map((e) => `data.${e}`) }, o),
          (id) => deps.stripe.customers.retrieve(id, { expand }, o) as Promise<Stripe.Customer | Stripe.DeletedCustomer> as Promise<Stripe.Customer | { id: string; deleted: true }>);
        for (const id of p.gone) skip('customer', id, id, 'deleted in Stripe');
        // The embedded list stops at 10: read those customers' full list. It also leaves out canceled
        // subscriptions; reading them for every customer with nothing live would cost a Stripe read per
        // customer (most of a churned or never-subscribed base), so the fields they decide are left out instead.
        const subsByCustomer = new Map<string, StripeSubscriptionInput[]>();
        const fullyRead = new Set<string>();
        if (input.includeSubscriptions) {
          for (const c of p.items) {
            const embedded = c.subscriptions;
            if (embedded && !embedded.has_more) {
              subsByCustomer.set(c.id, embedded.data as StripeSubscriptionInput[]);
              continue;
            }
            const subs: StripeSubscriptionInput[] = [];
            let after: string | undefined;
            for (;;) {
              const list = await stripeRead(accountId, counter, () => deps.stripe.subscriptions.list({ customer: c.id, status: 'all', limit: 100, expand: ['data.discounts'], ...(after ? { starting_after: after } : {}) }, o));
              subs.push(...(list.data as StripeSubscriptionInput[]));
              if (!list.has_more || list.data.length === 0) break;
              after = list.data.at(-1)!.id;
            }
            subsByCustomer.set(c.id, subs);
            fullyRead.add(c.id);
          }
        }
        const productNames = await productNamesFor(accountId, [...subsByCustomer.values()].flatMap(productIdsOf), counter);
        const lookups = await couponLookups(accountId, [...p.items.map((c) => c.discount), ...[...subsByCustomer.values()].flatMap(discountsOf)], counter);
        for (const customer of p.items) {
          const { subscriptions, discounts } = snapshotsOf(subsByCustomer.get(customer.id) ?? [], lookups);
          const snapshot = customerSnapshotFromStripe(customer, lookups);
          const fetched = { fetchedAt: readAt, customer: snapshot, subscriptions, discounts, productNames };
          const fields = backfillAccountFields(accountId, fetched, {
            now: readAt, mrr: deps.settings.mrr, includeSubscriptions: input.includeSubscriptions, canceledSubscriptionsRead: fullyRead.has(customer.id),
          });
          const email = customer.email?.trim() || null;
          // The live subscriptions came with the page: their deals are written with it, after the records
          // they hang from. Ended ones come from the subscription list (the customer list leaves them out).
          const live = input.includeSubscriptions ? subscriptions.filter((sub) => !ENDED_STATUSES.has(sub.status)) : [];
          if (deps.settings.mode === 'b2c' && !email) {
            skip('customer', customer.id, customer.id, NO_EMAIL_B2C);
            for (const sub of live) skip('subscription', sub.id, customer.id, NO_EMAIL_B2C);
            continue;
          }
          for (const sub of live) {
            staged.push({ t: 'deal', customerId: customer.id, stateAt: readAt, deal: backfillDeal(accountId, { customer: snapshot, subscription: sub, discounts, productNames, readAt }, deps.settings) });
          }
          staged.push({
            t: 'customer',
            customerId: customer.id,
            stateAt: readAt,
            account: deps.settings.mode === 'b2b' ? { customerId: customer.id, name: customer.name ?? null, domain: companyDomainOf(email), fields } : null,
            // As the real-time path: B2B keeps the Stripe fields on the company, B2C puts them on the contact.
            contact: email ? { customerId: customer.id, email, ...splitName(customer.name ?? null), fields: deps.settings.mode === 'b2c' ? fields : {}, accountId: null } : null,
          });
        }
        return { page: p, staged, logged };
      }

      case 'subscriptions': {
        // Coupon terms are needed for a discounted deal amount; four levels is Stripe's expansion limit.
        const expand = ['customer', 'discounts.source.coupon'];
        const ofCustomers = input.retryOf || input.repair ? undefined : input.endedSubscriptionsOf;
        const p = await page<Stripe.Subscription>(input, counter,
          (params) => deps.stripe.subscriptions.list({ ...params, status: ofCustomers ? 'ended' : 'all', expand: expand.map((e) => `data.${e}`) }, o),
          (id) => deps.stripe.subscriptions.retrieve(id, { expand }, o));
        for (const id of p.gone) skip('subscription', id, '', 'deleted in Stripe');
        const subs = (p.items as StripeSubscriptionInput[]).filter((sub) => {
          if (!ofCustomers) return true;
          const created = typeof sub.customer === 'string' || sub.customer.deleted ? null : sub.customer.created;
          // Another customer's: outside this run's customers (it is theirs when their range is backfilled).
          return created !== null && created >= ofCustomers.from && created < ofCustomers.to;
        });
        const productNames = await productNamesFor(accountId, productIdsOf(subs), counter);
        // The customer's own discount names its coupon by id (the subscription's are expanded above).
        const lookups = await couponLookups(accountId, subs.map((sub) => (typeof sub.customer === 'string' || sub.customer.deleted ? null : sub.customer.discount)), counter);
        for (const sub of subs) {
          const customerObject = typeof sub.customer === 'string' ? null : sub.customer;
          const customerId = typeof sub.customer === 'string' ? sub.customer : sub.customer.id;
          const customer = customerObject ? customerSnapshotFromStripe(customerObject, lookups) : customerSnapshotFromStripe({ id: customerId, object: 'customer', deleted: true });
          const { subscriptions, discounts } = snapshotsOf([sub], lookups);
          const deal = backfillDeal(accountId, { customer, subscription: subscriptions[0]!, discounts, productNames, readAt }, deps.settings);
          staged.push({ t: 'deal', customerId, stateAt: readAt, deal });
        }
        return { page: p, staged, logged };
      }

      case 'invoices': {
        const p = await page<Stripe.Invoice>(input, counter, (params) => deps.stripe.invoices.list(params, o), (id) => deps.stripe.invoices.retrieve(id, {}, o));
        for (const id of p.gone) skip('invoice', id, '', 'deleted in Stripe');
        for (const invoice of p.items) {
          const customerId = typeof invoice.customer === 'string' ? invoice.customer : invoice.customer?.id ?? null;
          activities('invoice', customerId, invoice.id, invoiceEntries(invoice as StripeInvoiceInput), 'no activity: not paid and no failed collection attempt');
        }
        return { page: p, staged, logged };
      }

      case 'charges': {
        const p = await page<Stripe.Charge>(input, counter, (params) => deps.stripe.charges.list(params, o), (id) => deps.stripe.charges.retrieve(id, {}, o));
        for (const id of p.gone) skip('charge', id, '', 'deleted in Stripe');
        for (const charge of p.items) {
          const customerId = typeof charge.customer === 'string' ? charge.customer : charge.customer?.id ?? null;
          activities('charge', customerId, charge.id, chargeEntries(charge),
            isInvoiceCharge(charge) ? 'pays an invoice: the invoice\'s activities record it' : 'not a successful payment');
        }
        return { page: p, staged, logged };
      }

      case 'refunds':
      case 'disputes': {
        // Neither names its customer: its charge does.
        const customerOf = (charge: string | Stripe.Charge | null | undefined) => (charge && typeof charge !== 'string' ? (typeof charge.customer === 'string' ? charge.customer : charge.customer?.id ?? null) : null);
        if (input.stream === 'refunds') {
          const p = await page<Stripe.Refund>(input, counter,
            (params) => deps.stripe.refunds.list({ ...params, expand: ['data.charge'] }, o),
            (id) => deps.stripe.refunds.retrieve(id, { expand: ['charge'] }, o));
          for (const id of p.gone) skip('refund', id, '', 'deleted in Stripe');
          for (const refund of p.items) activities('refund', customerOf(refund.charge), refund.id, refundEntries(refund), 'not a completed refund');
          return { page: p, staged, logged };
        }
        const p = await page<Stripe.Dispute>(input, counter,
          (params) => deps.stripe.disputes.list({ ...params, expand: ['data.charge'] }, o),
          (id) => deps.stripe.disputes.retrieve(id, { expand: ['charge'] }, o));
        for (const id of p.gone) skip('dispute', id, '', 'deleted in Stripe');
        for (const dispute of p.items) activities('dispute', customerOf(dispute.charge), dispute.id, disputeEntries(dispute), 'no activity');
        return { page: p, staged, logged };
      }
    }
  }

  /** Writes the migration log (and, in a retry run, the original run's rows for the same records). */
  async function log(trx: Transaction<Database> | Kysely<Database>, input: { runId: string; retryOf?: string }, rows: readonly LogRow[]): Promise<void> {
    if (rows.length === 0) return;
    const now = new Date();
    // One row per record: a page may name a record twice (two customers' contacts share an email).
    const distinct = [...new Map(rows.map((r) => [`${r.objectType}/${r.stripeId}`, r])).values()];
    await trx.insertInto('backfillRecords').values(distinct.map((r) => ({ runId: input.runId, ...r, updatedAt: now })))
      .onConflict((oc) => oc.columns(['runId', 'objectType', 'stripeId']).doUpdateSet((eb) => ({
        outcome: eb.ref('excluded.outcome'), reason: eb.ref('excluded.reason'), crmRecordId: eb.ref('excluded.crmRecordId'),
        attempts: sql<number>`backfill_records.attempts + 1`, updatedAt: now,
      }))).execute();
    if (input.retryOf) {
      // The original run's log shows the retried records' new outcome (one statement for the page).
      await sql`
        update backfill_records as b set outcome = v.outcome, reason = v.reason, crm_record_id = v.crm_record_id,
          attempts = b.attempts + 1, updated_at = ${now}
        from unnest(${distinct.map((r) => r.objectType)}::text[], ${distinct.map((r) => r.stripeId)}::text[], ${distinct.map((r) => r.outcome)}::text[],
                    ${distinct.map((r) => r.reason)}::text[], ${distinct.map((r) => r.crmRecordId)}::text[]) as v(object_type, stripe_id, outcome, reason, crm_record_id)
        where b.run_id = ${input.retryOf} and b.object_type = v.object_type and b.stripe_id = v.stripe_id`.execute(trx);
    }
  }

  function batchIdOf(input: BackfillReadInput): string {
    if (input.repair) return `${input.runId}/${input.stream}/repair/${input.repair.seq}`;
    if (input.retryOf) return `${input.runId}/${input.stream}/retry/${input.segment.cursor ?? 'start'}`;
    return `${input.runId}/${input.stream}/${input.segment.from}-${input.segment.to}/${input.segment.cursor ?? 'start'}`;
  }

  /** Of these CRM record ids, those several Stripe customers are linked to (roll-up records). */
  async function sharedRecordIds(recordIds: Array<string | null>): Promise<Set<string>> {
    const ids = [...new Set(recordIds.filter((id): id is string => id !== null))];
    if (ids.length === 0) return new Set();
    const rows = await deps.db.selectFrom('crmLinks').select('companyId').where('provider', '=', deps.crm.provider).where('companyId', 'in', ids)
      .groupBy('companyId').having((eb) => eb.fn.countAll(), '>', 1).execute();
    return new Set(rows.map((r) => r.companyId!));
  }

  /** crm_links of these customers: the records others attach to, and the Stripe state age their workflow wrote. */
  async function linksOf(db: Kysely<Database> | Transaction<Database>, accountId: string, customerIds: readonly string[], forUpdate = false) {
    if (customerIds.length === 0) return new Map<string, { companyId: string | null; contactId: string | null; stateAt: number | null; matchMethod: string; dealIds: Record<string, string> }>();
    const rows = await db.selectFrom('crmLinks').select(['customerId', 'companyId', 'contactId', 'stripeStateAt', 'matchMethod', 'dealIds'])
      .where('accountId', '=', accountId).where('customerId', 'in', [...new Set(customerIds)])
      // Ordered, so two writers locking overlapping sets take the locks in the same order (no deadlock).
      .orderBy('customerId')
      .$if(forUpdate, (q) => q.forUpdate()).execute();
    return new Map(rows.map((r) => [r.customerId, {
      companyId: r.companyId, contactId: r.contactId, stateAt: r.stripeStateAt ? Math.floor(r.stripeStateAt.getTime() / 1000) : null, matchMethod: r.matchMethod,
      dealIds: (r.dealIds ?? {}) as Record<string, string>,
    }]));
  }

  /**
   * The one CRM request of a write step (or the lookup a dry run makes instead). Accounts the identity
   * index linked to an existing record are written to it by id first (a second request, only when any).
   */
  async function crmWrite(
    kind: WriteKind,
    records: StagedRecord[],
    targets: Map<string, { accountId: string | null; contactId: string | null }>,
    accountIds: Record<string, string>,
    identities: ReadonlyMap<string, AccountIdentity>,
    known: { deals: ReadonlySet<string>; emails: ReadonlySet<string> },
    bulk: Parameters<CrmBackfillWriter['upsertAccounts']>[1],
  ): Promise<BatchWriteResult[]> {
    const w = writer();
    // A matched record's name and domain are the CRM's unless FIELD_OWNERSHIP gives them to Stripe: written only where it has none.
    const keep = (field: 'name' | 'domain', crmValue: string | null) => Boolean(crmValue) && ownership[field] !== 'stripe';
    switch (kind) {
      case 'accounts': {
        const accounts = records.map((r) => (r as Extract<StagedRecord, { t: 'customer' }>).account!);
        const linked: AccountUpdateInput[] = [];
        const upserts: AccountInput[] = [];
        for (const a of accounts) {
          const id = identities.get(a.customerId);
          if (id?.kind === 'link') linked.push({ customerId: a.customerId, recordId: id.recordId, name: keep('name', id.recordName) ? null : a.name, domain: keep('domain', id.recordDomain) ? null : a.domain, fields: a.fields });
          // Created because nothing matched: it carries only what Stripe knows (the real-time path's flag).
          else if (id?.kind === 'create') upserts.push({ ...a, fields: { ...a.fields, needs_enrichment: true } });
          else if (id?.kind === 'known') upserts.push({ ...a, name: keep('name', id.recordName) ? null : a.name, domain: keep('domain', id.recordDomain) ? null : a.domain });
          else upserts.push(a);
        }
        return [
          ...(linked.length > 0 ? await w.updateAccounts(linked) : []),
          ...(upserts.length > 0 || bulk?.jobId ? await w.upsertAccounts(upserts, bulk) : []),
        ];
      }
      case 'contacts':
        return w.upsertContacts(records.map((r) => {
          const c = (r as Extract<StagedRecord, { t: 'customer' }>).contact!;
          return { ...c, accountId: accountIds[c.customerId] ?? null };
        }), bulk, { existingEmails: known.emails });
      case 'deals':
        return w.upsertDeals(records.map((r) => {
          const d = r as Extract<StagedRecord, { t: 'deal' }>;
          const t = targets.get(d.customerId);
          // A deal that exists keeps the stage the CRM shows (its owner's, FIELD_OWNERSHIP): "unchanged since our write".
          const lastStage = known.deals.has(d.deal.subscriptionId) ? { lastStage: d.deal.stage } : {};
          return { ...d.deal, ...lastStage, customerId: d.customerId, accountId: t?.accountId ?? null, contactId: t?.contactId ?? null };
        }), bulk);
      default:
        return w.writeActivities(records.map((r) => {
          const a = r as Extract<StagedRecord, { t: 'activity' }>;
          const t = targets.get(a.customerId);
          return { customerId: a.customerId, entry: a.entry, accountId: t?.accountId ?? null, contactId: t?.contactId ?? null };
        }), bulk);
    }
  }

  async function dryRunLookup(kind: WriteKind, records: StagedRecord[]): Promise<Record<string, string>> {
    const w = writer();
    switch (kind) {
      case 'accounts':
        return w.findAccounts(records.map((r) => r.customerId));
      case 'contacts':
        return w.findContacts(records.map((r) => ({ customerId: r.customerId, email: (r as Extract<StagedRecord, { t: 'customer' }>).contact!.email })));
      case 'deals':
        return w.findDeals(records.map((r) => (r as Extract<StagedRecord, { t: 'deal' }>).deal.subscriptionId));
      default:
        return w.findActivities(records.map((r) => (r as Extract<StagedRecord, { t: 'activity' }>).entry.key));
    }
  }

  const keyOf = (kind: WriteKind, r: StagedRecord): string =>
    r.t === 'deal' ? r.deal.subscriptionId : r.t === 'activity' ? r.entry.key : r.customerId;
  const objectTypeOf = (kind: WriteKind, r: StagedRecord): string =>
    r.t === 'deal' ? 'subscription' : r.t === 'activity' ? r.objectType : kind === 'contacts' && deps.settings.mode === 'b2b' ? 'contact' : 'customer';

  return {
    ...identity.activities,

    /** Read once per workflow run. */
    async getBackfillSettings(): Promise<BackfillSettings> {
      const w = deps.crm.backfill;
      return {
        writeTaskQueue: deps.backfillWriteTaskQueue ?? deps.crmTaskQueue,
        crmRateLimitPerSecond: deps.crmRateLimitPerSecond, stripeReadRateLimitPerSecond: deps.stripeReadRateLimitPerSecond,
        pageSize: BACKFILL_PAGE_SIZE, batchLimit: w?.batchLimit ?? BACKFILL_PAGE_SIZE,
        bulkThreshold: w?.supportsBulk ? deps.salesforceBulkThreshold : 0,
        // B2B runs match customers to the CRM's records through an identity index (B2C keys contacts by email and Stripe id).
        identity: deps.settings.mode === 'b2b' && w ? deps.settings.identity : null,
      };
    },

    /** One Stripe page: read, log what needs no write, stage the writes. Idempotent: a retry re-reads and re-stages the same page. */
    async backfillRead(input: BackfillReadInput): Promise<BackfillReadResult> {
      const counter = { reads: 0 };
      let result: Awaited<ReturnType<typeof readStream>>;
      try {
        result = await readStream(input, counter);
      } catch (err) {
        return stripeFailure(err);
      }
      const { page: p, staged, logged } = result;
      const steps = stepsFor(staged, writer(), deps.settings.mode);
      const batchId = staged.length > 0 ? batchIdOf(input) : null;
      await deps.db.transaction().execute(async (trx) => {
        if (batchId) {
          await trx.insertInto('backfillBatches').values({ id: batchId, runId: input.runId, stream: input.stream, records: JSON.stringify(staged), results: '{}' })
            .onConflict((oc) => oc.column('id').doUpdateSet({ records: JSON.stringify(staged), results: '{}' })).execute();
        }
        await log(trx, input, logged);
      });
      return { batchId, steps, nextCursor: p.nextCursor, cursorCreated: p.cursorCreated, hasMore: p.hasMore, counts: countOutcomes(logged), stripeReads: counter.reads };
    },

    /**
     * One CRM batch request: a step of one or more staged pages. Records whose customer workflow has
     * written newer Stripe state are skipped; after the write, the same check runs again with the
     * customers' link rows locked, in the transaction that records the write, so a workflow write that
     * landed in between is caught (and re-applied by a repair read) rather than overwritten. A retried
     * attempt resumes from its heartbeat (the CRM answer, or the bulk job it submitted) instead of writing again.
     */
    async backfillWrite(input: BackfillWriteInput): Promise<BackfillWriteResult> {
      const ctx = Context.current();
      const stepKey = (part: number) => `${input.kind}:${part}`;
      const batches = await deps.db.selectFrom('backfillBatches').select(['id', 'stream', 'records', 'results']).where('id', 'in', input.parts.map((p) => p.batchId)).execute();
      const byId = new Map(batches.map((b) => [b.id, b]));
      const done = input.parts.map((p) => byId.get(p.batchId)?.results[stepKey(p.part)]);
      if (done.every((d) => d !== undefined)) {
        // An earlier attempt recorded this step and was lost on the way back: report what it recorded.
        return {
          counts: done.reduce((acc, d) => addStored(acc, d!), countOutcomes([])),
          repairs: done.flatMap((d) => JSON.parse(d!.repairs ?? '[]') as BackfillWriteResult['repairs']),
        };
      }
      const w = writer();
      const records: Array<StagedRecord & { batchId: string }> = [];
      // Records an earlier step of the same page wrote: its deals hang from its accounts (B2B) or contacts (B2C).
      const accountIds: Record<string, string> = {};
      const contactIds: Record<string, string> = {};
      for (const p of input.parts) {
        const batch = byId.get(p.batchId);
        if (!batch) throw ApplicationFailure.create({ type: 'BackfillBatchMissing', message: `staged page ${p.batchId} is gone`, nonRetryable: true });
        Object.assign(accountIds, batch.results.accounts ?? {});
        Object.assign(contactIds, batch.results.contacts ?? {});
        const all = recordsOfKind(batch.records as StagedRecord[], input.kind);
        for (const r of all.slice(p.part * w.batchLimit, (p.part + 1) * w.batchLimit)) records.push({ ...r, batchId: p.batchId });
      }

      const rows: LogRow[] = [];
      const outcome = (r: StagedRecord, o: BackfillOutcomeName, reason: string | null, crmRecordId: string | null) =>
        rows.push({ objectType: objectTypeOf(input.kind, r), stripeId: keyOf(input.kind, r), customerId: r.customerId, outcome: o, reason, crmRecordId });

      // A retried attempt whose CRM write went out records that write: the records it wrote are not checked
      // again (a workflow write since then is caught by the check after the write, below).
      const progress = (input.dryRun ? {} : ctx.info.heartbeatDetails ?? {}) as { results?: BatchWriteResult[]; jobId?: string };
      const alreadyWritten = new Set((progress.results ?? []).map((r) => r.key));
      // Never older over newer: what a customer's workflow wrote from newer Stripe state stays.
      const guarded = input.kind === 'accounts' || input.kind === 'contacts' || input.kind === 'deals';
      const links = await linksOf(deps.db, input.accountId, records.map((r) => r.customerId));
      // A customer sharing its record with other Stripe customers (a roll-up, activities/rollup.ts): the
      // record shows their combined fields, which their workflows write; the backfill only attaches to it.
      const rollupLinked: Array<{ r: StagedRecord & { batchId: string }; id: string }> = [];
      const shared = input.kind === 'accounts' ? await sharedRecordIds([...links.values()].map((l) => l.companyId)) : new Set<string>();
      const b2b = deps.settings.mode === 'b2b';
      // Customers whose company an identity decision holds back (a review, the unlinked policy): their
      // contact, deals and activities wait with it. Asked only about those with no record to attach to
      // (in a dry run nothing is written, so about all of them).
      const heldOf = (customerIds: string[]) => (b2b ? identity.holds(input, customerIds) : Promise.resolve(new Map<string, string>()));
      const held = input.kind === 'accounts' ? new Map<string, string>()
        : await heldOf(records.filter((r) => input.dryRun || (input.kind === 'contacts' && !accountIds[r.customerId])).map((r) => r.customerId));
      let toWrite = records.filter((r) => {
        const companyId = links.get(r.customerId)?.companyId ?? null;
        if (companyId !== null && shared.has(companyId)) {
          outcome(r, 'matched', ROLLUP_RECORD, companyId);
          if (!input.dryRun) rollupLinked.push({ r, id: companyId });
          return false;
        }
        if (alreadyWritten.has(keyOf(input.kind, r))) return true;
        if (guarded && 'stateAt' in r && newerThanRead(links.get(r.customerId)?.stateAt ?? null, r.stateAt)) {
          outcome(r, 'skipped', NEWER_DATA, null);
          return false;
        }
        const hold = held.get(r.customerId);
        if (hold !== undefined) {
          outcome(r, 'skipped', heldDependentReason(hold), null);
          return false;
        }
        if (input.kind === 'contacts' && b2b && !input.dryRun && !accountIds[r.customerId]) {
          outcome(r, 'skipped', ACCOUNT_NOT_WRITTEN, null);
          return false;
        }
        // An identity decision left this customer out of the CRM (a review resolved with ignore, a person's unlink).
        const link = links.get(r.customerId);
        if (input.kind === 'accounts' && input.identity && !link?.companyId && link?.matchMethod === 'unlinked') {
          outcome(r, 'skipped', IDENTITY_HOLD.unlinkedDecision, null);
          return false;
        }
        return true;
      });

      // Identity (B2B, a run with an index): a customer without a company link is matched to the CRM's
      // records as the real-time path would match it; only what the matcher decides to create is upserted.
      const identities = new Map<string, AccountIdentity>();
      if (input.kind === 'accounts' && input.identity) {
        const resolving = toWrite.filter((r) => !links.get(r.customerId)?.companyId) as Array<Extract<StagedRecord, { t: 'customer' }>>;
        // Linked already: the CRM owns the record's name and domain too, so a rerun does not overwrite them.
        const known = await identity.known(input.runId, toWrite.map((r) => links.get(r.customerId)?.companyId).filter((id): id is string => Boolean(id)));
        for (const r of toWrite) {
          const record = known.get(links.get(r.customerId)?.companyId ?? '');
          if (record) identities.set(r.customerId, { kind: 'known', recordName: record.name, recordDomain: record.domain });
        }
        const resolved = await identity.resolve(
          { runId: input.runId, accountId: input.accountId, dryRun: input.dryRun, options: input.identity },
          resolving.map((r) => ({ id: r.customerId, email: r.contact?.email ?? null, name: r.account!.name })),
        );
        for (const [customerId, id] of resolved) identities.set(customerId, id);
        toWrite = toWrite.filter((r) => {
          const id = identities.get(r.customerId);
          if (id?.kind !== 'hold') return true;
          outcome(r, 'skipped', id.reason, null);
          return false;
        });
      }

      // What deals and activities attach to: what this page wrote, the customer's links, or the CRM record carrying its id.
      const targets = new Map<string, { accountId: string | null; contactId: string | null }>();
      if (!input.dryRun && (input.kind === 'deals' || input.kind === 'notes' || input.kind === 'tasks' || input.kind === 'activities')) {
        for (const [customerId, l] of links) targets.set(customerId, { accountId: l.companyId, contactId: l.contactId });
        for (const customerId of new Set([...Object.keys(accountIds), ...Object.keys(contactIds)])) {
          const t = targets.get(customerId);
          targets.set(customerId, { accountId: accountIds[customerId] ?? t?.accountId ?? null, contactId: contactIds[customerId] ?? t?.contactId ?? null });
        }
        const attachable = (t: { accountId: string | null; contactId: string | null } | undefined) => t !== undefined && (deps.settings.mode === 'b2b' ? t.accountId !== null : t.contactId !== null);
        const unattached = [...new Set(toWrite.map((r) => r.customerId).filter((id) => !attachable(targets.get(id))))];
        const unattachedHeld = await heldOf(unattached);
        toWrite = toWrite.filter((r) => {
          const hold = unattachedHeld.get(r.customerId);
          if (hold === undefined) return true;
          outcome(r, 'skipped', heldDependentReason(hold), null);
          return false;
        });
        const missing = unattached.filter((id) => !unattachedHeld.has(id));
        if (missing.length > 0) {
          const found = deps.settings.mode === 'b2b' ? await crmCall(() => w.findAccounts(missing)) : await crmCall(() => w.findContacts(missing.map((customerId) => ({ customerId, email: null }))));
          for (const id of missing) {
            if (!found[id]) continue;
            const t = targets.get(id) ?? { accountId: null, contactId: null };
            targets.set(id, deps.settings.mode === 'b2b' ? { ...t, accountId: found[id] } : { ...t, contactId: found[id] });
          }
        }
        toWrite = toWrite.filter((r) => {
          if (attachable(targets.get(r.customerId))) return true;
          outcome(r, 'failed', NO_CRM_RECORD, null);
          return false;
        });
      }

      let results: BatchWriteResult[] = [];
      if (toWrite.length > 0) {
        if (input.dryRun) {
          // A record the index linked is the one the real run writes: no lookup for it.
          const lookup = toWrite.filter((r) => identities.get(r.customerId)?.kind !== 'link');
          const found = lookup.length > 0 ? await crmCall(() => dryRunLookup(input.kind, lookup)) : {};
          results = toWrite.map((r) => {
            const linked = identities.get(r.customerId);
            const id = linked?.kind === 'link' ? linked.recordId : found[keyOf(input.kind, r)];
            return id ? { key: keyOf(input.kind, r), ok: true, id, created: false } : { key: keyOf(input.kind, r), ok: true, id: '', created: true };
          });
        } else {
          if (progress.results) {
            results = progress.results;
          } else {
            let state: { jobId?: string } = progress.jobId ? { jobId: progress.jobId } : {};
            // Polling a bulk job can take minutes: keep the heartbeat (and the job id in it) alive meanwhile.
            const keepAlive = input.bulk ? setInterval(() => ctx.heartbeat(state), 10_000) : null;
            try {
              // Deals this installation linked before (a rerun, a customer's workflow): written without their stage
              // unless they are gone (one lookup); Stripe owning the stage writes it anyway.
              const linkedDeals = input.kind === 'deals' && ownership.deal_stage !== 'stripe'
                ? toWrite.flatMap((r) => (r.t === 'deal' && links.get(r.customerId)?.dealIds[r.deal.subscriptionId] ? [r.deal.subscriptionId] : []))
                : [];
              const existingDeals = new Set(linkedDeals.length > 0 ? Object.keys(await crmCall(() => w.findDeals(linkedDeals))) : []);
              // Contacts the CRM already had (the run's identity index, B2B; empty without one): the writer can skip a create bound to fail.
              const existingEmails = input.kind === 'contacts' && deps.settings.mode === 'b2b' && w.usesExistingEmails
                ? await identity.existingEmails(input.runId, toWrite.flatMap((r) => (r.t === 'customer' && r.contact ? [r.contact.email] : [])))
                : new Set<string>();
              results = await crmCall(() => crmWrite(input.kind, toWrite, targets, accountIds, identities, { deals: existingDeals, emails: existingEmails }, input.bulk ? {
                ...(state.jobId ? { jobId: state.jobId } : {}),
                onJobCreated: (jobId) => {
                  state = { jobId };
                  ctx.heartbeat(state);
                },
              } : undefined));
            } catch (err) {
              if (!(err instanceof CrmValidationError)) throw err;
              // The CRM refused the request as a whole (not record by record): every record fails with its reason.
              results = toWrite.map((r) => ({ key: keyOf(input.kind, r), ok: false, reason: err.message }));
            } finally {
              if (keepAlive) clearInterval(keepAlive);
            }
            // Written: a retried attempt only records.
            ctx.heartbeat({ results });
          }
        }
      }

      const byKey = new Map(results.map((r) => [r.key, r]));
      const written: Array<{ r: StagedRecord & { batchId: string }; id: string }> = [];
      for (const r of toWrite) {
        const result = byKey.get(keyOf(input.kind, r));
        if (!result) outcome(r, 'failed', `${deps.crm.provider} returned no result for this record`, null);
        else if (!result.ok) outcome(r, 'failed', result.reason, null);
        else {
          const linked = identities.get(r.customerId);
          const linkReason = linked?.kind === 'link' ? `linked to the existing record by ${linked.method}` : null;
          if (input.dryRun) outcome(r, result.created ? 'created' : 'matched', linkReason, result.id || null);
          else {
            // Timeline activities that existed are left as they were, and a record the index linked was the
            // customer's already: matched, not updated.
            const o: BackfillOutcomeName = result.created ? 'created' : r.t === 'activity' || linked?.kind === 'link' ? 'matched' : 'updated';
            outcome(r, o, linkReason, result.id);
            written.push({ r, id: result.id });
          }
        }
      }

      written.push(...rollupLinked);
      const repairs: BackfillWriteResult['repairs'] = [];
      await deps.db.transaction().execute(async (trx) => {
        if (!input.dryRun && guarded && written.length > 0) {
          // The check again, now with the rows locked: a customer workflow that recorded newer state since
          // the first check may have written before this request landed. Its write is re-applied by
          // re-reading Stripe (a repair); its own next record sees backfill_seq moved and writes in full.
          const locked = await linksOf(trx, input.accountId, written.map((w2) => w2.r.customerId), true);
          for (const { r } of written) {
            if ('stateAt' in r && newerThanRead(locked.get(r.customerId)?.stateAt ?? null, r.stateAt)) {
              repairs.push(r.t === 'deal' ? { stream: 'subscriptions', id: r.deal.subscriptionId } : { stream: 'customers', id: r.customerId });
            }
          }
          await seedLinks(trx, input, written, identities);
        }
        await log(trx, input, rows);
        const batchOfKey = new Map(records.map((r) => [keyOf(input.kind, r), r.batchId]));
        const repairsOf = new Map(written.map((w2) => [w2.r.t === 'deal' ? w2.r.deal.subscriptionId : w2.r.customerId, w2.r.batchId]));
        for (const p of input.parts) {
          const mine = rows.filter((row) => batchOfKey.get(row.stripeId) === p.batchId);
          // With the counts, the repairs this step asked for: a retried attempt that finds the step recorded reports both.
          const stored: Record<string, string> = {
            ...storedCounts(countOutcomes(mine)),
            repairs: JSON.stringify(repairs.filter((r) => repairsOf.get(r.id) === p.batchId)),
          };
          const patch: StepResults = { [stepKey(p.part)]: stored };
          if (input.kind === 'accounts' || input.kind === 'contacts') {
            patch[input.kind] = { ...(byId.get(p.batchId)!.results[input.kind] ?? {}), ...Object.fromEntries(written.filter((x) => x.r.batchId === p.batchId).map((x) => [x.r.customerId, x.id])) };
          }
          await trx.updateTable('backfillBatches')
            .set({
              results: sql`results || ${JSON.stringify(patch)}::jsonb`,
              // The page's last step: only the counts are kept until the run ends.
              ...(p.last ? { records: '[]' } : {}),
            })
            .where('id', '=', p.batchId).execute();
        }
      });
      return { counts: countOutcomes(rows), repairs: [...new Map(repairs.map((r) => [`${r.stream}/${r.id}`, r])).values()] };

      async function crmCall<T>(fn: () => Promise<T>): Promise<T> {
        try {
          return await fn();
        } catch (err) {
          // Honour the CRM's delay; nothing of this step has been recorded, so the retry writes it whole.
          throw crmRateLimitRetry(`backfill ${input.kind}`, err);
        }
      }
    },

    async backfillSetStatus(input: { runId: string; status: BackfillStatus; summary?: unknown }): Promise<void> {
      const now = new Date();
      const finished = input.status === 'completed' || input.status === 'canceled' || input.status === 'failed';
      await deps.db.transaction().execute(async (trx) => {
        await trx.updateTable('backfillRuns')
          .set({ status: input.status, provider: deps.crm.provider, updatedAt: now, ...(finished ? { finishedAt: now } : {}), ...(input.summary !== undefined ? { summary: JSON.stringify(input.summary) } : {}) })
          .where('id', '=', input.runId).execute();
        // Staged pages of a finished run (a cancelled run's unwritten ones included) are not needed any more, nor is its identity index.
        if (finished) {
          await trx.deleteFrom('backfillBatches').where('runId', '=', input.runId).execute();
          await identity.clear(trx, input.runId);
        }
      });
    },
  };

  /**
   * The cross-reference links customer workflows start from, and one more backfill write on each
   * (backfill_seq): a workflow that sees it move writes its whole state again at its next round.
   * The recorded Stripe state age stays the workflow's: it is what the backfill compares with.
   */
  async function seedLinks(trx: Transaction<Database>, input: BackfillWriteInput, written: ReadonlyArray<{ r: StagedRecord; id: string }>, identities: ReadonlyMap<string, AccountIdentity>): Promise<void> {
    const now = new Date();
    const perCustomer = new Map<string, { companyId: string | null; contactId: string | null; dealIds: Record<string, string> }>();
    for (const { r, id } of written) {
      const entry = perCustomer.get(r.customerId) ?? { companyId: null, contactId: null, dealIds: {} };
      if (input.kind === 'accounts') entry.companyId = id;
      else if (input.kind === 'contacts') entry.contactId = id;
      else if (r.t === 'deal') entry.dealIds[r.deal.subscriptionId] = id;
      perCustomer.set(r.customerId, entry);
    }
    const values = [...perCustomer].sort(([a], [b]) => a.localeCompare(b)).map(([customerId, e]) => ({
      accountId: input.accountId, customerId, provider: deps.crm.provider, companyId: e.companyId, contactId: e.contactId,
      dealIds: JSON.stringify(e.dealIds), matchMethod: matchMethodOf(identities.get(customerId)), productIds: [], stripeStateAt: null, lastSyncedAt: now, backfillSeq: 1,
    }));
    await trx.insertInto('crmLinks').values(values).onConflict((oc) => oc.columns(['accountId', 'customerId']).doUpdateSet({
      // The identity step that found the company, when this write is the one that gives the customer one.
      matchMethod: sql`case when crm_links.company_id is null and excluded.company_id is not null then excluded.match_method else crm_links.match_method end`,
      companyId: sql`coalesce(excluded.company_id, crm_links.company_id)`,
      contactId: sql`coalesce(excluded.contact_id, crm_links.contact_id)`,
      dealIds: sql`crm_links.deal_ids || excluded.deal_ids`,
      backfillSeq: sql`crm_links.backfill_seq + 1`,
      lastSyncedAt: now,
      updatedAt: now,
    })).execute();
  }
}

export interface BackfillSettings {
  /** The task queue of the CRM batch writes. */
  writeTaskQueue: string;
  crmRateLimitPerSecond: number;
  stripeReadRateLimitPerSecond: number;
  pageSize: number;
  /** Records per CRM request: HubSpot 100, Salesforce 200 (two pages per collection). */
  batchLimit: number;
  /** Runs above this many records write through bulk jobs (0: never). */
  bulkThreshold: number;
  /** The configured identity options (IDENTITY_*) when runs resolve identities through an index (B2B); null otherwise. */
  identity: IdentityOptions | null;
}

/** crm_links.match_method of a company the backfill wrote: how the index found it, 'created' when nothing matched. */
function matchMethodOf(identity: AccountIdentity | undefined): string {
  if (identity?.kind === 'link') return identity.method;
  return identity?.kind === 'create' ? 'created' : 'external-id';
}

/** Step results keep their counts as strings (the results column maps names to record ids). */
function storedCounts(counts: OutcomeCounts): Record<string, string> {
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [`count:${k}`, String(v)]));
}

function addStored(acc: OutcomeCounts, stored: Record<string, string>): OutcomeCounts {
  const out = { ...acc };
  for (const k of Object.keys(out) as BackfillOutcomeName[]) out[k] += Number(stored[`count:${k}`] ?? 0);
  return out;
}
