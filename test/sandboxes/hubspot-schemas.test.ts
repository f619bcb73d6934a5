import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Client } from '@hubspot/api-client';
import type { ObjectSchemaEgg } from '@hubspot/api-client/lib/codegen/crm/schemas/index.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hubspotClientFor, startHubSpotSandbox, type ResponseRecord, type RunningHubSpotSandbox } from '../../sandboxes/hubspot/index.js';
import { OpenApiChecker } from '../../sandboxes/hubspot/openapi-check.js';

/** HubSpot's own OpenAPI documents (see /work/shared/reference/README.md); every answer is checked against them. */
const REFERENCE_DIR = [fileURLToPath(new URL('../../../shared/reference/hubspot', import.meta.url)), '/work/shared/reference/hubspot'].find((dir) => existsSync(dir)) ?? '/work/shared/reference/hubspot';
const UNDOCUMENTED_ERROR_FIELDS = ['status', 'errorType', 'policyName', 'groupName', 'requestId'];
/** Not among the reference documents: the label definitions API, and the schemas API's older `/crm/v3/schemas` path. */
const UNDOCUMENTED_ROUTES = [/^\/crm\/v4\/associations\/[^/]+\/[^/]+\/labels(\/\d+)?$/, /^\/crm\/v3\/schemas(\/|$)/];
const PORTAL = 144_000_777;

const recorded: ResponseRecord[] = [];
let running: RunningHubSpotSandbox;
let client: Client;

interface ApiFailure {
  code: number;
  body: Record<string, unknown>;
}

async function failure(call: Promise<unknown>): Promise<ApiFailure> {
  try {
    await call;
  } catch (err) {
    const e = err as Partial<ApiFailure>;
    if (typeof e.code === 'number' && typeof e.body === 'object' && e.body !== null) return { code: e.code, body: e.body };
    throw err;
  }
  throw new Error('expected the call to fail');
}

function spec<C extends string>(associationTypeId: number, category: string): { associationCategory: C; associationTypeId: number } {
  return { associationCategory: category as C, associationTypeId };
}

/** A subscription object like the one the sync provisions: a unique id property, a required name. */
function subscriptionSchema(overrides: Partial<ObjectSchemaEgg> = {}): ObjectSchemaEgg {
  return {
    name: 'stripe_subscription',
    labels: { singular: 'Stripe subscription', plural: 'Stripe subscriptions' },
    description: 'One record per Stripe subscription',
    primaryDisplayProperty: 'sub_name',
    requiredProperties: ['sub_id', 'sub_name'],
    searchableProperties: ['sub_id', 'sub_name'],
    secondaryDisplayProperties: ['sub_status'],
    associatedObjects: ['COMPANY', 'CONTACT'],
    properties: [
      { name: 'sub_id', label: 'Subscription ID', type: 'string' as never, fieldType: 'text', hasUniqueValue: true },
      { name: 'sub_name', label: 'Name', type: 'string' as never, fieldType: 'text' },
      { name: 'sub_status', label: 'Status', type: 'string' as never, fieldType: 'text' },
      { name: 'sub_mrr', label: 'MRR', type: 'number' as never, fieldType: 'number' },
      { name: 'sub_renews', label: 'Renews', type: 'date' as never, fieldType: 'date' },
    ],
    ...overrides,
  };
}

beforeAll(async () => {
  running = await startHubSpotSandbox({ portalId: PORTAL, rateLimit: { max: 100_000 }, searchRateLimit: { max: 100_000 }, onResponse: (r) => recorded.push(r) });
  client = hubspotClientFor(running.url);
});

afterAll(async () => {
  await running.close();
});

beforeEach(() => {
  running.sandbox.reset();
});

