import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { AssociationTypes, type Client } from '@hubspot/api-client';
import type { Filter } from '@hubspot/api-client/lib/codegen/crm/companies/index.js';
import type { Filter as ContactFilter } from '@hubspot/api-client/lib/codegen/crm/contacts/index.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  hubspotClientFor,
  startHubSpotSandbox,
  type ResponseRecord,
  type RunningHubSpotSandbox,
} from '../../sandboxes/hubspot/index.js';
import { OpenApiChecker } from '../../sandboxes/hubspot/openapi-check.js';

/** HubSpot's own OpenAPI documents (see /work/shared/reference/README.md); every answer is checked against them. */
// shared/ sits beside the project checkout (CI lays a copy there too).
const REFERENCE_DIR = [fileURLToPath(new URL('../../../shared/reference/hubspot', import.meta.url)), '/work/shared/reference/hubspot'].find((dir) => existsSync(dir)) ?? '/work/shared/reference/hubspot';

/** The association label definitions API is not among the reference documents, so its answers cannot be checked. */
const UNDOCUMENTED_ROUTES = [/^\/crm\/v4\/associations\/[^/]+\/[^/]+\/labels(\/\d+)?$/];

/** Fields real HubSpot error bodies carry beyond the documents' `Error` schema. */
const UNDOCUMENTED_ERROR_FIELDS = ['status', 'errorType', 'policyName', 'groupName', 'requestId'];

const recorded: ResponseRecord[] = [];
const record = (r: ResponseRecord): void => {
  recorded.push(r);
};

