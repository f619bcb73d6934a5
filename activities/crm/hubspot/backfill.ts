import { AssociationTypes } from '@hubspot/api-client';
import type { CrmFieldNameMap } from '../../../domain/crm-field-names.js';
import type { TimelineEntry } from '../../../domain/customer-events.js';
import {
  CrmValidationError,
  type AccountInput,
  type AccountUpdateInput,
  type BackfillActivityInput,
  type BackfillDealInput,
  type BatchWriteResult,
  type BulkResume,
  type ContactBatchHints,
  type ContactInput,
  type CrmBackfillWriter,
  type IdentityIndexAccount,
  type IdentityIndexContact,
  type IdentityIndexPage,
} from '../types.js';
import { hubspotCall, HubSpotRequestError, isApiException, throwOnBatchErrors, toCrmError } from './errors.js';
import { chunks } from '../batching.js';
import { associateDefaults, batchUpsert, HUBSPOT_BATCH_LIMIT, resultFor, type BatchWriteResponse, type HubSpotAssociationApi } from './batch.js';
import { contactProperties, fieldProperties } from './values.js';


interface CreateInput<C extends string> {
  properties: Record<string, string>;
  associations: Array<{ to: { id: string }; types: Array<{ associationCategory: C; associationTypeId: number }> }>;
  objectWriteTraceId?: string;
}

/**
 * The slices of the generated batch APIs the backfill uses. The client generates one copy of every
 * model per object type, so these name only the shapes they share; the association category is generic
 * because each module has its own enum of the same strings.
 */
export interface HubSpotBatchApi {
  upsert(input: { inputs: Array<{ idProperty: string; id: string; objectWriteTraceId: string; properties: Record<string, string> }> }): Promise<BatchWriteResponse>;
  read(input: { idProperty?: string; inputs: Array<{ id: string }>; properties: string[]; propertiesWithHistory: string[] }): Promise<BatchWriteResponse>;
}
export interface HubSpotCreateApi<C extends string> extends HubSpotBatchApi {
  create(input: { inputs: Array<CreateInput<C>> }): Promise<BatchWriteResponse>;
}
/** Writes by record id (the identity links of a backfill). */
export interface HubSpotUpdateApi {
  update(input: { inputs: Array<{ id: string; objectWriteTraceId?: string; properties: Record<string, string> }> }): Promise<BatchWriteResponse>;
}
/** The objects list endpoint (GET /crm/v3/objects/{type}), which pages through every record with an `after` cursor. */
export interface HubSpotListApi {
  getPage(limit?: number, after?: string, properties?: string[], propertiesWithHistory?: string[], associations?: string[], archived?: boolean): Promise<{
    results: Array<{ id: string; properties: Record<string, string | null>; associations?: Record<string, { results: Array<{ id: string }> }> }>;
    paging?: { next?: { after: string } };
  }>;
}

export interface HubSpotBackfillDeps {
  companies: HubSpotBatchApi & HubSpotUpdateApi;
  /** The identity index's pages of companies and of contacts (with their companies). */
  companyList: HubSpotListApi;
  contactList: HubSpotListApi;
  contacts: HubSpotCreateApi<string>;
  /** Deals, or the custom object subscriptions go to (CRM_SUBSCRIPTION_OBJECT; see `dealObjectType`). */
  deals: HubSpotCreateApi<string>;
  notes: HubSpotCreateApi<string>;
  tasks: HubSpotCreateApi<string>;
  associations: HubSpotAssociationApi;
  customerIdProperty: string;
  names: CrmFieldNameMap;
  mode: 'b2b' | 'b2c';
  subscriptionIdProperty: string;
  activityKeyProperty: string;
  dealProperties(deal: BackfillDealInput): Record<string, string>;
  /**
   * The object type `deals` writes, as the associations API names it: `deals` (default), or a custom
   * object, whose association type ids are the portal's own, so its records are upserted, then associated.
   */
  dealObjectType?: string;
  activityProperties(type: 'notes' | 'tasks', entry: TimelineEntry): Record<string, string>;
}

type Target = 'companies' | 'contacts';

