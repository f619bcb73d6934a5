import type { Connection, UpsertResult } from 'jsforce';
import { CrmNotFoundError, CrmRateLimitError, CrmValidationError, type AccountInput, type BatchUpsertResult, type CrmAdapter, type CrmFields } from '../types.js';
import { recordFailuresError, type RateLimitDelays, type SalesforceErrorItem } from './errors.js';

/** A bulk job ended without processing every record. */
export class SalesforceBulkError extends Error {
  override name = 'SalesforceBulkError';
}

/** sObject Collections take at most 200 records per call. */
export const SALESFORCE_COLLECTION_LIMIT = 200;
/** Standard Account field lengths. */
const NAME_LENGTH = 255;

type SalesforceRecord = Record<string, string | number | boolean | null>;

export interface SalesforceBackfillDeps {
  conn: Connection;
  /** The Account's external id field holding the Stripe customer id. */
  customerKey: string;
  stripeFields(fields: CrmFields): SalesforceRecord;
  call<T>(operation: string, fn: () => Promise<T>): Promise<T>;
  collectionError(error: unknown): SalesforceErrorItem;
  soqlString(value: string): string;
  delays: RateLimitDelays;
}

/**
 * Batch methods for the backfill: per 200 customers, one SOQL query finds the Accounts already carrying
 * the customer ids (the identity rule of the real-time path), then one collection upsert by that external
 * id writes them all — with Name only for the new ones, so an existing Account keeps the name its users gave it.
 */
