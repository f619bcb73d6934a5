import { Connection } from 'jsforce';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../sandboxes/shared/serve.js';
import {
  SALESFORCE_API_VERSION,
  salesforceConnectionFor,
  startSalesforceSandbox,
  type SalesforceSandbox,
} from '../../sandboxes/salesforce/index.js';

interface JsforceError {
  name: string;
  errorCode: string;
  message: string;
  data: unknown;
}

/** The error jsforce throws for a failed call; fails the test if the call succeeds. */
async function failure(p: PromiseLike<unknown>): Promise<JsforceError> {
  try {
    await p;
  } catch (err) {
    return err as JsforceError;
  }
  throw new Error('expected the call to fail');
}

let server: RunningSandbox & { sandbox: SalesforceSandbox };
let conn: Connection;
const api = `/services/data/v${SALESFORCE_API_VERSION}`;

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

beforeAll(async () => {
  server = await startSalesforceSandbox({
    customFields: {
      Account: [{ name: 'Stripe_Customer_Id__c', type: 'string', length: 64, externalId: true, unique: true }],
      Contact: [{ name: 'Legacy_Key__c', type: 'string', length: 40, externalId: true }],
    },
  });
  conn = salesforceConnectionFor(server.url);
});

afterAll(async () => {
  await server.close();
});

beforeEach(async () => {
  const res = await admin('POST', '/__sandbox/reset');
  expect(res.status).toBe(200);
});

describe('sObject CRUD', () => {
  it('creates, reads back, updates and deletes an Account', async () => {
    const created = await conn.sobject('Account').create({ Name: 'Acme Corp', Website: 'https://acme.test', NumberOfEmployees: 42 });
    expect(created).toEqual({ id: expect.stringMatching(/^001[A-Za-z0-9]{15}$/), success: true, errors: [] });
    const id = created.id as string;

    const read = await conn.sobject('Account').retrieve(id);
    expect(read).toMatchObject({
      attributes: { type: 'Account', url: `${api}/sobjects/Account/${id}` },
      Id: id,
      Name: 'Acme Corp',
      Website: 'https://acme.test',
      NumberOfEmployees: 42,
      IsDeleted: false,
      OwnerId: expect.stringMatching(/^005/),
      CreatedDate: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/),
    });

    const narrow = await conn.retrieve('Account', id, { fields: ['Name'] });
    expect(Object.keys(narrow).sort()).toEqual(['Id', 'Name', 'attributes']);

    const updated = await conn.sobject('Account').update({ Id: id, Website: null, Description: 'renamed' });
    expect(updated).toEqual({ id, success: true, errors: [] });
    const reread = await conn.sobject('Account').retrieve(id);
    expect(reread).toMatchObject({ Website: null, Description: 'renamed', Name: 'Acme Corp' });

    expect(await conn.sobject('Account').destroy(id)).toEqual({ id, success: true, errors: [] });
    // A record in the recycle bin is gone for the REST API, with its own error code.
    expect(await failure(conn.sobject('Account').retrieve(id))).toMatchObject({ errorCode: 'ENTITY_IS_DELETED', message: 'entity is deleted' });
    const bin = await conn.query(`SELECT Id, IsDeleted FROM Account WHERE Id = '${id}'`).scanAll(true);
    expect(bin.records).toEqual([expect.objectContaining({ Id: id, IsDeleted: true })]);
    expect((await conn.query(`SELECT COUNT() FROM Account`)).totalSize).toBe(0);
  });

  it.each([
    ['Account', '001', { Name: 'A' }],
    ['Contact', '003', { LastName: 'Lovelace' }],
    ['Opportunity', '006', { Name: 'Deal', StageName: 'Prospecting', CloseDate: '2026-12-31' }],
    ['Task', '00T', { Subject: 'Call' }],
  ])('gives %s 18-character ids with key prefix %s that also resolve in 15-character form', async (type, prefix, record) => {
    const { id } = await conn.sobject(type).create(record);
    expect(id).toMatch(new RegExp(`^${prefix}[A-Za-z0-9]{15}$`));
    const short = (id as string).slice(0, 15);
    expect((await conn.sobject(type).retrieve(short)).Id).toBe(id);
    // The 18-char form is case-insensitive: its suffix restores the case.
    expect((await conn.sobject(type).retrieve((id as string).toLowerCase())).Id).toBe(id);
  });

  it('links Contacts, Opportunities and Tasks, computes derived fields and cascades deletes', async () => {
    const account = await conn.sobject('Account').create({ Name: 'Parent' });
    const contact = await conn.sobject('Contact').create({ FirstName: 'Grace', LastName: 'Hopper', Email: 'grace@navy.test', AccountId: account.id });
    const opp = await conn.sobject('Opportunity').create({ Name: 'Renewal', StageName: 'Closed Won', CloseDate: '2026-01-15', Amount: 1234.567, AccountId: account.id });
    const task = await conn.sobject('Task').create({ Subject: 'Follow up', WhatId: opp.id, WhoId: contact.id, ActivityDate: '2026-02-01' });

    expect(await conn.sobject('Contact').retrieve(contact.id as string)).toMatchObject({ Name: 'Grace Hopper', AccountId: account.id });
    expect(await conn.sobject('Opportunity').retrieve(opp.id as string)).toMatchObject({ IsWon: true, IsClosed: true, Amount: 1234.57 });
    expect(await conn.sobject('Task').retrieve(task.id as string)).toMatchObject({ Status: 'Not Started', Priority: 'Normal', IsClosed: false });

    await conn.sobject('Account').destroy(account.id as string);
    const counts = await Promise.all(['Contact', 'Opportunity', 'Task'].map((t) => conn.query(`SELECT COUNT() FROM ${t}`)));
    expect(counts.map((c) => c.totalSize)).toEqual([0, 0, 0]);
  });
});

