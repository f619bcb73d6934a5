import { AssociationTypes } from '@hubspot/api-client';
import { crmFieldNames, crmPropertyDefinitions, type CrmFieldNameOverrides } from '../../../domain/crm-field-names.js';
import type { TimelineEntry } from '../../../domain/customer-events.js';
import { InvalidCrmFieldNameError } from '../../../domain/errors.js';
import { CrmNotFoundError } from '../types.js';
import { contactEmailWrite, dealStageWrites, dealStageWrittenBlind } from '../ownership.js';
import type {
  AccountInput,
  ContactInput,
  CrmAdapter,
  CrmFields,
  CrmRecord,
  DealInput,
  DealsInput,
  DealStage,
  ProvisionReport,
  RequestGate,
  TimelineInput,
  UpsertResult,
} from '../types.js';
import { hubspotBackfillWriter, type HubSpotCreateApi } from './backfill.js';
import { hubspotIdentityMethods } from './identity.js';
import { hubspotCall, HubSpotRequestError, isApiException, throwOnBatchErrors, toCrmError } from './errors.js';
import { chunks } from '../batching.js';
import { associateDefaults, batchUpsert, HUBSPOT_BATCH_LIMIT, type BatchWriteResponse, type UpsertApi } from './batch.js';
import { createHubSpotClient } from './client.js';
import { provisionObject, specFromDefinition, type PropertySpec } from './provision.js';
import { createHubSpotScanner } from './reconcile.js';
import { hubspotSubscriptionObject, provisionSubscriptionObject, subscriptionObjectProperties } from './subscription-object.js';
import { contactProperties, escapeHtml, fieldProperties, hubspotValue, isoInstant } from './values.js';

export { HubSpotRequestError } from './errors.js';
export { STRIPE_GROUP } from './provision.js';

/** Deal property holding the Stripe subscription id; unique, so deals are upserted by it. */
export const SUBSCRIPTION_ID_PROPERTY = 'stripe_subscription_id';
export const SUBSCRIPTION_STATUS_PROPERTY = 'stripe_subscription_status';
/** Note and task property holding TimelineEntry.key; unique, so a replayed entry finds the activity it wrote. */
export const ACTIVITY_KEY_PROPERTY = 'stripe_activity_key';

/** Stages of HubSpot's default sales pipeline. */
export const DEFAULT_DEAL_STAGES: Readonly<Record<DealStage, string>> = { open: 'qualifiedtobuy', won: 'closedwon', lost: 'closedlost' };

export interface HubSpotAdapterOptions {
  /** Private app (or OAuth) access token. */
  accessToken: string;
  /** API origin; default https://api.hubapi.com. Tests and the demo point it at the sandbox. */
  baseUrl?: string | undefined;
  /** Renames or switches off logical fields; `customer_id` cannot be switched off (companies are upserted by it). */
  fieldNameOverrides?: CrmFieldNameOverrides | undefined;
  /** b2b: the Stripe fields live on the company; b2c: on the contact. */
  mode: 'b2b' | 'b2c';
  /** Pipeline id for deals; default `default`. */
  dealPipeline?: string | undefined;
  /** Stage ids of that pipeline per deal stage; default DEFAULT_DEAL_STAGES. */
  dealStages?: Partial<Record<DealStage, string>> | undefined;
  /**
   * Write the subscription currency to `deal_currency_code`. Default true. A portal without that
   * currency enabled refuses the deal (a loud dead letter rather than an amount in the wrong currency).
   */
  writeDealCurrency?: boolean | undefined;
  /** The shared request budget every request waits on (all workers together stay within HubSpot's limit). */
  requestGate?: RequestGate | undefined;
  /**
   * CRM_SUBSCRIPTION_OBJECT: write subscriptions to this custom object (its name, `p<portal>_<name>` or
   * `2-<n>`) instead of deals. Absent: deals.
   */
  subscriptionObject?: string | undefined;
}



