import { AssociationTypes, type Client } from '@hubspot/api-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createHubSpotAdapter,
  HubSpotRequestError,
  type HubSpotAdapterOptions,
} from '../../activities/crm/hubspot/index.js';
import {
  CrmRateLimitError,
  CrmValidationError,
  type CrmAdapter,
  type CrmFields,
  type DealInput,
  type StageConflict,
} from '../../activities/crm/types.js';
import { CRM_FIELD_NAMES } from '../../domain/crm-field-names.js';
import type { TimelineEntry } from '../../domain/customer-events.js';
import { hubspotClientFor, startHubSpotSandbox, type RunningHubSpotSandbox } from '../../sandboxes/hubspot/index.js';

let running: RunningHubSpotSandbox;
/** The official client, reading back what a HubSpot user would see (its own token, so its reads count apart). */
let hubspot: Client;

beforeAll(async () => {
  running = await startHubSpotSandbox({ rateLimit: { max: 100_000 }, searchRateLimit: { max: 100_000 } });
  hubspot = hubspotClientFor(running.url, 'reader-token');
});

afterAll(async () => {
  await running.close();
});

beforeEach(() => {
  running.sandbox.reset();
  running.sandbox.injector.clear();
});

function adapter(mode: 'b2b' | 'b2c' = 'b2b', extra: Partial<HubSpotAdapterOptions> = {}, url = running.url): CrmAdapter {
  return createHubSpotAdapter({ accessToken: 'adapter-token', baseUrl: url, mode, ...extra });
}

/** Runs one adapter call and counts the HubSpot requests it made. */
async function counted<T>(call: () => Promise<T>): Promise<{ value: T; requests: number }> {
  running.sandbox.requests.reset();
  const value = await call();
  return { value, requests: running.sandbox.requests.total };
}