/** HubSpot-defined association types (developers.hubspot.com, "Associations v4: association type ids"). */
const ASSOCIATION_TYPE: Readonly<Record<'contacts' | 'deals' | 'notes' | 'tasks', Partial<Record<Target, number>>>> = {
  contacts: { companies: AssociationTypes.contactToCompany },
  deals: { companies: AssociationTypes.dealToCompany, contacts: AssociationTypes.dealToContact },
  notes: { companies: AssociationTypes.noteToCompany, contacts: AssociationTypes.noteToContact },
  tasks: { companies: AssociationTypes.taskToCompany, contacts: AssociationTypes.taskToContact },
};

/** A row to write: its key (which the CRM keeps unique), what to write, and what to attach it to. */
interface Row {
  key: string;
  properties: Record<string, string>;
  targets: Array<{ type: Target; id: string }>;
}

/**
 * HubSpot refuses a whole batch for one invalid input. Halving isolates the refused records, so each
 * gets its reason in the migration log and the others are written; it costs extra requests only when
 * something is refused.
 */
async function isolating(rows: readonly Row[], write: (rows: readonly Row[]) => Promise<BatchWriteResult[]>): Promise<BatchWriteResult[]> {
  try {
    return await write(rows);
  } catch (err) {
    if (!(err instanceof CrmValidationError)) throw err;
    if (rows.length === 1) return [{ key: rows[0]!.key, ok: false, reason: err.message }];
    const mid = Math.ceil(rows.length / 2);
    return [...(await isolating(rows.slice(0, mid), write)), ...(await isolating(rows.slice(mid), write))];
  }
}

/**
 * The backfill's batch writes. Records others attach to are created with their associations in the
 * same request (one request per 100 on a CRM that does not have them yet, the common case of a first
 * backfill). When HubSpot refuses that because some already exist (a unique key is taken: the
 * real-time path or an earlier run wrote them), the batch is upserted by the same key and associated
 * instead, so neither path ever makes a second record for one Stripe object.
 */