/** Keeps the first item per key: two inputs for one unique value would make HubSpot refuse the whole batch. */
function distinctBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item);
  return [...seen.values()];
}

/**
 * The slices of the generated batch APIs used here. The client generates one copy of every model per
 * object type (companies, contacts, deals, ...), so these name only the shapes they share.
 */
/** Generic in the association category: each generated module has its own enum of the same strings. */
interface ActivityInput<C extends string> {
  properties: Record<string, string>;
  associations: Array<{ to: { id: string }; types: Array<{ associationCategory: C; associationTypeId: number }> }>;
  objectWriteTraceId?: string;
}
interface ActivityApi<C extends string> {
  create(input: { inputs: Array<ActivityInput<C>> }): Promise<BatchWriteResponse>;
  read(input: { idProperty: string; inputs: Array<{ id: string }>; properties: string[]; propertiesWithHistory: string[] }): Promise<BatchWriteResponse>;
}

type ActivityType = 'notes' | 'tasks';
type TargetType = 'companies' | 'contacts';

/** HubSpot-defined association types from an activity to the records whose timelines show it. */
const ACTIVITY_ASSOCIATIONS: Readonly<Record<ActivityType, Record<TargetType, number>>> = {
  notes: { companies: AssociationTypes.noteToCompany, contacts: AssociationTypes.noteToContact },
  tasks: { companies: AssociationTypes.taskToCompany, contacts: AssociationTypes.taskToContact },
};

interface Keyed {
  key: string;
  properties: Record<string, string>;
}

interface Upserted {
  id: string;
  created: boolean;
}

/**
 * The HubSpot CRM adapter. Every write is an upsert by a unique property or a create guarded by one,
 * so a retried activity never duplicates a record, and each method makes one request in the steady
 * state (a first link adds one association request).
 *
 * Ownership of shared fields (company name and domain, contact names) is not decided here yet: they
 * are written whenever known and never cleared.
 */