describe('upsert by external id', () => {
  it('creates (201, created: true) then updates (200, created: false) the same record', async () => {
    const first = await conn.sobject('Account').upsert({ Name: 'Stripe Customer', Stripe_Customer_Id__c: 'cus_123' }, 'Stripe_Customer_Id__c');
    expect(first).toEqual({ id: expect.stringMatching(/^001/), success: true, errors: [], created: true });
    const second = await conn.sobject('Account').upsert({ Name: 'Renamed', Stripe_Customer_Id__c: 'cus_123' }, 'Stripe_Customer_Id__c');
    expect(second).toEqual({ id: first.id, success: true, errors: [], created: false });
    expect(await conn.sobject('Account').retrieve(first.id as string)).toMatchObject({ Name: 'Renamed', Stripe_Customer_Id__c: 'cus_123' });

    // The HTTP status codes themselves, as Salesforce documents them.
    const patch = (value: string) =>
      fetch(`${server.url}${api}/sobjects/Account/Stripe_Customer_Id__c/${value}`, {
        method: 'PATCH',
        headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
        body: JSON.stringify({ Name: 'Via fetch' }),
      });
    expect((await patch('cus_999')).status).toBe(201);
    expect((await patch('cus_999')).status).toBe(200);
    // External ids are case-insensitive unless the field says otherwise.
    expect((await patch('CUS_999')).status).toBe(200);
  });

  it('answers 300 Multiple Choices when a non-unique external id matches several records', async () => {
    await conn.sobject('Contact').create([
      { LastName: 'One', Legacy_Key__c: 'dup' },
      { LastName: 'Two', Legacy_Key__c: 'dup' },
    ]);
    const err = await failure(conn.sobject('Contact').upsert({ LastName: 'Three', Legacy_Key__c: 'dup' }, 'Legacy_Key__c'));
    expect(err.errorCode).toBe('MULTIPLE_CHOICES');
    expect(err.data).toEqual([expect.stringMatching(new RegExp(`^${api}/sobjects/Contact/003`)), expect.stringMatching(/\/003/)]);
  });

  it('refuses fields that are not external ids', async () => {
    const err = await failure(conn.sobject('Account').upsert({ Name: 'Acme' }, 'Name'));
    expect(err.errorCode).toBe('NOT_FOUND');
    expect(err.message).toBe('Provided external ID field does not exist or is not accessible: Name');
  });

  it('sets a lookup through the parent external id', async () => {
    const parent = await conn.sobject('Account').upsert({ Name: 'Parent', Stripe_Customer_Id__c: 'cus_parent' }, 'Stripe_Customer_Id__c');
    const child = await conn.sobject('Contact').create({ LastName: 'Child', Account: { Stripe_Customer_Id__c: 'cus_parent' } });
    expect((await conn.sobject('Contact').retrieve(child.id as string)).AccountId).toBe(parent.id);
    const missing = await failure(conn.sobject('Contact').create({ LastName: 'Orphan', Account: { Stripe_Customer_Id__c: 'cus_nope' } }));
    expect(missing.errorCode).toBe('INVALID_FIELD');
    expect(missing.message).toBe('Foreign key external ID: cus_nope not found for field Stripe_Customer_Id__c in entity Account');
  });
});

