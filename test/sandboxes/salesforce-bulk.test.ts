import type { Connection } from 'jsforce';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../sandboxes/shared/serve.js';
import { salesforceConnectionFor, startSalesforceSandbox, type SalesforceSandbox } from '../../sandboxes/salesforce/index.js';

async function failure(p: PromiseLike<unknown>): Promise<Error & { errorCode?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { errorCode?: string };
  }
  throw new Error('expected the call to fail');
}

const customFields = {
  Account: [
    { name: 'Stripe_Customer_Id__c', type: 'string' as const, length: 64, externalId: true, unique: true },
    { name: 'Seats__c', type: 'int' as const, precision: 9 },
  ],
};

let server: RunningSandbox & { sandbox: SalesforceSandbox };
let conn: Connection;

beforeAll(async () => {
  server = await startSalesforceSandbox({ customFields, bulk: { processingDelayMs: 100 } });
  conn = salesforceConnectionFor(server.url);
  conn.bulk2.pollInterval = 25;
  conn.bulk2.pollTimeout = 30_000;
});

afterAll(async () => {
  await server.close();
});

beforeEach(async () => {
  await fetch(`${server.url}/__sandbox/reset`, { method: 'POST' });
});

const count = async (soql = 'SELECT COUNT() FROM Account') => (await conn.query(soql)).totalSize;

