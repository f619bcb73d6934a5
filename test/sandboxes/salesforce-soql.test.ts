import type { Connection } from 'jsforce';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../sandboxes/shared/serve.js';
import { salesforceConnectionFor, startSalesforceSandbox, type SalesforceSandbox } from '../../sandboxes/salesforce/index.js';

interface JsforceError {
  errorCode: string;
  message: string;
}

async function failure(p: PromiseLike<unknown>): Promise<JsforceError> {
  try {
    await p;
  } catch (err) {
    return err as JsforceError;
  }
  throw new Error('expected the call to fail');
}

// A fixed clock makes date literals (TODAY, LAST_N_DAYS) deterministic.
const NOW = new Date('2026-03-15T12:00:00.000Z');

let server: RunningSandbox & { sandbox: SalesforceSandbox };
let conn: Connection;

beforeAll(async () => {
  server = await startSalesforceSandbox({
    now: () => NOW,
    customFields: { Account: [{ name: 'Stripe_Customer_Id__c', type: 'string', externalId: true, unique: true }] },
  });
  conn = salesforceConnectionFor(server.url);
});

afterAll(async () => {
  await server.close();
});

describe('SOQL subset', () => {
  beforeAll(async () => {
    const accounts = await conn.sobject('Account').create([
      { Name: 'Acme Corp', Industry: 'Technology', AnnualRevenue: 5_000_000, NumberOfEmployees: 120, Website: 'acme.test', Stripe_Customer_Id__c: 'cus_A' },
      { Name: 'Globex', Industry: 'Finance', AnnualRevenue: 1_000_000, NumberOfEmployees: 40 },
      { Name: 'Initech', Industry: 'Technology', NumberOfEmployees: 15, Website: 'initech.test' },
      { Name: "O'Reilly Media", Industry: 'Media', AnnualRevenue: 250_000, NumberOfEmployees: 300 },
      { Name: 'umbrella', Industry: 'Healthcare', AnnualRevenue: 9_000_000 },
    ]);
    const [acme, globex] = accounts.map((a) => a.id as string);
    const contacts = await conn.sobject('Contact').create([
      { FirstName: 'Ada', LastName: 'Lovelace', Email: 'ada@acme.test', AccountId: acme },
      { FirstName: 'Alan', LastName: 'Turing', Email: 'alan@acme.test', AccountId: acme },
      { LastName: 'Hopper', Email: 'grace@globex.test', AccountId: globex },
      { LastName: 'Nobody' },
    ]);
    const opps = await conn.sobject('Opportunity').create([
      { Name: 'Acme renewal', StageName: 'Closed Won', CloseDate: '2026-03-01', Amount: 1200, AccountId: acme },
      { Name: 'Acme upsell', StageName: 'Prospecting', CloseDate: '2026-04-10', Amount: 300.5, AccountId: acme },
      { Name: 'Globex new', StageName: 'Closed Lost', CloseDate: '2026-01-20', AccountId: globex },
    ]);
    await conn.sobject('Task').create([
      { Subject: 'Kickoff', WhatId: opps[0]?.id, WhoId: contacts[0]?.id, ActivityDate: '2026-03-15' },
      { Subject: 'Account review', WhatId: acme },
    ]);
    // One record in the recycle bin: invisible to query, visible to queryAll.
    const gone = await conn.sobject('Account').create({ Name: 'Deleted Inc' });
    await conn.sobject('Account').destroy(gone.id as string);
  });

  const names = async (soql: string) => (await conn.query<{ Name: string }>(soql)).records.map((r) => r.Name);

  it.each<[string, string[]]>([
    ['SELECT Name FROM Account ORDER BY Name', ['Acme Corp', 'Globex', 'Initech', "O'Reilly Media", 'umbrella']],
    ["SELECT Name FROM Account WHERE Industry = 'technology' ORDER BY Name", ['Acme Corp', 'Initech']],
    ["SELECT Name FROM Account WHERE Name != 'Globex' AND Industry <> 'Media' ORDER BY Name", ['Acme Corp', 'Initech', 'umbrella']],
    ['SELECT Name FROM Account WHERE AnnualRevenue > 1000000 ORDER BY Name', ['Acme Corp', 'umbrella']],
    ['SELECT Name FROM Account WHERE AnnualRevenue >= 1000000 ORDER BY Name', ['Acme Corp', 'Globex', 'umbrella']],
    ['SELECT Name FROM Account WHERE AnnualRevenue < 1000000', ["O'Reilly Media"]],
    ['SELECT Name FROM Account WHERE AnnualRevenue <= 250000.0', ["O'Reilly Media"]],
    ['SELECT Name FROM Account WHERE AnnualRevenue = null', ['Initech']],
    ['SELECT Name FROM Account WHERE AnnualRevenue != null ORDER BY AnnualRevenue DESC', ['umbrella', 'Acme Corp', 'Globex', "O'Reilly Media"]],
    ['SELECT Name FROM Account ORDER BY AnnualRevenue', ['Initech', "O'Reilly Media", 'Globex', 'Acme Corp', 'umbrella']],
    ['SELECT Name FROM Account ORDER BY AnnualRevenue ASC NULLS LAST', ["O'Reilly Media", 'Globex', 'Acme Corp', 'umbrella', 'Initech']],
    ['SELECT Name FROM Account ORDER BY Industry DESC NULLS FIRST, Name', ['Acme Corp', 'Initech', "O'Reilly Media", 'umbrella', 'Globex']],
    ["SELECT Name FROM Account WHERE Name LIKE 'ac%'", ['Acme Corp']],
    ["SELECT Name FROM Account WHERE Name LIKE '_lobex'", ['Globex']],
    ["SELECT Name FROM Account WHERE Name = 'O\\'Reilly Media'", ["O'Reilly Media"]],
    ["SELECT Name FROM Account WHERE Industry IN ('Finance', 'Media') ORDER BY Name", ['Globex', "O'Reilly Media"]],
    ["SELECT Name FROM Account WHERE Industry NOT IN ('Technology') ORDER BY Name", ['Globex', "O'Reilly Media", 'umbrella']],
    ["SELECT Name FROM Account WHERE (Industry = 'Technology' OR Industry = 'Finance') AND NumberOfEmployees > 20 ORDER BY Name", ['Acme Corp', 'Globex']],
    ["SELECT Name FROM Account WHERE NOT Industry = 'Technology' ORDER BY Name", ['Globex', "O'Reilly Media", 'umbrella']],
    ["SELECT Name FROM Account WHERE Website = null AND (NOT Name LIKE 'u%')", ['Globex', "O'Reilly Media"]],
    ["SELECT Name FROM Account WHERE Stripe_Customer_Id__c = 'CUS_A'", ['Acme Corp']],
    ['SELECT Name FROM Account ORDER BY Name DESC LIMIT 2', ['umbrella', "O'Reilly Media"]],
    ['SELECT Name FROM Account ORDER BY Name LIMIT 2 OFFSET 1', ['Globex', 'Initech']],
    ['select name from account where name like \'%corp\'', ['Acme Corp']],
    ['SELECT Name FROM Opportunity WHERE CloseDate >= 2026-03-01 AND CloseDate < 2026-04-01', ['Acme renewal']],
    ['SELECT Name FROM Opportunity WHERE CloseDate = LAST_N_DAYS:30 ORDER BY Name', ['Acme renewal']],
    ['SELECT Name FROM Opportunity WHERE CloseDate > TODAY', ['Acme upsell']],
    ['SELECT Name FROM Opportunity WHERE CloseDate = THIS_YEAR ORDER BY CloseDate', ['Globex new', 'Acme renewal', 'Acme upsell']],
    ['SELECT Name FROM Opportunity WHERE IsWon = true', ['Acme renewal']],
    ['SELECT Name FROM Opportunity WHERE IsClosed = false', ['Acme upsell']],
    ['SELECT Name FROM Opportunity WHERE Amount > 300 ORDER BY Amount', ['Acme upsell', 'Acme renewal']],
    ["SELECT Name FROM Account WHERE CreatedDate = TODAY AND CreatedDate > 2026-03-15T11:00:00Z AND CreatedDate < 2026-03-15T14:00:00+01:00 ORDER BY Name LIMIT 1", ['Acme Corp']],
    ['SELECT Name FROM Account WHERE CreatedDate < YESTERDAY', []],
    ["SELECT Name FROM Contact WHERE Account.Industry = 'Technology' ORDER BY LastName", ['Ada Lovelace', 'Alan Turing']],
    ["SELECT Name FROM Contact WHERE Account.Name LIKE 'glo%' OR Email = null ORDER BY Name", ['Hopper', 'Nobody']],
    // Selective filters (indexed fields: External ID, Email, Id) answer as a scan would, in the table's order.
    ["SELECT Name FROM Account WHERE Stripe_Customer_Id__c IN ('cus_b', 'CUS_A')", ['Acme Corp']],
    ["SELECT Name FROM Account WHERE Stripe_Customer_Id__c IN ('cus_A') AND Industry = 'Finance'", []],
    ["SELECT Name FROM Contact WHERE Email IN ('GRACE@globex.test', 'ada@acme.test')", ['Ada Lovelace', 'Hopper']],
    ["SELECT Name FROM Contact WHERE Email = 'alan@acme.test' OR (Email IN ('grace@globex.test') AND AccountId != null)", ['Alan Turing', 'Hopper']],
    ["SELECT Name FROM Contact WHERE Email IN ('ada@acme.test') OR LastName = 'Nobody'", ['Ada Lovelace', 'Nobody']],
  ])('%s', async (soql, expected) => {
    expect(await names(soql)).toEqual(expected);
  });

  it('returns records with attributes and nested parents, null when there is no parent', async () => {
    const q = await conn.query("SELECT Id, Name, Account.Name, Account.Owner.Name FROM Contact WHERE LastName IN ('Lovelace', 'Nobody') ORDER BY LastName");
    expect(q.totalSize).toBe(2);
    expect(q.done).toBe(true);
    expect(q.records[0]).toEqual({
      attributes: { type: 'Contact', url: expect.stringMatching(/^\/services\/data\/v62\.0\/sobjects\/Contact\/003\w{15}$/) },
      Id: expect.stringMatching(/^003/),
      Name: 'Ada Lovelace',
      Account: {
        attributes: { type: 'Account', url: expect.stringMatching(/\/sobjects\/Account\/001/) },
        Name: 'Acme Corp',
        Owner: { attributes: { type: 'User', url: expect.stringMatching(/\/sobjects\/User\/005/) }, Name: 'Sandbox User' },
      },
    });
    expect(q.records[1]).toMatchObject({ Name: 'Nobody', Account: null });
  });

  it('resolves polymorphic What/Who lookups', async () => {
    const q = await conn.query('SELECT Subject, What.Name, What.Type, Who.Name FROM Task ORDER BY Subject');
    expect(q.records.map((r) => [r.Subject, r.What?.Type, r.What?.Name, r.Who?.Name ?? null])).toEqual([
      ['Account review', 'Account', 'Acme Corp', null],
      ['Kickoff', 'Opportunity', 'Acme renewal', 'Ada Lovelace'],
    ]);
  });

  it('counts with COUNT() and sees the recycle bin only through queryAll', async () => {
    expect((await conn.query("SELECT COUNT() FROM Contact WHERE Email LIKE '%@acme.test'")).totalSize).toBe(2);
    expect(await conn.sobject('Account').count()).toBe(5);
    const all = await conn.query('SELECT Name, IsDeleted FROM Account WHERE IsDeleted = true').scanAll(true);
    expect(all.records.map((r) => r.Name)).toEqual(['Deleted Inc']);
    expect((await conn.query('SELECT COUNT() FROM Account WHERE IsDeleted = true')).totalSize).toBe(0);
  });

  it('builds the same answers for jsforce find() conditions', async () => {
    const rows = await conn
      .sobject('Account')
      .find({ Industry: { $in: ['Technology', 'Finance'] }, NumberOfEmployees: { $gte: 40 }, Name: { $nlike: 'Glo%' } }, ['Name'])
      .sort({ Name: -1 });
    expect(rows.map((r) => r.Name)).toEqual(['Acme Corp']);
    const star = await conn.sobject('Account').find({ Website: { $exists: true } }, '*').sort('Name');
    expect(star.map((r) => r.Website)).toEqual(['acme.test', 'initech.test']);
  });

  it('supports FIELDS() with the LIMIT Salesforce requires', async () => {
    const q = await conn.query('SELECT FIELDS(ALL) FROM Account ORDER BY Name LIMIT 1');
    expect(q.records[0]).toMatchObject({ Name: 'Acme Corp', Stripe_Customer_Id__c: 'cus_A', BillingCity: null });
    const custom = await conn.query("SELECT FIELDS(CUSTOM) FROM Account WHERE Name = 'Acme Corp' LIMIT 200");
    expect(Object.keys(custom.records[0] ?? {})).toEqual(['attributes', 'Stripe_Customer_Id__c']);
  });

  it.each<[string, string, RegExp]>([
    ['NUMBER_OUTSIDE_VALID_RANGE', 'SELECT Id FROM Account OFFSET 2001', /Maximum SOQL offset allowed is 2000$/],
    ['MALFORMED_QUERY', 'SELECT FIELDS(ALL) FROM Account', /The SOQL FIELDS function must have a LIMIT of at most 200$/],
    ['MALFORMED_QUERY', 'SELECT Id, Name, name FROM Account', /duplicate field selected: Name$/],
    ['MALFORMED_QUERY', "SELECT Id FROM Account WHERE Name = 'unterminated", /unterminated string literal$/],
    ['MALFORMED_QUERY', 'SELECT Id FROM Account LIMIT', /unexpected token: <EOF>$/],
    ['INVALID_FIELD', 'SELECT Id FROM Contact WHERE Accnt.Name = null', /Didn't understand relationship 'Accnt' in field path/],
    ['INVALID_FIELD', "SELECT Id FROM Account WHERE Description = 'x'", /field 'Description' can not be filtered in a query call$/],
    ['INVALID_QUERY_FILTER_OPERATOR', "SELECT Id FROM Contact WHERE AccountId = 'abc'", /invalid ID field: abc$/],
    ['INVALID_QUERY_FILTER_OPERATOR', 'SELECT Id FROM Account WHERE Name = 5', /must be of type string and should be enclosed in quotes$/],
    ['INVALID_QUERY_FILTER_OPERATOR', "SELECT Id FROM Account WHERE NumberOfEmployees = '5'", /must be of type integer and should not be enclosed in quotes$/],
    ['INVALID_QUERY_FILTER_OPERATOR', 'SELECT Id FROM Account WHERE CreatedDate > 2026-01-01', /must be of type dateTime and should not be enclosed in quotes$/],
  ])('%s: %s', async (errorCode, soql, message) => {
    const err = await failure(conn.query(soql));
    expect(err.errorCode).toBe(errorCode);
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/^\n.*\n *\^\nERROR at Row:1:Column:\d+\n/);
  });
});