export function salesforceBackfillMethods(deps: SalesforceBackfillDeps): Pick<CrmAdapter, 'upsertAccountsBatch' | 'findAccountsBatch' | 'upsertAccountsBulk'> {
  const { conn, customerKey } = deps;

  async function find(customerIds: readonly string[]): Promise<Record<string, string>> {
    if (customerIds.length === 0) return {};
    const soql = `SELECT Id, ${customerKey} FROM Account WHERE ${customerKey} IN (${customerIds.map(deps.soqlString).join(', ')})`;
    const found: Record<string, string> = {};
    let result = await conn.query<{ Id: string } & Record<string, unknown>>(soql);
    for (;;) {
      for (const row of result.records) {
        const key = row[customerKey];
        if (typeof key === 'string') found[key] = row.Id;
      }
      if (result.done || !result.nextRecordsUrl) break;
      result = await conn.queryMore<{ Id: string } & Record<string, unknown>>(result.nextRecordsUrl);
    }
    return found;
  }

  async function upsertChunk(inputs: readonly AccountInput[]): Promise<BatchUpsertResult[]> {
    const existing = await find(inputs.map((i) => i.customerId));
    const records: SalesforceRecord[] = inputs.map((input) => {
      const record: SalesforceRecord = { ...deps.stripeFields(input.fields), [customerKey]: input.customerId };
      if (existing[input.customerId]) return record;
      const name = (input.name?.trim() || input.domain || input.customerId).slice(0, NAME_LENGTH);
      return { ...record, Name: name, ...(input.domain ? { Website: input.domain.slice(0, NAME_LENGTH) } : {}) };
    });
    const results: UpsertResult[] = await conn.sobject('Account').upsert(records, customerKey, { allOrNone: false });
    const out: BatchUpsertResult[] = [];
    const transient: Array<{ key: string; errors: SalesforceErrorItem[] }> = [];
    inputs.forEach((input, i) => {
      const result = results[i];
      if (result?.success) {
        out.push({ customerId: input.customerId, ok: true, id: result.id, created: result.created });
        return;
      }
      const failure = { key: input.customerId, errors: (result?.errors ?? []).map(deps.collectionError) };
      const error = recordFailuresError('Account', [failure], deps.delays);
      if (error instanceof CrmValidationError || error instanceof CrmNotFoundError) out.push({ customerId: input.customerId, ok: false, reason: error.message });
      else if (error instanceof CrmRateLimitError) throw error;
      else transient.push(failure);
    });
    // A row lock or an internal error: the whole batch is retried (an upsert by external id is idempotent).
    if (transient.length > 0) throw recordFailuresError('Account', transient, deps.delays);
    return out;
  }

  /**
   * Bulk API 2.0 upsert by the customer id. In its CSV an empty cell leaves a field as it is and `#N/A`
   * clears it, so Name stays empty for existing Accounts and a cleared Stripe field is sent as `#N/A`.
   * A job that leaves records unprocessed (aborted, failed) is an error for the whole call: the retry
   * submits them again, which the upsert by external id makes safe.
   */
  async function upsertBulk(inputs: readonly AccountInput[], resume: { jobId?: string; onJobCreated?(jobId: string): void } = {}): Promise<BatchUpsertResult[]> {
    let job;
    if (resume.jobId) {
      job = conn.bulk2.job('ingest', { id: resume.jobId });
    } else {
      const existing: Record<string, string> = {};
      for (let i = 0; i < inputs.length; i += SALESFORCE_COLLECTION_LIMIT) Object.assign(existing, await find(inputs.slice(i, i + SALESFORCE_COLLECTION_LIMIT).map((x) => x.customerId)));
      const columns = new Set<string>([customerKey, 'Name', 'Website']);
      const rows = inputs.map((input) => {
        const fields = deps.stripeFields(input.fields);
        for (const key of Object.keys(fields)) columns.add(key);
        const isNew = !existing[input.customerId];
        return {
          ...Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v === null ? '#N/A' : v])),
          [customerKey]: input.customerId,
          Name: isNew ? (input.name?.trim() || input.domain || input.customerId).slice(0, NAME_LENGTH) : '',
          Website: isNew && input.domain ? input.domain.slice(0, NAME_LENGTH) : '',
        };
      });
      // Every row carries every column, so the CSV header covers all of them.
      const csvRows = rows.map((row: Record<string, unknown>) => Object.fromEntries([...columns].map((c) => [c, row[c] ?? ''])));
      job = conn.bulk2.createJob({ object: 'Account', operation: 'upsert', externalIdFieldName: customerKey, lineEnding: 'LF' });
      await job.open();
      await job.uploadData(csvRows as Array<Record<string, string | number | boolean>>);
      await job.close();
      // Only a closed job is worth resuming: one left open by a crash is abandoned and submitted again.
      resume.onJobCreated?.(job.id);
    }
    await job.poll(1000, 10 * 60_000);
    const results = await job.getAllResults();
    const unprocessed = typeof results.unprocessedRecords === 'string' ? results.unprocessedRecords.trim().split('\n').length - 1 : results.unprocessedRecords.length;
    if (unprocessed > 0) throw new SalesforceBulkError(`Salesforce bulk job ${job.id} left ${unprocessed} record(s) unprocessed`);
    const out: BatchUpsertResult[] = [];
    for (const r of results.successfulResults) {
      const key = (r as Record<string, unknown>)[customerKey];
      out.push({ customerId: String(key), ok: true, id: r.sf__Id, created: r.sf__Created === 'true' });
    }
    for (const r of results.failedResults) {
      const key = (r as Record<string, unknown>)[customerKey];
      out.push({ customerId: String(key), ok: false, reason: `Salesforce bulk upsert: ${r.sf__Error}` });
    }
    return out;
  }

  return {
    async upsertAccountsBulk(inputs: AccountInput[], resume?: { jobId?: string; onJobCreated?(jobId: string): void }): Promise<BatchUpsertResult[]> {
      const distinct = [...new Map(inputs.map((i) => [i.customerId, i])).values()];
      return deps.call('bulk upsert Accounts (backfill)', () => upsertBulk(distinct, resume));
    },

    async upsertAccountsBatch(inputs: AccountInput[]): Promise<BatchUpsertResult[]> {
      // The same external id twice in one collection call fails both records.
      const distinct = [...new Map(inputs.map((i) => [i.customerId, i])).values()];
      const out: BatchUpsertResult[] = [];
      for (let i = 0; i < distinct.length; i += SALESFORCE_COLLECTION_LIMIT) {
        const chunk = distinct.slice(i, i + SALESFORCE_COLLECTION_LIMIT);
        out.push(...(await deps.call('upsert Accounts (backfill)', () => upsertChunk(chunk))));
      }
      return out;
    },

    async findAccountsBatch(customerIds: string[]): Promise<Record<string, string>> {
      const found: Record<string, string> = {};
      for (let i = 0; i < customerIds.length; i += SALESFORCE_COLLECTION_LIMIT) {
        Object.assign(found, await deps.call('find Accounts (backfill)', () => find(customerIds.slice(i, i + SALESFORCE_COLLECTION_LIMIT))));
      }
      return found;
    },
  };
}