describe('schemas API', () => {
  it('creates a custom object and answers it by type id, fully qualified name and p_<name>', async () => {
    const created = await client.crm.schemas.coreApi.create(subscriptionSchema());
    expect(created.objectTypeId).toMatch(/^2-\d+$/);
    expect(created.id).toBe(created.objectTypeId?.slice(2));
    expect(created.fullyQualifiedName).toBe(`p${PORTAL}_stripe_subscription`);
    expect(created.name).toBe('stripe_subscription');
    expect(created.labels).toEqual({ singular: 'Stripe subscription', plural: 'Stripe subscriptions' });
    expect(created.requiredProperties).toEqual(['sub_id', 'sub_name']);
    expect(created.primaryDisplayProperty).toBe('sub_name');
    expect(created.searchableProperties).toEqual(['sub_id', 'sub_name']);
    const props = new Map(created.properties.map((p) => [p.name, p]));
    expect(props.get('sub_id')).toMatchObject({ type: 'string', hasUniqueValue: true, groupName: 'stripe_subscription_information', hubspotDefined: false });
    expect(props.get('sub_mrr')).toMatchObject({ type: 'number', fieldType: 'number' });
    expect(props.get('hs_object_id')).toMatchObject({ hubspotDefined: true });
    // One association definition per associated object, from the custom object to it.
    expect(created.associations.map((a) => [a.fromObjectTypeId, a.toObjectTypeId, a.name])).toEqual([
      [created.objectTypeId, '0-2', 'stripe_subscription_to_company'],
      [created.objectTypeId, '0-1', 'stripe_subscription_to_contact'],
    ]);

    for (const name of [created.objectTypeId!, created.fullyQualifiedName!, 'p_stripe_subscription']) {
      const read = await client.crm.schemas.coreApi.getById(name);
      expect(read.id).toBe(created.id);
    }
    const all = await client.crm.schemas.coreApi.getAll();
    expect(all.results.map((s) => s.fullyQualifiedName)).toEqual([created.fullyQualifiedName]);
    // The older path HubSpot's guides show answers the same.
    const legacy = (await (await fetch(`${running.url}/crm/v3/schemas/${created.objectTypeId}`, { headers: { Authorization: 'Bearer t' } })).json()) as { id: string };
    expect(legacy.id).toBe(created.id);
  });

  it('refuses a second object of the same name, a bad name, missing labels and display properties it does not define', async () => {
    await client.crm.schemas.coreApi.create(subscriptionSchema());
    expect(await failure(client.crm.schemas.coreApi.create(subscriptionSchema()))).toMatchObject({ code: 409, body: { category: 'OBJECT_ALREADY_EXISTS' } });
    expect((await failure(client.crm.schemas.coreApi.create(subscriptionSchema({ name: '1bad-name' })))).code).toBe(400);
    expect((await failure(client.crm.schemas.coreApi.create(subscriptionSchema({ name: 'other', labels: { singular: 'Other' } })))).code).toBe(400);
    const unknownRequired = await failure(client.crm.schemas.coreApi.create(subscriptionSchema({ name: 'other', requiredProperties: ['nope'] })));
    expect(unknownRequired).toMatchObject({ code: 400, body: { category: 'VALIDATION_ERROR' } });
    expect(String(unknownRequired.body.message)).toContain('nope');
    const unknownAssociated = await failure(client.crm.schemas.coreApi.create(subscriptionSchema({ name: 'other', associatedObjects: ['SPACESHIP'] })));
    expect(unknownAssociated.code).toBe(400);
    // A refused schema leaves nothing behind: its name is free and no type resolves.
    expect((await client.crm.schemas.coreApi.getAll()).results).toHaveLength(1);
    expect((await failure(client.crm.objects.basicApi.getPage(`p${PORTAL}_other`))).code).toBe(400);
  });

  it('updates display settings and required properties, archives only an empty object, and purges to free the name', async () => {
    const created = await client.crm.schemas.coreApi.create(subscriptionSchema());
    const updated = await client.crm.schemas.coreApi.update(created.objectTypeId!, { requiredProperties: ['sub_id'], primaryDisplayProperty: 'sub_status' });
    expect(updated).toMatchObject({ requiredProperties: ['sub_id'], primaryDisplayProperty: 'sub_status', portalId: PORTAL, name: 'stripe_subscription' });
    await client.crm.objects.basicApi.create(created.objectTypeId!, { properties: { sub_id: 'sub_1' }, associations: [] });

    const blocked = await failure(client.crm.schemas.coreApi.archive(created.objectTypeId!));
    expect(blocked.code).toBe(400);
    const [record] = (await client.crm.objects.basicApi.getPage(created.objectTypeId!)).results;
    await client.crm.objects.basicApi.archive(created.objectTypeId!, record!.id);
    await client.crm.schemas.coreApi.archive(created.objectTypeId!);
    expect((await client.crm.schemas.coreApi.getAll()).results).toEqual([]);
    expect((await client.crm.schemas.coreApi.getAll(true)).results.map((s) => s.id)).toEqual([created.id]);
    expect((await failure(client.crm.schemas.coreApi.getById(created.objectTypeId!))).code).toBe(404);
    expect((await failure(client.crm.objects.basicApi.getPage(created.objectTypeId!))).code).toBe(400);
    // The name stays taken until the archived schema is purged.
    expect((await failure(client.crm.schemas.coreApi.create(subscriptionSchema()))).code).toBe(409);
    await client.crm.schemas.coreApi.archive(created.objectTypeId!, true);
    const again = await client.crm.schemas.coreApi.create(subscriptionSchema());
    expect(again.objectTypeId).not.toBe(created.objectTypeId);
  });

  it('adds and removes an association definition to another type', async () => {
    const created = await client.crm.schemas.coreApi.create(subscriptionSchema({ associatedObjects: ['COMPANY'] }));
    const deal = await client.crm.schemas.coreApi.createAssociation(created.objectTypeId!, { fromObjectTypeId: created.objectTypeId!, toObjectTypeId: 'deal', name: 'subscription_deal' });
    expect(deal).toMatchObject({ fromObjectTypeId: created.objectTypeId, toObjectTypeId: '0-3', name: 'subscription_deal' });
    expect((await failure(client.crm.schemas.coreApi.createAssociation(created.objectTypeId!, { fromObjectTypeId: created.objectTypeId!, toObjectTypeId: '0-3' }))).code).toBe(409);
    expect((await client.crm.schemas.coreApi.getById(created.objectTypeId!)).associations.map((a) => a.toObjectTypeId)).toEqual(['0-2', '0-3']);
    await client.crm.schemas.coreApi.archiveAssociation(created.objectTypeId!, deal.id);
    expect((await client.crm.schemas.coreApi.getById(created.objectTypeId!)).associations.map((a) => a.toObjectTypeId)).toEqual(['0-2']);
  });
});