export function hubspotBackfillWriter(deps: HubSpotBackfillDeps): CrmBackfillWriter {
  const { customerIdProperty, names } = deps;

  async function upsert(api: HubSpotBatchApi, what: string, idProperty: string, rows: readonly Row[]): Promise<BatchWriteResult[]> {
    return (await batchUpsert(api, what, idProperty, rows)).map((r): BatchWriteResult => ({ ...r, ok: true }));
  }

  async function associate(from: string, pairs: ReadonlyArray<{ from: string; to: string; type: Target }>): Promise<void> {
    for (const to of ['companies', 'contacts'] as const) await associateDefaults(deps.associations, from, to, pairs.filter((p) => p.type === to));
  }

  function createInput(type: 'contacts' | 'deals' | 'notes' | 'tasks', row: Row): CreateInput<string> {
    return {
      properties: row.properties,
      objectWriteTraceId: row.key,
      associations: row.targets.map((t) => ({ to: { id: t.id }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: ASSOCIATION_TYPE[type][t.type]! }] })),
    };
  }

  /**
   * One batch create with associations; null when HubSpot refused it (a 400/409: most likely a key that
   * exists already). A partial answer (207) keeps what was created; the rest comes back as refused.
   */
  async function tryCreate(api: HubSpotCreateApi<string>, type: 'contacts' | 'deals' | 'notes' | 'tasks', rows: readonly Row[]): Promise<{ created: BatchWriteResult[]; refused: Row[] }> {
    let response: BatchWriteResponse;
    try {
      response = await api.create({ inputs: rows.map((r) => createInput(type, r)) });
    } catch (err) {
      if (isApiException(err) && (err.code === 400 || err.code === 409)) return { created: [], refused: [...rows] };
      throw toCrmError(err);
    }
    const created: BatchWriteResult[] = [];
    const refused: Row[] = [];
    rows.forEach((row, i) => {
      const result = (response.errors ?? []).length === 0 ? resultFor(response, row.key, i, rows.length) : response.results.find((r) => r.objectWriteTraceId === row.key);
      if (result) created.push({ key: row.key, ok: true, id: result.id, created: true });
      else refused.push(row);
    });
    if (refused.length > 0 && (response.errors ?? []).length === 0) {
      throw new HubSpotRequestError(`HubSpot answered a create of ${type} without a result for ${refused[0]!.key}`, 200, null, null);
    }
    return { created, refused };
  }

  /** Create-with-associations, falling back to upsert-by-key plus associations for what was refused. */
  async function createOrUpsert(api: HubSpotCreateApi<string>, type: 'contacts' | 'deals', idProperty: string, rows: readonly Row[]): Promise<BatchWriteResult[]> {
    if (rows.length === 0) return [];
    const { created, refused } = await tryCreate(api, type, rows);
    if (refused.length === 0) return created;
    return [...created, ...(await upsertAssociating(api, type, idProperty, refused))];
  }

  /** Upsert by key, then associate what it wrote: an upsert cannot carry associations (associating twice is harmless). */
  async function upsertAssociating(api: HubSpotBatchApi, type: string, idProperty: string, rows: readonly Row[]): Promise<BatchWriteResult[]> {
    const byKey = new Map(rows.map((r) => [r.key, r]));
    return isolating(rows, async (chunk) => {
      const results = await upsert(api, type, idProperty, chunk);
      await associate(type, results.flatMap((r) => (r.ok ? (byKey.get(r.key)?.targets ?? []).map((t) => ({ from: r.id, to: t.id, type: t.type })) : [])));
      return results;
    });
  }


  /** Present keys among `keys`, read by a unique property (one request per 100). */
  async function readByKey(api: HubSpotBatchApi, what: string, idProperty: string, keys: readonly string[], normalise: (k: string) => string = (k) => k): Promise<Record<string, string>> {
    const found: Record<string, string> = {};
    for (const chunk of chunks(keys, HUBSPOT_BATCH_LIMIT)) {
      const response = await hubspotCall(() => api.read({ idProperty, inputs: chunk.map((id) => ({ id })), properties: [idProperty], propertiesWithHistory: [] }));
      throwOnBatchErrors(`reading ${what}`, response.errors, (e) => e.category === 'OBJECT_NOT_FOUND');
      for (const r of response.results) {
        const key = r.properties[idProperty];
        if (typeof key === 'string' && key !== '') found[normalise(key)] = r.id;
      }
    }
    return found;
  }

  return {
    batchLimit: HUBSPOT_BATCH_LIMIT,
    separateTaskObjects: true,
    supportsBulk: false,
    usesExistingEmails: true,

    async upsertAccounts(inputs: AccountInput[]): Promise<BatchWriteResult[]> {
      // Two inputs for one unique value would make HubSpot refuse the whole batch.
      const distinct = [...new Map(inputs.map((i) => [i.customerId, i])).values()];
      const rows = distinct.map((input): Row => {
        const properties = fieldProperties(input.fields, names, ['customer_id']);
        if (input.name !== null) properties.name = input.name;
        if (input.domain !== null) properties.domain = input.domain;
        return { key: input.customerId, properties, targets: [] };
      });
      const out: BatchWriteResult[] = [];
      for (const batch of chunks(rows, HUBSPOT_BATCH_LIMIT)) {
        out.push(...(await isolating(batch, (chunk) => upsert(deps.companies, 'companies', customerIdProperty, chunk))));
      }
      return out;
    },

    async upsertContacts(inputs: ContactInput[], _bulk?: BulkResume, hints?: ContactBatchHints): Promise<BatchWriteResult[]> {
      // Keyed by email, as HubSpot keys contacts: customers sharing one share its contact (the last one's
      // Stripe id stays on it, as the real-time path's upserts would leave it).
      const byEmail = new Map<string, ContactInput[]>();
      for (const input of inputs) {
        const email = input.email.trim().toLowerCase();
        byEmail.set(email, [...(byEmail.get(email) ?? []), input]);
      }
      const rows = [...byEmail.entries()].map(([email, group]): Row => {
        const last = group[group.length - 1]!;
        const targets = deps.mode === 'b2b' ? [...new Set(group.map((g) => g.accountId).filter((id): id is string => id !== null))].map((id) => ({ type: 'companies' as const, id })) : [];
        return { key: email, properties: { ...contactProperties(last, names, customerIdProperty, deps.mode), email }, targets };
      });
      const results: BatchWriteResult[] = [];
      for (const chunk of chunks(rows, HUBSPOT_BATCH_LIMIT)) {
        // HubSpot refuses a whole batch create over one existing email: a batch known to hold one goes
        // straight to upsert and associate (two requests, not a refused create and then those two).
        const holdsExisting = chunk.some((r) => hints?.existingEmails?.has(r.key));
        results.push(...(await (holdsExisting ? upsertAssociating(deps.contacts, 'contacts', 'email', chunk) : createOrUpsert(deps.contacts, 'contacts', 'email', chunk))));
      }
      const byKey = new Map(results.map((r) => [r.key, r]));
      return inputs.map((input): BatchWriteResult => {
        const result = byKey.get(input.email.trim().toLowerCase());
        if (!result) return { key: input.customerId, ok: false, reason: 'HubSpot returned no result for this contact' };
        return { ...result, key: input.customerId };
      });
    },

    async upsertDeals(inputs: BackfillDealInput[]): Promise<BatchWriteResult[]> {
      const distinct = [...new Map(inputs.map((d) => [d.subscriptionId, d])).values()];
      const rows = distinct.map((deal): Row => {
        // The real-time path's rule: the company in B2B, else the contact.
        const target: { type: Target; id: string } | null =
          deps.mode === 'b2b' && deal.accountId !== null ? { type: 'companies', id: deal.accountId } : deal.contactId !== null ? { type: 'contacts', id: deal.contactId } : null;
        return { key: deal.subscriptionId, properties: { ...deps.dealProperties(deal), [deps.subscriptionIdProperty]: deal.subscriptionId }, targets: target ? [target] : [] };
      });
      const out: BatchWriteResult[] = [];
      const objectType = deps.dealObjectType ?? 'deals';
      for (const chunk of chunks(rows, HUBSPOT_BATCH_LIMIT)) {
        out.push(...(objectType === 'deals' ? await createOrUpsert(deps.deals, 'deals', deps.subscriptionIdProperty, chunk) : await upsertAssociating(deps.deals, objectType, deps.subscriptionIdProperty, chunk)));
      }
      return out;
    },

    async writeActivities(inputs: BackfillActivityInput[]): Promise<BatchWriteResult[]> {
      const distinct = [...new Map(inputs.map((a) => [a.entry.key, a])).values()];
      const out: BatchWriteResult[] = [];
      for (const type of ['notes', 'tasks'] as const) {
        const api = type === 'notes' ? deps.notes : deps.tasks;
        const rows = distinct.filter((a) => a.entry.actionable === (type === 'tasks')).map((a): Row => ({
          key: a.entry.key,
          properties: deps.activityProperties(type, a.entry),
          targets: [
            ...(a.accountId !== null ? [{ type: 'companies' as const, id: a.accountId }] : []),
            ...(a.contactId !== null ? [{ type: 'contacts' as const, id: a.contactId }] : []),
          ],
        }));
        for (const chunk of chunks(rows, HUBSPOT_BATCH_LIMIT)) {
          const { created, refused } = await tryCreate(api, type, chunk);
          out.push(...created);
          if (refused.length === 0) continue;
          // Refused, wholly or in part: most likely some keys exist already (the real-time path wrote them,
          // or a retry after a lost answer). Those stay as they are (a completed task is not reopened); the
          // absent ones are created, and a genuinely invalid one is refused again, alone.
          const present = await readByKey(api, type, deps.activityKeyProperty, refused.map((r) => r.key));
          for (const r of refused) if (present[r.key]) out.push({ key: r.key, ok: true, id: present[r.key]!, created: false });
          const missing = refused.filter((r) => !present[r.key]);
          out.push(...(await isolating(missing, async (rows2) => {
            const again = await tryCreate(api, type, rows2);
            if (again.refused.length > 0) {
              throw new CrmValidationError(`HubSpot refused to create ${again.refused.length} of ${rows2.length} ${type}`);
            }
            return again.created;
          })));
        }
      }
      return out;
    },

    findAccounts: (customerIds) => readByKey(deps.companies, 'companies', customerIdProperty, customerIds),

    async findContacts(inputs): Promise<Record<string, string>> {
      const withEmail = inputs.filter((i) => i.email !== null);
      const byEmail = await readByKey(deps.contacts, 'contacts', 'email', withEmail.map((i) => i.email!.trim().toLowerCase()), (k) => k.toLowerCase());
      const byId = await readByKey(deps.contacts, 'contacts', customerIdProperty, inputs.filter((i) => i.email === null).map((i) => i.customerId));
      const found: Record<string, string> = {};
      for (const i of inputs) {
        const id = i.email !== null ? byEmail[i.email.trim().toLowerCase()] : byId[i.customerId];
        if (id) found[i.customerId] = id;
      }
      return found;
    },

    findDeals: (subscriptionIds) => readByKey(deps.deals, 'deals', deps.subscriptionIdProperty, subscriptionIds),

    async listAccountsForIdentity(cursor: string | null): Promise<IdentityIndexPage<IdentityIndexAccount>> {
      const page = await hubspotCall(() => deps.companyList.getPage(HUBSPOT_BATCH_LIMIT, cursor ?? undefined, ['name', 'domain', customerIdProperty], undefined, undefined, false));
      return {
        rows: page.results.map((c) => ({ recordId: c.id, name: c.properties.name || null, domain: c.properties.domain || null, stripeCustomerId: c.properties[customerIdProperty] || null })),
        next: page.paging?.next?.after ?? null,
      };
    },

    async listContactsForIdentity(cursor: string | null): Promise<IdentityIndexPage<IdentityIndexContact>> {
      // The list reads each contact's companies with it (`associations=companies`): one request per 100 contacts.
      const page = await hubspotCall(() => deps.contactList.getPage(HUBSPOT_BATCH_LIMIT, cursor ?? undefined, ['email'], undefined, ['companies'], false));
      return {
        rows: page.results.flatMap((c) => {
          const email = c.properties.email?.trim();
          // HubSpot lists a labelled association once per label: one company, one row.
          const accountIds = [...new Set((c.associations?.companies?.results ?? []).map((a) => String(a.id)))];
          return email && accountIds.length > 0 ? [{ contactId: c.id, email, accountIds }] : [];
        }),
        next: page.paging?.next?.after ?? null,
      };
    },

    async updateAccounts(inputs: AccountUpdateInput[]): Promise<BatchWriteResult[]> {
      const distinct = [...new Map(inputs.map((i) => [i.customerId, i])).values()];
      const recordOf = new Map(distinct.map((i) => [i.customerId, i.recordId]));
      const rows = distinct.map((input): Row => {
        // The Stripe id stamped on the record: later upserts by it (a rerun, the customer's workflow) land here.
        const properties = { ...fieldProperties(input.fields, names, ['customer_id']), [customerIdProperty]: input.customerId };
        if (input.name !== null) properties.name = input.name;
        if (input.domain !== null) properties.domain = input.domain;
        return { key: input.customerId, properties, targets: [] };
      });
      const out: BatchWriteResult[] = [];
      for (const batch of chunks(rows, HUBSPOT_BATCH_LIMIT)) {
        out.push(...(await isolating(batch, async (chunk) => {
          const response = await hubspotCall(() => deps.companies.update({
            inputs: chunk.map((r) => ({ id: recordOf.get(r.key)!, objectWriteTraceId: r.key, properties: r.properties })),
          }));
          // A record deleted or merged since the index read it: that customer fails with the reason, the others are written.
          throwOnBatchErrors('updating companies', response.errors, (e) => e.category === 'OBJECT_NOT_FOUND');
          const byId = new Map(response.results.map((r) => [r.id, r]));
          return chunk.map((row): BatchWriteResult => {
            const recordId = recordOf.get(row.key)!;
            return byId.has(recordId)
              ? { key: row.key, ok: true, id: recordId, created: false }
              : { key: row.key, ok: false, reason: `the matched company ${recordId} no longer exists in HubSpot` };
          });
        })));
      }
      return out;
    },

    async findActivities(keys: string[]): Promise<Record<string, string>> {
      return { ...(await readByKey(deps.notes, 'notes', deps.activityKeyProperty, keys)), ...(await readByKey(deps.tasks, 'tasks', deps.activityKeyProperty, keys)) };
    },
  };
}