describe('Bulk API 2.0 ingest', () => {
  it('moves a job through Open, UploadComplete and JobComplete and parses quoted CSV', async () => {
    const job = conn.bulk2.createJob({ object: 'Account', operation: 'insert' });
    const opened = await job.open();
    expect(opened).toMatchObject({ state: 'Open', object: 'Account', operation: 'insert', contentType: 'CSV', lineEnding: 'LF', columnDelimiter: 'COMMA' });
    expect(opened.id).toMatch(/^750\w{15}$/);
    const csv = [
      'Name,Description,Website,Seats__c',
      '"Smith, Jones & Co","He said ""hi""',
      'on two lines",https://sj.test,5',
      'Plain,#N/A,#N/A,',
      '',
    ].join('\n');
    await job.uploadData(csv);
    await job.close();
    expect((await job.check()).state).toBe('UploadComplete');
    await job.poll(25, 10_000);
    const info = await job.check();
    expect(info).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 2, numberRecordsFailed: 0, jobType: 'V2Ingest' });
    const results = await job.getAllResults();
    expect(results.failedResults).toEqual([]);
    expect(results.successfulResults).toEqual([
      { sf__Id: expect.stringMatching(/^001/), sf__Created: 'true', Name: 'Smith, Jones & Co', Description: 'He said "hi"\non two lines', Website: 'https://sj.test', Seats__c: '5' },
      { sf__Id: expect.stringMatching(/^001/), sf__Created: 'true', Name: 'Plain', Description: '#N/A', Website: '#N/A', Seats__c: '' },
    ]);
    const rows = await conn.query('SELECT Name, Description, Website, Seats__c FROM Account ORDER BY Name');
    expect(rows.records.map(({ attributes: _a, ...r }) => r)).toEqual([
      { Name: 'Plain', Description: null, Website: null, Seats__c: null },
      { Name: 'Smith, Jones & Co', Description: 'He said "hi"\non two lines', Website: 'https://sj.test', Seats__c: 5 },
    ]);
  });

  it('reports row failures in failedResults and keeps the good rows', async () => {
    await conn.sobject('Account').create({ Name: 'Existing', Stripe_Customer_Id__c: 'cus_1' });
    const results = await conn.bulk2.loadAndWaitForResults({
      object: 'Account',
      operation: 'upsert',
      externalIdFieldName: 'Stripe_Customer_Id__c',
      input: [
        { Stripe_Customer_Id__c: 'cus_1', Name: 'Updated', Seats__c: 3 },
        { Stripe_Customer_Id__c: 'cus_2', Name: null, Seats__c: 1 },
        { Stripe_Customer_Id__c: 'cus_3', Name: 'Bad seats', Seats__c: 'many' },
        { Stripe_Customer_Id__c: 'cus_4', Name: 'Twin A', Seats__c: 1 },
        { Stripe_Customer_Id__c: 'CUS_4', Name: 'Twin B', Seats__c: 1 },
        { Stripe_Customer_Id__c: 'cus_5', Name: 'New', Seats__c: 2 },
      ],
    });
    const extId = (r: object) => (r as { Stripe_Customer_Id__c: string }).Stripe_Customer_Id__c;
    expect(results.successfulResults.map((r) => [extId(r), r.sf__Created])).toEqual([
      ['cus_1', 'false'],
      ['cus_5', 'true'],
    ]);
    expect(results.failedResults.map((r) => [extId(r), r.sf__Error])).toEqual([
      ['cus_2', 'REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --'],
      ['cus_3', 'INVALID_TYPE_ON_FIELD_IN_RECORD:Seats: value not of required type: many:Seats__c --'],
      ['cus_4', 'DUPLICATE_EXTERNAL_ID:Duplicate external id specified: cus_4:Stripe_Customer_Id__c --'],
      ['CUS_4', 'DUPLICATE_EXTERNAL_ID:Duplicate external id specified: CUS_4:Stripe_Customer_Id__c --'],
    ]);
    expect(results.unprocessedRecords).toEqual([]);
    const q = await conn.query('SELECT Name, Seats__c FROM Account ORDER BY Name');
    expect(q.records.map((r) => [r.Name, r.Seats__c])).toEqual([
      ['New', 2],
      ['Updated', 3],
    ]);
  });

  it('updates, deletes and hard-deletes by Id, and resolves parents by external id', async () => {
    const created = await conn.sobject('Account').create([
      { Name: 'A', Stripe_Customer_Id__c: 'cus_a' },
      { Name: 'B' },
      { Name: 'C' },
    ]);
    const [a, b, c] = created.map((r) => r.id as string) as [string, string, string];
    const updated = await conn.bulk2.loadAndWaitForResults({
      object: 'Account',
      operation: 'update',
      input: [
        { Id: a, Website: 'a.test' },
        { Id: '001000000000000AAA', Website: 'ghost.test' },
      ],
    });
    expect(updated.successfulResults.map((r) => r.sf__Id)).toEqual([a]);
    expect(updated.failedResults.map((r) => r.sf__Error)).toEqual(['INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--']);

    const contacts = await conn.bulk2.loadAndWaitForResults({
      object: 'Contact',
      operation: 'insert',
      input: 'LastName,Account.Stripe_Customer_Id__c\nLinked,cus_a\nDangling,cus_missing\n',
    });
    expect(contacts.successfulResults).toHaveLength(1);
    expect(contacts.failedResults[0]?.sf__Error).toBe('INVALID_FIELD:Foreign key external ID: cus_missing not found for field Stripe_Customer_Id__c in entity Account:--');
    expect((await conn.query("SELECT Account.Name FROM Contact WHERE LastName = 'Linked'")).records[0]?.Account?.Name).toBe('A');

    await conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'delete', input: [{ Id: b }] });
    await conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'hardDelete', input: [{ Id: c }] });
    expect(await count()).toBe(1);
    const bin = await conn.query('SELECT Name FROM Account WHERE IsDeleted = true').scanAll(true);
    expect(bin.records.map((r) => r.Name)).toEqual(['B']);
  });

  it('fails a job whose CSV header names an unknown field or whose line endings do not match', async () => {
    const unknown = await failure(conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'insert', input: 'Name,Bogus__c\nx,y\n' }));
    expect(unknown.message).toBe('Ingest job failed to complete due to: InvalidBatch : Field name not found : Bogus__c');
    const crlf = await failure(conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'insert', input: 'Name\r\nx\r\n' }));
    expect(crlf.message).toBe('Ingest job failed to complete due to: ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF');
    const ok = await conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'insert', lineEnding: 'CRLF', input: 'Name\r\nx\r\n' });
    expect(ok.successfulResults).toHaveLength(1);
  });

  it('answers bad job requests with Salesforce errors', async () => {
    const noExtId = await failure(conn.bulk2.createJob({ object: 'Account', operation: 'upsert' }).open());
    expect(noExtId).toMatchObject({ errorCode: 'INVALIDJOB', message: 'InvalidJob : External ID was blank for Account. An External ID must be specified for upsert.' });
    const notExtId = await failure(conn.bulk2.createJob({ object: 'Account', operation: 'upsert', externalIdFieldName: 'Name' }).open());
    expect(notExtId.errorCode).toBe('INVALIDJOB');
    const noObject = await failure(conn.bulk2.createJob({ object: 'Nope__c', operation: 'insert' }).open());
    expect(noObject).toMatchObject({ errorCode: 'INVALIDJOB', message: 'InvalidJob : Unable to find object: Nope__c' });
    const missing = await failure(conn.bulk2.job('ingest', { id: '750Dn0000000000AAA' }).check());
    expect(missing.errorCode).toBe('NOT_FOUND');
  });

  it('shows progress while InProgress and leaves unprocessed records when aborted', async () => {
    const slow = await startSalesforceSandbox({ customFields, bulk: { processingDelayMs: 20, chunkSize: 10, chunkDelayMs: 40 } });
    try {
      const slowConn = salesforceConnectionFor(slow.url);
      const job = slowConn.bulk2.createJob({ object: 'Account', operation: 'insert' });
      await job.open();
      await job.uploadData(Array.from({ length: 100 }, (_, i) => ({ Name: `Slow ${i}` })));
      await job.close();
      let info = await job.check();
      while (info.state !== 'InProgress' || info.numberRecordsProcessed === 0) {
        expect(['UploadComplete', 'InProgress']).toContain(info.state);
        await new Promise((r) => setTimeout(r, 10));
        info = await job.check();
      }
      expect(info.numberRecordsProcessed).toBeLessThan(100);
      await job.abort();
      expect((await job.check()).state).toBe('Aborted');
      const results = await job.getAllResults();
      expect(Array.isArray(results.unprocessedRecords) && results.unprocessedRecords.length).toBeGreaterThan(0);
      expect(results.successfulResults.length + (results.unprocessedRecords as unknown[]).length).toBe(100);
      expect((await slowConn.query('SELECT COUNT() FROM Account')).totalSize).toBe(results.successfulResults.length);
      await job.delete();
      expect((await failure(job.check())).errorCode).toBe('NOT_FOUND');
    } finally {
      await slow.close();
    }
  });
});

