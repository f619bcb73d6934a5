import type { Connection, DescribeSObjectResult, UpsertResult } from 'jsforce';
import { CRM_FIELD_NAMES, CRM_FIELDS, crmFieldNames } from '../../../domain/crm-field-names.js';
import type { CrmFieldNameMap, CrmFieldNameOverrides } from '../../../domain/crm-field-names.js';
import type { TimelineEntry } from '../../../domain/customer-events.js';
import { toIsoDate } from '../../../domain/time.js';
import type {
  AccountInput,
  ContactInput,
  CrmAdapter,
  CrmFields,
  CrmRecord,
  DealInput,
  DealStage,
  DealsInput,
  ProvisionReport,
  RequestGate,
  TimelineInput,
  UpsertResult as CrmUpsertResult,
} from '../types.js';
import { CrmValidationError } from '../types.js';
import { contactEmailWrite, dealStageWrites, dealStageWrittenBlind } from '../ownership.js';
import { chunks, lastPerKey } from '../batching.js';
import { salesforceBackfillWriter } from './backfill.js';
import { COLLECTION_LIMIT, contactNames, lastNameFromEmail, LIMITS, newAccountNaming, soqlString, truncate, type SalesforceRecord } from './records.js';
import { salesforceIdentityMethods } from './identity.js';
import { createSalesforceConnection } from './connection.js';
import { createSalesforceScanner } from './reconcile.js';
import { isRequiredFieldMissing, recordFailuresError, toCrmError, type RateLimitDelays, type RecordFailure } from './errors.js';
import {
  ACTIVITY_KEY_FIELD,
  checkSalesforceFields,
  RECORD_NAME_LENGTH,
  salesforceFieldRequirements,
  SUBSCRIPTION_ID_FIELD,
  SUBSCRIPTION_OBJECT_FIELDS,
  SUBSCRIPTION_STATUS_FIELD,
  type SalesforceMode,
} from './fields.js';
import { parseSalesforceSubscriptionObject } from '../../../domain/subscription-object.js';

export { SalesforceRecordError, SalesforceTimeoutError } from './errors.js';
export type { RateLimitDelays } from './errors.js';
export {
  ACTIVITY_KEY_FIELD,
  SUBSCRIPTION_ID_FIELD,
  SUBSCRIPTION_STATUS_FIELD,
  formatRequirement,
  formatSalesforceProvisionReport,
  salesforceFieldRequirements,
} from './fields.js';
export type { SalesforceFieldRequirement, SalesforceMode, SalesforceObjectName } from './fields.js';

export interface SalesforceAdapterOptions {
  /** The org's My Domain URL, e.g. https://acme.my.salesforce.com. */
  instanceUrl: string;
  accessToken: string;
  /** REST API version, e.g. "62.0"; 46.0 or later (sObject Collections upsert). */
  apiVersion: string;
  /** Renames or switches off Stripe fields; `customer_id` cannot be switched off (it is the upsert key). */
  fieldNameOverrides?: CrmFieldNameOverrides;
  /** b2b: Stripe fields on the Account, the contact under it. b2c: Stripe fields on the Contact. */
  mode: SalesforceMode;
  /** Opportunity StageName per deal stage (defaults: Qualification, Closed Won, Closed Lost). */
  stageNames?: Partial<Record<DealStage, string>>;
  /** Task Status for informational entries and for entries someone must act on (defaults: Completed, Not Started). */
  taskStatuses?: { note?: string; actionable?: string };
  /** Per-request timeout (default 25 s: two requests fit the CRM activities' 60 s start-to-close timeout). */
  requestTimeoutMs?: number;
  /** The shared request budget every request waits on (all workers together stay within the configured rate). */
  requestGate?: RequestGate;
  /** Delays reported with REQUEST_LIMIT_EXCEEDED (defaults: 60 s daily limit, 5 s concurrency limit). */
  rateLimitDelays?: Partial<RateLimitDelays>;
  /**
   * CRM_SUBSCRIPTION_OBJECT: the custom object (API name, e.g. Stripe_Subscription__c) subscriptions are
   * upserted to instead of Opportunities. Absent: Opportunity.
   */
  subscriptionObject?: string;
}

/** A configuration the adapter cannot work with; raised when the adapter is created, never per call. */
export class SalesforceConfigError extends Error {
  override name = 'SalesforceConfigError';
}

const DEFAULT_STAGES: Record<DealStage, string> = { open: 'Qualification', won: 'Closed Won', lost: 'Closed Lost' };
/** Collections upsert arrived in 46.0; from then on an upsert that updates also answers with the record id. */
const MIN_API_VERSION = 46;