describe('paging', () => {
  const TOTAL = 450;

  beforeAll(async () => {
    await fetch(`${server.url}/__sandbox/reset`, { method: 'POST' });
    const records = Array.from({ length: TOTAL }, (_, i) => ({ Name: `Account ${String(i).padStart(4, '0')}` }));
    await conn.sobject('Account').create(records, { allowRecursive: true });
  });

  const small = { 'Sforce-Query-Options': 'batchSize=200' };

  it('pages with nextRecordsUrl and follows it by its last segment', async () => {
    const first = await conn.query('SELECT Id, Name FROM Account ORDER BY Name', { headers: small });
    expect(first).toMatchObject({ totalSize: TOTAL, done: false });
    expect(first.records).toHaveLength(200);
    // jsforce keeps only the locator and rebuilds the URL; the wire format is a relative path.
    expect(first.nextRecordsUrl).toMatch(/\/services\/data\/v62\.0\/query\/01g\w{15}-200$/);
    const raw = await conn.request<{ nextRecordsUrl: string }>({
      method: 'GET',
      url: `/query?q=${encodeURIComponent('SELECT Id FROM Account')}`,
      headers: small,
    });
    expect(raw.nextRecordsUrl).toMatch(/^\/services\/data\/v62\.0\/query\/01g\w{15}-200$/);
    const second = await conn.queryMore(first.nextRecordsUrl as string);
    expect(second.records).toHaveLength(200);
    expect(second.nextRecordsUrl).toMatch(/-400$/);
    const third = await conn.queryMore(second.nextRecordsUrl as string);
    expect(third).toMatchObject({ done: true, totalSize: TOTAL });
    expect(third.records).toHaveLength(50);
    expect(third.nextRecordsUrl).toBeUndefined();
    const all = [...first.records, ...second.records, ...third.records].map((r) => r.Name);
    expect(all).toEqual(Array.from({ length: TOTAL }, (_, i) => `Account ${String(i).padStart(4, '0')}`));
  });

  it('auto-fetches every page and stops at maxFetch', async () => {
    const all = await conn.query('SELECT Id FROM Account', { headers: small, autoFetch: true, maxFetch: 100_000 });
    expect(all.records).toHaveLength(TOTAL);
    expect(new Set(all.records.map((r) => r.Id)).size).toBe(TOTAL);
    const capped = await conn.query('SELECT Id FROM Account', { headers: small, autoFetch: true, maxFetch: 300 });
    expect(capped.records).toHaveLength(300);
    expect(capped.totalSize).toBe(TOTAL);
  });

  it('uses 2000-record batches by default and clamps requested batch sizes to 200..2000', async () => {
    const whole = await conn.query('SELECT Id FROM Account');
    expect(whole).toMatchObject({ done: true, totalSize: TOTAL });
    expect(whole.records).toHaveLength(TOTAL);
    const tiny = await conn.query('SELECT Id FROM Account', { headers: { 'Sforce-Query-Options': 'batchSize=10' } });
    expect(tiny.records).toHaveLength(200);
  });

  it('keeps a result set fixed while it is paged', async () => {
    const first = await conn.query('SELECT Id FROM Account', { headers: small });
    const extra = await conn.sobject('Account').create({ Name: 'Late arrival' });
    const rest = await conn.queryMore(first.nextRecordsUrl as string);
    expect(rest.totalSize).toBe(TOTAL);
    await conn.sobject('Account').destroy(extra.id as string);
  });

  it('rejects unknown locators and releases the oldest of more than 10 open cursors', async () => {
    expect((await failure(conn.queryMore('01gDn0000000000AAA-200'))).errorCode).toBe('INVALID_QUERY_LOCATOR');
    const opened = [];
    for (let i = 0; i < 11; i++) opened.push(await conn.query('SELECT Id FROM Account', { headers: small }));
    const err = await failure(conn.queryMore(opened[0]?.nextRecordsUrl as string));
    expect(err).toMatchObject({ errorCode: 'INVALID_QUERY_LOCATOR', message: 'invalid query locator' });
    expect((await conn.queryMore(opened[10]?.nextRecordsUrl as string)).records).toHaveLength(200);
  });
});