describe('custom object records through the generic APIs', () => {
  it('batch-upserts by the unique property under any name of the type, enforcing required properties', async () => {
    const schema = await client.crm.schemas.coreApi.create(subscriptionSchema());
    const fqn = schema.fullyQualifiedName!;
    const first = await client.crm.objects.batchApi.upsert(schema.objectTypeId!, {
      inputs: [
        { idProperty: 'sub_id', id: 'sub_A', objectWriteTraceId: 'sub_A', properties: { sub_name: 'Pro monthly', sub_mrr: '49.50', sub_renews: '2026-02-01' } },
        { idProperty: 'sub_id', id: 'sub_B', objectWriteTraceId: 'sub_B', properties: { sub_name: 'Team yearly', sub_mrr: '100' } },
      ],
    });
    expect(first.results.map((r) => [r.objectWriteTraceId, r._new])).toEqual([['sub_A', true], ['sub_B', true]]);
    const again = await client.crm.objects.batchApi.upsert('p_stripe_subscription', {
      inputs: [{ idProperty: 'sub_id', id: 'sub_A', objectWriteTraceId: 'sub_A', properties: { sub_status: 'past_due', sub_mrr: '0' } }],
    });
    expect(again.results[0]).toMatchObject({ _new: false, id: first.results[0]!.id });

    const read = await client.crm.objects.basicApi.getById(fqn, 'sub_A', ['sub_name', 'sub_status', 'sub_mrr', 'sub_renews'], undefined, undefined, false, 'sub_id');
    expect(read.properties).toMatchObject({ sub_name: 'Pro monthly', sub_status: 'past_due', sub_mrr: '0', sub_renews: '2026-02-01' });
    expect((await client.crm.objects.basicApi.getPage(fqn, 10)).results).toHaveLength(2);

    // A create without a required property is refused; an update need not repeat it.
    const missing = await failure(client.crm.objects.batchApi.upsert(fqn, { inputs: [{ idProperty: 'sub_id', id: 'sub_C', properties: { sub_status: 'active' } }] }));
    expect(missing).toMatchObject({ code: 400, body: { category: 'VALIDATION_ERROR' } });
    expect(String(missing.body.message)).toContain('REQUIRED_PROPERTY');
    expect(String(missing.body.message)).toContain('sub_name');
    // The unique property stays unique.
    const dup = await failure(client.crm.objects.basicApi.create(fqn, { properties: { sub_id: 'sub_B', sub_name: 'copy' }, associations: [] }));
    expect(String(dup.body.message)).toContain('INVALID_UNIQUE_VALUE');
    // Upserting by a property that is not unique is refused, as for standard objects.
    expect((await failure(client.crm.objects.batchApi.upsert(fqn, { inputs: [{ idProperty: 'sub_name', id: 'x', properties: {} }] }))).code).toBe(400);
    // The bare name is not an object type (HubSpot removed that in 2025).
    expect((await failure(client.crm.objects.basicApi.getPage('stripe_subscription'))).body).toMatchObject({ message: 'Unable to infer object type from: stripe_subscription' });
    // Searchable properties are what a free-text query matches.
    const found = await client.crm.objects.searchApi.doSearch(fqn, { query: 'Team', filterGroups: [], sorts: [], properties: ['sub_name'], limit: 10, after: '0' });
    expect(found.results.map((r) => r.properties.sub_name)).toEqual(['Team yearly']);
  });

  it('manages the custom object’s properties through the properties API', async () => {
    const schema = await client.crm.schemas.coreApi.create(subscriptionSchema());
    await client.crm.properties.groupsApi.create(schema.objectTypeId!, { name: 'stripe', label: 'Stripe', displayOrder: -1 });
    await client.crm.properties.coreApi.create(schema.fullyQualifiedName!, { name: 'sub_currency', label: 'Currency', type: 'string' as never, fieldType: 'text' as never, groupName: 'stripe' });
    const names = (await client.crm.properties.coreApi.getAll('p_stripe_subscription')).results.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['sub_id', 'sub_name', 'sub_currency', 'hs_object_id', 'hs_createdate']));
    expect((await client.crm.schemas.coreApi.getById(schema.objectTypeId!)).properties.map((p) => p.name)).toContain('sub_currency');
  });

  it('associates records with companies and contacts through v4, by default and by the schema’s type id, both ways', async () => {
    const schema = await client.crm.schemas.coreApi.create(subscriptionSchema());
    const typeId = schema.objectTypeId!;
    const toCompany = schema.associations.find((a) => a.toObjectTypeId === '0-2')!;
    const company = await client.crm.companies.basicApi.create({ properties: { name: 'Acme' }, associations: [] });
    const contact = await client.crm.contacts.basicApi.create({ properties: { email: 'ada@acme.test' }, associations: [] });
    const sub = await client.crm.objects.basicApi.create(typeId, {
      properties: { sub_id: 'sub_A', sub_name: 'Pro' },
      associations: [{ to: { id: company.id }, types: [spec(Number(toCompany.id), 'USER_DEFINED')] }],
    });
    await client.crm.associations.v4.batchApi.createDefault(schema.fullyQualifiedName!, 'contacts', { inputs: [{ _from: { id: sub.id }, to: { id: contact.id } }] });

    const companies = await client.crm.associations.v4.basicApi.getPage(typeId, sub.id, 'companies');
    expect(companies.results).toEqual([{ toObjectId: company.id, associationTypes: [{ category: 'USER_DEFINED', typeId: Number(toCompany.id) }] }]);
    const fromCompany = await client.crm.associations.v4.basicApi.getPage('companies', company.id, 'p_stripe_subscription');
    expect(fromCompany.results.map((r) => r.toObjectId)).toEqual([sub.id]);
    const fromContact = await client.crm.associations.v4.basicApi.getPage('contacts', contact.id, typeId);
    expect(fromContact.results.map((r) => r.toObjectId)).toEqual([sub.id]);
    const labels = await client.crm.associations.v4.schema.definitionsApi.getAll(typeId, 'companies');
    expect(labels.results).toEqual([{ category: 'USER_DEFINED', typeId: Number(toCompany.id) }]);
    // A standard type the schema did not associate with is refused.
    const deal = await client.crm.deals.basicApi.create({ properties: { dealname: 'x' }, associations: [] });
    expect((await failure(client.crm.associations.v4.basicApi.createDefault(typeId, sub.id, 'deals', deal.id))).code).toBe(400);
    // Reads with associations list them under the fully qualified name too.
    const companyRead = await client.crm.companies.basicApi.getById(company.id, undefined, undefined, [typeId]);
    expect(companyRead.associations?.[schema.fullyQualifiedName!]?.results.map((r) => r.id)).toEqual([sub.id]);
  });

  it('shows custom objects and their records in the inspection views', async () => {
    const schema = await client.crm.schemas.coreApi.create(subscriptionSchema());
    await client.crm.objects.basicApi.create(schema.objectTypeId!, { properties: { sub_id: 'sub_A', sub_name: 'Pro' }, associations: [] });
    const state = (await (await fetch(`${running.url}/__sandbox/state`)).json()) as Record<string, unknown>;
    expect(state.customObjects).toEqual([{ name: 'stripe_subscription', fullyQualifiedName: schema.fullyQualifiedName, objectTypeId: schema.objectTypeId }]);
    expect((state.objects as Record<string, unknown>)[schema.fullyQualifiedName!]).toEqual({ live: 1, archived: 0, merged: 0 });
    const records = (await (await fetch(`${running.url}/__sandbox/objects/${schema.objectTypeId}`)).json()) as { results: Array<{ properties: Record<string, string> }> };
    expect(records.results.map((r) => r.properties.sub_id)).toEqual(['sub_A']);
    running.sandbox.reset();
    expect((await client.crm.schemas.coreApi.getAll()).results).toEqual([]);
  });
});

describe('conformance with HubSpot’s OpenAPI documents', () => {
  it('every answer in this file conforms to the documents for its path, method and status', async () => {
    const checker = await OpenApiChecker.fromDirectory(REFERENCE_DIR, { allowNullInStringMaps: true, allowedExtraFields: UNDOCUMENTED_ERROR_FIELDS });
    const failures: string[] = [];
    const operations = new Set<string>();
    for (const r of recorded) {
      if (UNDOCUMENTED_ROUTES.some((re) => re.test(r.path))) continue;
      const result = checker.checkResponse(r.method, r.path, r.status, r.body);
      if (result.operation) operations.add(`${r.method} ${result.operation.template} ${r.status}`);
      for (const p of result.problems) failures.push(`${r.method} ${r.path} ${r.status}: ${p}`);
    }
    expect(failures).toEqual([]);
    for (const op of ['POST /crm-object-schemas/v3/schemas 201', 'GET /crm-object-schemas/v3/schemas 200', 'GET /crm-object-schemas/v3/schemas/{objectType} 200', 'PATCH /crm-object-schemas/v3/schemas/{objectType} 200']) {
      expect(operations).toContain(op);
    }
  });
});