interface ApiFailure {
  code: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** The client's ApiException for a call that must fail. */
async function failure(call: Promise<unknown>): Promise<ApiFailure> {
  try {
    await call;
  } catch (err) {
    const e = err as Partial<ApiFailure>;
    if (typeof e.code === 'number' && typeof e.body === 'object' && e.body !== null) {
      return { code: e.code, body: e.body, headers: e.headers ?? {} };
    }
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** An association spec typed as whatever enum the client's model asks for. */
function spec<C extends string>(associationTypeId: number, category = 'HUBSPOT_DEFINED'): { associationCategory: C; associationTypeId: number } {
  return { associationCategory: category as C, associationTypeId };
}

/** A company search filter; the operator is checked by the sandbox, so any string may be sent. */
function filter(propertyName: string, operator: string, extra: { value?: string; highValue?: string; values?: string[] } = {}): Filter {
  return { propertyName, operator: operator as Filter['operator'], ...extra };
}

let running: RunningHubSpotSandbox;
let client: Client;

async function sandboxJson(path: string, init?: RequestInit): Promise<Record<string, unknown>> {
  const res = await fetch(`${running.url}${path}`, init);
  return (await res.json()) as Record<string, unknown>;
}

async function createCustomerIdProperty(objectType = 'companies'): Promise<void> {
  await client.crm.properties.coreApi.create(objectType, {
    name: 'stripe_customer_id',
    label: 'Stripe Customer ID',
    type: 'string' as never,
    fieldType: 'text' as never,
    groupName: objectType === 'companies' ? 'companyinformation' : 'contactinformation',
    hasUniqueValue: true,
  });
}

beforeAll(async () => {
  // Generous limits here; the rate-limit tests run their own sandbox with tight ones.
  running = await startHubSpotSandbox({
    rateLimit: { max: 100_000 },
    searchRateLimit: { max: 100_000 },
    onResponse: record,
  });
  client = hubspotClientFor(running.url);
});

afterAll(async () => {
  await running.close();
});

beforeEach(() => {
  running.sandbox.reset();
});

describe('records', () => {
  it('creates a company, reads it by id and by a unique idProperty, updates and archives it', async () => {
    await createCustomerIdProperty();
    const created = await client.crm.companies.basicApi.create({
      properties: { name: 'Acme', domain: 'acme.test', stripe_customer_id: 'cus_ACME' },
      associations: [],
    });
    expect(created.id).toMatch(/^\d+$/);
    expect(created.archived).toBe(false);
    expect(created.properties).toMatchObject({ name: 'Acme', stripe_customer_id: 'cus_ACME', hs_object_id: created.id });

    const byId = await client.crm.companies.basicApi.getById(created.id);
    expect(byId.properties).toEqual({
      createdate: created.createdAt.toISOString(),
      domain: 'acme.test',
      hs_lastmodifieddate: created.updatedAt.toISOString(),
      hs_object_id: created.id,
      name: 'Acme',
    });

    const byCustomer = await client.crm.companies.basicApi.getById('cus_ACME', ['name'], undefined, undefined, false, 'stripe_customer_id');
    expect(byCustomer.id).toBe(created.id);

    const updated = await client.crm.companies.basicApi.update(created.id, { properties: { name: 'Acme Inc' } });
    expect(updated.properties.name).toBe('Acme Inc');
    expect(updated.updatedAt.getTime()).toBeGreaterThan(created.updatedAt.getTime());

    const viaIdProperty = await client.crm.companies.basicApi.update('cus_ACME', { properties: { domain: 'acme.example' } }, 'stripe_customer_id');
    expect(viaIdProperty).toMatchObject({ id: created.id, properties: { domain: 'acme.example' } });

    await client.crm.companies.basicApi.archive(created.id);
    expect((await failure(client.crm.companies.basicApi.getById(created.id))).code).toBe(404);
    const archived = await client.crm.companies.basicApi.getById(created.id, undefined, undefined, undefined, true);
    expect(archived.archived).toBe(true);
    expect(archived.archivedAt).toBeInstanceOf(Date);
    // Archiving is idempotent.
    await client.crm.companies.basicApi.archive(created.id);
  });

  it('reads contacts by email case-insensitively, since HubSpot stores emails lower-cased', async () => {
    const contact = await client.crm.contacts.basicApi.create({
      properties: { email: 'Jane.Doe@Example.com', firstname: 'Jane' },
      associations: [],
    });
    expect(contact.properties.email).toBe('jane.doe@example.com');
    const found = await client.crm.contacts.basicApi.getById('JANE.DOE@example.com', ['firstname'], undefined, undefined, false, 'email');
    expect(found.id).toBe(contact.id);
    expect(found.properties.firstname).toBe('Jane');
  });

  it.each([
    { label: 'companies API', type: 'companies', properties: { name: 'Globex' } },
    { label: 'contacts API', type: 'contacts', properties: { email: 'h@globex.test', lastname: 'Simpson' } },
    { label: 'deals API', type: 'deals', properties: { dealname: 'Renewal', amount: '1200.50', dealstage: 'closedwon', pipeline: 'default' } },
    { label: 'notes API', type: 'notes', properties: { hs_note_body: 'Paid invoice', hs_timestamp: '2026-01-02T03:04:05.000Z' } },
    { label: 'tasks API', type: 'tasks', properties: { hs_task_subject: 'Call back', hs_task_status: 'NOT_STARTED', hs_timestamp: '1767323045000' } },
  ])('creates and reads back a record through the $label and the generic objects API', async ({ type, properties }) => {
    const api =
      type === 'notes'
        ? client.crm.objects.notes.basicApi
        : type === 'tasks'
          ? client.crm.objects.tasks.basicApi
          : client.crm[type as 'companies' | 'contacts' | 'deals'].basicApi;
    const created = await api.create({ properties, associations: [] });
    const read = await api.getById(created.id, Object.keys(properties));
    const generic = await client.crm.objects.basicApi.getById(type, created.id, Object.keys(properties));
    expect(generic.properties).toEqual(read.properties);
    expect(read.properties.hs_object_id).toBe(created.id);
    for (const name of Object.keys(properties)) expect(read.properties[name]).not.toBeNull();
  });

  it('stores every value as a normalized string, as HubSpot does', async () => {
    const deal = await client.crm.deals.basicApi.create({
      properties: { dealname: 'Annual', amount: '0049.500', closedate: '1767225600000' },
      associations: [],
    });
    const read = await client.crm.objects.basicApi.getById('0-3', deal.id, ['amount', 'closedate', 'description']);
    expect(read.properties).toMatchObject({
      amount: '49.5',
      closedate: '2026-01-01T00:00:00.000Z',
      // A property that exists but has no value reads as null; an unknown one is ignored.
      description: null,
    });
    const cleared = await client.crm.deals.basicApi.update(deal.id, { properties: { amount: '' } });
    expect(cleared.properties.amount).toBeNull();
  });

  it('answers propertiesWithHistory newest first', async () => {
    const company = await client.crm.companies.basicApi.create({ properties: { name: 'v1' }, associations: [] });
    await client.crm.companies.basicApi.update(company.id, { properties: { name: 'v2' } });
    await client.crm.companies.basicApi.update(company.id, { properties: { name: 'v3' } });
    const read = await client.crm.companies.basicApi.getById(company.id, undefined, ['name']);
    expect(read.propertiesWithHistory?.name?.map((h) => h.value)).toEqual(['v3', 'v2', 'v1']);
    expect(read.propertiesWithHistory?.name?.[0]?.timestamp).toBeInstanceOf(Date);
  });

  it('lists with limit/after paging until paging.next is absent', async () => {
    const batch = await client.crm.companies.batchApi.create({
      inputs: Array.from({ length: 25 }, (_, i) => ({ properties: { name: `Co ${i}` }, associations: [] })),
    });
    expect(batch.results).toHaveLength(25);
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await client.crm.companies.basicApi.getPage(10, after, ['name']);
      seen.push(...page.results.map((r) => r.id));
      after = page.paging?.next?.after;
      pages++;
    } while (after !== undefined);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(25);
    expect(await client.crm.companies.getAll(7)).toHaveLength(25);
  });

  it.each([
    {
      label: 'an unknown property',
      properties: { name: 'X', favourite_colour: 'teal' },
      code: 'PROPERTY_DOESNT_EXIST',
      message: 'Property "favourite_colour" does not exist',
    },
    { label: 'a non-numeric number', properties: { numberofemployees: 'lots' }, code: 'INVALID_INTEGER', message: 'lots was not a valid number.' },
    { label: 'scientific notation', properties: { annualrevenue: '1e3' }, code: 'INVALID_INTEGER', message: '1e3 was not a valid number.' },
    {
      label: 'an option that does not exist',
      properties: { type: 'COMPETITOR' },
      code: 'INVALID_OPTION',
      message: 'COMPETITOR was not one of the allowed options: [PROSPECT, PARTNER, RESELLER, VENDOR, OTHER]',
    },
    { label: 'a read-only property', properties: { hs_object_id: '5' }, code: 'READ_ONLY_VALUE', message: 'Property "hs_object_id" is read-only' },
    { label: 'an unknown owner', properties: { hubspot_owner_id: '404' }, code: 'INVALID_OWNER_ID', message: '404 is not a valid owner id' },
  ])('rejects $label with HubSpot’s property validation error', async ({ properties, code, message }) => {
    const err = await failure(client.crm.companies.basicApi.create({ properties, associations: [] }));
    expect(err.code).toBe(400);
    expect(err.body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
    expect(String(err.body.message)).toMatch(/^Property values were not valid: \[/);
    const embedded = JSON.parse(String(err.body.message).replace('Property values were not valid: ', '')) as Array<Record<string, unknown>>;
    expect(embedded).toEqual([expect.objectContaining({ isValid: false, error: code, message, localizedErrorMessage: message })]);
    expect(err.body.errors).toEqual([{ message, code, context: { propertyName: [Object.keys(properties).at(-1)] } }]);
    expect(await client.crm.companies.basicApi.getPage()).toMatchObject({ results: [] });
  });

  it.each([
    { label: 'email', type: 'contacts', properties: { email: 'not-an-email' }, code: 'INVALID_EMAIL' },
    { label: 'datetime', type: 'deals', properties: { closedate: 'next tuesday' }, code: 'INVALID_DATE' },
    { label: 'enumeration', type: 'deals', properties: { dealstage: 'won' }, code: 'INVALID_OPTION' },
  ])('validates $label values', async ({ type, properties, code }) => {
    const err = await failure(client.crm.objects.basicApi.create(type, { properties, associations: [] }));
    expect(err.code).toBe(400);
    expect((err.body.errors as Array<{ code: string }>)[0]?.code).toBe(code);
  });

  it('answers HubSpot’s error envelopes for unknown types, unknown ids, missing bodies and missing credentials', async () => {
    const unknownType = await failure(client.crm.objects.basicApi.getPage('widgets'));
    expect(unknownType.code).toBe(400);
    expect(unknownType.body).toMatchObject({ category: 'VALIDATION_ERROR', message: 'Unable to infer object type from: widgets' });

    const missing = await failure(client.crm.contacts.basicApi.getById('999999'));
    expect(missing.code).toBe(404);
    expect(missing.body).toMatchObject({ status: 'error', category: 'OBJECT_NOT_FOUND' });
    expect(missing.body.correlationId).toMatch(/^[0-9a-f-]{36}$/);

    const nonNumeric = await failure(client.crm.contacts.basicApi.getById('jane@example.com'));
    expect(nonNumeric.body.message).toBe('Object not found.  objectId are usually numeric.');

    const noProperties = await failure(client.crm.companies.basicApi.create({} as never));
    expect(noProperties.code).toBe(400);
    expect(noProperties.body.message).toBe(
      'Invalid input JSON on line 1, column 1: Cannot build SimplePublicObjectInputForCreate, some of required attributes are not set [properties]',
    );

    const anonymous = await failure(hubspotClientFor(running.url, '').crm.companies.basicApi.getPage());
    expect(anonymous.code).toBe(401);
    expect(anonymous.body).toMatchObject({ status: 'error', category: 'INVALID_AUTHENTICATION' });
    expect(String(anonymous.body.message)).toMatch(/^Authentication credentials not found/);
  });
});

describe('batch', () => {
  it('creates, reads (207 for missing ids), updates (207 for missing ids) and archives', async () => {
    const created = await client.crm.contacts.batchApi.create({
      inputs: [
        { properties: { email: 'a@b.test' }, associations: [], objectWriteTraceId: 'trace-a' },
        { properties: { email: 'c@d.test' }, associations: [] },
      ],
    });
    expect(created.status).toBe('COMPLETE');
    expect(created.results.map((r) => r.properties.email)).toEqual(['a@b.test', 'c@d.test']);
    expect(created.results[0]?.objectWriteTraceId).toBe('trace-a');
    const [a, b] = created.results.map((r) => r.id);
    if (!a || !b) throw new Error('batch create returned too few results');

    const read = await client.crm.contacts.batchApi.read({
      inputs: [{ id: a }, { id: '424242' }],
      properties: ['email'],
      propertiesWithHistory: [],
    });
    expect(read.results.map((r) => r.id)).toEqual([a]);
    expect('errors' in read && read.errors).toEqual([
      expect.objectContaining({
        status: 'error',
        category: 'OBJECT_NOT_FOUND',
        message: 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
        context: { ids: ['424242'] },
      }),
    ]);
    expect('numErrors' in read && read.numErrors).toBe(1);

    const byEmail = await client.crm.contacts.batchApi.read({
      idProperty: 'email',
      inputs: [{ id: 'C@D.test' }],
      properties: ['email'],
      propertiesWithHistory: [],
    });
    expect(byEmail.results.map((r) => r.id)).toEqual([b]);

    const updated = await client.crm.contacts.batchApi.update({
      inputs: [
        { id: a, properties: { firstname: 'Ann' } },
        { id: '424242', properties: { firstname: 'Nobody' } },
      ],
    });
    expect(updated.results.map((r) => r.properties.firstname)).toEqual(['Ann']);
    expect('errors' in updated && updated.errors?.[0]?.context).toEqual({ ids: ['424242'] });

    await client.crm.contacts.batchApi.archive({ inputs: [{ id: a }, { id: b }, { id: '424242' }] });
    const afterArchive = await client.crm.contacts.batchApi.read({ inputs: [{ id: a }], properties: [], propertiesWithHistory: [] });
    expect(afterArchive.results).toEqual([]);
  });

  const tooMany = Array.from({ length: 101 }, (_, i) => i);
  it.each([
    { label: 'create', call: () => client.crm.companies.batchApi.create({ inputs: tooMany.map((i) => ({ properties: { name: `n${i}` }, associations: [] })) }) },
    { label: 'read', call: () => client.crm.companies.batchApi.read({ inputs: tooMany.map((i) => ({ id: String(i) })), properties: [], propertiesWithHistory: [] }) },
    { label: 'update', call: () => client.crm.companies.batchApi.update({ inputs: tooMany.map((i) => ({ id: String(i), properties: {} })) }) },
    {
      label: 'upsert',
      call: () => client.crm.companies.batchApi.upsert({ inputs: tooMany.map((i) => ({ idProperty: 'stripe_customer_id', id: `c${i}`, properties: {} })) }),
    },
    { label: 'archive', call: () => client.crm.companies.batchApi.archive({ inputs: tooMany.map((i) => ({ id: String(i) })) }) },
  ])('rejects a batch $label of more than 100 inputs', async ({ call }) => {
    const err = await failure(call());
    expect(err.code).toBe(400);
    expect(err.body).toMatchObject({
      category: 'VALIDATION_ERROR',
      message: 'The maximum number of inputs supported in a batch request is 100. Please reduce the number of items and try again.',
    });
  });

  it('rejects a whole batch when one input is invalid, writing nothing', async () => {
    const err = await failure(
      client.crm.companies.batchApi.create({
        inputs: [
          { properties: { name: 'fine' }, associations: [] },
          { properties: { name: 'bad', numberofemployees: 'many' }, associations: [] },
        ],
      }),
    );
    expect(err.code).toBe(400);
    expect((await client.crm.companies.basicApi.getPage()).results).toEqual([]);
  });

  it('upserts by a unique property, flagging new records, and rejects duplicates and non-unique idProperties', async () => {
    await createCustomerIdProperty();
    const first = await client.crm.companies.batchApi.upsert({
      inputs: [
        { idProperty: 'stripe_customer_id', id: 'cus_1', properties: { name: 'One' } },
        { idProperty: 'stripe_customer_id', id: 'cus_2', properties: { name: 'Two' } },
      ],
    });
    expect(first.results.map((r) => [r.properties.stripe_customer_id, r._new])).toEqual([
      ['cus_1', true],
      ['cus_2', true],
    ]);
    const second = await client.crm.companies.batchApi.upsert({
      inputs: [
        { idProperty: 'stripe_customer_id', id: 'cus_2', properties: { name: 'Two!' }, objectWriteTraceId: 't2' },
        { idProperty: 'stripe_customer_id', id: 'cus_3', properties: { name: 'Three' } },
      ],
    });
    expect(second.results.map((r) => [r.properties.name, r._new, r.objectWriteTraceId])).toEqual([
      ['Two!', false, 't2'],
      ['Three', true, undefined],
    ]);
    expect(second.results[0]?.id).toBe(first.results[1]?.id);
    expect((await client.crm.companies.getAll()).length).toBe(3);

    const dupes = await failure(
      client.crm.companies.batchApi.upsert({
        inputs: [
          { idProperty: 'stripe_customer_id', id: 'cus_9', properties: {} },
          { idProperty: 'stripe_customer_id', id: 'cus_9', properties: {} },
        ],
      }),
    );
    expect(dupes.body.message).toBe('Duplicate IDs found in batch input: [cus_9]. IDs must be unique');

    const nonUnique = await failure(
      client.crm.companies.batchApi.upsert({ inputs: [{ idProperty: 'name', id: 'One', properties: {} }] }),
    );
    expect(nonUnique.body.message).toBe(
      `Unable to perform update/upsert by non-unique 0-2 property name in portal ID ${running.sandbox.store.portalId}`,
    );
  });

  it('upserts contacts by email', async () => {
    const existing = await client.crm.contacts.basicApi.create({ properties: { email: 'old@x.test' }, associations: [] });
    const res = await client.crm.contacts.batchApi.upsert({
      inputs: [
        { idProperty: 'email', id: 'OLD@x.test', properties: { firstname: 'Old' } },
        { idProperty: 'email', id: 'new@x.test', properties: { firstname: 'New' } },
      ],
    });
    expect(res.results.map((r) => [r.id === existing.id, r._new, r.properties.email])).toEqual([
      [true, false, 'old@x.test'],
      [false, true, 'new@x.test'],
    ]);
  });
});

describe('search', () => {
  beforeEach(async () => {
    await client.crm.companies.batchApi.create({
      inputs: [
        { properties: { name: 'Alpha Systems', domain: 'alpha.test', numberofemployees: '10', type: 'PROSPECT', createdate: '2026-01-01T00:00:00Z' } },
        { properties: { name: 'Beta Labs', domain: 'beta.test', numberofemployees: '250', type: 'PARTNER', createdate: '2026-02-01T00:00:00Z' } },
        { properties: { name: 'Gamma Systems', domain: 'gamma.example', numberofemployees: '42', createdate: '2026-03-01T00:00:00Z' } },
        { properties: { name: 'Delta', numberofemployees: '5000', type: 'VENDOR', createdate: '2026-04-01T00:00:00Z' } },
      ].map((input) => ({ ...input, associations: [] })),
    });
  });

  const names = async (request: Parameters<Client['crm']['companies']['searchApi']['doSearch']>[0]): Promise<string[]> =>
    (await client.crm.companies.searchApi.doSearch(request)).results.map((r) => r.properties.name ?? '');

  it.each([
    { op: 'EQ', f: filter('name', 'EQ', { value: 'beta labs' }), expected: ['Beta Labs'] },
    { op: 'NEQ', f: filter('type', 'NEQ', { value: 'PARTNER' }), expected: ['Alpha Systems', 'Gamma Systems', 'Delta'] },
    { op: 'LT', f: filter('numberofemployees', 'LT', { value: '42' }), expected: ['Alpha Systems'] },
    { op: 'LTE', f: filter('numberofemployees', 'LTE', { value: '42' }), expected: ['Alpha Systems', 'Gamma Systems'] },
    { op: 'GT', f: filter('numberofemployees', 'GT', { value: '250' }), expected: ['Delta'] },
    { op: 'GTE', f: filter('numberofemployees', 'GTE', { value: '250' }), expected: ['Beta Labs', 'Delta'] },
    { op: 'BETWEEN', f: filter('numberofemployees', 'BETWEEN', { value: '11', highValue: '250' }), expected: ['Beta Labs', 'Gamma Systems'] },
    { op: 'BETWEEN (dates)', f: filter('createdate', 'BETWEEN', { value: '1769904000000', highValue: '2026-03-15' }), expected: ['Beta Labs', 'Gamma Systems'] },
    { op: 'IN', f: filter('type', 'IN', { values: ['PROSPECT', 'VENDOR'] }), expected: ['Alpha Systems', 'Delta'] },
    { op: 'NOT_IN', f: filter('type', 'NOT_IN', { values: ['PROSPECT', 'VENDOR'] }), expected: ['Beta Labs', 'Gamma Systems'] },
    { op: 'HAS_PROPERTY', f: filter('domain', 'HAS_PROPERTY'), expected: ['Alpha Systems', 'Beta Labs', 'Gamma Systems'] },
    { op: 'NOT_HAS_PROPERTY', f: filter('domain', 'NOT_HAS_PROPERTY'), expected: ['Delta'] },
    { op: 'CONTAINS_TOKEN', f: filter('name', 'CONTAINS_TOKEN', { value: 'systems' }), expected: ['Alpha Systems', 'Gamma Systems'] },
    { op: 'CONTAINS_TOKEN (wildcard)', f: filter('domain', 'CONTAINS_TOKEN', { value: '*.test' }), expected: ['Alpha Systems', 'Beta Labs'] },
    { op: 'NOT_CONTAINS_TOKEN', f: filter('name', 'NOT_CONTAINS_TOKEN', { value: 'systems' }), expected: ['Beta Labs', 'Delta'] },
  ])('filters with $op', async ({ f, expected }) => {
    expect(await names({ filterGroups: [{ filters: [f] }] })).toEqual(expected);
  });

  it('ORs filter groups, ANDs filters within a group, matches query words by prefix', async () => {
    const or = await names({
      filterGroups: [{ filters: [filter('name', 'EQ', { value: 'Delta' })] }, { filters: [filter('type', 'EQ', { value: 'PARTNER' })] }],
    });
    expect(or).toEqual(['Beta Labs', 'Delta']);
    const and = await names({
      filterGroups: [{ filters: [filter('name', 'CONTAINS_TOKEN', { value: 'systems' }), filter('numberofemployees', 'GT', { value: '20' })] }],
    });
    expect(and).toEqual(['Gamma Systems']);
    expect(await names({ query: 'sys' })).toEqual(['Alpha Systems', 'Gamma Systems']);
    expect(await names({ query: 'gamma.example' })).toEqual(['Gamma Systems']);
  });

  it('filters by associations.<type>, as HubSpot allows for finding a company’s deals', async () => {
    const [alpha, beta] = (await client.crm.companies.basicApi.getPage(2)).results.map((r) => r.id);
    const deals = await client.crm.deals.batchApi.create({
      inputs: [
        { properties: { dealname: 'For alpha' }, associations: [{ to: { id: alpha ?? '' }, types: [spec(AssociationTypes.dealToCompany)] }] },
        { properties: { dealname: 'For beta' }, associations: [{ to: { id: beta ?? '' }, types: [spec(AssociationTypes.dealToCompany)] }] },
        { properties: { dealname: 'Orphan' }, associations: [] },
      ],
    });
    expect(deals.results).toHaveLength(3);
    const dealNames = async (f: Filter) =>
      (await client.crm.deals.searchApi.doSearch({ filterGroups: [{ filters: [f as never] }], properties: ['dealname'] })).results.map(
        (r) => r.properties.dealname,
      );
    expect(await dealNames(filter('associations.company', 'EQ', { value: alpha ?? '' }))).toEqual(['For alpha']);
    expect(await dealNames(filter('associations.companies', 'IN', { values: [alpha ?? '', beta ?? ''] }))).toEqual(['For alpha', 'For beta']);
    expect(await dealNames(filter('associations.company', 'NOT_HAS_PROPERTY'))).toEqual(['Orphan']);
    const unsupported = await failure(client.crm.deals.searchApi.doSearch({ filterGroups: [{ filters: [filter('associations.company', 'GT', { value: '1' }) as never] }] }));
    expect(unsupported.code).toBe(400);
  });

  it('sorts, pages with after, reports total and returns the requested properties', async () => {
    const first = await client.crm.companies.searchApi.doSearch({
      sorts: ['-numberofemployees'],
      properties: ['numberofemployees'],
      limit: 3,
    });
    expect(first.total).toBe(4);
    expect(first.results.map((r) => r.properties.numberofemployees)).toEqual(['5000', '250', '42']);
    expect(Object.keys(first.results[0]?.properties ?? {}).sort()).toEqual(['createdate', 'hs_lastmodifieddate', 'hs_object_id', 'numberofemployees']);
    expect(first.paging?.next?.after).toBe('3');
    const second = await client.crm.companies.searchApi.doSearch({
      sorts: [JSON.stringify({ propertyName: 'numberofemployees', direction: 'DESCENDING' })],
      limit: 3,
      after: first.paging?.next?.after ?? '',
    });
    expect(second.results.map((r) => r.properties.name)).toEqual(['Alpha Systems']);
    expect(second.paging).toBeUndefined();
    const contacts = await client.crm.contacts.searchApi.doSearch({ filterGroups: [{ filters: [{ propertyName: 'email', operator: 'HAS_PROPERTY' as ContactFilter['operator'] }] }],
    });
    expect(contacts.total).toBe(0);
  });

  const groups = (count: number, perGroup: number) =>
    Array.from({ length: count }, () => ({ filters: Array.from({ length: perGroup }, () => filter('name', 'HAS_PROPERTY')) }));
  it.each([
    { label: '6 filter groups', request: { filterGroups: groups(6, 1) }, message: /maximum number of filterGroups is 5/ },
    { label: '7 filters in a group', request: { filterGroups: groups(1, 7) }, message: /maximum number of filters per filterGroup is 6/ },
    { label: '19 filters in all', request: { filterGroups: [...groups(3, 6), ...groups(1, 1)] }, message: /maximum number of filters across all filterGroups is 18/ },
    { label: 'limit 201', request: { limit: 201 }, message: /limit must be between 0 and 200/ },
    { label: 'paging past 10,000', request: { after: '10000' }, message: /limited to 10000 records/ },
    { label: 'an unknown property', request: { filterGroups: [{ filters: [filter('shoe_size', 'EQ', { value: '9' })] }] }, message: /shoe_size/ },
    { label: 'two sorts', request: { sorts: ['name', 'domain'] }, message: /Only one sort rule/ },
    { label: 'EQ without value', request: { filterGroups: [{ filters: [filter('name', 'EQ')] }] }, message: /requires a value/ },
  ])('rejects $label with 400 VALIDATION_ERROR', async ({ request, message }) => {
    const err = await failure(client.crm.companies.searchApi.doSearch(request));
    expect(err.code).toBe(400);
    expect(err.body.category).toBe('VALIDATION_ERROR');
    expect(String(err.body.message)).toMatch(message);
  });

  it('stops paging at 10,000 results while total counts every match', async () => {
    // 10,050 records are seeded straight into the store: pushing them through HTTP would test nothing more here.
    const { store } = running.sandbox;
    for (let i = 0; i < 10_046; i++) store.commitCreate('companies', store.prepare('companies', new Map([['name', `Bulk ${i}`]])));
    const nearEnd = await client.crm.companies.searchApi.doSearch({ after: '9990', limit: 20 });
    expect(nearEnd.total).toBe(10_050);
    expect(nearEnd.results).toHaveLength(10);
    expect(nearEnd.paging).toBeUndefined();
    expect((await failure(client.crm.companies.searchApi.doSearch({ after: '10000', limit: 10 }))).code).toBe(400);
  });
});

describe('properties', () => {
  it('creates (201), reads, lists, updates and archives a property; a second create is 409', async () => {
    const created = await client.crm.properties.coreApi.create('companies', {
      name: 'stripe_mrr',
      label: 'Stripe MRR',
      type: 'number' as never,
      fieldType: 'number' as never,
      groupName: 'companyinformation',
    });
    expect(created).toMatchObject({ name: 'stripe_mrr', type: 'number', hubspotDefined: false, hasUniqueValue: false });

    const again = await failure(
      client.crm.properties.coreApi.create('companies', {
        name: 'stripe_mrr',
        label: 'Again',
        type: 'number' as never,
        fieldType: 'number' as never,
        groupName: 'companyinformation',
      }),
    );
    expect(again.code).toBe(409);
    expect(again.body).toMatchObject({ category: 'OBJECT_ALREADY_EXISTS', message: "Property named 'stripe_mrr' already exists." });

    expect((await client.crm.properties.coreApi.getByName('companies', 'stripe_mrr')).label).toBe('Stripe MRR');
    const all = await client.crm.properties.coreApi.getAll('companies');
    expect(all.results.map((p) => p.name)).toEqual(expect.arrayContaining(['name', 'domain', 'hs_object_id', 'stripe_mrr']));
    expect((await client.crm.properties.coreApi.update('companies', 'stripe_mrr', { label: 'MRR' })).label).toBe('MRR');

    await client.crm.companies.basicApi.create({ properties: { stripe_mrr: '49.5' }, associations: [] });
    await client.crm.properties.coreApi.archive('companies', 'stripe_mrr');
    expect((await failure(client.crm.properties.coreApi.getByName('companies', 'stripe_mrr'))).code).toBe(404);
    expect((await client.crm.properties.coreApi.getByName('companies', 'stripe_mrr', true)).archived).toBe(true);
    const write = await failure(client.crm.companies.basicApi.create({ properties: { stripe_mrr: '1' }, associations: [] }));
    expect((write.body.errors as Array<{ code: string }>)[0]?.code).toBe('PROPERTY_DOESNT_EXIST');
  });

  it.each([
    { label: 'a reserved hs_ name', body: { name: 'hs_custom', type: 'string', fieldType: 'text' }, message: /reserved/ },
    { label: 'an invalid name', body: { name: 'Bad Name', type: 'string', fieldType: 'text' }, message: /invalid/ },
    { label: 'a fieldType the type cannot use', body: { name: 'x_date', type: 'date', fieldType: 'text' }, message: /Invalid fieldType 'text'/ },
    { label: 'a missing group', body: { name: 'x_str', type: 'string', fieldType: 'text', groupName: 'nope' }, message: /group 'nope' does not exist/ },
    { label: 'a unique enumeration', body: { name: 'x_enum', type: 'enumeration', fieldType: 'select', hasUniqueValue: true }, message: /unique/ },
  ])('rejects a property with $label', async ({ body, message }) => {
    const err = await failure(
      client.crm.properties.coreApi.create('contacts', { label: 'L', groupName: 'contactinformation', ...body } as never),
    );
    expect(err.code).toBe(400);
    expect(String(err.body.message)).toMatch(message);
  });

  it('manages property groups', async () => {
    const group = await client.crm.properties.groupsApi.create('deals', { name: 'stripe', label: 'Stripe', displayOrder: 3 });
    expect(group).toMatchObject({ name: 'stripe', label: 'Stripe', displayOrder: 3, archived: false });
    expect((await client.crm.properties.groupsApi.getAll('deals')).results.map((g) => g.name)).toEqual(['dealinformation', 'stripe']);
    expect((await client.crm.properties.groupsApi.update('deals', 'stripe', { label: 'Billing' })).label).toBe('Billing');
    expect((await failure(client.crm.properties.groupsApi.create('deals', { name: 'stripe', label: 'x' }))).code).toBe(409);
    await client.crm.properties.groupsApi.archive('deals', 'stripe');
    expect((await failure(client.crm.properties.groupsApi.getByName('deals', 'stripe'))).code).toBe(404);
  });

  it('enforces hasUniqueValue on create, update and batch writes', async () => {
    await createCustomerIdProperty();
    const first = await client.crm.companies.basicApi.create({ properties: { stripe_customer_id: 'cus_X' }, associations: [] });
    const second = await client.crm.companies.basicApi.create({ properties: { stripe_customer_id: 'cus_Y' }, associations: [] });
    const dup = await failure(client.crm.companies.basicApi.create({ properties: { stripe_customer_id: 'cus_X' }, associations: [] }));
    expect(dup.code).toBe(400);
    expect(dup.body.errors).toEqual([
      {
        code: 'INVALID_UNIQUE_VALUE',
        message: `COMPANY ${first.id} already has that value for unique property stripe_customer_id`,
        context: { propertyName: ['stripe_customer_id'] },
      },
    ]);
    expect((await failure(client.crm.companies.basicApi.update(second.id, { properties: { stripe_customer_id: 'cus_X' } }))).code).toBe(400);
    const inBatch = await failure(
      client.crm.companies.batchApi.create({
        inputs: [
          { properties: { stripe_customer_id: 'cus_Z' }, associations: [] },
          { properties: { stripe_customer_id: 'cus_Z' }, associations: [] },
        ],
      }),
    );
    expect(inBatch.code).toBe(400);
    // Writing a record's own value again is fine; an archived record frees its value.
    await client.crm.companies.basicApi.update(first.id, { properties: { stripe_customer_id: 'cus_X' } });
    await client.crm.companies.basicApi.archive(first.id);
    await client.crm.companies.basicApi.create({ properties: { stripe_customer_id: 'cus_X' }, associations: [] });

    // A property cannot be made unique over values records already share.
    const shared = { label: 'Ref', type: 'string' as never, fieldType: 'text' as never, groupName: 'companyinformation' };
    await client.crm.properties.coreApi.create('companies', { name: 'ext_ref', ...shared });
    await client.crm.companies.batchApi.create({
      inputs: [{ properties: { ext_ref: 'R1' }, associations: [] }, { properties: { ext_ref: 'R1' }, associations: [] }],
    });
    await client.crm.properties.coreApi.archive('companies', 'ext_ref');
    const overDupes = await failure(client.crm.properties.coreApi.create('companies', { name: 'ext_ref', hasUniqueValue: true, ...shared }));
    expect(String(overDupes.body.message)).toMatch(/already share the value R1/);
  });

  it('answers a duplicate contact email with 409 CONFLICT naming the existing contact', async () => {
    const existing = await client.crm.contacts.basicApi.create({ properties: { email: 'dup@example.com' }, associations: [] });
    for (const email of ['dup@example.com', 'DUP@Example.com']) {
      const err = await failure(client.crm.contacts.basicApi.create({ properties: { email }, associations: [] }));
      expect(err.code).toBe(409);
      expect(err.body).toEqual({
        status: 'error',
        message: `Contact already exists. Existing ID: ${existing.id}`,
        correlationId: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
        category: 'CONFLICT',
      });
    }
    const other = await client.crm.contacts.basicApi.create({ properties: { email: 'other@example.com' }, associations: [] });
    const onUpdate = await failure(client.crm.contacts.basicApi.update(other.id, { properties: { email: 'dup@example.com' } }));
    expect(onUpdate.body.message).toBe(`Contact already exists. Existing ID: ${existing.id}`);
  });
});

describe('associations', () => {
  let company: string;
  let company2: string;
  let contact: string;

  beforeEach(async () => {
    const companies = await client.crm.companies.batchApi.create({
      inputs: [{ properties: { name: 'C1' }, associations: [] }, { properties: { name: 'C2' }, associations: [] }],
    });
    company = companies.results[0]?.id ?? '';
    company2 = companies.results[1]?.id ?? '';
    contact = (await client.crm.contacts.basicApi.create({ properties: { email: 'p@c.test' }, associations: [] })).id;
  });

  it('creates default associations with HubSpot’s type ids, making the first company the primary', async () => {
    const first = await client.crm.associations.v4.basicApi.createDefault('contacts', contact, 'companies', company);
    expect(first.results.map((r) => r.associationSpec.associationTypeId).sort((a, b) => a - b)).toEqual([
      AssociationTypes.primaryContactToCompany,
      AssociationTypes.contactToCompany,
    ]);
    const second = await client.crm.associations.v4.basicApi.createDefault('contact', contact, '0-2', company2);
    expect(second.results.map((r) => r.associationSpec.associationTypeId)).toEqual([AssociationTypes.contactToCompany]);

    const fromContact = await client.crm.associations.v4.basicApi.getPage('contacts', contact, 'companies');
    expect(fromContact.results.map((r) => [r.toObjectId, r.associationTypes.map((t) => [t.typeId, t.label ?? null])])).toEqual([
      [company, [[1, 'Primary'], [279, null]]],
      [company2, [[279, null]]],
    ]);
    const fromCompany = await client.crm.associations.v4.basicApi.getPage('companies', company, 'contacts');
    expect(fromCompany.results[0]?.associationTypes.map((t) => t.typeId)).toEqual([2, 280]);

    const v3 = await client.crm.contacts.basicApi.getById(contact, undefined, undefined, ['companies']);
    expect(v3.associations?.companies?.results).toEqual([
      { id: company, type: 'contact_to_company' },
      { id: company, type: 'contact_to_company_unlabeled' },
      { id: company2, type: 'contact_to_company_unlabeled' },
    ]);
  });

  it('sets labelled associations, HUBSPOT_DEFINED and USER_DEFINED, moving the single primary', async () => {
    const labels = await client.crm.associations.v4.schema.definitionsApi.create('contacts', 'companies', {
      label: 'Billing contact',
      name: 'billing_contact',
      inverseLabel: 'Billed company',
    });
    expect(labels.results.map((l) => [l.category, l.label])).toEqual([
      ['USER_DEFINED', 'Billing contact'],
      ['USER_DEFINED', 'Billed company'],
    ]);
    const billingType = labels.results[0]?.typeId ?? 0;

    const put = await client.crm.associations.v4.basicApi.create('contacts', contact, 'companies', company, [
      spec(billingType, 'USER_DEFINED'),
      spec(AssociationTypes.primaryContactToCompany),
    ]);
    expect(put).toMatchObject({ fromObjectTypeId: '0-1', fromObjectId: contact, toObjectTypeId: '0-2', toObjectId: company });
    expect(put.labels.sort()).toEqual(['Billing contact', 'Primary']);

    await client.crm.associations.v4.basicApi.create('contacts', contact, 'companies', company2, [spec(AssociationTypes.primaryContactToCompany)]);
    const page = await client.crm.associations.v4.basicApi.getPage('contacts', contact, 'companies');
    expect(page.results.map((r) => [r.toObjectId, r.associationTypes.map((t) => t.typeId)])).toEqual([
      [company, [279, billingType]],
      [company2, [1, 279]],
    ]);
    const inverse = await client.crm.associations.v4.basicApi.getPage('companies', company, 'contacts');
    expect(inverse.results[0]?.associationTypes.map((t) => [t.category, t.label ?? null])).toEqual([
      ['HUBSPOT_DEFINED', null],
      ['USER_DEFINED', 'Billed company'],
    ]);

    const all = await client.crm.associations.v4.schema.definitionsApi.getAll('contacts', 'companies');
    expect(all.results.map((t) => t.typeId)).toEqual(expect.arrayContaining([1, 279, billingType]));
  });

  it.each([
    { label: 'a type id of another pair', typeId: AssociationTypes.dealToCompany, category: 'HUBSPOT_DEFINED', message: /not valid from 0-1 to 0-2/ },
    { label: 'a wrong category', typeId: AssociationTypes.contactToCompany, category: 'USER_DEFINED', message: /USER_DEFINED association type 279/ },
  ])('rejects $label', async ({ typeId, category, message }) => {
    const err = await failure(client.crm.associations.v4.basicApi.create('contacts', contact, 'companies', company, [spec(typeId, category)]));
    expect(err.code).toBe(400);
    expect(String(err.body.message)).toMatch(message);
  });

  it('rejects associating a record that does not exist', async () => {
    const err = await failure(client.crm.associations.v4.basicApi.createDefault('contacts', contact, 'companies', '999999'));
    expect(err.code).toBe(400);
    expect(String(err.body.message)).toMatch(/COMPANY 999999/);
  });

  it('associates at create time from the body, as notes and tasks are attached to companies', async () => {
    const note = await client.crm.objects.notes.basicApi.create({
      properties: { hs_note_body: 'Invoice paid', hs_timestamp: '2026-05-01T10:00:00Z' },
      associations: [{ to: { id: company }, types: [spec(AssociationTypes.noteToCompany)] }],
    });
    const task = await client.crm.objects.tasks.basicApi.create({
      properties: { hs_task_subject: 'Follow up', hs_timestamp: '2026-05-02T10:00:00Z' },
      associations: [{ to: { id: company }, types: [spec(AssociationTypes.taskToCompany)] }],
    });
    const readNote = await client.crm.objects.notes.basicApi.getById(note.id, undefined, undefined, ['companies']);
    expect(readNote.associations?.companies?.results).toEqual([{ id: company, type: 'note_to_company' }]);
    const fromCompany = await client.crm.companies.basicApi.getById(company, undefined, undefined, ['notes', 'tasks']);
    expect(fromCompany.associations?.notes?.results).toEqual([{ id: note.id, type: 'company_to_note' }]);
    expect(fromCompany.associations?.tasks?.results).toEqual([{ id: task.id, type: 'company_to_task' }]);

    const bad = await failure(
      client.crm.objects.notes.basicApi.create({
        properties: { hs_note_body: 'x' },
        associations: [{ to: { id: '999999' }, types: [spec(AssociationTypes.noteToCompany)] }],
      }),
    );
    expect(bad.code).toBe(400);
    expect((await client.crm.objects.notes.basicApi.getPage()).results).toHaveLength(1);
  });

  it('creates, reads and archives in batches, reporting failed inputs with 207', async () => {
    const deal = (await client.crm.deals.basicApi.create({ properties: { dealname: 'D' }, associations: [] })).id;
    const created = await client.crm.associations.v4.batchApi.create('deals', 'companies', {
      inputs: [
        { _from: { id: deal }, to: { id: company }, types: [spec(AssociationTypes.primaryDealToCompany)] },
        { _from: { id: deal }, to: { id: '999999' }, types: [spec(AssociationTypes.dealToCompany)] },
      ],
    });
    expect(created.results).toEqual([
      expect.objectContaining({ fromObjectId: deal, toObjectId: company, labels: ['Primary'] }),
    ]);
    expect('errors' in created && created.errors?.[0]?.category).toBe('VALIDATION_ERROR');

    const defaults = await client.crm.associations.v4.batchApi.createDefault('deals', 'companies', {
      inputs: [{ _from: { id: deal }, to: { id: company2 } }],
    });
    expect(defaults.results.map((r) => r.associationSpec.associationTypeId)).toEqual([AssociationTypes.dealToCompany]);

    const read = await client.crm.associations.v4.batchApi.getPage('deals', 'companies', {
      inputs: [{ id: deal }, { id: '999999' }],
    });
    expect(read.results.map((r) => [r._from.id, r.to.map((t) => t.toObjectId)])).toEqual([[deal, [company, company2]]]);
    expect('errors' in read && read.errors?.length).toBe(1);

    await client.crm.associations.v4.batchApi.archiveLabels('deals', 'companies', {
      inputs: [{ _from: { id: deal }, to: { id: company }, types: [spec(AssociationTypes.primaryDealToCompany)] }],
    });
    const afterLabels = await client.crm.associations.v4.basicApi.getPage('deals', deal, 'companies');
    expect(afterLabels.results.map((r) => r.associationTypes.map((t) => t.typeId))).toEqual([[341], [341]]);

    await client.crm.associations.v4.batchApi.archive('deals', 'companies', { inputs: [{ _from: { id: deal }, to: [{ id: company }] }] });
    await client.crm.associations.v4.basicApi.archive('deals', deal, 'companies', company2);
    expect((await client.crm.associations.v4.basicApi.getPage('deals', deal, 'companies')).results).toEqual([]);
  });

  it('hides associations to archived records and pages them with after', async () => {
    const contacts = await client.crm.contacts.batchApi.create({
      inputs: Array.from({ length: 5 }, (_, i) => ({ properties: { email: `p${i}@page.test` }, associations: [] })),
    });
    await client.crm.associations.v4.batchApi.createDefault('companies', 'contacts', {
      inputs: contacts.results.map((c) => ({ _from: { id: company }, to: { id: c.id } })),
    });
    await client.crm.contacts.basicApi.archive(contacts.results[4]?.id ?? '');
    const first = await client.crm.associations.v4.basicApi.getPage('companies', company, 'contacts', undefined, 3);
    expect(first.results).toHaveLength(3);
    const rest = await client.crm.associations.v4.basicApi.getPage('companies', company, 'contacts', first.paging?.next?.after, 3);
    expect(rest.results).toHaveLength(1);
    expect(rest.paging).toBeUndefined();
  });
});

describe('owners', () => {
  it('lists active owners by default, archived ones on request, filters by email and pages', async () => {
    const active = await client.crm.owners.ownersApi.getPage();
    expect(active.results.map((o) => o.email)).toEqual(['ada.lovelace@sandbox.example', 'grace.hopper@sandbox.example']);
    expect(active.results[0]).toMatchObject({ type: 'PERSON', archived: false, teams: [{ name: 'Sales', primary: true }] });
    const archived = await client.crm.owners.ownersApi.getPage(undefined, undefined, undefined, true);
    expect(archived.results.map((o) => o.lastName)).toEqual(['Turing']);
    const byEmail = await client.crm.owners.ownersApi.getPage('GRACE.hopper@sandbox.example');
    expect(byEmail.results.map((o) => o.firstName)).toEqual(['Grace']);
    const page1 = await client.crm.owners.ownersApi.getPage(undefined, undefined, 1);
    const page2 = await client.crm.owners.ownersApi.getPage(undefined, page1.paging?.next?.after, 1);
    expect([...page1.results, ...page2.results].map((o) => o.firstName)).toEqual(['Ada', 'Grace']);
    expect(page2.paging).toBeUndefined();
  });

  it('gets an owner by id or userId and answers 404 otherwise; records accept only real owner ids', async () => {
    expect((await client.crm.owners.ownersApi.getById(52550154)).firstName).toBe('Grace');
    expect((await client.crm.owners.ownersApi.getById(9001001, 'userId')).firstName).toBe('Ada');
    expect((await failure(client.crm.owners.ownersApi.getById(52550155))).code).toBe(404);
    const deal = await client.crm.deals.basicApi.create({ properties: { dealname: 'Owned', hubspot_owner_id: '52550153' }, associations: [] });
    expect(deal.properties.hubspot_owner_id).toBe('52550153');
  });
});

describe('merge', () => {
  it('merges companies: the primary keeps its id, fills blanks, takes associations; the merged id reads as the primary', async () => {
    const primary = await client.crm.companies.basicApi.create({ properties: { name: 'Primary Co' }, associations: [] });
    const secondary = await client.crm.companies.basicApi.create({ properties: { name: 'Dup Co', domain: 'dup.test' }, associations: [] });
    const contact = await client.crm.contacts.basicApi.create({
      properties: { email: 'm@m.test' },
      associations: [{ to: { id: secondary.id }, types: [spec(AssociationTypes.primaryContactToCompany)] }],
    });

    const merged = await client.crm.companies.basicApi.merge({ primaryObjectId: primary.id, objectIdToMerge: secondary.id });
    expect(merged.id).toBe(primary.id);

    const read = await client.crm.companies.basicApi.getById(secondary.id, ['name', 'domain', 'hs_merged_object_ids'], undefined, ['contacts']);
    expect(read.id).toBe(primary.id);
    expect(read.properties).toMatchObject({ name: 'Primary Co', domain: 'dup.test', hs_merged_object_ids: secondary.id });
    expect(read.associations?.contacts?.results.map((r) => r.id)).toEqual([contact.id, contact.id]);
    const batch = await client.crm.companies.batchApi.read({ inputs: [{ id: secondary.id }], properties: [], propertiesWithHistory: [] });
    expect(batch.results.map((r) => r.id)).toEqual([primary.id]);
    expect((await client.crm.companies.getAll()).map((c) => c.id)).toEqual([primary.id]);
    const archived = await client.crm.companies.basicApi.getPage(10, undefined, undefined, undefined, undefined, true);
    expect(archived.results).toEqual([]);
  });

  it('merges contacts: the merged email resolves to the primary and cannot be reused', async () => {
    const a = await client.crm.contacts.basicApi.create({ properties: { email: 'keep@x.test' }, associations: [] });
    const b = await client.crm.contacts.basicApi.create({ properties: { email: 'gone@x.test', firstname: 'Gone' }, associations: [] });
    await client.crm.contacts.basicApi.merge({ primaryObjectId: a.id, objectIdToMerge: b.id });
    const byOldEmail = await client.crm.contacts.basicApi.getById('gone@x.test', ['firstname', 'hs_additional_emails'], undefined, undefined, false, 'email');
    expect(byOldEmail.id).toBe(a.id);
    expect(byOldEmail.properties).toMatchObject({ firstname: 'Gone', hs_additional_emails: 'gone@x.test' });
    const reuse = await failure(client.crm.contacts.basicApi.create({ properties: { email: 'gone@x.test' }, associations: [] }));
    expect(reuse.body.message).toBe(`Contact already exists. Existing ID: ${a.id}`);
  });

  it('rejects merging a record with itself or with a record that does not exist', async () => {
    const a = await client.crm.deals.basicApi.create({ properties: { dealname: 'A' }, associations: [] });
    expect((await failure(client.crm.deals.basicApi.merge({ primaryObjectId: a.id, objectIdToMerge: a.id }))).code).toBe(400);
    expect((await failure(client.crm.deals.basicApi.merge({ primaryObjectId: a.id, objectIdToMerge: '999999' }))).code).toBe(404);
  });

  it('GDPR-deletes a contact permanently', async () => {
    const c = await client.crm.contacts.basicApi.create({ properties: { email: 'forget@me.test' }, associations: [] });
    await client.crm.contacts.basicApi.purge({ objectId: 'forget@me.test', idProperty: 'email' });
    expect((await failure(client.crm.contacts.basicApi.getById(c.id, undefined, undefined, undefined, true))).code).toBe(404);
  });
});

describe('rate limits and faults', () => {
  let limited: RunningHubSpotSandbox;

  beforeAll(async () => {
    limited = await startHubSpotSandbox({
      rateLimit: { max: 3, windowMs: 1_000 },
      searchRateLimit: { max: 1, windowMs: 1_000 },
      dailyLimit: 50,
      onResponse: record,
    });
  });
  afterAll(async () => {
    await limited.close();
  });
  beforeEach(() => {
    limited.sandbox.reset();
  });

  it('answers past the rolling window with HubSpot’s 429 and rate-limit headers on every answer', async () => {
    const c = hubspotClientFor(limited.url, 'token-a');
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await c.crm.companies.basicApi.getPageWithHttpInfo();
      expect(res.headers).toMatchObject({
        'x-hubspot-ratelimit-max': '3',
        'x-hubspot-ratelimit-interval-milliseconds': '1000',
        'x-hubspot-ratelimit-daily': '50',
        'x-hubspot-ratelimit-daily-remaining': String(50 - i - 1),
      });
      remaining.push(res.headers['x-hubspot-ratelimit-remaining'] ?? '');
    }
    expect(remaining).toEqual(['2', '1', '0']);

    const limitedCall = await failure(c.crm.companies.basicApi.getPage());
    expect(limitedCall.code).toBe(429);
    expect(limitedCall.body).toMatchObject({
      status: 'error',
      message: 'You have reached your ten_secondly_rolling limit.',
      errorType: 'RATE_LIMIT',
      policyName: 'TEN_SECONDLY_ROLLING',
    });
    expect(limitedCall.headers['x-hubspot-ratelimit-remaining']).toBe('0');

    // Limits are per token, and the window rolls.
    await hubspotClientFor(limited.url, 'token-b').crm.companies.basicApi.getPage();
    await new Promise((r) => setTimeout(r, 1_050));
    await c.crm.companies.basicApi.getPage();
    const stats = (await (await fetch(`${limited.url}/__sandbox/requests`)).json()) as { rateLimited: { tenSecondly: number } };
    expect(stats.rateLimited.tenSecondly).toBe(1);
  });

  it('limits search separately with the SECONDLY policy, which the official client retries by itself', async () => {
    const retrying = hubspotClientFor(limited.url, 'searcher', { numberOfApiCallRetries: 2 });
    const started = Date.now();
    const [a, b] = await Promise.all([
      retrying.crm.companies.searchApi.doSearch({ limit: 1 }),
      retrying.crm.companies.searchApi.doSearch({ limit: 1 }),
    ]);
    expect([a.total, b.total]).toEqual([0, 0]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const stats = (await (await fetch(`${limited.url}/__sandbox/requests`)).json()) as { rateLimited: { secondly: number } };
    expect(stats.rateLimited.secondly).toBe(1);
    const plain = hubspotClientFor(limited.url, 'searcher-2');
    await plain.crm.companies.searchApi.doSearch({});
    const second = await failure(plain.crm.companies.searchApi.doSearch({}));
    expect(second.body).toMatchObject({ message: 'You have reached your secondly limit.', policyName: 'SECONDLY' });
    // Search does not spend the ten-second allowance.
    expect((await plain.crm.companies.basicApi.getPageWithHttpInfo()).headers['x-hubspot-ratelimit-remaining']).toBe('2');
  });

  it('stops at the daily allowance with policy DAILY', async () => {
    const daily = await startHubSpotSandbox({ dailyLimit: 2, onResponse: record });
    try {
      const c = hubspotClientFor(daily.url);
      await c.crm.companies.basicApi.getPage();
      await c.crm.companies.basicApi.getPage();
      const err = await failure(c.crm.companies.basicApi.getPage());
      expect(err.code).toBe(429);
      expect(err.body).toMatchObject({ policyName: 'DAILY', message: 'You have reached your daily limit.' });
    } finally {
      await daily.close();
    }
  });

  it('injects HubSpot-shaped 5xx and 429 faults through the shared fault kit', async () => {
    const post = (body: unknown) =>
      fetch(`${limited.url}/__sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await post({ method: 'GET', path: '^/crm/v3/objects/companies$', rate5xx: 1, status5xx: 502, times: 1 });
    const retrying = hubspotClientFor(limited.url, 'faulty', { numberOfApiCallRetries: 2 });
    // A client made later (without retries) must not strip the first one of its retry decorator.
    const plain = hubspotClientFor(limited.url, 'faulty-2');
    expect((await retrying.crm.companies.basicApi.getPage()).results).toEqual([]);

    await post({ method: 'GET', path: '^/crm/v3/objects/companies$', rate429: 1, times: 1 });
    const injected = await failure(plain.crm.companies.basicApi.getPage());
    expect(injected.code).toBe(429);
    expect(injected.body).toMatchObject({ policyName: 'TEN_SECONDLY_ROLLING', errorType: 'RATE_LIMIT' });
    expect(injected.headers['x-hubspot-ratelimit-max']).toBe('3');

    const faults = (await (await fetch(`${limited.url}/__sandbox/faults`)).json()) as { injected: Record<string, number> };
    expect(faults.injected).toMatchObject({ '429': 1, '5xx': 1 });
    const stats = (await (await fetch(`${limited.url}/__sandbox/requests`)).json()) as {
      byStatus: Record<string, number>;
      rateLimited: { injected: number };
    };
    expect(stats.byStatus).toMatchObject({ '502': 1, '429': 1, '200': 1 });
    expect(stats.rateLimited.injected).toBe(1);
  });
});

describe('inspection', () => {
  it('shows state, object dumps and request counts, and resets', async () => {
    await createCustomerIdProperty();
    const co = await client.crm.companies.basicApi.create({ properties: { name: 'Seen', stripe_customer_id: 'cus_S' }, associations: [] });
    await client.crm.contacts.basicApi.create({
      properties: { email: 's@s.test' },
      associations: [{ to: { id: co.id }, types: [spec(AssociationTypes.contactToCompany)] }],
    });
    await client.crm.companies.basicApi.archive(co.id);

    const state = await sandboxJson('/__sandbox/state');
    expect(state.objects).toMatchObject({ companies: { live: 0, archived: 1, merged: 0 }, contacts: { live: 1, archived: 0, merged: 0 } });
    expect(state.associations).toBe(1);
    expect(state.customProperties).toMatchObject({ companies: ['stripe_customer_id'], contacts: [] });

    const dump = await sandboxJson('/__sandbox/objects/company');
    expect(dump).toMatchObject({
      type: 'companies',
      total: 1,
      results: [expect.objectContaining({ id: co.id, archived: true, properties: expect.objectContaining({ stripe_customer_id: 'cus_S' }) as unknown })],
    });

    const requests = (await sandboxJson('/__sandbox/requests')) as { total: number; byRoute: Record<string, number> };
    expect(requests.byRoute).toMatchObject({
      'POST /crm/v3/objects/:objectType': 2,
      'POST /crm/v3/properties/:objectType': 1,
      'DELETE /crm/v3/objects/:objectType/:objectId': 1,
    });
    expect(requests.total).toBe(4);

    await sandboxJson('/__sandbox/reset', { method: 'POST' });
    expect((await sandboxJson('/__sandbox/state')).objects).toMatchObject({ companies: { live: 0, archived: 0 } });
    expect((await sandboxJson('/__sandbox/requests')).total).toBe(0);
  });
});

describe('conformance with HubSpot’s OpenAPI documents', () => {
  let checker: OpenApiChecker;

  beforeAll(async () => {
    checker = await OpenApiChecker.fromDirectory(REFERENCE_DIR, {
      allowNullInStringMaps: true,
      allowedExtraFields: UNDOCUMENTED_ERROR_FIELDS,
      pathAliases: [[/^\/crm\/v3\/objects\/deals(?=\/|$)/, '/crm/v3/objects/0-3']],
    });
  });

  it('catches bodies that break the documents (so a passing check means something)', () => {
    const doc = 'crm-v3-companies.json';
    expect(checker.validateAgainst(doc, 'SimplePublicObject', { id: '1', properties: {}, archived: false, createdAt: 'x', updatedAt: '2026-01-01T00:00:00Z' })).toEqual([
      '$.createdAt: x is not an ISO 8601 date-time',
    ]);
    expect(checker.validateAgainst(doc, 'SimplePublicObject', { id: 1, properties: { a: 2 }, archived: 'no' })).toEqual(
      expect.arrayContaining([
        '$: missing required field createdAt',
        '$.id: expected a string, got 1',
        '$.properties.a: expected a string, got 2',
        '$.archived: expected a boolean, got "no"',
      ]),
    );
    expect(checker.validateAgainst(doc, 'BatchResponseSimplePublicObject', { status: 'DONE', results: [], startedAt: '2026-01-01T00:00:00Z', completedAt: '2026-01-01T00:00:00Z', extra: 1 })).toEqual([
      '$.status: "DONE" is not one of ["CANCELED","COMPLETE","PENDING","PROCESSING"]',
      '$: unexpected field extra',
    ]);
    expect(checker.checkResponse('POST', '/crm/v3/objects/companies', 200, '{}').problems).toEqual(
      expect.arrayContaining(['$: missing required field category']),
    );
    expect(checker.checkResponse('DELETE', '/crm/v3/objects/companies/1', 204, '{"a":1}').problems).toHaveLength(1);
    expect(checker.findOperation('GET', '/crm/v3/objects/deals/12')?.document).toBe('crm-v3-deals.json');
    expect(checker.findOperation('POST', '/crm/v3/objects/notes/search')?.template).toBe('/crm/v3/objects/notes/search');
  });

  it('every answer the client received in this file conforms to the documents for its path, method and status', () => {
    const failures: string[] = [];
    const operations = new Set<string>();
    for (const r of recorded) {
      if (UNDOCUMENTED_ROUTES.some((re) => re.test(r.path))) continue;
      const result = checker.checkResponse(r.method, r.path, r.status, r.body);
      if (result.operation) operations.add(`${r.method} ${result.operation.template} ${r.status}`);
      for (const p of result.problems) failures.push(`${r.method} ${r.path} ${r.status}: ${p}`);
    }
    expect(failures).toEqual([]);
    // Guards against a vacuous pass: the tests above must have exercised most of the surface.
    expect(recorded.length).toBeGreaterThan(250);
    expect(operations.size).toBeGreaterThanOrEqual(70);
  });
});
