import type { Connection, SaveResult, UpsertResult } from 'jsforce';
import type { TimelineEntry } from '../../../domain/customer-events.js';
import {
  CrmNotFoundError,
  CrmRateLimitError,
  CrmValidationError,
  type AccountInput,
  type AccountUpdateInput,
  type BackfillActivityInput,
  type BackfillDealInput,
  type BatchWriteResult,
  type BulkResume,
  type ContactInput,
  type CrmBackfillWriter,
  type CrmFields,
  type IdentityIndexAccount,
  type IdentityIndexContact,
  type IdentityIndexPage,
} from '../types.js';
import { chunks, lastPerKey } from '../batching.js';
import { recordFailuresError, salesforceErrorItems, type RateLimitDelays, type SalesforceErrorItem } from './errors.js';
import { COLLECTION_LIMIT, contactNames, lastNameFromEmail, LIMITS, newAccountNaming, soqlString, truncate, type SalesforceRecord } from './records.js';

/** A bulk job ended without processing every record. */
export class SalesforceBulkError extends Error {
  override name = 'SalesforceBulkError';
}

/** Records per query page (`Sforce-Query-Options: batchSize`, 200 to 2,000): the identity index reads the most it can. */
const INDEX_BATCH_SIZE = 2_000;


export interface SalesforceBackfillDeps {
  conn: Connection;
  /** The external id field holding the Stripe customer id (Account in B2B, Contact in both modes). */
  customerKey: string;
  subscriptionKey: string;
  /** The object subscriptions are upserted to: Opportunity (default), or the custom object of CRM_SUBSCRIPTION_OBJECT. */
  subscriptionObject?: string;
  activityKey: string;
  stripeFields(fields: CrmFields): SalesforceRecord;
  /** The record of a subscription on `subscriptionObject`. */
  opportunity(deal: BackfillDealInput, accountId: string | null): SalesforceRecord;
  task(entry: TimelineEntry, targets: { accountId: string | null; contactId: string | null }): SalesforceRecord;
  call<T>(operation: string, fn: () => Promise<T>): Promise<T>;
  collectionError(error: unknown): SalesforceErrorItem;
  delays: RateLimitDelays;
}


type QueryRow = { Id: string } & Record<string, unknown>;

/** A record to write under its Stripe key. */
interface KeyedRecord {
  key: string;
  record: SalesforceRecord;
}

/**
 * Batch writes for the backfill, each an upsert by the Stripe id in an External ID field (the key the
 * real-time path upserts by): one sObject Collections call per 200 records, or one Bulk API 2.0 job for
 * a large run. Accounts and Contacts first need one SOQL query per 200: Name (and a Contact's required
 * LastName) is written only on records that do not exist yet, so an existing record keeps what its users
 * gave it, and a contact someone created before the sync is adopted by its email rather than duplicated.
 */