function stringOrNull(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : String(value);
}

/**
 * Salesforce CRM adapter over jsforce. Every write is an upsert by a Stripe id held in an External ID
 * field (Account/Contact by customer id, Opportunity by subscription id, Task by activity key), so a
 * retried call finds what the first attempt wrote instead of creating a duplicate. Steady-state calls
 * make one request; the first write of a customer makes at most two.
 */
export function createSalesforceAdapter(options: SalesforceAdapterOptions): CrmAdapter {
  const version = Number.parseFloat(options.apiVersion);
  if (!/^\d+\.\d$/.test(options.apiVersion) || version < MIN_API_VERSION) {
    throw new SalesforceConfigError(`apiVersion must look like "62.0" and be ${MIN_API_VERSION}.0 or later, got ${JSON.stringify(options.apiVersion)}`);
  }
  const overrides = options.fieldNameOverrides ?? {};
  const names: CrmFieldNameMap = crmFieldNames('salesforce', overrides);
  if (names.customer_id === undefined) {
    throw new SalesforceConfigError('customer_id cannot be switched off for Salesforce: it is the external id Accounts and Contacts are upserted by');
  }
  const customerKey: string = names.customer_id;
  const mode = options.mode;
  let subscriptionObject: string | null;
  try {
    subscriptionObject = options.subscriptionObject === undefined ? null : parseSalesforceSubscriptionObject(options.subscriptionObject);
  } catch (err) {
    throw new SalesforceConfigError(`subscriptionObject: ${err instanceof Error ? err.message : String(err)}`);
  }
  const stages = { ...DEFAULT_STAGES, ...options.stageNames };
  const taskStatus = { note: options.taskStatuses?.note ?? 'Completed', actionable: options.taskStatuses?.actionable ?? 'Not Started' };
  const delays: RateLimitDelays = { dailyMs: options.rateLimitDelays?.dailyMs ?? 60_000, concurrencyMs: options.rateLimitDelays?.concurrencyMs ?? 5_000 };
  const conn: Connection = createSalesforceConnection({
    instanceUrl: options.instanceUrl,
    accessToken: options.accessToken,
    apiVersion: options.apiVersion,
    requestTimeoutMs: options.requestTimeoutMs ?? 25_000,
    ...(options.requestGate ? { requestGate: options.requestGate } : {}),
  });

  async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toCrmError(err, operation, delays);
    }
  }

  function requireKey(value: string, what: string): void {
    if (value.trim() === '') throw new CrmValidationError(`${what} is empty`);
  }

  /** Stripe field values by API name. The key itself travels in the upsert URL or as the key field. */
  function stripeFields(fields: CrmFields): SalesforceRecord {
    const record: SalesforceRecord = {};
    for (const field of CRM_FIELD_NAMES) {
      const name = names[field];
      const value = fields[field];
      if (name === undefined || value === undefined || field === 'customer_id') continue;
      // Text fields are provisioned as Text(255); a longer failure message or plan list must not
      // turn the whole write into a permanent STRING_TOO_LONG.
      record[name] = typeof value === 'string' && CRM_FIELDS[field].type === 'string' ? truncate(value, 255) : value;
    }
    return record;
  }

  /**
   * Single-record upsert by the customer id. jsforce puts the key in the URL without encoding it,
   * so it is encoded here (Stripe ids are URL-safe anyway).
   */
  async function upsertByCustomer(object: 'Account' | 'Contact', customerId: string, record: SalesforceRecord): Promise<CrmUpsertResult> {
    const result: UpsertResult = await conn.sobject(object).upsert({ ...record, [customerKey]: encodeURIComponent(customerId) }, customerKey);
    if (!result.success) throw recordFailuresError(object, [{ key: customerId, errors: result.errors.map(collectionError) }], delays);
    return { id: result.id, created: result.created };
  }

  /**
   * One collection upsert per 200 records; per-record failures are collected and thrown, never dropped.
   * `amend` may give a failed record a second chance (e.g. with a field it left out), sent once more.
   */
  async function upsertCollection(
    object: string,
    keyField: string,
    records: SalesforceRecord[],
    amend?: (record: SalesforceRecord, failure: RecordFailure) => SalesforceRecord | null,
  ): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    let failures: RecordFailure[] = [];
    const send = async (batch: SalesforceRecord[]) => {
      for (const chunk of chunks(batch, COLLECTION_LIMIT)) {
        const results = await conn.sobject(object).upsert(chunk, keyField, { allOrNone: false });
        chunk.forEach((record, i) => {
          const key = String(record[keyField]);
          const result = results[i];
          if (result?.success) ids.set(key, result.id);
          else failures.push({ key, errors: (result?.errors ?? []).map(collectionError) });
        });
      }
    };
    await send(records);
    if (amend && failures.length > 0) {
      const byKey = new Map(records.map((r) => [String(r[keyField]), r]));
      const again = failures.map((f) => ({ f, record: amend(byKey.get(f.key)!, f) }));
      failures = again.filter((a) => a.record === null).map((a) => a.f);
      await send(again.flatMap((a) => (a.record ? [a.record] : [])));
    }
    if (failures.length > 0) throw recordFailuresError(object, failures, delays);
    return ids;
  }

  /** The StageName Opportunities show now, by subscription id; one that no longer exists is absent. One query. */
  async function currentStages(subscriptionIds: readonly string[]): Promise<Map<string, { id: string; stage: string | null }>> {
    const rows = await call('read Opportunity stages', async () =>
      conn.query<{ Id: string; StageName: string | null } & SalesforceRecord>(
        `SELECT Id, StageName, ${SUBSCRIPTION_ID_FIELD} FROM Opportunity WHERE ${SUBSCRIPTION_ID_FIELD} IN (${subscriptionIds.map(soqlString).join(', ')})`,
      ),
    );
    return new Map(rows.records.map((r) => [String(r[SUBSCRIPTION_ID_FIELD]), { id: r.Id, stage: r.StageName || null }]));
  }

  async function upsertAccount(input: AccountInput): Promise<CrmUpsertResult> {
    requireKey(input.customerId, 'customerId');
    const fields = stripeFields(input.fields);
    // input.recordId is not needed: an upsert by the customer id finds the Account without a lookup.
    return call('upsert Account', async () => {
      try {
        // Name and Website are shared with the people using the CRM: the first attempt leaves them out,
        // so an existing Account (ours, or one an admin linked by filling in the customer id) keeps them.
        return await upsertByCustomer('Account', input.customerId, fields);
      } catch (err) {
        // No Account has this customer id yet: create it, now with the required Name. The second
        // upsert is by the same key, so a retry after a timeout still finds a single Account.
        if (!isRequiredFieldMissing(err, 'Name')) throw err;
        return upsertByCustomer('Account', input.customerId, { ...fields, ...newAccountNaming(input) });
      }
    });
  }

  /** Stripe fields on an Account by its id (a roll-up record): a deleted one is CrmNotFoundError. */
  async function updateAccountFields(recordId: string, fields: CrmFields): Promise<void> {
    await call('update Account', async () => {
      const result: UpsertResult = await conn.sobject('Account').update({ Id: recordId, ...stripeFields(fields) }) as UpsertResult;
      if (!result.success) throw recordFailuresError('Account', [{ key: recordId, errors: result.errors.map(collectionError) }], delays);
    });
  }

  /** A contact someone created before the sync: same email, not yet linked to any Stripe customer. */
  async function findContact(customerId: string, email: string): Promise<{ Id: string; linked: boolean } | null> {
    const soql =
      `SELECT Id, ${customerKey} FROM Contact WHERE ${customerKey} = ${soqlString(customerId)} ` +
      `OR (Email = ${soqlString(email)} AND ${customerKey} = null) ORDER BY CreatedDate ASC LIMIT 10`;
    const result = await conn.query<{ Id: string } & Record<string, unknown>>(soql);
    const linked = result.records.find((r) => r[customerKey] !== null && r[customerKey] !== undefined);
    const match = linked ?? result.records[0];
    return match ? { Id: match.Id, linked: linked !== undefined } : null;
  }

  async function upsertContact(input: ContactInput): Promise<CrmUpsertResult> {
    requireKey(input.customerId, 'customerId');
    const record: SalesforceRecord = {
      ...stripeFields(input.fields),
      Email: input.email,
      ...contactNames(input),
      ...(input.accountId ? { AccountId: input.accountId } : {}),
    };
    const withLastName: SalesforceRecord = { LastName: lastNameFromEmail(input.email), ...record };
    return call('upsert Contact', async () => {
      const email = await contactEmailWrite(input, async (id) =>
        (await conn.query<{ Email: string | null }>(`SELECT Email FROM Contact WHERE Id = ${soqlString(id)} LIMIT 1`)).records[0]?.Email || null);
      if (!email.write) delete record.Email;
      const result = await writeContact();
      return email.conflict ? { ...result, emailConflict: email.conflict } : result;
    });

    async function writeContact(): Promise<CrmUpsertResult> {
      if (!input.recordId) {
        // First link: Salesforce does not key contacts by email as HubSpot does, so look for one to adopt
        // before creating a second contact for the same person.
        const found = await findContact(input.customerId, input.email);
        if (found && !found.linked) {
          const result = await conn.sobject('Contact').update({ Id: found.Id, ...record, [customerKey]: input.customerId });
          if (!result.success) throw recordFailuresError('Contact', [{ key: input.customerId, errors: result.errors.map(collectionError) }], delays);
          return { id: found.Id, created: false };
        }
        if (!found) return upsertByCustomer('Contact', input.customerId, withLastName);
      }
      try {
        return await upsertByCustomer('Contact', input.customerId, record);
      } catch (err) {
        // Linked contact deleted meanwhile, or no Stripe last name on a first create: create it.
        if (!isRequiredFieldMissing(err, 'LastName')) throw err;
        return upsertByCustomer('Contact', input.customerId, withLastName);
      }
    }
  }

  function opportunity(deal: DealInput, accountId: string | null, withStage = true): SalesforceRecord {
    return {
      [SUBSCRIPTION_ID_FIELD]: deal.subscriptionId,
      Name: truncate(deal.name, LIMITS.opportunityName),
      ...(withStage ? { StageName: stages[deal.stage] } : {}),
      CloseDate: deal.closeDate,
      Amount: deal.amount,
      [SUBSCRIPTION_STATUS_FIELD]: truncate(deal.status, 255),
      ...(accountId ? { AccountId: accountId } : {}),
    };
  }

  /**
   * A subscription's record on the custom subscription object: its Name, the Stripe details, and the
   * lookup to the customer's Account (B2B) or Contact (B2C). A date the plan does not carry is left as
   * it is; a null one is cleared.
   */
  function subscriptionRecord(deal: DealInput, links: { customerId: string; accountId: string | null; contactId: string | null }): SalesforceRecord {
    const F = SUBSCRIPTION_OBJECT_FIELDS;
    const record: SalesforceRecord = {
      [F.id]: deal.subscriptionId,
      Name: truncate(deal.name, RECORD_NAME_LENGTH),
      [F.status]: truncate(deal.status, 255),
      [F.stage]: deal.stage,
      [F.mrr]: deal.amount,
      [F.currency]: deal.currency,
      [F.customerId]: links.customerId,
      [F.startDate]: deal.closeDate,
    };
    if (deal.nextRenewalDate !== undefined) record[F.nextRenewalDate] = deal.nextRenewalDate;
    if (deal.trialEndDate !== undefined) record[F.trialEndDate] = deal.trialEndDate;
    if (deal.endDate !== undefined) record[F.endDate] = deal.endDate;
    if (mode === 'b2b' && links.accountId) record[F.account] = links.accountId;
    if (mode === 'b2c' && links.contactId) record[F.contact] = links.contactId;
    return record;
  }

  async function upsertDeals(input: DealsInput): Promise<Record<string, string>> {
    const deals = lastPerKey(input.deals, (d) => d.subscriptionId);
    if (deals.length === 0) return {};
    // Upserted by subscription id, so the deals' recordIds are not needed.
    for (const deal of deals) requireKey(deal.subscriptionId, 'subscriptionId');
    if (subscriptionObject) {
      const object = subscriptionObject;
      const ids = await call(`upsert ${object}`, () =>
        upsertCollection(object, SUBSCRIPTION_OBJECT_FIELDS.id, deals.map((deal) => subscriptionRecord(deal, input))),
      );
      return Object.fromEntries(ids);
    }
    // Once the Opportunity exists its stage follows its owner: read only where Stripe's stage moved.
    const withStage = await dealStageWrites(deals, stages, input, currentStages);
    const records = deals.map((deal, i) => opportunity(deal, input.accountId, withStage[i]));
    const stageOf = new Map(deals.map((d) => [d.subscriptionId, stages[d.stage]]));
    const ids = await call('upsert Opportunities', () =>
      upsertCollection('Opportunity', SUBSCRIPTION_ID_FIELD, records, (record, failure) =>
        // Written without its stage but gone from Salesforce meanwhile: created again, it needs one.
        record.StageName === undefined && failure.errors.some((e) => e.code === 'REQUIRED_FIELD_MISSING' && e.fields.includes('StageName'))
          ? { ...record, StageName: stageOf.get(failure.key)! }
          : null,
      ),
    );
    return Object.fromEntries(ids);
  }

  function task(entry: TimelineEntry, input: Pick<TimelineInput, 'accountId' | 'contactId'>): SalesforceRecord {
    return {
      [ACTIVITY_KEY_FIELD]: entry.key,
      Subject: truncate(entry.subject, LIMITS.subject),
      Description: truncate(entry.body, LIMITS.description),
      ActivityDate: toIsoDate(entry.occurredAt),
      Status: entry.actionable ? taskStatus.actionable : taskStatus.note,
      Priority: entry.actionable ? 'High' : 'Normal',
      ...(input.accountId ? { WhatId: input.accountId } : {}),
      ...(input.contactId ? { WhoId: input.contactId } : {}),
    };
  }

  async function writeTimeline(input: TimelineInput): Promise<{ keys: string[] }> {
    const entries = lastPerKey(input.entries, (e) => e.key);
    if (entries.length === 0) return { keys: [] };
    for (const entry of entries) requireKey(entry.key, 'timeline entry key');
    // An upsert by the entry's key: a replayed entry updates its Task rather than adding a second one.
    const ids = await call('upsert Tasks', () => upsertCollection('Task', ACTIVITY_KEY_FIELD, entries.map((entry) => task(entry, input))));
    return { keys: entries.map((e) => e.key).filter((key) => ids.has(key)) };
  }

  async function provision(): Promise<ProvisionReport> {
    const requirements = salesforceFieldRequirements(mode, overrides, subscriptionObject ?? undefined);
    const objects = [...new Set(requirements.map((r) => r.object))];
    const describes = await call('describe', async () => {
      const results = await Promise.all(objects.map(async (object) => [object, await describeIfPresent(object)] as const));
      return new Map(results.filter((r): r is readonly [string, DescribeSObjectResult] => r[1] !== null));
    });
    return checkSalesforceFields(requirements, describes);
  }

  /** A custom object that does not exist (or is hidden from the integration user) describes as NOT_FOUND: null. */
  async function describeIfPresent(object: string): Promise<DescribeSObjectResult | null> {
    try {
      return await conn.describe(object);
    } catch (err) {
      const e = err as { errorCode?: unknown; name?: unknown };
      if (subscriptionObject === object && (e.errorCode === 'NOT_FOUND' || e.name === 'NOT_FOUND')) return null;
      throw err;
    }
  }

  async function readAccount(customerId: string): Promise<CrmRecord | null> {
    requireKey(customerId, 'customerId');
    // The record holding the Stripe fields: the Account in B2B, the Contact in B2C.
    const object = mode === 'b2b' ? 'Account' : 'Contact';
    const fieldNames = Object.values(names).filter((name): name is string => name !== undefined);
    const soql = `SELECT Id, ${fieldNames.join(', ')} FROM ${object} WHERE ${customerKey} = ${soqlString(customerId)} ORDER BY CreatedDate ASC LIMIT 1`;
    const result = await call(`read ${object}`, async () => conn.query<{ Id: string } & Record<string, unknown>>(soql));
    const row = result.records[0];
    if (!row) return null;
    return { id: row.Id, properties: Object.fromEntries(fieldNames.map((name) => [name, stringOrNull(row[name])])) };
  }

  return {
    provider: 'salesforce', upsertAccount, updateAccountFields, upsertContact, upsertDeals, writeTimeline, provision, readAccount,
    scanAccounts: createSalesforceScanner({ conn, names, customerKey, mode, translate: (err) => toCrmError(err, 'scan records', delays) }),
    backfill: salesforceBackfillWriter({
      conn, customerKey, subscriptionKey: SUBSCRIPTION_ID_FIELD, activityKey: ACTIVITY_KEY_FIELD,
      ...(subscriptionObject ? { subscriptionObject } : {}),
      // An Opportunity the backfill knows exists keeps its stage (its lastStage is Stripe's stage: nothing to move).
      opportunity: subscriptionObject
        ? (deal, accountId) => subscriptionRecord(deal, { ...deal, accountId })
        : (deal, accountId) => opportunity(deal, accountId, dealStageWrittenBlind(deal, stages)),
      stripeFields, task, call, collectionError, delays,
    }),
    ...salesforceIdentityMethods({ conn, customerKey, call }),
  };
}

/** jsforce types record errors as `{ errorCode }`, but collection results spell it `statusCode`. */
function collectionError(error: unknown): { code: string; message: string; fields: string[] } {
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const code = typeof e.statusCode === 'string' ? e.statusCode : typeof e.errorCode === 'string' ? e.errorCode : 'UNKNOWN_ERROR';
  return {
    code,
    message: typeof e.message === 'string' ? e.message : '',
    fields: Array.isArray(e.fields) ? e.fields.filter((f): f is string => typeof f === 'string') : [],
  };
}