async function rejection(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

const FIELDS: CrmFields = {
  customer_id: 'cus_1',
  subscription_status: 'active',
  mrr: 49.5,
  currency: 'USD',
  plan_name: 'Pro',
  next_renewal_date: '2026-12-01',
  payment_method_status: 'valid',
  delinquent: false,
  failed_payment_count: 0,
  synced_at: '2026-11-27T12:00:00.000Z',
};

const STRIPE_PROPERTIES = CRM_FIELD_NAMES.map((f) => `stripe_${f}`);

async function company(id: string): Promise<Record<string, string | null>> {
  return (await hubspot.crm.companies.basicApi.getById(id, ['name', 'domain', ...STRIPE_PROPERTIES])).properties;
}

async function all(type: 'companies' | 'contacts' | 'deals' | 'notes' | 'tasks', properties: string[] = []) {
  const api = type === 'notes' || type === 'tasks' ? hubspot.crm.objects[type].basicApi : hubspot.crm[type].basicApi;
  return (await api.getPage(100, undefined, properties)).results;
}

async function associated(from: string, id: string, to: string): Promise<string[]> {
  return (await hubspot.crm.associations.v4.basicApi.getPage(from, id, to)).results.map((r) => r.toObjectId);
}

/** A provisioned portal with the customer's company and contact, as the workflow leaves it before deals and timeline. */
async function linkedCustomer(crm: CrmAdapter, mode: 'b2b' | 'b2c' = 'b2b'): Promise<{ accountId: string | null; contactId: string }> {
  await crm.provision();
  const accountId = mode === 'b2b' ? (await crm.upsertAccount({ customerId: 'cus_1', name: 'Acme', domain: 'acme.test', fields: FIELDS })).id : null;
  const contact = await crm.upsertContact({
    customerId: 'cus_1', email: 'jane@acme.test', firstName: 'Jane', lastName: 'Doe', fields: mode === 'b2c' ? FIELDS : {}, accountId,
  });
  return { accountId, contactId: contact.id };
}

/** The one property readAccount needs, created with another token than the adapter's. */
async function createCustomerIdProperty(url: string): Promise<void> {
  await hubspotClientFor(url, 'setup-token').crm.properties.coreApi.create('companies', {
    name: 'stripe_customer_id', label: 'Stripe Customer ID', type: 'string' as never, fieldType: 'text' as never, groupName: 'companyinformation', hasUniqueValue: true,
  });
}

describe('provision', () => {
  it('creates the stripe group and properties, unique where records are matched, and is idempotent', async () => {
    const crm = adapter('b2b');
    const first = await crm.provision();
    const companyProperties = STRIPE_PROPERTIES.map((p) => `companies.${p}`);
    const objectKeys = ['contacts.stripe_customer_id', 'deals.stripe_subscription_id', 'deals.stripe_subscription_status', 'notes.stripe_activity_key', 'tasks.stripe_activity_key'];
    expect(first.created.sort()).toEqual([...companyProperties, ...objectKeys].sort());
    expect(first).toMatchObject({ existing: [], missing: [] });

    const props = hubspot.crm.properties.coreApi;
    const customerId = await props.getByName('companies', 'stripe_customer_id');
    expect(customerId).toMatchObject({ groupName: 'stripe', type: 'string', fieldType: 'text', hasUniqueValue: true, label: 'Stripe Customer ID' });
    expect(await props.getByName('companies', 'stripe_mrr')).toMatchObject({ type: 'number', hasUniqueValue: false });
    expect(await props.getByName('companies', 'stripe_next_renewal_date')).toMatchObject({ type: 'date', fieldType: 'date' });
    expect(await props.getByName('companies', 'stripe_synced_at')).toMatchObject({ type: 'datetime' });
    expect((await props.getByName('companies', 'stripe_delinquent')).options.map((o) => o.value)).toEqual(['true', 'false']);
    const status = await props.getByName('companies', 'stripe_subscription_status');
    expect(status).toMatchObject({ type: 'enumeration', fieldType: 'select' });
    expect(status.options.map((o) => o.value)).toContain('past_due');
    expect(status.options.find((o) => o.value === 'past_due')?.label).toBe('Past due');
    for (const [type, name] of [['contacts', 'stripe_customer_id'], ['deals', 'stripe_subscription_id'], ['notes', 'stripe_activity_key'], ['tasks', 'stripe_activity_key']] as const) {
      expect(await props.getByName(type, name)).toMatchObject({ hasUniqueValue: true, groupName: 'stripe' });
    }
    // B2B leaves the Stripe fields on the company only.
    expect((await hubspot.crm.properties.coreApi.getAll('contacts')).results.map((p) => p.name)).not.toContain('stripe_mrr');

    const again = await crm.provision();
    expect({ ...again, existing: again.existing.sort() }).toEqual({ created: [], existing: first.created, missing: [] });

    const b2c = await adapter('b2c').provision();
    expect(b2c.created.sort()).toEqual(STRIPE_PROPERTIES.filter((p) => p !== 'stripe_customer_id').map((p) => `contacts.${p}`).sort());
    expect(b2c.missing).toEqual([]);
  });

  it('reports an existing property that cannot serve, without changing it', async () => {
    for (const [name, type, fieldType] of [['stripe_customer_id', 'string', 'text'], ['stripe_mrr', 'string', 'text']] as const) {
      await hubspot.crm.properties.coreApi.create('companies', {
        name, label: name, type: type as never, fieldType: fieldType as never, groupName: 'companyinformation',
      });
    }
    const report = await adapter().provision();
    expect(report.missing).toEqual([
      'companies.stripe_customer_id does not require unique values, so records cannot be upserted by it',
      'companies.stripe_mrr is a string property; expected number',
    ]);
    expect(report.created).toContain('companies.stripe_ltv');
    expect(await hubspot.crm.properties.coreApi.getByName('companies', 'stripe_customer_id')).toMatchObject({ hasUniqueValue: false, groupName: 'companyinformation' });
  });

  it('uses overridden property names and leaves switched-off fields out', async () => {
    const crm = adapter('b2b', { fieldNameOverrides: { mrr: 'monthly_recurring_revenue', ltv: null } });
    const report = await crm.provision();
    expect(report.created).toContain('companies.monthly_recurring_revenue');
    expect(report.created).not.toContain('companies.stripe_mrr');
    expect(report.created).not.toContain('companies.stripe_ltv');
    const { id } = await crm.upsertAccount({ customerId: 'cus_1', name: null, domain: null, fields: { ...FIELDS, ltv: 10 } });
    const read = await hubspot.crm.companies.basicApi.getById(id, ['monthly_recurring_revenue', 'stripe_mrr']);
    expect(read.properties).toMatchObject({ monthly_recurring_revenue: '49.5' });
    expect(read.properties).not.toHaveProperty('stripe_mrr');
    expect((await crm.readAccount('cus_1'))?.properties).toMatchObject({ monthly_recurring_revenue: '49.5' });
  });

  it('refuses to switch off the customer id, which records are matched by', () => {
    expect(() => adapter('b2b', { fieldNameOverrides: { customer_id: null } })).toThrow(/customer_id/);
  });
});

describe('upsertAccount', () => {
  it('creates the company once, then updates it in one request per call', async () => {
    const crm = adapter();
    await crm.provision();
    const first = await counted(() => crm.upsertAccount({ customerId: 'cus_1', name: 'Acme', domain: 'acme.test', fields: FIELDS }));
    expect(first.requests).toBe(1);
    expect(first.value.created).toBe(true);
    expect(await company(first.value.id)).toMatchObject({
      name: 'Acme',
      domain: 'acme.test',
      stripe_customer_id: 'cus_1',
      stripe_subscription_status: 'active',
      stripe_mrr: '49.5',
      stripe_currency: 'USD',
      stripe_next_renewal_date: '2026-12-01',
      stripe_delinquent: 'false',
      stripe_failed_payment_count: '0',
      stripe_synced_at: '2026-11-27T12:00:00.000Z',
    });

    // Unknown name and domain leave what is there; a null field clears the property.
    const fields: CrmFields = { ...FIELDS, mrr: 99, delinquent: true, plan_name: null, payment_method_status: 'failed' };
    const second = await counted(() => crm.upsertAccount({ customerId: 'cus_1', name: null, domain: null, fields, recordId: first.value.id }));
    expect(second).toEqual({ value: { id: first.value.id, created: false }, requests: 1 });
    expect(await company(first.value.id)).toMatchObject({
      name: 'Acme', domain: 'acme.test', stripe_mrr: '99', stripe_delinquent: 'true', stripe_plan_name: null, stripe_payment_method_status: 'failed',
    });

    // A retry of the first call after a lost answer finds the same company.
    expect(await crm.upsertAccount({ customerId: 'cus_1', name: 'Acme', domain: 'acme.test', fields: FIELDS })).toEqual({ id: first.value.id, created: false });
    expect(await all('companies')).toHaveLength(1);
  });

  it('reads back the Stripe fields, or null for a customer without a company', async () => {
    const crm = adapter();
    await crm.provision();
    const { id } = await crm.upsertAccount({ customerId: 'cus_1', name: 'Acme', domain: null, fields: FIELDS });
    const read = await crm.readAccount('cus_1');
    expect(read?.id).toBe(id);
    expect(read?.properties).toMatchObject({ name: 'Acme', domain: null, stripe_customer_id: 'cus_1', stripe_mrr: '49.5', stripe_ltv: null });
    expect(Object.keys(read?.properties ?? {}).sort()).toEqual(['domain', 'name', ...STRIPE_PROPERTIES].sort());
    expect(await crm.readAccount('cus_missing')).toBeNull();
  });
});

describe('upsertContact', () => {
  it('upserts by email with the Stripe id and associates the company only when newly linked', async () => {
    const crm = adapter('b2b');
    await crm.provision();
    const account = await crm.upsertAccount({ customerId: 'cus_1', name: 'Acme', domain: null, fields: FIELDS });
    const input = { customerId: 'cus_1', email: 'Jane@Acme.test', firstName: 'Jane', lastName: 'Doe', fields: FIELDS, accountId: account.id };

    const first = await counted(() => crm.upsertContact(input));
    expect(first.requests).toBe(2);
    expect(first.value.created).toBe(true);
    const contact = await hubspot.crm.contacts.basicApi.getById(first.value.id, ['email', 'firstname', 'lastname', 'stripe_customer_id']);
    expect(contact.properties).toMatchObject({ email: 'jane@acme.test', firstname: 'Jane', lastname: 'Doe', stripe_customer_id: 'cus_1' });
    const links = (await hubspot.crm.associations.v4.basicApi.getPage('contacts', first.value.id, 'companies')).results;
    expect(links.map((l) => l.toObjectId)).toEqual([account.id]);
    // The first company associated becomes the contact's primary one, as in HubSpot.
    expect(links[0]?.associationTypes.map((t) => t.typeId).sort()).toEqual([AssociationTypes.primaryContactToCompany, AssociationTypes.contactToCompany].sort());

    // Known id: one PATCH, no association request.
    const known = await counted(() => crm.upsertContact({ ...input, firstName: null, recordId: first.value.id }));
    expect(known).toEqual({ value: { id: first.value.id, created: false }, requests: 1 });
    expect((await hubspot.crm.contacts.basicApi.getById(first.value.id, ['firstname'])).properties.firstname).toBe('Jane');

    // A retry after a lost answer (no id yet) finds the same contact and re-links idempotently.
    expect(await crm.upsertContact(input)).toEqual({ id: first.value.id, created: false });
    expect(await all('contacts')).toHaveLength(1);
    expect(await associated('contacts', first.value.id, 'companies')).toEqual([account.id]);
  });

  it('leaves the Stripe fields off the contact in B2B and writes them in B2C', async () => {
    const b2b = adapter('b2b');
    await b2b.provision();
    const b2c = adapter('b2c');
    await b2c.provision();
    const { id: inB2b } = await b2b.upsertContact({ customerId: 'cus_1', email: 'a@acme.test', firstName: null, lastName: null, fields: FIELDS, accountId: null });
    const { id: inB2c } = await b2c.upsertContact({ customerId: 'cus_2', email: 'b@acme.test', firstName: null, lastName: null, fields: { ...FIELDS, customer_id: 'cus_2' }, accountId: null });
    const read = async (id: string) => (await hubspot.crm.contacts.basicApi.getById(id, ['stripe_customer_id', 'stripe_mrr', 'stripe_subscription_status'])).properties;
    expect(await read(inB2b)).toMatchObject({ stripe_customer_id: 'cus_1', stripe_mrr: null });
    expect(await read(inB2c)).toMatchObject({ stripe_customer_id: 'cus_2', stripe_mrr: '49.5', stripe_subscription_status: 'active' });
  });

  it('follows an email change on the same contact when its id is known', async () => {
    const crm = adapter();
    const { accountId, contactId } = await linkedCustomer(crm);
    const changed = await counted(() =>
      crm.upsertContact({ customerId: 'cus_1', email: 'jane.doe@acme.test', firstName: 'Jane', lastName: 'Doe', fields: {}, accountId, recordId: contactId }),
    );
    expect(changed).toEqual({ value: { id: contactId, created: false }, requests: 1 });
    expect((await hubspot.crm.contacts.basicApi.getById(contactId, ['email'])).properties.email).toBe('jane.doe@acme.test');
    expect(await all('contacts')).toHaveLength(1);
  });

  it('recreates and links a contact that was deleted in HubSpot', async () => {
    const crm = adapter();
    const { accountId, contactId } = await linkedCustomer(crm);
    await hubspot.crm.contacts.basicApi.archive(contactId);
    const again = await crm.upsertContact({ customerId: 'cus_1', email: 'jane@acme.test', firstName: 'Jane', lastName: 'Doe', fields: {}, accountId, recordId: contactId });
    expect(again.created).toBe(true);
    expect(again.id).not.toBe(contactId);
    expect(await associated('contacts', again.id, 'companies')).toEqual([accountId]);
  });

  it('makes the association on the retry when it failed after the contact was written', async () => {
    const crm = adapter();
    await crm.provision();
    const account = await crm.upsertAccount({ customerId: 'cus_1', name: 'Acme', domain: null, fields: FIELDS });
    running.sandbox.injector.add({ path: '^/crm/v4/associations/contacts/companies/batch/associate/default$', rate5xx: 1, times: 1 });
    const input = { customerId: 'cus_1', email: 'jane@acme.test', firstName: 'Jane', lastName: null, fields: {}, accountId: account.id };

    const failure = await rejection(crm.upsertContact(input));
    expect(failure).toBeInstanceOf(HubSpotRequestError);
    expect(failure).toMatchObject({ status: 503, category: 'INTERNAL_ERROR' });
    const [written] = await all('contacts');
    expect(written).toBeDefined();
    expect(await associated('contacts', written?.id ?? '', 'companies')).toEqual([]);

    // Temporal retries the activity with the same input.
    const retried = await crm.upsertContact(input);
    expect(retried).toEqual({ id: written?.id, created: false });
    expect(await associated('contacts', retried.id, 'companies')).toEqual([account.id]);
  });

  it('refuses, rather than duplicates, a contact for a customer whose Stripe id another contact holds', async () => {
    const crm = adapter();
    const { accountId } = await linkedCustomer(crm);
    const failure = await rejection(crm.upsertContact({ customerId: 'cus_1', email: 'other@acme.test', firstName: null, lastName: null, fields: {}, accountId }));
    expect(failure).toBeInstanceOf(CrmValidationError);
    expect((failure as CrmValidationError).details).toMatchObject({ status: 400, category: 'VALIDATION_ERROR' });
    expect(await all('contacts')).toHaveLength(1);
  });
});

describe('upsertDeals', () => {
  const active: DealInput = { subscriptionId: 'sub_1', name: 'Pro (sub_1)', amount: 49.5, currency: 'USD', stage: 'won', closeDate: '2026-01-15', status: 'active' };
  const trial: DealInput = { subscriptionId: 'sub_2', name: 'Team (sub_2)', amount: 0, currency: 'usd', stage: 'open', closeDate: '2026-11-01', status: 'trialing' };
  const dealProps = ['dealname', 'amount', 'pipeline', 'dealstage', 'closedate', 'deal_currency_code', 'stripe_subscription_id', 'stripe_subscription_status'];

  it('upserts one deal per subscription in one request and associates new deals with the company once', async () => {
    const crm = adapter('b2b');
    const { accountId, contactId } = await linkedCustomer(crm);
    const first = await counted(() => crm.upsertDeals({ customerId: 'cus_1', accountId, contactId, deals: [active, trial] }));
    expect(first.requests).toBe(2);
    const ids = first.value;
    expect(Object.keys(ids).sort()).toEqual(['sub_1', 'sub_2']);
    const deal1 = await hubspot.crm.deals.basicApi.getById(ids.sub_1 ?? '', dealProps);
    expect(deal1.properties).toMatchObject({
      dealname: 'Pro (sub_1)', amount: '49.5', pipeline: 'default', dealstage: 'closedwon', closedate: '2026-01-15T00:00:00.000Z',
      deal_currency_code: 'USD', stripe_subscription_id: 'sub_1', stripe_subscription_status: 'active',
    });
    expect((await hubspot.crm.deals.basicApi.getById(ids.sub_2 ?? '', dealProps)).properties).toMatchObject({ dealstage: 'qualifiedtobuy', amount: '0', deal_currency_code: 'USD' });
    for (const id of Object.values(ids)) expect(await associated('deals', id, 'companies')).toEqual([accountId]);

    // Steady state: the ids are known, one request, no association.
    const churned: DealInput = { ...active, stage: 'lost', status: 'canceled', recordId: ids.sub_1 ?? null };
    const second = await counted(() => crm.upsertDeals({ customerId: 'cus_1', accountId, contactId, deals: [churned, { ...trial, recordId: ids.sub_2 ?? null }] }));
    expect(second).toEqual({ value: ids, requests: 1 });
    expect((await hubspot.crm.deals.basicApi.getById(ids.sub_1 ?? '', dealProps)).properties).toMatchObject({ dealstage: 'closedlost', stripe_subscription_status: 'canceled' });

    // A new subscription next to known ones: one upsert, and one association for the new deal only.
    const third = await counted(() =>
      crm.upsertDeals({ customerId: 'cus_1', accountId, contactId, deals: [churned, { ...active, subscriptionId: 'sub_3', name: 'Pro (sub_3)' }] }),
    );
    expect(third.requests).toBe(2);
    expect(await associated('deals', third.value.sub_3 ?? '', 'companies')).toEqual([accountId]);
    expect(await all('deals')).toHaveLength(3);
    expect(await associated('companies', accountId ?? '', 'deals')).toHaveLength(3);
  });

  it('uses the configured pipeline stages, hangs B2C deals off the contact, and can leave the currency out', async () => {
    const crm = adapter('b2c', { dealStages: { won: 'contractsent' }, writeDealCurrency: false });
    const { contactId } = await linkedCustomer(crm, 'b2c');
    const ids = await crm.upsertDeals({ customerId: 'cus_1', accountId: null, contactId, deals: [active] });
    const deal = await hubspot.crm.deals.basicApi.getById(ids.sub_1 ?? '', dealProps);
    expect(deal.properties).toMatchObject({ dealstage: 'contractsent', deal_currency_code: null });
    expect(await associated('deals', ids.sub_1 ?? '', 'contacts')).toEqual([contactId]);
  });

  it('makes no request for no deals', async () => {
    const crm = adapter();
    expect(await counted(() => crm.upsertDeals({ customerId: 'cus_1', accountId: null, contactId: null, deals: [] }))).toEqual({ value: {}, requests: 0 });
  });

  it('leaves a deal\'s stage to the CRM once it exists: a person\'s stage survives, every disagreement is reported', async () => {
    const crm = adapter('b2b');
    const { accountId, contactId } = await linkedCustomer(crm);
    const stageOf = async (id: string) => (await hubspot.crm.deals.basicApi.getById(id, ['dealstage'])).properties.dealstage;
    const conflicts: StageConflict[] = [];
    const upsert = (deals: DealInput[]) => counted(() => crm.upsertDeals({ customerId: 'cus_1', accountId, contactId, deals, onStageConflict: (c) => conflicts.push(c) }));
    const ids = (await upsert([trial])).value;
    const id = ids.sub_2!;
    expect(await stageOf(id)).toBe('qualifiedtobuy');

    // A person moves the deal; Stripe's stage has not moved (a renewal date changed): the stage is left out, nothing is read.
    await hubspot.crm.deals.basicApi.update(id, { properties: { dealstage: 'presentationscheduled' } });
    expect((await upsert([{ ...trial, amount: 10, recordId: id, lastStage: 'open' }])).requests).toBe(1);
    expect(await stageOf(id)).toBe('presentationscheduled');
    expect(conflicts).toEqual([]);

    // The trial converts: Stripe says won, but the person's stage stands and the disagreement is reported (one read, one write).
    const converted: DealInput = { ...trial, stage: 'won', status: 'active', recordId: id, lastStage: 'open' };
    expect((await upsert([converted])).requests).toBe(2);
    expect(await stageOf(id)).toBe('presentationscheduled');
    expect(conflicts).toEqual([{ subscriptionId: 'sub_2', recordId: id, stripeValue: 'closedwon', crmValue: 'presentationscheduled', winner: 'crm', rule: 'edited-in-crm' }]);

    // Nobody touched it: the CRM still shows what we wrote, so Stripe's move is written.
    await hubspot.crm.deals.basicApi.update(id, { properties: { dealstage: 'qualifiedtobuy' } });
    await upsert([converted]);
    expect(await stageOf(id)).toBe('closedwon');
    expect(conflicts[1]).toMatchObject({ winner: 'stripe', rule: 'unchanged-since-our-write', crmValue: 'qualifiedtobuy' });

    // Deleted in HubSpot: the upsert creates it again, and a created deal gets its stage even when it was left out.
    await hubspot.crm.deals.basicApi.archive(id);
    const recreated = (await upsert([{ ...converted, lastStage: 'won', amount: 11 }])).value.sub_2!;
    expect(recreated).not.toBe(id);
    expect(await stageOf(recreated)).toBe('closedwon');
  });
});

describe('subscriptions as a custom object (CRM_SUBSCRIPTION_OBJECT)', () => {
  const active: DealInput = {
    subscriptionId: 'sub_1', name: 'Pro (sub_1)', amount: 49.5, currency: 'USD', stage: 'won', closeDate: '2026-01-15', status: 'active',
    nextRenewalDate: '2026-12-15', trialEndDate: null, endDate: null,
  };
  const trial: DealInput = {
    subscriptionId: 'sub_2', name: 'Team (sub_2)', amount: 0, currency: 'EUR', stage: 'open', closeDate: '2026-11-01', status: 'trialing',
    nextRenewalDate: '2026-11-15', trialEndDate: '2026-11-15', endDate: null,
  };
  const props = ['stripe_subscription_id', 'stripe_subscription_name', 'stripe_subscription_status', 'stripe_subscription_stage', 'stripe_mrr', 'stripe_currency',
    'stripe_customer_id', 'stripe_start_date', 'stripe_next_renewal_date', 'stripe_trial_end_date', 'stripe_end_date'];
  const fqn = `p${144_000_001}_stripe_subscription`;

  async function records(type = fqn) {
    return (await hubspot.crm.objects.basicApi.getPage(type, 100, undefined, props)).results;
  }

  it('setup creates the object with its properties and associations once, then finds it in place', async () => {
    const crm = adapter('b2b', { subscriptionObject: 'stripe_subscription' });
    const first = await crm.provision();
    expect(first.missing).toEqual([]);
    const schema = (await hubspot.crm.schemas.coreApi.getAll()).results[0]!;
    expect(schema).toMatchObject({ name: 'stripe_subscription', fullyQualifiedName: fqn, primaryDisplayProperty: 'stripe_subscription_name', requiredProperties: ['stripe_subscription_id', 'stripe_subscription_name'] });
    expect(schema.associations.map((a) => a.toObjectTypeId).sort()).toEqual(['0-1', '0-2']);
    expect(first.created).toEqual(expect.arrayContaining([`custom object ${fqn} (${schema.objectTypeId})`, ...props.map((p) => `${fqn}.${p}`), `${fqn} association with companies`, `${fqn} association with contacts`]));
    const byName = new Map(schema.properties.map((p) => [p.name, p]));
    expect(byName.get('stripe_subscription_id')).toMatchObject({ hasUniqueValue: true, type: 'string' });
    expect(byName.get('stripe_mrr')).toMatchObject({ type: 'number' });
    expect(byName.get('stripe_next_renewal_date')).toMatchObject({ type: 'date' });
    expect(byName.get('stripe_subscription_stage')?.options.map((o) => o.value)).toEqual(['open', 'won', 'lost']);
    // Deals are not written, so their properties are not created.
    expect((await hubspot.crm.properties.coreApi.getAll('deals')).results.map((p) => p.name)).not.toContain('stripe_subscription_id');

    const again = await crm.provision();
    expect(again.created).toEqual([]);
    expect(again.missing).toEqual([]);
    expect(again.existing).toEqual(expect.arrayContaining([`custom object ${fqn} (${schema.objectTypeId})`, `${fqn}.stripe_subscription_id`, `${fqn} association with companies`]));
    expect((await hubspot.crm.schemas.coreApi.getAll()).results).toHaveLength(1);
  });

  it('setup completes an object an admin made, and reports what only an admin can fix', async () => {
    // An admin's object: no company association, a property the sync needs missing, and a required one it never writes.
    const made = await hubspot.crm.schemas.coreApi.create({
      name: 'subscriptions', labels: { singular: 'Subscription', plural: 'Subscriptions' }, associatedObjects: ['CONTACT'],
      requiredProperties: ['stripe_subscription_id', 'owner_region'], primaryDisplayProperty: 'stripe_subscription_id',
      properties: [
        { name: 'stripe_subscription_id', label: 'Subscription', type: 'string' as never, fieldType: 'text', hasUniqueValue: true },
        { name: 'owner_region', label: 'Region', type: 'string' as never, fieldType: 'text' },
        { name: 'stripe_mrr', label: 'MRR', type: 'string' as never, fieldType: 'text' },
      ],
    });
    const report = await adapter('b2b', { subscriptionObject: made.objectTypeId! }).provision();
    const name = made.fullyQualifiedName!;
    expect(report.created).toEqual(expect.arrayContaining([`${name}.stripe_subscription_name`, `${name}.stripe_next_renewal_date`, `${name} association with companies`]));
    expect(report.missing).toEqual([
      `${name}.stripe_mrr is a string property; expected number`,
      `${name} requires owner_region on create, which the sync does not write: make it optional`,
    ]);
    expect((await hubspot.crm.properties.coreApi.getByName(made.objectTypeId!, 'stripe_subscription_name')).groupName).toBe('stripe');
    expect((await hubspot.crm.schemas.coreApi.getById(made.objectTypeId!)).associations.map((a) => a.toObjectTypeId).sort()).toEqual(['0-1', '0-2']);

    const absent = await adapter('b2b', { subscriptionObject: '2-999' }).provision();
    expect(absent.missing).toEqual([expect.stringContaining('HubSpot custom object 2-999 does not exist')]);
  });

  it('upserts one record per subscription by its id, with its fields, associated with the company, and writes no deal', async () => {
    const crm = adapter('b2b', { subscriptionObject: 'stripe_subscription' });
    const { accountId, contactId } = await linkedCustomer(crm);
    const first = await counted(() => crm.upsertDeals({ customerId: 'cus_1', accountId, contactId, deals: [active, trial] }));
    expect(first.requests).toBe(2);
    const ids = first.value;
    const [rec1, rec2] = await Promise.all([ids.sub_1, ids.sub_2].map((id) => hubspot.crm.objects.basicApi.getById(fqn, id ?? '', props)));
    expect(rec1!.properties).toMatchObject({
      stripe_subscription_id: 'sub_1', stripe_subscription_name: 'Pro (sub_1)', stripe_subscription_status: 'active', stripe_subscription_stage: 'won',
      stripe_mrr: '49.5', stripe_currency: 'USD', stripe_customer_id: 'cus_1', stripe_start_date: '2026-01-15', stripe_next_renewal_date: '2026-12-15',
      stripe_trial_end_date: null, stripe_end_date: null,
    });
    expect(rec2!.properties).toMatchObject({ stripe_subscription_stage: 'open', stripe_mrr: '0', stripe_currency: 'EUR', stripe_trial_end_date: '2026-11-15' });
    for (const id of Object.values(ids)) expect(await associated(fqn, id, 'companies')).toEqual([accountId]);
    expect(await associated('companies', accountId ?? '', fqn)).toHaveLength(2);
    expect(await all('deals')).toEqual([]);

    // Steady state: one request; a cancellation clears the renewal and sets the end.
    const canceled: DealInput = { ...active, stage: 'won', status: 'canceled', nextRenewalDate: null, endDate: '2026-06-01', recordId: ids.sub_1 ?? null };
    const second = await counted(() => crm.upsertDeals({ customerId: 'cus_1', accountId, contactId, deals: [canceled, { ...trial, recordId: ids.sub_2 ?? null }] }));
    expect(second).toEqual({ value: ids, requests: 1 });
    expect((await hubspot.crm.objects.basicApi.getById(fqn, ids.sub_1 ?? '', props)).properties).toMatchObject({
      stripe_subscription_status: 'canceled', stripe_next_renewal_date: null, stripe_end_date: '2026-06-01',
    });
    expect(await records()).toHaveLength(2);
  });

  it('addresses the object by type id or fully qualified name too, and hangs B2C records off the contact', async () => {
    await adapter('b2c', { subscriptionObject: 'stripe_subscription' }).provision();
    const schema = (await hubspot.crm.schemas.coreApi.getAll()).results[0]!;
    for (const configured of [schema.objectTypeId!, fqn]) {
      const crm = adapter('b2c', { subscriptionObject: configured });
      const { contactId } = await linkedCustomer(crm, 'b2c');
      const ids = await crm.upsertDeals({ customerId: 'cus_1', accountId: null, contactId, deals: [active] });
      expect(await associated(fqn, ids.sub_1 ?? '', 'contacts')).toEqual([contactId]);
      expect(await associated(fqn, ids.sub_1 ?? '', 'companies')).toEqual([]);
    }
    expect(await records()).toHaveLength(1);
  });

  it('the backfill writes the same records: batch upsert by the subscription id, then the company association', async () => {
    const crm = adapter('b2b', { subscriptionObject: 'stripe_subscription' });
    const { accountId, contactId } = await linkedCustomer(crm);
    const backfill = crm.backfill!;
    const results = await backfill.upsertDeals([{ ...active, customerId: 'cus_1', accountId, contactId }, { ...trial, customerId: 'cus_1', accountId, contactId }]);
    expect(results.map((r) => [r.key, r.ok, r.ok && r.created])).toEqual([['sub_1', true, true], ['sub_2', true, true]]);
    const ids = Object.fromEntries(results.map((r) => [r.key, r.ok ? r.id : '']));
    expect(await backfill.findDeals(['sub_1', 'sub_2', 'sub_none'])).toEqual(ids);
    expect((await hubspot.crm.objects.basicApi.getById(fqn, ids.sub_2!, props)).properties).toMatchObject({ stripe_subscription_stage: 'open', stripe_trial_end_date: '2026-11-15', stripe_customer_id: 'cus_1' });
    for (const id of Object.values(ids)) expect(await associated(fqn, id, 'companies')).toEqual([accountId]);
    // The real-time path then finds them, and a second backfill run creates nothing.
    expect(await crm.upsertDeals({ customerId: 'cus_1', accountId, contactId, deals: [active] })).toEqual({ sub_1: ids.sub_1 });
    const again = await backfill.upsertDeals([{ ...active, customerId: 'cus_1', accountId, contactId }]);
    expect(again).toEqual([{ key: 'sub_1', ok: true, id: ids.sub_1, created: false }]);
    expect(await records()).toHaveLength(2);
    expect(await all('deals')).toEqual([]);
  });

  it('refuses writes before setup made the object, as a validation error', async () => {
    const crm = adapter('b2b', { subscriptionObject: 'stripe_subscription' });
    const failure = await rejection(crm.upsertDeals({ customerId: 'cus_1', accountId: null, contactId: null, deals: [active] }));
    expect(failure).toBeInstanceOf(CrmValidationError);
  });
});

describe('writeTimeline', () => {
  const paid: TimelineEntry = {
    key: 'invoice_paid:in_1', kind: 'invoice_paid', occurredAt: 1_790_000_000,
    subject: 'Invoice INV-1 paid: USD 49.50', body: 'Stripe invoice in_1 was paid (USD 49.50).', actionable: false,
  };
  const failed: TimelineEntry = {
    key: 'payment_failed:in_2:1', kind: 'payment_failed', occurredAt: 1_790_100_000,
    subject: 'Payment failed (attempt 1): USD 49.50', body: 'Collecting in_2 failed. Reason: <card_declined> & "expired".', actionable: true,
  };
  const refund: TimelineEntry = {
    key: 'refund:re_1', kind: 'refund', occurredAt: 1_790_200_000, subject: 'Refund: USD 10.00', body: 'Stripe refund re_1 of charge ch_1.', actionable: false,
  };
  const noteProps = ['hs_note_body', 'hs_timestamp', 'stripe_activity_key'];
  const taskProps = ['hs_task_subject', 'hs_task_body', 'hs_task_status', 'hs_timestamp', 'stripe_activity_key'];

  it('writes notes and tasks with their associations in one request each, and a replay adds nothing', async () => {
    const crm = adapter();
    const { accountId, contactId } = await linkedCustomer(crm);
    const input = { customerId: 'cus_1', accountId, contactId, entries: [paid, failed] };
    const first = await counted(() => crm.writeTimeline(input));
    expect(first).toEqual({ value: { keys: [paid.key, failed.key] }, requests: 2 });

    const [note] = await all('notes', noteProps);
    expect(note?.properties).toMatchObject({
      hs_note_body: '<p><strong>Invoice INV-1 paid: USD 49.50</strong></p><p>Stripe invoice in_1 was paid (USD 49.50).</p>',
      hs_timestamp: '2026-09-21T14:13:20.000Z',
      stripe_activity_key: paid.key,
    });
    const [task] = await all('tasks', taskProps);
    expect(task?.properties).toMatchObject({
      hs_task_subject: failed.subject,
      hs_task_body: 'Collecting in_2 failed. Reason: &lt;card_declined&gt; &amp; &quot;expired&quot;.',
      hs_task_status: 'NOT_STARTED',
      hs_timestamp: '2026-09-22T18:00:00.000Z',
      stripe_activity_key: failed.key,
    });
    for (const [type, id] of [['notes', note?.id], ['tasks', task?.id]] as const) {
      expect(await associated(type, id ?? '', 'companies')).toEqual([accountId]);
      expect(await associated(type, id ?? '', 'contacts')).toEqual([contactId]);
    }

    // A retry after a lost answer: the keys are reported present and nothing is duplicated.
    expect(await crm.writeTimeline(input)).toEqual({ keys: [paid.key, failed.key] });
    expect(await all('notes')).toHaveLength(1);
    expect(await all('tasks')).toHaveLength(1);
  });

  it('adds only the new entries of a replayed batch and leaves a completed task completed', async () => {
    const crm = adapter();
    const { accountId, contactId } = await linkedCustomer(crm);
    await crm.writeTimeline({ customerId: 'cus_1', accountId, contactId, entries: [paid, failed] });
    const [task] = await all('tasks');
    await hubspot.crm.objects.tasks.basicApi.update(task?.id ?? '', { properties: { hs_task_status: 'COMPLETED' } });

    const result = await crm.writeTimeline({ customerId: 'cus_1', accountId, contactId, entries: [paid, refund, failed, refund] });
    expect(result).toEqual({ keys: [paid.key, refund.key, failed.key] });
    const notes = await all('notes', ['stripe_activity_key']);
    expect(notes.map((n) => n.properties.stripe_activity_key).sort()).toEqual([paid.key, refund.key].sort());
    const added = notes.find((n) => n.properties.stripe_activity_key === refund.key);
    expect(await associated('notes', added?.id ?? '', 'companies')).toEqual([accountId]);
    expect((await all('tasks', ['hs_task_status'])).map((t) => t.properties.hs_task_status)).toEqual(['COMPLETED']);
  });

  it('writes nothing, and reports nothing present, without a record to show it on', async () => {
    const crm = adapter();
    await crm.provision();
    const result = await counted(() => crm.writeTimeline({ customerId: 'cus_1', accountId: null, contactId: null, entries: [paid] }));
    expect(result).toEqual({ value: { keys: [] }, requests: 0 });
  });

  it('refuses entries for a company that no longer exists, creating none', async () => {
    const crm = adapter();
    const { accountId } = await linkedCustomer(crm);
    await hubspot.crm.companies.basicApi.archive(accountId ?? '');
    const failure = await rejection(crm.writeTimeline({ customerId: 'cus_1', accountId, contactId: null, entries: [paid] }));
    expect(failure).toBeInstanceOf(CrmValidationError);
    expect(await all('notes')).toHaveLength(0);
  });
});

describe('errors', () => {
  it('turns a 429 into CrmRateLimitError with the window the server states', async () => {
    const tight = await startHubSpotSandbox({ rateLimit: { max: 2, windowMs: 7_000 } });
    try {
      // Limits are per token: setting up with another token leaves this one's window empty.
      await createCustomerIdProperty(tight.url);
      const crm = adapter('b2b', {}, tight.url);
      expect(await crm.readAccount('cus_1')).toBeNull();
      expect(await crm.readAccount('cus_1')).toBeNull();
      const failure = await rejection(crm.readAccount('cus_1'));
      expect(failure).toBeInstanceOf(CrmRateLimitError);
      expect(failure).toMatchObject({ retryAfterMs: 7_000 });
      expect((failure as Error).message).toMatch(/ten_secondly_rolling/);
      // The client did not retry on its own: exactly one request was refused.
      expect(tight.sandbox.requests.rateLimited.tenSecondly).toBe(1);
    } finally {
      await tight.close();
    }
  });

  it('waits for the next day when the daily allowance is spent', async () => {
    const spent = await startHubSpotSandbox({ dailyLimit: 1 });
    try {
      await createCustomerIdProperty(spent.url);
      const crm = adapter('b2b', {}, spent.url);
      expect(await crm.readAccount('cus_1')).toBeNull();
      const failure = await rejection(crm.readAccount('cus_1'));
      expect(failure).toBeInstanceOf(CrmRateLimitError);
      const untilMidnight = 86_400_000 - (Date.now() % 86_400_000);
      expect(Math.abs((failure as CrmRateLimitError).retryAfterMs - untilMidnight)).toBeLessThan(5_000);
    } finally {
      await spent.close();
    }
  });

  it('waits a whole ten-second window for a ten-secondly 429 without rate headers', async () => {
    const crm = adapter();
    await crm.provision();
    running.sandbox.injector.add({ path: '/batch/upsert$', rate429: 1, times: 1 });
    const failure = await rejection(crm.upsertAccount({ customerId: 'cus_1', name: 'Acme', domain: null, fields: FIELDS }));
    expect(failure).toBeInstanceOf(CrmRateLimitError);
    expect(failure).toMatchObject({ retryAfterMs: 10_000 });
    expect(await all('companies')).toHaveLength(0);
  });

  it('turns a refused value into CrmValidationError with HubSpot\'s message and category, writing nothing', async () => {
    const crm = adapter();
    await crm.provision();
    const failure = await rejection(crm.upsertAccount({ customerId: 'cus_1', name: 'Acme', domain: null, fields: { ...FIELDS, subscription_status: 'paused_forever' } }));
    expect(failure).toBeInstanceOf(CrmValidationError);
    expect((failure as Error).message).toMatch(/^HubSpot 400 VALIDATION_ERROR: Property values were not valid/);
    expect((failure as CrmValidationError).details).toMatchObject({
      status: 400,
      category: 'VALIDATION_ERROR',
      errors: [{ code: 'INVALID_OPTION', context: { propertyName: ['stripe_subscription_status'] } }],
    });
    expect(await all('companies')).toHaveLength(0);
  });

  it('refuses writes to an unprovisioned portal as invalid', async () => {
    const failure = await rejection(adapter().upsertAccount({ customerId: 'cus_1', name: 'Acme', domain: null, fields: {} }));
    expect(failure).toBeInstanceOf(CrmValidationError);
    expect((failure as Error).message).toMatch(/non-unique 0-2 property stripe_customer_id/);
  });

  it('leaves a 5xx to Temporal: thrown as a transient error, not retried by the client even when another client enables retries', async () => {
    const crm = adapter();
    await crm.provision();
    // A client created later with retries replaces the client library's process-wide decorators.
    hubspotClientFor(running.url, 'other-token', { numberOfApiCallRetries: 3 });
    running.sandbox.injector.add({ path: '^/crm/v3/objects/companies/batch/upsert$', rate5xx: 1, times: 1, status5xx: 502 });
    running.sandbox.requests.reset();
    const failure = await rejection(crm.upsertAccount({ customerId: 'cus_1', name: 'Acme', domain: null, fields: FIELDS }));
    expect(failure).toBeInstanceOf(HubSpotRequestError);
    expect(failure).not.toBeInstanceOf(CrmValidationError);
    expect(failure).toMatchObject({ status: 502, name: 'HubSpotRequestError' });
    expect(running.sandbox.requests.total).toBe(1);
    expect((await crm.upsertAccount({ customerId: 'cus_1', name: 'Acme', domain: null, fields: FIELDS })).created).toBe(true);
  });

  it('passes a network failure through as it is', async () => {
    const closed = await startHubSpotSandbox();
    const url = closed.url;
    await closed.close();
    const failure = await rejection(adapter('b2b', {}, url).readAccount('cus_1'));
    expect(failure).not.toBeInstanceOf(CrmValidationError);
    expect(failure).not.toBeInstanceOf(CrmRateLimitError);
    expect(failure).not.toBeInstanceOf(HubSpotRequestError);
  });
});

describe('backfill identity index and links', () => {
  it('pages through every company and every contact with its companies, 100 per request, with the list endpoint', async () => {
    const crm = adapter();
    await crm.provision();
    const ids: string[] = [];
    for (let i = 0; i < 150; i += 50) {
      const batch = await hubspot.crm.companies.batchApi.create({ inputs: Array.from({ length: 50 }, (_, j) => ({ properties: { name: `Co ${i + j}`, domain: j === 0 ? 'www.first.test' : '' }, associations: [] })) });
      ids.push(...batch.results.map((r) => r.id));
    }
    await hubspot.crm.companies.basicApi.update(ids[1]!, { properties: { stripe_customer_id: 'cus_1' } });
    const backfill = crm.backfill!;
    const first = await counted(() => backfill.listAccountsForIdentity(null));
    expect(first.requests).toBe(1);
    expect(first.value.rows).toHaveLength(100);
    expect(first.value.next).not.toBeNull();
    const second = await backfill.listAccountsForIdentity(first.value.next);
    expect(second).toMatchObject({ next: null });
    const rows = [...first.value.rows, ...second.rows];
    expect(new Set(rows.map((r) => r.recordId))).toEqual(new Set(ids));
    expect(rows.find((r) => r.recordId === ids[0])).toEqual({ recordId: ids[0], name: 'Co 0', domain: 'www.first.test', stripeCustomerId: null });
    expect(rows.find((r) => r.recordId === ids[1])).toMatchObject({ stripeCustomerId: 'cus_1', domain: null });

    const withCompany = await hubspot.crm.contacts.basicApi.create({ properties: { email: 'Ada@First.test' }, associations: [] });
    await hubspot.crm.associations.v4.basicApi.createDefault('contacts', withCompany.id, 'companies', ids[0]!);
    await hubspot.crm.contacts.basicApi.create({ properties: { email: 'alone@first.test' }, associations: [] });
    const contacts = await counted(() => backfill.listContactsForIdentity(null));
    // A contact without a company names no candidate: left out.
    expect(contacts).toEqual({ value: { rows: [{ contactId: withCompany.id, email: 'ada@first.test', accountIds: [ids[0]] }], next: null }, requests: 1 });
  });

  it('writes a linked company by its id, stamping the Stripe id, names only where given; a deleted one fails alone', async () => {
    const crm = adapter();
    await crm.provision();
    const kept = (await hubspot.crm.companies.basicApi.create({ properties: { name: 'Kept Name', domain: '' }, associations: [] })).id;
    const gone = (await hubspot.crm.companies.basicApi.create({ properties: { name: 'Gone' }, associations: [] })).id;
    await hubspot.crm.companies.basicApi.archive(gone);
    const { value: results, requests } = await counted(() => crm.backfill!.updateAccounts([
      { customerId: 'cus_1', recordId: kept, name: null, domain: 'kept.test', fields: FIELDS },
      { customerId: 'cus_2', recordId: gone, name: 'Gone', domain: null, fields: FIELDS },
    ]));
    expect(requests).toBe(1);
    expect(results).toEqual([
      { key: 'cus_1', ok: true, id: kept, created: false },
      { key: 'cus_2', ok: false, reason: `the matched company ${gone} no longer exists in HubSpot` },
    ]);
    expect(await company(kept)).toMatchObject({ name: 'Kept Name', domain: 'kept.test', stripe_customer_id: 'cus_1', stripe_mrr: '49.5', stripe_subscription_status: 'active' });
    // From now on the upserts by the Stripe id land on it.
    expect(await crm.upsertAccount({ customerId: 'cus_1', name: null, domain: null, fields: FIELDS })).toEqual({ id: kept, created: false });
  });
});