export function salesforceBackfillWriter(deps: SalesforceBackfillDeps): CrmBackfillWriter {
  const { conn, customerKey } = deps;

  /** Key → Id of the records of `object` whose `field` is one of `values` (one query per 200 values). */
  async function findBy(object: string, field: string, values: readonly string[], extra = ''): Promise<Record<string, string>> {
    const found: Record<string, string> = {};
    for (const chunk of chunks(values, COLLECTION_LIMIT)) {
      if (chunk.length === 0) continue;
      const soql = `SELECT Id, ${field} FROM ${object} WHERE ${field} IN (${chunk.map(soqlString).join(', ')})${extra}`;
      let result = await conn.query<{ Id: string } & Record<string, unknown>>(soql);
      for (;;) {
        for (const row of result.records) {
          const key = row[field];
          if (typeof key === 'string') found[key] = row.Id;
        }
        if (result.done || !result.nextRecordsUrl) break;
        result = await conn.queryMore<{ Id: string } & Record<string, unknown>>(result.nextRecordsUrl);
      }
    }
    return found;
  }

  /**
   * One page of an identity-index query: the query itself, then queryMore with its locator (the cursor).
   * A locator expires after 15 minutes unused (a retry long after, a run paused meanwhile): the query
   * starts over, and the rows read again add nothing to the index.
   */
  async function indexPage(operation: string, soql: string, cursor: string | null): Promise<{ records: QueryRow[]; next: string | null }> {
    const headers = { 'Sforce-Query-Options': `batchSize=${INDEX_BATCH_SIZE}` };
    const query = `/services/data/v${conn.version}/query?q=${encodeURIComponent(soql)}`;
    return deps.call(operation, async () => {
      let result: { records: QueryRow[]; done: boolean; nextRecordsUrl?: string };
      try {
        result = await conn.request({ method: 'GET', url: cursor ?? query, headers });
      } catch (err) {
        if (cursor === null || !(salesforceErrorItems(err) ?? []).some((e) => e.code === 'INVALID_QUERY_LOCATOR')) throw err;
        result = await conn.request({ method: 'GET', url: query, headers });
      }
      return { records: result.records, next: result.done ? null : (result.nextRecordsUrl ?? null) };
    });
  }

  /** Per-record outcomes of a collection call; a rate limit or a transient record failure throws for the whole call. */
  function outcomes(object: string, rows: readonly KeyedRecord[], results: ReadonlyArray<UpsertResult | SaveResult>, created: (i: number) => boolean): BatchWriteResult[] {
    const out: BatchWriteResult[] = [];
    const transient: Array<{ key: string; errors: SalesforceErrorItem[] }> = [];
    rows.forEach((row, i) => {
      const result = results[i];
      if (result?.success) {
        out.push({ key: row.key, ok: true, id: result.id, created: created(i) });
        return;
      }
      const failure = { key: row.key, errors: ((result as { errors?: unknown[] } | undefined)?.errors ?? []).map(deps.collectionError) };
      const error = recordFailuresError(object, [failure], deps.delays);
      if (error instanceof CrmValidationError || error instanceof CrmNotFoundError) out.push({ key: row.key, ok: false, reason: error.message });
      else if (error instanceof CrmRateLimitError) throw error;
      else transient.push(failure);
    });
    // A row lock or an internal error: the whole call is retried (an upsert by external id is idempotent).
    if (transient.length > 0) throw recordFailuresError(object, transient, deps.delays);
    return out;
  }

  async function upsertCollection(object: string, keyField: string, rows: readonly KeyedRecord[]): Promise<BatchWriteResult[]> {
    const out: BatchWriteResult[] = [];
    for (const chunk of chunks(rows, COLLECTION_LIMIT)) {
      const results: UpsertResult[] = await deps.call(`upsert ${object} (backfill)`, () =>
        conn.sobject(object).upsert(chunk.map((r) => ({ ...r.record, [keyField]: r.key })), keyField, { allOrNone: false }),
      );
      out.push(...outcomes(object, chunk, results, (i) => results[i]?.created === true));
    }
    return out;
  }

  /**
   * Bulk API 2.0 upsert by `keyField`. In its CSV an empty cell leaves a field as it is and `#N/A` clears
   * it, so fields meant for new records only are sent empty for existing ones and a cleared Stripe field
   * is sent as `#N/A`. A job that leaves records unprocessed (aborted, failed) is an error for the whole
   * call: the retry submits them again, which the upsert by external id makes safe.
   */
  async function upsertBulk(object: string, keyField: string, rows: readonly KeyedRecord[], resume: BulkResume = {}): Promise<BatchWriteResult[]> {
    return deps.call(`bulk upsert ${object} (backfill)`, async () => {
      let job;
      if (resume.jobId) {
        job = conn.bulk2.job('ingest', { id: resume.jobId });
      } else {
        if (rows.length === 0) return [];
        const columns = new Set<string>([keyField]);
        for (const r of rows) for (const k of Object.keys(r.record)) columns.add(k);
        // Every row carries every column, so the CSV header covers all of them.
        const csvRows = rows.map((r) => {
          const record: Record<string, unknown> = { ...r.record, [keyField]: r.key };
          return Object.fromEntries([...columns].map((c) => [c, !(c in record) ? '' : record[c] === null ? '#N/A' : record[c]]));
        });
        job = conn.bulk2.createJob({ object, operation: 'upsert', externalIdFieldName: keyField, lineEnding: 'LF' });
        await job.open();
        await job.uploadData(csvRows as Array<Record<string, string | number | boolean>>);
        await job.close();
        // Only a closed job is worth resuming: one left open by a crash is abandoned and submitted again.
        resume.onJobCreated?.(job.id);
      }
      // Each poll is a request of the CRM's budget: once a second is enough for jobs that take seconds.
      await job.poll(1000, 10 * 60_000);
      const results = await job.getAllResults();
      const unprocessed = typeof results.unprocessedRecords === 'string' ? results.unprocessedRecords.trim().split('\n').length - 1 : results.unprocessedRecords.length;
      if (unprocessed > 0) throw new SalesforceBulkError(`Salesforce bulk job ${job.id} left ${unprocessed} record(s) unprocessed`);
      const out: BatchWriteResult[] = [];
      for (const r of results.successfulResults) out.push({ key: String((r as Record<string, unknown>)[keyField]), ok: true, id: r.sf__Id, created: r.sf__Created === 'true' });
      for (const r of results.failedResults) out.push({ key: String((r as Record<string, unknown>)[keyField]), ok: false, reason: `Salesforce bulk upsert ${object}: ${r.sf__Error}` });
      return out;
    });
  }

  const write = (object: string, keyField: string, rows: readonly KeyedRecord[], bulk: BulkResume | undefined) =>
    bulk ? upsertBulk(object, keyField, rows, bulk) : upsertCollection(object, keyField, rows);

  return {
    batchLimit: COLLECTION_LIMIT,
    separateTaskObjects: false,
    supportsBulk: true,
    usesExistingEmails: false,

    async upsertAccounts(inputs: AccountInput[], bulk?: BulkResume): Promise<BatchWriteResult[]> {
      const distinct = lastPerKey(inputs, (i) => i.customerId);
      const existing = bulk?.jobId ? {} : await deps.call('find Accounts (backfill)', () => findBy('Account', customerKey, distinct.map((i) => i.customerId)));
      const rows = distinct.map((input): KeyedRecord => {
        const record = deps.stripeFields(input.fields);
        if (existing[input.customerId]) return { key: input.customerId, record };
        return { key: input.customerId, record: { ...record, ...newAccountNaming(input) } };
      });
      return write('Account', customerKey, rows, bulk);
    },

    async upsertContacts(inputs: ContactInput[], bulk?: BulkResume): Promise<BatchWriteResult[]> {
      const distinct = lastPerKey(inputs, (i) => i.customerId);
      const fields = (input: ContactInput): SalesforceRecord => ({
        ...deps.stripeFields(input.fields),
        Email: input.email,
        ...contactNames(input),
        ...(input.accountId ? { AccountId: input.accountId } : {}),
      });
      // The real-time path's rule: a contact already carrying the customer id is ours; else one with the
      // email and no customer id (someone created it before the sync) is adopted; else a new one.
      const linked: Record<string, string> = {};
      const unlinkedByEmail = new Map<string, string>();
      await deps.call('find Contacts (backfill)', async () => {
        for (const chunk of chunks(distinct, COLLECTION_LIMIT)) {
          const soql =
            `SELECT Id, Email, ${customerKey} FROM Contact WHERE ${customerKey} IN (${chunk.map((i) => soqlString(i.customerId)).join(', ')}) ` +
            `OR (Email IN (${chunk.map((i) => soqlString(i.email)).join(', ')}) AND ${customerKey} = null) ORDER BY CreatedDate ASC`;
          const result = await conn.query<{ Id: string; Email: string | null } & Record<string, unknown>>(soql);
          for (const row of result.records) {
            const key = row[customerKey];
            if (typeof key === 'string' && key !== '') linked[key] = row.Id;
            else if (row.Email && !unlinkedByEmail.has(row.Email.toLowerCase())) unlinkedByEmail.set(row.Email.toLowerCase(), row.Id);
          }
        }
      });
      const adopt: Array<{ input: ContactInput; id: string }> = [];
      const upserts: KeyedRecord[] = [];
      for (const input of distinct) {
        const adoptable = !linked[input.customerId] ? unlinkedByEmail.get(input.email.toLowerCase()) : undefined;
        if (adoptable) {
          // One adoption per contact: a second customer with the email gets a contact of its own.
          unlinkedByEmail.delete(input.email.toLowerCase());
          adopt.push({ input, id: adoptable });
        } else if (linked[input.customerId]) {
          upserts.push({ key: input.customerId, record: fields(input) });
        } else {
          upserts.push({ key: input.customerId, record: { LastName: lastNameFromEmail(input.email), ...fields(input) } });
        }
      }
      const out = await write('Contact', customerKey, upserts, bulk);
      if (adopt.length > 0) {
        const rows = adopt.map((a) => ({ key: a.input.customerId, record: { Id: a.id, ...fields(a.input), [customerKey]: a.input.customerId } }));
        const results: SaveResult[] = await deps.call('adopt Contacts (backfill)', () => conn.sobject('Contact').update(rows.map((r) => r.record) as Array<{ Id: string }>, { allOrNone: false }));
        out.push(...outcomes('Contact', rows, results, () => false));
      }
      // A resumed bulk job answers for what it was given; a contact an interrupted attempt adopted after
      // it is linked now and in no answer: write it by its key, which finds it.
      const answered = new Set(out.map((r) => r.key));
      const unanswered = distinct.filter((i) => !answered.has(i.customerId)).map((i) => ({ key: i.customerId, record: fields(i) }));
      if (unanswered.length > 0) out.push(...(await upsertCollection('Contact', customerKey, unanswered)));
      return out;
    },

    async upsertDeals(inputs: BackfillDealInput[], bulk?: BulkResume): Promise<BatchWriteResult[]> {
      const rows = lastPerKey(inputs, (d) => d.subscriptionId).map((deal): KeyedRecord => {
        const record = deps.opportunity(deal, deal.accountId);
        delete record[deps.subscriptionKey];
        return { key: deal.subscriptionId, record };
      });
      return write(deps.subscriptionObject ?? 'Opportunity', deps.subscriptionKey, rows, bulk);
    },

    async writeActivities(inputs: BackfillActivityInput[], bulk?: BulkResume): Promise<BatchWriteResult[]> {
      // An upsert by the entry's key, as the real-time path writes Tasks: a replay finds its Task.
      const rows = lastPerKey(inputs, (a) => a.entry.key).map((a): KeyedRecord => {
        const record = deps.task(a.entry, a);
        delete record[deps.activityKey];
        return { key: a.entry.key, record };
      });
      return write('Task', deps.activityKey, rows, bulk);
    },

    findAccounts: (customerIds) => deps.call('find Accounts (backfill)', () => findBy('Account', customerKey, customerIds)),

    async findContacts(inputs): Promise<Record<string, string>> {
      return deps.call('find Contacts (backfill)', async () => {
        const byKey = await findBy('Contact', customerKey, inputs.map((i) => i.customerId));
        const found: Record<string, string> = { ...byKey };
        const rest = inputs.filter((i) => !byKey[i.customerId] && i.email !== null);
        if (rest.length > 0) {
          const byEmail = await findBy('Contact', 'Email', rest.map((i) => i.email!), ` AND ${customerKey} = null`);
          const lower = new Map(Object.entries(byEmail).map(([email, id]) => [email.toLowerCase(), id]));
          for (const i of rest) {
            const id = lower.get(i.email!.toLowerCase());
            if (id) found[i.customerId] = id;
          }
        }
        return found;
      });
    },

    findDeals: (subscriptionIds) => deps.call(`find ${deps.subscriptionObject ?? 'Opportunity'} (backfill)`, () => findBy(deps.subscriptionObject ?? 'Opportunity', deps.subscriptionKey, subscriptionIds)),
    findActivities: (keys) => deps.call('find Tasks (backfill)', () => findBy('Task', deps.activityKey, keys)),

    async listAccountsForIdentity(cursor: string | null): Promise<IdentityIndexPage<IdentityIndexAccount>> {
      const page = await indexPage('list Accounts (identity index)', `SELECT Id, Name, Website, ${customerKey} FROM Account`, cursor);
      const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
      return { rows: page.records.map((r) => ({ recordId: r.Id, name: text(r.Name), domain: text(r.Website), stripeCustomerId: text(r[customerKey]) })), next: page.next };
    },

    async listContactsForIdentity(cursor: string | null): Promise<IdentityIndexPage<IdentityIndexContact>> {
      const page = await indexPage('list Contacts (identity index)', 'SELECT Id, Email, AccountId FROM Contact WHERE Email != null AND AccountId != null', cursor);
      return {
        rows: page.records.flatMap((r) => (typeof r.Email === 'string' && typeof r.AccountId === 'string' ? [{ contactId: r.Id, email: r.Email, accountIds: [r.AccountId] }] : [])),
        next: page.next,
      };
    },

    async updateAccounts(inputs: AccountUpdateInput[]): Promise<BatchWriteResult[]> {
      const rows = lastPerKey(inputs, (i) => i.customerId).map((input): KeyedRecord => ({
        key: input.customerId,
        record: {
          Id: input.recordId,
          ...deps.stripeFields(input.fields),
          // The Stripe id stamped on the Account: later upserts by it (a rerun, the customer's workflow) land here.
          [customerKey]: input.customerId,
          ...(input.name ? { Name: truncate(input.name, LIMITS.accountName) } : {}),
          ...(input.domain ? { Website: truncate(input.domain, LIMITS.website) } : {}),
        },
      }));
      const out: BatchWriteResult[] = [];
      for (const chunk of chunks(rows, COLLECTION_LIMIT)) {
        const results: SaveResult[] = await deps.call('update matched Accounts (backfill)', () =>
          conn.sobject('Account').update(chunk.map((r) => r.record) as Array<{ Id: string }>, { allOrNone: false }));
        // A deleted or merged Account fails alone, with its reason.
        out.push(...outcomes('Account', chunk, results, () => false));
      }
      return out;
    },
  };
}