describe('acceptance: 10,000 Accounts by external id', () => {
  const TOTAL = 10_000;
  const records = (suffix: string) => Array.from({ length: TOTAL }, (_, i) => ({ Name: `Customer ${i} ${suffix}`, Stripe_Customer_Id__c: `cus_${String(i).padStart(5, '0')}` }));

  /** Every Account through autoFetch with maxFetch raised past jsforce's 10,000 default. */
  const readAll = async () => {
    const q = await conn.query<{ Id: string; Name: string; Stripe_Customer_Id__c: string }>('SELECT Id, Name, Stripe_Customer_Id__c FROM Account', {
      autoFetch: true,
      maxFetch: 50_000,
    });
    return q.records;
  };

  const expectExactly = (rows: Array<{ Id: string; Name: string; Stripe_Customer_Id__c: string }>, suffix: string) => {
    expect(rows).toHaveLength(TOTAL);
    expect(new Set(rows.map((r) => r.Id)).size).toBe(TOTAL);
    expect(new Set(rows.map((r) => r.Stripe_Customer_Id__c)).size).toBe(TOTAL);
    expect(rows.every((r) => r.Name === `Customer ${Number(r.Stripe_Customer_Id__c.slice(4))} ${suffix}`)).toBe(true);
  };

  it('collection upsert creates then updates them, all readable by autoFetch', async () => {
    const created = await conn.sobject('Account').upsert(records('v1'), 'Stripe_Customer_Id__c', { allowRecursive: true });
    expect(created).toHaveLength(TOTAL);
    expect(created.every((r) => r.success && r.created === true)).toBe(true);
    expectExactly(await readAll(), 'v1');

    const again = await conn.sobject('Account').upsert(records('v2'), 'Stripe_Customer_Id__c', { allowRecursive: true });
    expect(again.every((r) => r.success && r.created === false)).toBe(true);
    expect(new Set(again.map((r) => r.id))).toEqual(new Set(created.map((r) => r.id)));
    expectExactly(await readAll(), 'v2');

    // jsforce stops at 10,000 by default; raising maxFetch gets the rest.
    await conn.sobject('Account').create({ Name: 'One more' });
    const capped = await conn.query('SELECT Id FROM Account', { autoFetch: true });
    expect(capped.totalSize).toBe(TOTAL + 1);
    expect(capped.records).toHaveLength(TOTAL);
    expect(await readAll()).toHaveLength(TOTAL + 1);
  });

  it('Bulk API 2.0 upsert creates then updates them, all readable by autoFetch', async () => {
    const before = (await conn.limits()).DailyBulkApiBatches?.Remaining ?? NaN;
    const first = await conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'upsert', externalIdFieldName: 'Stripe_Customer_Id__c', input: records('bulk1') });
    expect(first.failedResults).toEqual([]);
    expect(first.successfulResults).toHaveLength(TOTAL);
    expect(first.successfulResults.every((r) => r.sf__Created === 'true')).toBe(true);
    expectExactly(await readAll(), 'bulk1');

    const second = await conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'upsert', externalIdFieldName: 'Stripe_Customer_Id__c', input: records('bulk2') });
    expect(second.failedResults).toEqual([]);
    expect(second.successfulResults.every((r) => r.sf__Created === 'false')).toBe(true);
    expect(new Set(second.successfulResults.map((r) => r.sf__Id))).toEqual(new Set(first.successfulResults.map((r) => r.sf__Id)));
    expectExactly(await readAll(), 'bulk2');
    expect((await conn.limits()).DailyBulkApiBatches?.Remaining).toBe(before - 2);
  });
});