describe('sObject collections', () => {
  it('with allOrNone false, keeps the good records and reports each failure', async () => {
    const results = await conn.sobject('Account').create([{ Name: 'Good 1' }, { Website: 'no-name.test' }, { Name: 'Good 2' }]);
    expect(results).toEqual([
      { id: expect.stringMatching(/^001/), success: true, errors: [] },
      { success: false, errors: [{ statusCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [Name]', fields: ['Name'] }] },
      { id: expect.stringMatching(/^001/), success: true, errors: [] },
    ]);
    expect((await conn.query('SELECT COUNT() FROM Account')).totalSize).toBe(2);
  });

  it('with allOrNone true, rolls every record back when one fails', async () => {
    await conn.sobject('Account').create({ Name: 'Existing', Stripe_Customer_Id__c: 'cus_taken' });
    const results = await conn.sobject('Account').create(
      [{ Name: 'Would succeed', Stripe_Customer_Id__c: 'cus_new' }, { Name: 'Clash', Stripe_Customer_Id__c: 'cus_taken' }],
      { allOrNone: true },
    );
    expect(results).toEqual([
      {
        success: false,
        errors: [
          {
            statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
            message: 'Record rolled back because not all records were valid and the request was using AllOrNone header',
            fields: [],
          },
        ],
      },
      { success: false, errors: [{ statusCode: 'DUPLICATE_VALUE', message: expect.stringMatching(/^duplicate value found: Stripe_Customer_Id__c duplicates value on record with id: 001\w{12}$/), fields: [] }] },
    ]);
    const names = await conn.query('SELECT Name FROM Account ORDER BY Name');
    expect(names.records.map((r) => r.Name)).toEqual(['Existing']);
  });

  it('updates, upserts, retrieves and deletes collections', async () => {
    const created = await conn.sobject('Account').create([{ Name: 'A' }, { Name: 'B' }]);
    const ids = created.map((r) => r.id as string);
    const [first, second] = ids as [string, string];
    const updated = await conn.sobject('Account').update([
      { Id: first, Name: 'A2' },
      { Id: '001000000000000AAA', Name: 'ghost' },
    ]);
    expect(updated).toEqual([
      { id: first, success: true, errors: [] },
      { id: '001000000000000AAA', success: false, errors: [{ statusCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] }] },
    ]);

    const upserted = await conn.sobject('Account').upsert(
      [
        { Name: 'U1', Stripe_Customer_Id__c: 'cus_u1' },
        { Name: 'U2', Stripe_Customer_Id__c: 'cus_u2' },
      ],
      'Stripe_Customer_Id__c',
    );
    expect(upserted.map((r) => r.created)).toEqual([true, true]);
    const again = await conn.sobject('Account').upsert(
      [
        { Name: 'U1 again', Stripe_Customer_Id__c: 'cus_u1' },
        { Name: 'U3', Stripe_Customer_Id__c: 'cus_u3' },
        { Name: 'dup a', Stripe_Customer_Id__c: 'cus_dup' },
        { Name: 'dup b', Stripe_Customer_Id__c: 'CUS_DUP' },
      ],
      'Stripe_Customer_Id__c',
    );
    // Collection errors carry `statusCode` (jsforce's SaveError type says errorCode).
    expect(again.map((r) => (r.success ? r.created : (r.errors[0] as { statusCode?: string } | undefined)?.statusCode))).toEqual([false, true, 'DUPLICATE_EXTERNAL_ID', 'DUPLICATE_EXTERNAL_ID']);
    expect(again[0]?.id).toBe(upserted[0]?.id);

    const fetched = await conn.sobject('Account').retrieve([first, second], { fields: ['Name'] });
    expect(fetched.map((r) => r?.Name)).toEqual(['A2', 'B']);

    const deleted = await conn.sobject('Account').destroy(ids);
    expect(deleted).toEqual(ids.map((id) => ({ id, success: true, errors: [] })));
    expect((await conn.query('SELECT COUNT() FROM Account')).totalSize).toBe(3);
  });

  it('enforces the 200-record limit with Salesforce error', async () => {
    const records = Array.from({ length: 201 }, (_, i) => ({ Name: `N${i}` }));
    const err = await failure(conn.sobject('Account').create(records));
    expect(err.errorCode).toBe('EXCEEDED_ID_LIMIT');
    expect(err.message).toBe('record limit reached. cannot submit more than 200 records into this call');
    expect((await conn.query('SELECT COUNT() FROM Account')).totalSize).toBe(0);
    // jsforce splits into 200-record calls itself when allowed to recurse.
    const results = await conn.sobject('Account').create(records, { allowRecursive: true });
    expect(results.filter((r) => r.success)).toHaveLength(201);
  });
});

describe('error bodies', () => {
  it.each([
    ['INVALID_FIELD', () => conn.sobject('Account').create({ Name: 'x', Bogus__c: 1 }), "No such column 'Bogus__c' on sobject of type Account"],
    ['REQUIRED_FIELD_MISSING', () => conn.sobject('Contact').create({ FirstName: 'No last name' }), 'Required fields are missing: [LastName]'],
    ['JSON_PARSER_ERROR', () => conn.sobject('Opportunity').create({ Name: 'x', StageName: 'Prospecting', CloseDate: '2026-01-01', Amount: 'lots' }), /^Cannot deserialize instance of double from VALUE_STRING value lots or request may be missing a required field at \[line:1, column:\d+\]$/],
    ['JSON_PARSER_ERROR', () => conn.sobject('Opportunity').create({ Name: 'x', StageName: 'Prospecting', CloseDate: '31/01/2026' }), /^Cannot deserialize instance of date from VALUE_STRING value 31\/01\/2026/],
    ['STRING_TOO_LONG', () => conn.sobject('Contact').create({ LastName: 'x'.repeat(81) }), /^Last Name: data value too large: x+ \(max length=80\)$/],
    ['INVALID_EMAIL_ADDRESS', () => conn.sobject('Contact').create({ LastName: 'x', Email: 'not-an-email' }), 'Email: invalid email address: not-an-email'],
    ['INVALID_FIELD_FOR_INSERT_UPDATE', () => conn.sobject('Account').create({ Name: 'x', CreatedDate: '2020-01-01T00:00:00Z' }), /^Unable to create\/update fields: CreatedDate\./],
    ['MALFORMED_QUERY', () => conn.query('SELECT Id FROM Account WHERE'), /unexpected token: <EOF>$/],
    ['MALFORMED_QUERY', () => conn.query("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'"), /ERROR at Row:1:Column:56\nunexpected token: 'OR'$/],
    ['INVALID_FIELD', () => conn.query('SELECT Id, Nope FROM Account'), /ERROR at Row:1:Column:12\nNo such column 'Nope' on entity 'Account'\. If you are attempting to use a custom field/],
    ['INVALID_TYPE', () => conn.query('SELECT Id FROM Nope__c'), /sObject type 'Nope__c' is not supported/],
    ['INVALID_QUERY_FILTER_OPERATOR', () => conn.query("SELECT Id FROM Opportunity WHERE CloseDate = '2026-01-01'"), /value of filter criterion for field 'CloseDate' must be of type date and should not be enclosed in quotes$/],
    ['NOT_FOUND', () => conn.sobject('Account').retrieve('001000000000000AAA'), 'The requested resource does not exist'],
    ['NOT_FOUND', () => conn.sobject('Nope__c').create({ Name: 'x' }), 'The requested resource does not exist'],
    ['INVALID_SESSION_ID', () => salesforceConnectionFor(server.url, '').query('SELECT Id FROM Account'), 'Session expired or invalid'],
  ])('%s', async (errorCode, call, message) => {
    const err = await failure(call());
    expect(err.errorCode).toBe(errorCode);
    if (typeof message === 'string') expect(err.message).toBe(message);
    else expect(err.message).toMatch(message);
  });

  it('reports lookups to records of the wrong type, missing records and deleted records', async () => {
    const contact = await conn.sobject('Contact').create({ LastName: 'x' });
    const wrongType = await failure(conn.sobject('Contact').create({ LastName: 'y', AccountId: contact.id }));
    expect(wrongType).toMatchObject({ errorCode: 'FIELD_INTEGRITY_EXCEPTION', message: `Account ID: id value of incorrect type: ${contact.id}` });
    expect((await failure(conn.sobject('Contact').create({ LastName: 'y', AccountId: 'garbage' }))).errorCode).toBe('MALFORMED_ID');
    await conn.sobject('Contact').destroy(contact.id as string);
    expect((await failure(conn.sobject('Contact').update({ Id: contact.id as string, LastName: 'z' }))).errorCode).toBe('ENTITY_IS_DELETED');
  });

  it('returns the raw Salesforce error array', async () => {
    const res = await fetch(`${server.url}${api}/sobjects/Account`, {
      method: 'POST',
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body: '{"Name": ',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual([{ message: expect.stringMatching(/at \[line:1, column:\d+\]$/), errorCode: 'JSON_PARSER_ERROR' }]);
  });
});

describe('describe', () => {
  it('lists the standard objects with key prefixes', async () => {
    const global = await conn.describeGlobal();
    const byName = new Map(global.sobjects.map((o) => [o.name, o.keyPrefix]));
    expect(Object.fromEntries(['Account', 'Contact', 'Opportunity', 'Task', 'User'].map((n) => [n, byName.get(n)]))).toEqual({
      Account: '001',
      Contact: '003',
      Opportunity: '006',
      Task: '00T',
      User: '005',
    });
  });

  it('describes standard and custom fields, including ones an admin adds at runtime', async () => {
    const added = await admin('POST', '/__sandbox/schema/Account/fields', {
      fields: [
        { name: 'MRR__c', type: 'currency', precision: 16, scale: 2, label: 'MRR' },
        { name: 'Plan__c', type: 'picklist', picklistValues: ['Basic', 'Pro'], restrictedPicklist: true },
      ],
    });
    expect(added.status).toBe(201);
    const d = await conn.describe('Account');
    const field = (name: string) => d.fields.find((f) => f.name === name);
    expect(field('Stripe_Customer_Id__c')).toMatchObject({ custom: true, externalId: true, unique: true, type: 'string', length: 64, nillable: true, createable: true, updateable: true });
    expect(field('MRR__c')).toMatchObject({ custom: true, externalId: false, type: 'currency', precision: 16, scale: 2, label: 'MRR' });
    expect(field('Name')).toMatchObject({ custom: false, nillable: false, createable: true, type: 'string', length: 255, nameField: true });
    expect(field('CreatedDate')).toMatchObject({ createable: false, updateable: false, type: 'datetime' });
    expect(field('Id')).toMatchObject({ type: 'id', nillable: false, createable: false });
    expect(d.childRelationships).toEqual(expect.arrayContaining([expect.objectContaining({ childSObject: 'Contact', field: 'AccountId', relationshipName: 'Contacts', cascadeDelete: true })]));

    // The new fields are live: writable, restricted picklists enforced, queryable.
    const bad = await failure(conn.sobject('Account').create({ Name: 'x', Plan__c: 'Enterprise' }));
    expect(bad).toMatchObject({ errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', message: 'Plan: bad value for restricted picklist field: Enterprise' });
    await conn.sobject('Account').create({ Name: 'Paying', MRR__c: 99.999, Plan__c: 'Pro' });
    const q = await conn.query('SELECT Name, MRR__c FROM Account WHERE MRR__c > 50');
    expect(q.records.map((r) => [r.Name, r.MRR__c])).toEqual([['Paying', 100]]);
  });

  it('rejects bad field definitions and reset drops runtime additions', async () => {
    expect((await admin('POST', '/__sandbox/schema/Account/fields', { name: 'NoSuffix', type: 'string' })).json).toMatchObject({ error: { code: 'INVALID_NAME' } });
    expect((await admin('POST', '/__sandbox/schema/Account/fields', { name: 'Flag__c', type: 'boolean', externalId: true })).status).toBe(400);
    expect((await admin('POST', '/__sandbox/schema/Nope/fields', { name: 'X__c', type: 'string' })).status).toBe(404);
    expect((await admin('POST', '/__sandbox/schema/Account/fields', { name: 'Temp__c', type: 'string' })).status).toBe(201);
    const listed = (await admin('GET', '/__sandbox/schema')).json as { objects: Array<{ name: string; fields: Array<{ name: string; custom: boolean }> }> };
    const account = listed.objects.find((o) => o.name === 'Account');
    expect(account?.fields.filter((f) => f.custom).map((f) => f.name)).toEqual(['Stripe_Customer_Id__c', 'Temp__c']);
    await admin('POST', '/__sandbox/reset');
    const names = (await conn.describe('Account')).fields.map((f) => f.name);
    expect(names).toContain('Stripe_Customer_Id__c');
    expect(names).not.toContain('Temp__c');
  });

  it('supports custom objects', async () => {
    const created = await admin('POST', '/__sandbox/schema/objects', {
      name: 'Subscription__c',
      fields: [
        { name: 'Stripe_Subscription_Id__c', type: 'string', externalId: true, unique: true },
        { name: 'Account__c', type: 'reference', referenceTo: 'Account' },
      ],
    });
    expect(created.status).toBe(201);
    const account = await conn.sobject('Account').create({ Name: 'Owner' });
    const sub = await conn.sobject('Subscription__c').upsert({ Name: 'sub', Account__c: account.id, Stripe_Subscription_Id__c: 'sub_1' }, 'Stripe_Subscription_Id__c');
    expect(sub.id).toMatch(/^a00/);
    const q = await conn.query('SELECT Name, Account__r.Name FROM Subscription__c');
    expect(q.records).toEqual([expect.objectContaining({ Name: 'sub', Account__r: expect.objectContaining({ Name: 'Owner' }) })]);
  });
});

describe('limits', () => {
  it('meters every call and reports it in /limits and Sforce-Limit-Info', async () => {
    const before = await conn.limits();
    expect(before.DailyApiRequests).toEqual({ Max: 100_000, Remaining: 99_999 });
    await conn.sobject('Account').create({ Name: 'x' });
    await conn.query('SELECT Id FROM Account');
    const after = await conn.limits();
    expect(after.DailyApiRequests?.Remaining).toBe(99_996);
    expect(conn.limitInfo).toEqual({ apiUsage: { used: 4, limit: 100_000 } });
    const state = await admin('GET', '/__sandbox/state');
    expect(state.json).toMatchObject({ apiUsage: { used: 4, max: 100_000 }, objects: { Account: { records: 1, deleted: 0 } } });
  });

  it('refuses calls past the daily allocation with REQUEST_LIMIT_EXCEEDED', async () => {
    await admin('PATCH', '/__sandbox/limits', { dailyApiRequests: 3 });
    await conn.limits();
    await conn.limits();
    await conn.limits();
    const err = await failure(conn.limits());
    expect(err).toMatchObject({ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'TotalRequests Limit exceeded.' });
    expect((await admin('GET', '/__sandbox/limits')).json).toEqual({ dailyApiRequests: 3, used: 3, maxRequestsPerSecond: null, maxConcurrentRequests: null });
    expect((await admin('PATCH', '/__sandbox/limits', { dailyApiRequests: -1 })).status).toBe(400);
    const raw = await fetch(`${server.url}${api}/limits`, { headers: { authorization: 'Bearer t' } });
    expect(raw.status).toBe(403);
    expect(await raw.json()).toEqual([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
  });

  it('applies the per-second rate and concurrency knobs', async () => {
    await admin('PATCH', '/__sandbox/limits', { maxRequestsPerSecond: 3 });
    const burst = await Promise.allSettled(Array.from({ length: 5 }, () => conn.limits()));
    expect(burst.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const refused = burst.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as JsforceError).errorCode);
    expect(refused).toEqual(['REQUEST_LIMIT_EXCEEDED', 'REQUEST_LIMIT_EXCEEDED']);

    await admin('PATCH', '/__sandbox/limits', { maxRequestsPerSecond: null, maxConcurrentRequests: 2 });
    await admin('POST', '/__sandbox/faults', { path: '/sobjects$', latencyMs: 300 });
    const parallel = await Promise.allSettled(Array.from({ length: 4 }, () => conn.describeGlobal()));
    expect(parallel.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    const reasons = parallel.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as JsforceError).message);
    expect(reasons).toEqual(['ConcurrentPerOrgLongTxn Limit exceeded.', 'ConcurrentPerOrgLongTxn Limit exceeded.']);
  });
});

describe('fault injection', () => {
  it('answers injected 5xx with Salesforce bodies; jsforce retries idempotent calls itself', async () => {
    await admin('POST', '/__sandbox/faults', { method: 'POST', path: '/sobjects/Account$', rate5xx: 1, status5xx: 503, times: 1 });
    const err = await failure(conn.sobject('Account').create({ Name: 'first try' }));
    expect(err.errorCode).toBe('SERVER_UNAVAILABLE');
    expect((await conn.sobject('Account').create({ Name: 'second try' })).success).toBe(true);

    await admin('POST', '/__sandbox/faults', { method: 'GET', path: '/query$', rate5xx: 1, status5xx: 500, times: 1 });
    const q = await conn.query('SELECT Name FROM Account');
    expect(q.records.map((r) => r.Name)).toEqual(['second try']);
    const faults = await admin('GET', '/__sandbox/faults');
    expect(faults.json).toMatchObject({ injected: { '5xx': 2 } });
  });

  it('answers an injected 429 as REQUEST_LIMIT_EXCEEDED', async () => {
    await admin('POST', '/__sandbox/faults', { path: '/sobjects/Contact$', rate429: 1, times: 2 });
    const err = await failure(conn.sobject('Contact').create({ LastName: 'x' }));
    expect(err).toMatchObject({ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'TotalRequests Limit exceeded.' });
    const raw = await fetch(`${server.url}${api}/sobjects/Contact`, {
      method: 'POST',
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body: JSON.stringify({ LastName: 'x' }),
    });
    expect(raw.status).toBe(403);
    expect((await conn.sobject('Contact').create({ LastName: 'x' })).success).toBe(true);
  });
});

describe('login', () => {
  it('issues tokens through the OAuth password flow and SOAP login, and honours revocation', async () => {
    const oauth = new Connection({ loginUrl: server.url, version: SALESFORCE_API_VERSION, oauth2: { clientId: 'cid', clientSecret: 'secret', loginUrl: server.url } });
    const info = await oauth.login('integration@example.com', 'hunter2');
    expect(info.organizationId).toMatch(/^00D/);
    expect(oauth.instanceUrl).toBe(server.url);
    expect(oauth.accessToken).toMatch(/^00D\w{12}!/);
    expect((await oauth.query('SELECT COUNT() FROM Account')).totalSize).toBe(0);
    const token = oauth.accessToken as string;
    await oauth.logout();
    expect((await failure(salesforceConnectionFor(server.url, token).limits())).errorCode).toBe('INVALID_SESSION_ID');

    const soap = new Connection({ loginUrl: server.url, version: SALESFORCE_API_VERSION });
    await soap.login('integration@example.com', 'hunter2');
    expect((await soap.identity()).username).toBe('sandbox.user@example.com');
  });

  it('rejects bad credentials and unknown tokens when configured', async () => {
    const strict = await startSalesforceSandbox({ accessTokens: ['known-token'], oauth: { clientId: 'cid', clientSecret: 'secret', username: 'u@example.com', password: 'right' } });
    try {
      const login = new Connection({ loginUrl: strict.url, oauth2: { clientId: 'cid', clientSecret: 'secret', loginUrl: strict.url } });
      const bad = await failure(login.login('u@example.com', 'wrong'));
      expect(bad).toMatchObject({ name: 'invalid_grant', message: 'authentication failure' });
      expect((await failure(salesforceConnectionFor(strict.url, 'guess').limits())).errorCode).toBe('INVALID_SESSION_ID');
      expect((await salesforceConnectionFor(strict.url, 'known-token').limits()).DailyApiRequests?.Max).toBe(100_000);
      await login.login('u@example.com', 'right');
      expect((await login.limits()).DailyApiRequests?.Max).toBe(100_000);
    } finally {
      await strict.close();
    }
  });

  it('lists API versions', async () => {
    const versions = await conn.request<Array<{ version: string; label: string; url: string }>>('/services/data');
    expect(versions).toEqual(expect.arrayContaining([{ label: "Winter '25", url: '/services/data/v62.0', version: '62.0' }]));
  });
});

describe('inspection', () => {
  it('dumps records and resets state', async () => {
    await conn.sobject('Account').create([{ Name: 'one' }, { Name: 'two' }]);
    const dump = await admin('GET', '/__sandbox/records/Account');
    expect((dump.json as { records: Array<{ Name: string }> }).records.map((r) => r.Name)).toEqual(['one', 'two']);
    await admin('POST', '/__sandbox/reset');
    expect((await admin('GET', '/__sandbox/state')).json).toMatchObject({ objects: { Account: { records: 0 } }, apiUsage: { used: 0 } });
  });
});
