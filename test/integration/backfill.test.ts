import type { Client as HubSpotClient } from '@hubspot/api-client';
import type { Connection } from 'jsforce';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillWorkflowId } from '../../domain/backfill.js';
import { backfillWorkflow, type BackfillInput } from '../../workflows/backfill.js';
import { projectRoot } from '../support/harness.js';
import { hubspotClientFor } from '../../sandboxes/hubspot/index.js';
import { salesforceConnectionFor } from '../../sandboxes/salesforce/index.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

interface RunView {
  id: string;
  status: string;
  dryRun: boolean;
  processed: number;
  counts: Record<'created' | 'matched' | 'updated' | 'skipped' | 'failed', number>;
  fraction: number;
  rate: number;
  etaSeconds: number | null;
  estimatedRunSeconds: number | null;
}

const execFileAsync = promisify(execFile);
const CUSTOMERS = 230;
const YEAR_START = 1_704_067_200; // 2024-01-01
const YEAR_END = 1_735_689_600; // 2025-01-01

describe('historical backfill to HubSpot through the API, the workflow and the real clients', () => {
  let stack: TestStack;
  let hubspot: HubSpotClient;
  let customerIds: string[] = [];
  let existingId = '';

  const api = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> => {
    const res = await fetch(`${stack.api.url}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, json: (await res.json()) as T };
  };
  const finished = (id: string, timeoutMs = 60_000) => eventually(async () => {
    const { json } = await api<RunView>('GET', `/backfills/${id}`);
    expect(['completed', 'canceled', 'failed']).toContain(json.status);
    return json;
  }, timeoutMs, 250);
  const companies = async () => {
    const res = await fetch(`${stack.sandboxes.hubspot.url}/__sandbox/objects/companies`);
    const body = (await res.json()) as { results?: Array<{ id: string; properties: Record<string, string | null> }> } | Array<{ id: string; properties: Record<string, string | null> }>;
    return Array.isArray(body) ? body : (body.results ?? []);
  };

  beforeAll(async () => {
    stack = await startTestStack({ provider: 'hubspot', env: { CRM_RATE_LIMIT_PER_SECOND: '50' } });
    hubspot = hubspotClientFor(stack.sandboxes.hubspot.url, 'reader-token');
    // An import, as Stripe history exists before the service: no events, so no customer workflows.
    stack.sandboxes.stripe.sandbox.seed({ customers: CUSTOMERS, subscriptionsPerCustomer: 1, withInvoices: false, createdRange: { from: YEAR_START, to: YEAR_END - 1 }, emitEvents: false });
    for await (const c of stack.stripe.customers.list({ limit: 100 })) customerIds.push(c.id);
    customerIds = customerIds.sort();
    expect(customerIds.length).toBe(CUSTOMERS);
    // The CRM already holds an account for one customer, and a customer workflow has written newer state for another.
    existingId = (await hubspot.crm.companies.basicApi.create({ properties: { name: 'Existing Co', stripe_customer_id: customerIds[0]! }, associations: [] })).id;
    await stack.database.db.insertInto('crmLinks').values({
      accountId: stack.accountId, customerId: customerIds[1]!, provider: 'hubspot', companyId: null, contactId: null, dealIds: '{}',
      matchMethod: 'external-id', productIds: [], stripeStateAt: new Date(Date.now() + 3_600_000), lastSyncedAt: new Date(),
    }).execute();
  }, 150_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('refuses bad filters with a reason', async () => {
    expect((await api('POST', '/backfills', { since: 'not a date' })).status).toBe(400);
    const unsupported = await api<{ error: { code: string } }>('POST', '/backfills', { objects: ['customers', 'invoices'] });
    expect(unsupported.status).toBe(422);
    expect(unsupported.json.error.code).toBe('unsupported_objects');
    expect((await api('GET', '/backfills/bf_missing')).status).toBe(404);
  });

  it('dry run: reports what would be created, matched and skipped, writes nothing, estimates the real run', async () => {
    const { status, json: started } = await api<RunView>('POST', '/backfills', { dryRun: true });
    expect(status).toBe(202);
    const run = await finished(started.id);
    expect(run).toMatchObject({ status: 'completed', dryRun: true, processed: CUSTOMERS, fraction: 1 });
    expect(run.counts).toEqual({ created: CUSTOMERS - 2, matched: 1, updated: 0, skipped: 1, failed: 0 });
    // 230 records at 50 batches of 100 per second.
    expect(run.estimatedRunSeconds).toBeCloseTo(CUSTOMERS / 5000, 5);
    expect(await companies()).toHaveLength(1);
    const skipped = await api<{ data: Array<{ stripeId: string; reason: string }> }>('GET', `/backfills/${run.id}/records?outcome=skipped`);
    expect(skipped.json.data).toEqual([expect.objectContaining({ stripeId: customerIds[1], reason: expect.stringMatching(/newer/) })]);
  }, 150_000);

  it('writes every customer once with its Stripe fields, keeps newer workflow data, seeds the links', async () => {
    const { json: started } = await api<RunView>('POST', '/backfills', {});
    const run = await finished(started.id);
    expect(run.counts).toEqual({ created: CUSTOMERS - 2, matched: 0, updated: 1, skipped: 1, failed: 0 });
    const all = await companies();
    // One company per customer except the one left to its workflow; no duplicates.
    const keys = all.map((c) => c.properties.stripe_customer_id);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBe(CUSTOMERS - 1);
    expect(keys).not.toContain(customerIds[1]);
    const existing = await hubspot.crm.companies.basicApi.getById(customerIds[0]!, ['name', 'stripe_subscription_status', 'stripe_mrr', 'stripe_ltv'], undefined, undefined, false, 'stripe_customer_id');
    // Matched by stripe_customer_id and updated in place (the name follows Stripe, as in the real-time
    // path); payment totals are not known to a backfill, so not written.
    expect(existing.id).toBe(existingId);
    expect(existing.properties).toMatchObject({ name: expect.stringMatching(/^Customer /), stripe_subscription_status: 'active' });
    expect(Number(existing.properties.stripe_mrr)).toBeGreaterThan(0);
    expect(existing.properties.stripe_ltv ?? '').toBe('');
    const links = await stack.database.db.selectFrom('crmLinks').select(['customerId', 'companyId', 'stripeStateAt']).where('accountId', '=', stack.accountId).execute();
    expect(links.filter((l) => l.companyId !== null)).toHaveLength(CUSTOMERS - 1);
  }, 150_000);

  it('honours the created range and survives 429s without losing a record', async () => {
    await fetch(`${stack.sandboxes.hubspot.url}/__sandbox/faults`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: '^/crm/v3/objects/companies/batch/upsert', rate429: 1, times: 3 }),
    });
    const mid = '2024-07-01';
    const { json: started } = await api<RunView>('POST', '/backfills', { since: mid });
    const run = await finished(started.id);
    const expected: string[] = [];
    for await (const c of stack.stripe.customers.list({ limit: 100, created: { gte: Date.parse(mid) / 1000 } })) expected.push(c.id);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(CUSTOMERS);
    expect(run.processed).toBe(expected.length);
    const faults = (await (await fetch(`${stack.sandboxes.hubspot.url}/__sandbox/faults`)).json()) as { injected: Record<string, number> };
    expect(faults.injected['429']).toBe(3);
    await fetch(`${stack.sandboxes.hubspot.url}/__sandbox/faults`, { method: 'DELETE' });
    const failed = run.counts.failed;
    expect(failed).toBe(0);
    expect(run.counts.created).toBe(0);
    expect(run.counts.updated + run.counts.skipped).toBe(expected.length);
  }, 150_000);

  it('records refused records as failed with a reason, and retries them from the API', async () => {
    // A property the CRM no longer has: every write of it is refused until it exists again.
    await hubspot.crm.properties.coreApi.archive('companies', 'stripe_mrr');
    const { json: started } = await api<RunView>('POST', '/backfills', { since: '2024-10-01' });
    const run = await finished(started.id);
    expect(run.counts.failed).toBeGreaterThan(0);
    const failed = await api<{ data: Array<{ reason: string }> }>('GET', `/backfills/${run.id}/records?outcome=failed`);
    expect(failed.json.data[0]!.reason).toMatch(/stripe_mrr/);
    await stack.clients.crm.provision();
    const { status, json: retry } = await api<RunView>('POST', `/backfills/${run.id}/retry`);
    expect(status).toBe(202);
    const retried = await finished(retry.id);
    expect(retried.counts.updated).toBe(run.counts.failed);
    const after = await api<RunView>('GET', `/backfills/${run.id}`);
    expect(after.json.counts.failed).toBe(0);
  }, 150_000);

  it('continues as new with its progress, and resumes across a worker restart without losing or duplicating a record', async () => {
    const runId = `bf_test_${Date.now()}`;
    const workflowId = backfillWorkflowId(stack.accountId, runId);
    await stack.database.db.insertInto('backfillRuns').values({
      id: runId, accountId: stack.accountId, provider: 'hubspot', workflowId, status: 'running', dryRun: false,
      filters: JSON.stringify({ objects: ['customers', 'subscriptions'] }), summary: null, finishedAt: null,
    }).execute();
    const input: BackfillInput = { runId, accountId: stack.accountId, dryRun: false, filters: { objects: ['customers', 'subscriptions'] }, concurrency: 2, pagesPerRun: 2 };
    const handle = await stack.client.workflow.start(backfillWorkflow, { workflowId, taskQueue: stack.taskQueue, args: [input] });
    await eventually(async () => expect((await api<RunView>('GET', `/backfills/${runId}`)).json.processed).toBeGreaterThan(0), 20_000, 50);
    await stack.restartWorkers();
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'completed', processed: CUSTOMERS });
    expect(result.counts.created + result.counts.updated + result.counts.skipped).toBe(CUSTOMERS);
    // Each run of the chain read at most two pages before handing its cursors on.
    let runs = 0;
    for await (const _ of stack.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs++;
    expect(runs).toBeGreaterThan(2);
    const log = await stack.database.db.selectFrom('backfillRecords').select((eb) => eb.fn.countAll<string>().as('n')).where('runId', '=', runId).executeTakeFirstOrThrow();
    expect(Number(log.n)).toBe(CUSTOMERS);
    const keys = (await companies()).map((c) => c.properties.stripe_customer_id);
    expect(new Set(keys).size).toBe(keys.length);
  }, 150_000);

  it('the CLI starts a dry run and ends with the summary table', async () => {
    const { stdout } = await execFileAsync('npx', ['tsx', 'scripts/backfill-cli.ts', '--api', stack.api.url, '--since', '2024-06-01', '--dry-run'], { cwd: projectRoot });
    expect(stdout).toMatch(/backfill bf_\S+ started \(dry run\)/);
    expect(stdout).toMatch(/\| status\s+\| completed \(dry run: nothing written\)/);
    expect(stdout).toMatch(/\| would update \(matched\)\s+\| \d+/);
    expect(stdout).toMatch(/\| real run would take/);
  }, 150_000);

  it('pauses, resumes and cancels', async () => {
    const { json: started } = await api<RunView>('POST', '/backfills', { concurrency: 1 });
    expect((await api('POST', `/backfills/${started.id}/pause`)).status).toBe(202);
    await eventually(async () => expect((await api<RunView>('GET', `/backfills/${started.id}`)).json.status).toBe('paused'));
    const pausedAt = (await api<RunView>('GET', `/backfills/${started.id}`)).json.processed;
    await new Promise((r) => setTimeout(r, 800));
    expect((await api<RunView>('GET', `/backfills/${started.id}`)).json.processed).toBe(pausedAt);
    expect((await api('POST', `/backfills/${started.id}/resume`)).status).toBe(202);
    const done = await finished(started.id);
    expect(done.status).toBe('completed');
    expect(done.processed).toBe(CUSTOMERS);
    expect((await api('POST', `/backfills/${started.id}/cancel`)).status).toBe(409);

    const { json: second } = await api<RunView>('POST', '/backfills', { concurrency: 1 });
    await api('POST', `/backfills/${second.id}/cancel`);
    const cancelled = await finished(second.id);
    expect(cancelled.status).toBe('canceled');
    expect(cancelled.processed).toBeLessThan(CUSTOMERS);
  }, 150_000);
});

describe('historical backfill to Salesforce through jsforce', () => {
  let stack: TestStack;
  let sf: Connection;
  beforeAll(async () => {
    stack = await startTestStack({ provider: 'salesforce', env: { CRM_RATE_LIMIT_PER_SECOND: '50' } });
    sf = salesforceConnectionFor(stack.sandboxes.salesforce.url, 'reader');
  }, 150_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('upserts Accounts by the customer id in collections, keeping an existing Account\'s name', async () => {
    stack.sandboxes.stripe.sandbox.seed({ customers: 150, subscriptionsPerCustomer: 1, withInvoices: false, emitEvents: false });
    const ids: string[] = [];
    for await (const c of stack.stripe.customers.list({ limit: 100 })) ids.push(c.id);
    await sf.sobject('Account').create({ Name: 'Kept Name Ltd', Stripe_Customer_ID__c: ids[0]! });
    const res = await fetch(`${stack.api.url}/backfills`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const { id } = (await res.json()) as { id: string };
    const run = await eventually(async () => {
      const view = (await (await fetch(`${stack.api.url}/backfills/${id}`)).json()) as { status: string; counts: Record<string, number> };
      expect(view.status).toBe('completed');
      return view;
    }, 60_000, 250);
    expect(run.counts).toEqual({ created: 149, matched: 0, updated: 1, skipped: 0, failed: 0 });
    const accounts = (await sf.query<{ Name: string; Stripe_Customer_ID__c: string; Stripe_Subscription_Status__c: string }>('SELECT Name, Stripe_Customer_ID__c, Stripe_Subscription_Status__c FROM Account')).records;
    expect(new Set(accounts.map((a) => a.Stripe_Customer_ID__c)).size).toBe(150);
    expect(accounts).toHaveLength(150);
    expect(accounts.find((a) => a.Stripe_Customer_ID__c === ids[0])).toMatchObject({ Name: 'Kept Name Ltd', Stripe_Subscription_Status__c: 'active' });
  }, 90_000);

  it('writes a run above SALESFORCE_BULK_THRESHOLD through Bulk API 2.0 jobs', async () => {
    // A second stack whose threshold (1) makes everything after the first page bulk.
    const bulk = await startTestStack({ provider: 'salesforce', env: { CRM_RATE_LIMIT_PER_SECOND: '50', SALESFORCE_BULK_THRESHOLD: '1' } });
    try {
      const conn = salesforceConnectionFor(bulk.sandboxes.salesforce.url, 'reader');
      bulk.sandboxes.stripe.sandbox.seed({ customers: 450, subscriptionsPerCustomer: 1, withInvoices: false, emitEvents: false });
      const ids: string[] = [];
      for await (const c of bulk.stripe.customers.list({ limit: 100 })) ids.push(c.id);
      await conn.sobject('Account').create({ Name: 'Kept By Bulk', Stripe_Customer_ID__c: ids[ids.length - 1]! });
      const res = await fetch(`${bulk.api.url}/backfills`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ concurrency: 1 }) });
      const { id } = (await res.json()) as { id: string };
      const view = await eventually(async () => {
        const v = (await (await fetch(`${bulk.api.url}/backfills/${id}`)).json()) as { status: string; counts: Record<string, number> };
        expect(v.status).toBe('completed');
        return v;
      }, 60_000, 250);
      expect(view.counts).toEqual({ created: 449, matched: 0, updated: 1, skipped: 0, failed: 0 });
      // The first page went out as a collection; the other 350 records as one bulk job.
      const state = (await (await fetch(`${bulk.sandboxes.salesforce.url}/__sandbox/state`)).json()) as { bulkJobs: Record<string, number> };
      expect(state.bulkJobs).toMatchObject({ JobComplete: 1, Failed: 0, Open: 0 });
      const accounts = (await conn.query<{ Name: string; Stripe_Customer_ID__c: string; Stripe_MRR__c: number }>('SELECT Name, Stripe_Customer_ID__c, Stripe_MRR__c FROM Account')).records;
      expect(new Set(accounts.map((a) => a.Stripe_Customer_ID__c)).size).toBe(450);
      expect(accounts).toHaveLength(450);
      expect(accounts.find((a) => a.Stripe_Customer_ID__c === ids[ids.length - 1])).toMatchObject({ Name: 'Kept By Bulk' });
      expect(accounts.every((a) => a.Stripe_MRR__c > 0)).toBe(true);
    } finally {
      await bulk.close();
    }
  }, 90_000);
});