export function createHubSpotAdapter(options: HubSpotAdapterOptions): CrmAdapter {
  const overrides = options.fieldNameOverrides ?? {};
  const names = crmFieldNames('hubspot', overrides);
  const customerIdProperty = names.customer_id;
  if (customerIdProperty === undefined) {
    throw new InvalidCrmFieldNameError('customer_id cannot be switched off for HubSpot: companies and contacts are matched by it');
  }
  const stages = { ...DEFAULT_DEAL_STAGES, ...options.dealStages };
  const pipeline = options.dealPipeline ?? 'default';
  const writeDealCurrency = options.writeDealCurrency ?? true;
  const subscriptionObject = hubspotSubscriptionObject(options.subscriptionObject);

  const client = createHubSpotClient(options);
  // The client binds retry decorators from a process-wide singleton, which every `new Client()` replaces,
  // when an API group is first touched: touching them all now keeps this adapter free of retries
  // whatever clients are created later in the process.
  const { crm } = client;
  const apis = {
    companies: crm.companies.batchApi,
    companyReads: crm.companies.basicApi,
    contacts: crm.contacts.basicApi,
    contactBatch: crm.contacts.batchApi,
    deals: crm.deals.batchApi,
    objects: crm.objects.batchApi,
    schemas: crm.schemas.coreApi,
    notes: crm.objects.notes.batchApi,
    tasks: crm.objects.tasks.batchApi,
    associations: crm.associations.v4.batchApi,
    properties: { groups: crm.properties.groupsApi, core: crm.properties.coreApi, batch: crm.properties.batchApi },
  };

  /** The generic objects API bound to the custom subscription object (the slices the adapter and the backfill use). */
  const subscriptionObjectApi = subscriptionObject
    ? {
        upsert: (body: Parameters<typeof apis.objects.upsert>[1]) => apis.objects.upsert(subscriptionObject.path, body),
        read: (body: Parameters<typeof apis.objects.read>[1]) => apis.objects.read(subscriptionObject.path, body),
        create: (body: Parameters<typeof apis.objects.create>[1]) => apis.objects.create(subscriptionObject.path, body),
      }
    : null;

  /** Upserts rows by `idProperty`, one request per 100; results come back in row order. */
  async function upsert(api: UpsertApi, what: string, idProperty: string, rows: readonly Keyed[]): Promise<Upserted[]> {
    const out: Upserted[] = [];
    for (const chunk of chunks(rows, HUBSPOT_BATCH_LIMIT)) out.push(...(await batchUpsert(api, what, idProperty, chunk)).map(({ id, created }) => ({ id, created })));
    return out;
  }

  /** Default (unlabelled) associations, one request per 100. */
  async function associateDefault(from: string, to: TargetType, pairs: ReadonlyArray<{ from: string; to: string }>): Promise<void> {
    for (const chunk of chunks(pairs, HUBSPOT_BATCH_LIMIT)) await associateDefaults(apis.associations, from, to, chunk);
  }

  /** The contact's email, or null when it has none or no longer exists. */
  async function contactEmail(id: string): Promise<string | null> {
    try {
      return (await apis.contacts.getById(id, ['email'])).properties.email || null;
    } catch (err) {
      if (isApiException(err) && err.code === 404) return null;
      throw toCrmError(err);
    }
  }

  /** PATCH by record id; null when the contact no longer exists (deleted in HubSpot). */
  async function updateContact(id: string, properties: Record<string, string>): Promise<Upserted | null> {
    try {
      const updated = await apis.contacts.update(id, { properties });
      return { id: updated.id, created: false };
    } catch (err) {
      if (isApiException(err) && err.code === 404) return null;
      throw toCrmError(err);
    }
  }

  function dealProperties(deal: DealInput, withStage = true): Record<string, string> {
    const properties: Record<string, string> = {
      dealname: deal.name,
      amount: hubspotValue(deal.amount),
      pipeline,
      ...(withStage ? { dealstage: stages[deal.stage] } : {}),
      closedate: `${deal.closeDate}T00:00:00.000Z`,
      [SUBSCRIPTION_STATUS_PROPERTY]: deal.status,
    };
    if (writeDealCurrency && deal.currency !== null) properties.deal_currency_code = deal.currency.toUpperCase();
    return properties;
  }

  /** The stages deals show now, by subscription id; a deal that no longer exists is absent. One batch read. */
  async function currentStages(subscriptionIds: readonly string[]): Promise<Map<string, { id: string; stage: string | null }>> {
    const response: BatchWriteResponse = await hubspotCall(() =>
      apis.deals.read({ idProperty: SUBSCRIPTION_ID_PROPERTY, inputs: subscriptionIds.map((id) => ({ id })), properties: ['dealstage', SUBSCRIPTION_ID_PROPERTY], propertiesWithHistory: [] }),
    );
    throwOnBatchErrors('reading deal stages', response.errors, (e) => e.category === 'OBJECT_NOT_FOUND');
    const out = new Map<string, { id: string; stage: string | null }>();
    for (const deal of response.results) {
      const key = deal.properties[SUBSCRIPTION_ID_PROPERTY];
      if (key) out.set(key, { id: deal.id, stage: deal.properties.dealstage || null });
    }
    return out;
  }

  function activityProperties(type: ActivityType, entry: TimelineEntry): Record<string, string> {
    const common = { hs_timestamp: isoInstant(entry.occurredAt), [ACTIVITY_KEY_PROPERTY]: entry.key };
    if (type === 'notes') {
      return { ...common, hs_note_body: `<p><strong>${escapeHtml(entry.subject)}</strong></p><p>${escapeHtml(entry.body)}</p>` };
    }
    return { ...common, hs_task_subject: entry.subject, hs_task_body: escapeHtml(entry.body), hs_task_status: 'NOT_STARTED' };
  }

  /** Keys of the activities that exist among `keys`, by the unique key property. */
  async function existingActivityKeys<C extends string>(api: ActivityApi<C>, type: ActivityType, keys: readonly string[]): Promise<Set<string>> {
    const response = await hubspotCall(() =>
      api.read({
        idProperty: ACTIVITY_KEY_PROPERTY,
        inputs: keys.map((id) => ({ id })),
        properties: [ACTIVITY_KEY_PROPERTY],
        propertiesWithHistory: [],
      }),
    );
    throwOnBatchErrors(`reading ${type}`, response.errors, (e) => e.category === 'OBJECT_NOT_FOUND');
    return new Set(response.results.map((r) => r.properties[ACTIVITY_KEY_PROPERTY]).filter((k): k is string => typeof k === 'string'));
  }

  /**
   * Creates activities with their associations in the same request, so one never exists without them.
   * Batch upsert would be idempotent too but cannot carry associations, and it would reopen a task a
   * person has completed when an entry is replayed; a create guarded by the unique key does neither.
   */
  async function writeActivities<C extends string>(
    api: ActivityApi<C>,
    type: ActivityType,
    entries: readonly TimelineEntry[],
    targets: ReadonlyArray<{ type: TargetType; id: string }>,
  ): Promise<void> {
    const associationCategory = 'HUBSPOT_DEFINED' as C;
    const associations = targets.map((t) => ({
      to: { id: t.id },
      types: [{ associationCategory, associationTypeId: ACTIVITY_ASSOCIATIONS[type][t.type] }],
    }));
    const input = (entry: TimelineEntry): ActivityInput<C> => ({ properties: activityProperties(type, entry), associations, objectWriteTraceId: entry.key });
    for (const chunk of chunks(entries, HUBSPOT_BATCH_LIMIT)) {
      try {
        const response = await api.create({ inputs: chunk.map(input) });
        if ((response.errors ?? []).length === 0) continue;
      } catch (err) {
        if (!isApiException(err) || (err.code !== 400 && err.code !== 409)) throw toCrmError(err);
      }
      // Refused, wholly or in part: most likely some keys exist already (a retry after a lost answer, a
      // replayed event). Create only the absent ones; a genuinely invalid entry is refused again and thrown.
      const present = await existingActivityKeys(api, type, chunk.map((e) => e.key));
      const missing = chunk.filter((e) => !present.has(e.key));
      if (missing.length === 0) continue;
      const response = await hubspotCall(() => api.create({ inputs: missing.map(input) }));
      throwOnBatchErrors(`creating ${type}`, response.errors);
    }
  }

  return {
    provider: 'hubspot',
    scanAccounts: createHubSpotScanner({ accessToken: options.accessToken, baseUrl: options.baseUrl, requestGate: options.requestGate, names, customerIdProperty, mode: options.mode }),
    backfill: hubspotBackfillWriter({
      companies: apis.companies,
      companyList: apis.companyReads,
      contactList: apis.contacts,
      // The generated modules differ only in their enums of the same association category strings.
      contacts: apis.contactBatch as unknown as HubSpotCreateApi<string>,
      deals: (subscriptionObjectApi ?? apis.deals) as unknown as HubSpotCreateApi<string>,
      ...(subscriptionObject ? { dealObjectType: subscriptionObject.path } : {}),
      notes: apis.notes as unknown as HubSpotCreateApi<string>,
      tasks: apis.tasks as unknown as HubSpotCreateApi<string>,
      associations: apis.associations,
      customerIdProperty, names, mode: options.mode,
      subscriptionIdProperty: SUBSCRIPTION_ID_PROPERTY, activityKeyProperty: ACTIVITY_KEY_PROPERTY,
      // A deal the backfill knows exists keeps its stage (its lastStage is Stripe's stage: nothing to move).
      dealProperties: subscriptionObject ? subscriptionObjectProperties : (deal) => dealProperties(deal, dealStageWrittenBlind(deal, stages)),
      activityProperties,
    }),
    ...hubspotIdentityMethods({ client, customerIdProperty }),

    async upsertAccount(input: AccountInput): Promise<UpsertResult> {
      const properties = fieldProperties(input.fields, names, ['customer_id']);
      if (input.name !== null) properties.name = input.name;
      if (input.domain !== null) properties.domain = input.domain;
      const [company] = await upsert(apis.companies, 'companies', customerIdProperty, [{ key: input.customerId, properties }]);
      if (!company) throw new HubSpotRequestError('HubSpot answered a company upsert without a result', 200, null, null);
      return company;
    },

    async updateAccountFields(recordId: string, fields: CrmFields): Promise<void> {
      try {
        await apis.companyReads.update(recordId, { properties: fieldProperties(fields, names, ['customer_id']) });
      } catch (err) {
        if (isApiException(err) && err.code === 404) throw new CrmNotFoundError(`HubSpot company ${recordId} no longer exists`);
        throw toCrmError(err);
      }
    },

    async upsertContact(input: ContactInput): Promise<UpsertResult> {
      const properties = contactProperties(input, names, customerIdProperty, options.mode);
      const knownId = input.recordId ?? null;
      const email = await contactEmailWrite(input, contactEmail);
      if (!email.write) delete properties.email;
      const emailConflict = email.conflict;
      // By id when known, so a changed email updates the person's contact instead of creating another.
      const updated = knownId !== null ? await updateContact(knownId, properties) : null;
      const contact = updated ?? (await upsert(apis.contactBatch, 'contacts', 'email', [{ key: input.email, properties: { ...properties, email: input.email } }]))[0];
      if (!contact) throw new HubSpotRequestError('HubSpot answered a contact upsert without a result', 200, null, null);
      if (updated && emailConflict) return { ...contact, emailConflict };
      // A contact the caller did not know under this id has not been linked by it yet. A retry after a
      // lost answer still passes no id, so a link that failed half-way is made then.
      if (input.accountId !== null && (contact.created || contact.id !== knownId)) {
        await associateDefault('contacts', 'companies', [{ from: contact.id, to: input.accountId }]);
      }
      return contact;
    },

    async upsertDeals(input: DealsInput): Promise<Record<string, string>> {
      const deals = distinctBy(input.deals, (d) => d.subscriptionId);
      if (deals.length === 0) return {};
      // A custom object is upserted by the same unique property name, through the generic objects API.
      const objectType = subscriptionObject?.path ?? 'deals';
      const api: UpsertApi = subscriptionObjectApi ?? apis.deals;
      // The custom object's stage is a Stripe field of our own; a deal's belongs to the CRM once it exists.
      const withStage = subscriptionObject ? deals.map(() => true) : await dealStageWrites(deals, stages, input, currentStages);
      const properties = (deal: DealInput, i: number) =>
        (subscriptionObject ? subscriptionObjectProperties({ ...deal, customerId: input.customerId }) : dealProperties(deal, withStage[i]));
      const results = await upsert(
        api,
        objectType,
        SUBSCRIPTION_ID_PROPERTY,
        deals.map((deal, i) => ({ key: deal.subscriptionId, properties: properties(deal, i) })),
      );
      // A deal written without its stage but created by this upsert (deleted in HubSpot meanwhile) gets it now.
      const bare = deals.flatMap((deal, i) => (!withStage[i] && results[i]?.created ? [{ id: results[i].id, properties: { dealstage: stages[deal.stage] } }] : []));
      if (bare.length > 0) {
        const response: BatchWriteResponse = await hubspotCall(() => apis.deals.update({ inputs: bare }));
        throwOnBatchErrors('setting the stage of re-created deals', response.errors);
      }
      const target: { type: TargetType; id: string } | null =
        options.mode === 'b2b' && input.accountId !== null
          ? { type: 'companies', id: input.accountId }
          : input.contactId !== null
            ? { type: 'contacts', id: input.contactId }
            : null;
      const ids: Record<string, string> = {};
      const unlinked: string[] = [];
      deals.forEach((deal, i) => {
        const result = results[i];
        if (!result) return;
        ids[deal.subscriptionId] = result.id;
        // Same rule as contacts: a deal id the caller has not recorded may not be associated yet.
        if (result.created || (deal.recordId ?? null) !== result.id) unlinked.push(result.id);
      });
      if (target && unlinked.length > 0) await associateDefault(objectType, target.type, unlinked.map((id) => ({ from: id, to: target.id })));
      return ids;
    },

    async writeTimeline(input: TimelineInput): Promise<{ keys: string[] }> {
      const entries = distinctBy(input.entries, (e) => e.key);
      const targets: Array<{ type: TargetType; id: string }> = [];
      if (input.accountId !== null) targets.push({ type: 'companies', id: input.accountId });
      if (input.contactId !== null) targets.push({ type: 'contacts', id: input.contactId });
      // An activity on no record shows on no timeline: the entries stay pending until a record exists.
      if (entries.length === 0 || targets.length === 0) return { keys: [] };
      const notes = entries.filter((e) => !e.actionable);
      const tasks = entries.filter((e) => e.actionable);
      if (notes.length > 0) await writeActivities(apis.notes, 'notes', notes, targets);
      if (tasks.length > 0) await writeActivities(apis.tasks, 'tasks', tasks, targets);
      return { keys: entries.map((e) => e.key) };
    },

    async provision(): Promise<ProvisionReport> {
      const report: ProvisionReport = { created: [], existing: [], missing: [] };
      const stripeFields = crmPropertyDefinitions('hubspot', overrides).map((d) => specFromDefinition(d, d.field === 'customer_id'));
      const customerIdOnly = stripeFields.filter((s) => s.name === customerIdProperty);
      const text = (name: string, label: string, description: string, unique: boolean): PropertySpec => ({
        name, label, description, type: 'string', fieldType: 'text', options: [], unique,
      });
      const activityKey = text(ACTIVITY_KEY_PROPERTY, 'Stripe Activity Key', 'The Stripe occurrence this activity records; replays find it instead of adding another.', true);
      await provisionObject(apis.properties, 'companies', stripeFields, report);
      await provisionObject(apis.properties, 'contacts', options.mode === 'b2c' ? stripeFields : customerIdOnly, report);
      if (subscriptionObject) {
        await provisionSubscriptionObject({ schemas: apis.schemas, properties: apis.properties }, subscriptionObject, options.mode, report);
      } else {
        await provisionObject(apis.properties, 'deals', [
          text(SUBSCRIPTION_ID_PROPERTY, 'Stripe Subscription ID', 'Stripe subscription id (sub_...): one deal per subscription.', true),
          // Text, not a select: a status Stripe adds later must not make deal writes fail.
          text(SUBSCRIPTION_STATUS_PROPERTY, 'Stripe Subscription Status', 'Status of the subscription in Stripe.', false),
        ], report);
      }
      await provisionObject(apis.properties, 'notes', [activityKey], report);
      await provisionObject(apis.properties, 'tasks', [activityKey], report);
      return report;
    },

    async readAccount(customerId: string): Promise<CrmRecord | null> {
      const wanted = ['name', 'domain', ...Object.values(names)];
      try {
        const company = await apis.companyReads.getById(customerId, wanted, undefined, undefined, false, customerIdProperty);
        const properties: Record<string, string | null> = {};
        for (const name of wanted) properties[name] = company.properties[name] ?? null;
        return { id: company.id, properties };
      } catch (err) {
        if (isApiException(err) && err.code === 404) return null;
        throw toCrmError(err);
      }
    },
  };
}
