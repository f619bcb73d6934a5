import type { Client as HubSpotClient } from '@hubspot/api-client';
import type { Connection } from 'jsforce';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillWorkflowId } from '../../domain/backfill.js';
import { backfillWorkflow, type BackfillInput } from '../../workflows/backfill.js';
import { projectRoot } from '../support/harness.js';
import { hubspotClientFor } from '../../sandboxes/hubspot/index.js';
import { salesforceConnectionFor } from '../../sandboxes/salesforce/index.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

type Counts = Record<'created' | 'matched' | 'updated' | 'skipped' | 'failed', number>;
interface RunView {
  id: string;
  status: string;
  dryRun: boolean;
  processed: number;
  counts: Counts;
  byObject: Record<string, Counts>;
  fraction: number;
  rate: number;
  etaSeconds: number | null;
  estimatedRunSeconds: number | null;
  stripeReads: number | null;
  crmRequests: number | null;
  repairs: number;
}
interface HubSpotObject {
  id: string;
  properties: Record<string, string | null>;
  associations: Record<string, Array<{ toId: string; typeIds: number[] }>>;
  archived: boolean;
}

const execFileAsync = promisify(execFile);
const CUSTOMERS = 230;
const YEAR_START = 1_704_067_200; // 2024-01-01
const YEAR_END = 1_735_689_600; // 2025-01-01
const counts = (partial: Partial<Counts>): Counts => ({ created: 0, matched: 0, updated: 0, skipped: 0, failed: 0, ...partial });

/** The API, the backfill workflow and the CRM sandbox of one stack, as a user reaches them. */
function harness(get: () => TestStack) {
  const api = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> => {
    const res = await fetch(`${get().api.url}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, json: (await res.json()) as T };
  };
  const finished = (id: string, timeoutMs = 90_000) => eventually(async () => {
    const { json } = await api<RunView>('GET', `/backfills/${id}`);
    expect(['completed', 'canceled', 'failed']).toContain(json.status);
    return json;
  }, timeoutMs, 250);
  const run = async (body: Record<string, unknown>) => {
    const { status, json } = await api<RunView>('POST', '/backfills', body);
    expect(status).toBe(202);
    return finished(json.id);
  };
  const objects = async (type: string): Promise<HubSpotObject[]> => {
    const res = await fetch(`${get().sandboxes.hubspot.url}/__sandbox/objects/${type}`);
    return ((await res.json()) as { results: HubSpotObject[] }).results.filter((o) => !o.archived);
  };
  const sandboxFaults = async (sandbox: 'hubspot' | 'stripe', rule: Record<string, unknown> | null) => {
    const url = `${get().sandboxes[sandbox].url}/__sandbox/faults`;
    if (rule !== null && Object.keys(rule).length > 0) await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) });
    const state = (await (await fetch(url)).json()) as { rules: Array<{ hits: number }>; injected: Record<string, number> };
    // null: what was injected, then the rules go.
    if (rule === null) await fetch(url, { method: 'DELETE' });
    return state;
  };
  return { api, finished, run, objects, sandboxFaults };
}

describe('historical backfill to HubSpot (B2B) through the API, the workflow and the real clients', () => {
  let stack: TestStack;
  let hubspot: HubSpotClient;
  let customerIds: string[] = [];
  let existingId = '';
  const { api, finished, run, objects, sandboxFaults } = harness(() => stack);

  beforeAll(async () => {
    stack = await startTestStack({ provider: 'hubspot', env: { CRM_RATE_LIMIT_PER_SECOND: '50', STRIPE_READ_RATE_LIMIT_PER_SECOND: '50' } });
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
    expect((await api('POST', '/backfills', { objects: ['customers', 'payouts'] })).status).toBe(400);
    expect((await api('POST', '/backfills', { objects: [] })).status).toBe(400);
    expect((await api('GET', '/backfills/bf_missing')).status).toBe(404);
  });

  it('dry run: reports what would be created, matched and skipped, writes nothing, estimates the real run', async () => {
    const done = await run({ dryRun: true });
    expect(done).toMatchObject({ status: 'completed', dryRun: true, processed: 3 * CUSTOMERS, fraction: 1 });
    expect(done.byObject).toEqual({
      customer: counts({ created: CUSTOMERS - 2, matched: 1, skipped: 1 }),
      contact: counts({ created: CUSTOMERS - 1, skipped: 1 }),
      subscription: counts({ created: CUSTOMERS - 1, skipped: 1 }),
    });
    // The slower of the two limits: CRM requests at 50/s, Stripe reads at 50/s.
    expect(done.crmRequests).toBeGreaterThanOrEqual(9);
    expect(done.estimatedRunSeconds).toBeCloseTo(Math.max(done.crmRequests! / 50, done.stripeReads! / 50), 5);
    expect(await objects('companies')).toHaveLength(1);
    expect(await objects('contacts')).toHaveLength(0);
    expect(await objects('deals')).toHaveLength(0);
    const skipped = await api<{ data: Array<{ objectType: string; stripeId: string; reason: string }> }>('GET', `/backfills/${done.id}/records?outcome=skipped`);
    expect(skipped.json.data).toHaveLength(3);
    for (const r of skipped.json.data) expect(r.reason).toMatch(/newer/);
  }, 150_000);

  it('writes companies, contacts and deals once each, associated as the real-time path does, keeps newer workflow data, seeds the links', async () => {
    const done = await run({});
    expect(done.byObject).toEqual({
      customer: counts({ created: CUSTOMERS - 2, matched: 1, skipped: 1 }),
      contact: counts({ created: CUSTOMERS - 1, skipped: 1 }),
      subscription: counts({ created: CUSTOMERS - 1, skipped: 1 }),
    });
    const companies = await objects('companies');
    const contacts = await objects('contacts');
    const deals = await objects('deals');
    const companyOf = new Map(companies.map((c) => [c.properties.stripe_customer_id, c.id]));
    // One record per Stripe object except those left to the customer workflow; no duplicates.
    expect(companyOf.size).toBe(companies.length);
    expect(companies).toHaveLength(CUSTOMERS - 1);
    expect(companyOf.has(customerIds[1]!)).toBe(false);
    expect(new Set(contacts.map((c) => c.properties.email)).size).toBe(CUSTOMERS - 1);
    expect(new Set(deals.map((d) => d.properties.stripe_subscription_id)).size).toBe(deals.length);
    expect(deals).toHaveLength(CUSTOMERS - 1);
    for (const contact of contacts) {
      expect(contact.associations.companies?.map((a) => a.toId)).toEqual([companyOf.get(contact.properties.stripe_customer_id!)]);
    }
    for (const deal of deals) {
      expect(deal.associations.companies).toHaveLength(1);
      expect(deal.properties).toMatchObject({ dealstage: 'closedwon', stripe_subscription_status: 'active', pipeline: 'default' });
      expect(deal.properties.dealname).toMatch(/^(Starter|Business|Team \(JP\)) \(sub_/);
      expect(Number(deal.properties.amount)).toBeGreaterThan(0);
    }
    const existing = await hubspot.crm.companies.basicApi.getById(customerIds[0]!, ['name', 'stripe_subscription_status', 'stripe_mrr', 'stripe_ltv'], undefined, undefined, false, 'stripe_customer_id');
    // Matched by stripe_customer_id through the identity index and written by its id; the CRM owns its
    // name. Payment totals are not known to a backfill, so not written.
    expect(existing.id).toBe(existingId);
    expect(existing.properties).toMatchObject({ name: 'Existing Co', stripe_subscription_status: 'active' });
    expect(Number(existing.properties.stripe_mrr)).toBeGreaterThan(0);
    expect(existing.properties.stripe_ltv ?? '').toBe('');
    const links = await stack.database.db.selectFrom('crmLinks').selectAll().where('accountId', '=', stack.accountId).execute();
    const seeded = links.filter((l) => l.companyId !== null);
    expect(seeded).toHaveLength(CUSTOMERS - 1);
    for (const l of seeded) {
      expect(l.contactId).not.toBeNull();
      expect(Object.keys(l.dealIds)).toHaveLength(1);
      expect(l.backfillSeq).toBeGreaterThanOrEqual(3);
      // The Stripe state age stays the workflows': the backfill compares with it, it does not write it.
      expect(l.stripeStateAt).toBeNull();
    }
  }, 150_000);

  it('shares its records with the real-time path: a customer workflow finds them, a rerun finds them', async () => {
    const customerId = customerIds[5]!;
    const [subscription] = (await stack.stripe.subscriptions.list({ customer: customerId })).data;
    const item = subscription!.items.data[0]!;
    // A seat change: the Stripe sandbox sends its events to the API, which starts the customer's workflow.
    await stack.stripe.subscriptions.update(subscription!.id, { items: [{ id: item.id, quantity: (item.quantity ?? 1) + 4 }] });
    await eventually(async () => {
      const deal = (await objects('deals')).filter((d) => d.properties.stripe_subscription_id === subscription!.id);
      expect(deal).toHaveLength(1);
      expect(deal[0]!.properties.dealname).toContain(subscription!.id);
      const status = await api<{ state: string; lastSyncAt: string | null }>('GET', `/customers/${stack.accountId}/${customerId}/sync`);
      expect(status.json).toMatchObject({ state: 'synced', lastSyncAt: expect.any(String) });
    }, 60_000, 250);
    expect((await objects('companies')).filter((c) => c.properties.stripe_customer_id === customerId)).toHaveLength(1);
    expect((await objects('contacts')).filter((c) => c.properties.stripe_customer_id === customerId)).toHaveLength(1);

    // The sales team moves one deal on and deletes another: a rerun keeps the first's stage (the CRM
    // owns it) and creates the second again, with its stage.
    const [moved, deleted] = (await objects('deals')).filter((d) => d.properties.stripe_subscription_id !== subscription!.id);
    await hubspot.crm.deals.basicApi.update(moved!.id, { properties: { dealstage: 'contractsent' } });
    await hubspot.crm.deals.basicApi.archive(deleted!.id);

    // Stripe state ages are whole seconds and a tie counts as the workflow's: read a second later.
    await new Promise((r) => setTimeout(r, 1_100));
    const again = await run({ objects: ['customers', 'subscriptions'] });
    expect(again.counts.created).toBe(1);
    expect(again.byObject.customer!.updated).toBe(CUSTOMERS - 1);
    expect(await objects('companies')).toHaveLength(CUSTOMERS - 1);
    expect(await objects('contacts')).toHaveLength(CUSTOMERS - 1);
    const deals = await objects('deals');
    expect(deals).toHaveLength(CUSTOMERS - 1);
    expect(deals.find((d) => d.id === moved!.id)?.properties.dealstage).toBe('contractsent');
    expect(deals.find((d) => d.properties.stripe_subscription_id === deleted!.properties.stripe_subscription_id)?.properties.dealstage).toBe('closedwon');
  }, 150_000);

  it('honours the created range and survives CRM and Stripe 429s without losing a record', async () => {
    await sandboxFaults('hubspot', { path: '^/crm/v3/objects/companies/batch/upsert', rate429: 1, times: 3 });
    // The identity index's contact listing too: its activity waits out the delay and reads on.
    await sandboxFaults('hubspot', { method: 'GET', path: '^/crm/v3/objects/contacts$', rate429: 1, times: 1 });
    // More than the Stripe client's own retries (two) absorb: the read activity itself is retried.
    await sandboxFaults('stripe', { path: '^/v1/customers$', rate429: 1, times: 4 });
    const mid = '2024-07-01';
    const done = await run({ since: mid, objects: ['customers'] });
    const expected: string[] = [];
    for await (const c of stack.stripe.customers.list({ limit: 100, created: { gte: Date.parse(mid) / 1000 } })) expected.push(c.id);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(CUSTOMERS);
    expect((await sandboxFaults('hubspot', null)).injected['429']).toBe(3 + 1);
    expect((await sandboxFaults('stripe', null)).injected['429']).toBe(4);
    const inRange = expected.filter((id) => id !== customerIds[1]);
    expect(done.byObject.customer!.updated + done.byObject.customer!.skipped).toBe(expected.length);
    expect(done.byObject.contact!.updated).toBe(inRange.length);
    expect(done.counts.failed).toBe(0);
    expect(done.counts.created).toBe(0);
  }, 150_000);

  it('records refused records as failed with a reason, and retries them from the API', async () => {
    // A property the CRM no longer has: every write of it is refused until it exists again.
    await hubspot.crm.properties.coreApi.archive('companies', 'stripe_mrr');
    const done = await run({ since: '2024-10-01', objects: ['customers', 'subscriptions'] });
    expect(done.byObject.customer!.failed).toBeGreaterThan(0);
    // A contact is never written without its account.
    expect(done.byObject.contact!.skipped).toBe(done.byObject.customer!.failed + done.byObject.customer!.skipped);
    const failed = await api<{ data: Array<{ reason: string }> }>('GET', `/backfills/${done.id}/records?outcome=failed`);
    expect(failed.json.data[0]!.reason).toMatch(/stripe_mrr/);
    await stack.clients.crm.provision();
    const { status, json: retry } = await api<RunView>('POST', `/backfills/${done.id}/retry`);
    expect(status).toBe(202);
    const retried = await finished(retry.id);
    expect(retried.byObject.customer!.updated).toBe(done.byObject.customer!.failed);
    const after = await api<RunView>('GET', `/backfills/${done.id}`);
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
    expect(result).toMatchObject({ status: 'completed', processed: 3 * CUSTOMERS });
    expect(result.counts.created + result.counts.updated + result.counts.skipped).toBe(3 * CUSTOMERS);
    // Each run of the chain read at most two pages before handing its cursors and staged pages on.
    let runs = 0;
    for await (const _ of stack.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs++;
    expect(runs).toBeGreaterThan(2);
    const logged = await stack.database.db.selectFrom('backfillRecords').select((eb) => eb.fn.countAll<string>().as('n')).where('runId', '=', runId).executeTakeFirstOrThrow();
    expect(Number(logged.n)).toBe(3 * CUSTOMERS);
    // Staged pages go with the run.
    const staged = await stack.database.db.selectFrom('backfillBatches').select('id').where('runId', '=', runId).execute();
    expect(staged).toEqual([]);
    for (const [type, key] of [['companies', 'stripe_customer_id'], ['contacts', 'email'], ['deals', 'stripe_subscription_id']] as const) {
      const keys = (await objects(type)).map((o) => o.properties[key]);
      expect(new Set(keys).size).toBe(keys.length);
    }
  }, 150_000);

  it('the CLI starts a dry run and ends with the summary table', async () => {
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', 'scripts/backfill-cli.ts', '--api', stack.api.url, '--since', '2024-06-01', '--dry-run'], { cwd: projectRoot });
    expect(stdout).toMatch(/backfill bf_\S+ started \(dry run\)/);
    expect(stdout).toMatch(/\| status\s+\| completed \(dry run: nothing written\)/);
    expect(stdout).toMatch(/\| would update \(matched\)\s+\| \d+/);
    expect(stdout).toMatch(/\| subscription\s+\| \d+ matched/);
    expect(stdout).toMatch(/\| real run would take/);
  }, 150_000);

  it('pauses, resumes and cancels', async () => {
    const { json: started } = await api<RunView>('POST', '/backfills', { concurrency: 1, objects: ['customers', 'subscriptions'] });
    expect((await api('POST', `/backfills/${started.id}/pause`)).status).toBe(202);
    await eventually(async () => expect((await api<RunView>('GET', `/backfills/${started.id}`)).json.status).toBe('paused'));
    const pausedAt = (await api<RunView>('GET', `/backfills/${started.id}`)).json.processed;
    await new Promise((r) => setTimeout(r, 800));
    expect((await api<RunView>('GET', `/backfills/${started.id}`)).json.processed).toBe(pausedAt);
    expect((await api('POST', `/backfills/${started.id}/resume`)).status).toBe(202);
    const done = await finished(started.id);
    expect(done.status).toBe('completed');
    expect(done.processed).toBe(3 * CUSTOMERS);
    expect((await api('POST', `/backfills/${started.id}/cancel`)).status).toBe(409);

    const { json: second } = await api<RunView>('POST', '/backfills', { concurrency: 1, objects: ['customers', 'subscriptions'] });
    await api('POST', `/backfills/${second.id}/cancel`);
    const cancelled = await finished(second.id);
    expect(cancelled.status).toBe('canceled');
    expect(cancelled.processed).toBeLessThan(3 * CUSTOMERS);
    const staged = await stack.database.db.selectFrom('backfillBatches').select('id').where('runId', '=', second.id).execute();
    expect(staged).toEqual([]);
  }, 150_000);

  it('writes paid invoices, failed payments, refunds and disputes as timeline activities under the real-time keys, never twice', async () => {
    // 2023 customers with a year of invoices and payments, paid and failing, imported without events.
    const from = 1_672_531_200; // 2023-01-01
    const to = YEAR_START - 1;
    const seeded = [
      stack.sandboxes.stripe.sandbox.seed({ customers: 4, subscriptionsPerCustomer: 1, withInvoices: true, statuses: { active: 1 }, createdRange: { from, to }, emitEvents: false }),
      stack.sandboxes.stripe.sandbox.seed({ customers: 2, subscriptionsPerCustomer: 1, withInvoices: true, statuses: { past_due: 1 }, createdRange: { from, to }, emitEvents: false }),
    ];
    const invoices: Array<{ id: string; customer: string; status: string | null; charge: string | null }> = [];
    for await (const c of stack.stripe.customers.list({ limit: 100, created: { gte: from, lt: to + 1 } })) {
      const charges = (await stack.stripe.charges.list({ customer: c.id, limit: 10 })).data;
      for (const inv of (await stack.stripe.invoices.list({ customer: c.id, limit: 10 })).data) {
        invoices.push({ id: inv.id, customer: c.id, status: inv.status, charge: charges.find((ch) => ch.status === 'succeeded')?.id ?? null });
      }
    }
    expect(seeded.reduce((n, r) => n + r.invoices, 0)).toBe(invoices.length);
    const paid = invoices.filter((i) => i.status === 'paid');
    const failed = invoices.filter((i) => i.status === 'open');
    expect(paid).toHaveLength(4);
    expect(failed).toHaveLength(2);
    const customers = await run({ since: '2023-01-01', until: '2024-01-01', objects: ['customers', 'subscriptions'] });
    expect(customers.byObject.customer!.created).toBe(6);

    // A refund and a dispute after the import: the real-time path writes their activities first.
    const refund = await stack.stripe.refunds.create({ charge: paid[0]!.charge! });
    const disputed = paid[1]!;
    const dispute = { id: ((await (await fetch(`${stack.sandboxes.stripe.url}/__sandbox/charges/${disputed.charge}/dispute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { dispute: string }).dispute };
    await eventually(async () => {
      const keys = [...(await objects('notes')), ...(await objects('tasks'))].map((a) => a.properties.stripe_activity_key);
      expect(keys).toEqual(expect.arrayContaining([`refund:${refund.id}`, `dispute:${dispute.id}:opened`]));
    }, 60_000, 250);

    const timeline = await run({ since: '2023-01-01', objects: ['invoices', 'charges'] });
    const records = (await api<{ data: Array<{ objectType: string; stripeId: string; outcome: string; reason: string | null }> }>('GET', `/backfills/${timeline.id}/records?limit=1000`)).json.data;
    const outcomeOf = (key: string) => records.find((r) => r.stripeId === key)?.outcome;
    for (const inv of paid) expect(outcomeOf(`invoice_paid:${inv.id}`)).toBe('created');
    for (const inv of failed) expect(outcomeOf(`payment_failed:${inv.id}:1`)).toBe('created');
    // Written by the customer's workflow already: found by its key, not written again.
    expect(outcomeOf(`refund:${refund.id}`)).toBe('matched');
    expect(outcomeOf(`dispute:${dispute.id}:opened`)).toBe('matched');
    // An invoice's charge is the invoice's activity.
    const chargeRows = records.filter((r) => r.objectType === 'charge');
    expect(chargeRows.length).toBeGreaterThan(0);
    for (const r of chargeRows) expect(r).toMatchObject({ outcome: 'skipped', reason: expect.stringMatching(/invoice/) });
    expect(timeline.counts.failed).toBe(0);

    const companyOf = new Map((await objects('companies')).map((c) => [c.properties.stripe_customer_id, c.id]));
    const contactOf = new Map((await objects('contacts')).map((c) => [c.properties.stripe_customer_id, c.id]));
    const check = async () => {
      const notes = await objects('notes');
      const tasks = await objects('tasks');
      const all = [...notes, ...tasks];
      const keys = all.map((a) => a.properties.stripe_activity_key);
      expect(new Set(keys).size).toBe(keys.length);
      for (const inv of paid) {
        const note = notes.find((n) => n.properties.stripe_activity_key === `invoice_paid:${inv.id}`)!;
        expect(note.associations.companies?.map((a) => a.toId)).toEqual([companyOf.get(inv.customer)]);
        expect(note.associations.contacts?.map((a) => a.toId)).toEqual([contactOf.get(inv.customer)]);
      }
      for (const inv of failed) expect(tasks.some((t) => t.properties.stripe_activity_key === `payment_failed:${inv.id}:1`)).toBe(true);
      return all.length;
    };
    const before = await check();
    const rerun = await run({ since: '2023-01-01', objects: ['invoices', 'charges'] });
    expect(rerun.counts.created).toBe(0);
    expect(rerun.counts.matched).toBe(timeline.counts.created + timeline.counts.matched);
    expect(await check()).toBe(before);
  }, 180_000);

  it('never leaves older data over a customer workflow\'s newer write that raced it: the record is re-read and written again', async () => {
    // One customer in 2022, backfilled alone. Its company upsert is held for a few seconds before HubSpot
    // applies it; meanwhile the customer is renamed in Stripe and its workflow writes the new name.
    stack.sandboxes.stripe.sandbox.seed({ customers: 1, subscriptionsPerCustomer: 1, withInvoices: false, createdRange: { from: 1_641_000_000, to: 1_642_000_000 }, emitEvents: false });
    const [customer] = (await stack.stripe.customers.list({ created: { gte: 1_641_000_000, lt: 1_642_000_001 } })).data;
    // Held long enough for the workflow's whole path (webhook, API, workflow, Stripe read, CRM write,
    // record) on a loaded machine: the race under test is a workflow record landing inside this window.
    await sandboxFaults('hubspot', { path: '^/crm/v3/objects/companies/batch/upsert', latencyMs: 10_000, times: 1 });
    const { json: started } = await api<RunView>('POST', '/backfills', { since: 1_641_000_000, until: 1_642_000_001, objects: ['customers'] });
    await eventually(async () => expect((await sandboxFaults('hubspot', {})).rules.some((r) => r.hits === 1)).toBe(true), 20_000, 50);
    await stack.stripe.customers.update(customer!.id, { name: 'Renamed After The Read Ltd' });
    // The workflow's write lands while the backfill's older one is still held.
    await eventually(async () => {
      const link = await stack.database.db.selectFrom('crmLinks').select('stripeStateAt').where('accountId', '=', stack.accountId).where('customerId', '=', customer!.id).executeTakeFirst();
      expect(link?.stripeStateAt).toBeInstanceOf(Date);
    }, 20_000, 50);
    const done = await finished(started.id);
    await sandboxFaults('hubspot', null);
    const company = (await objects('companies')).filter((c) => c.properties.stripe_customer_id === customer!.id);
    expect(company).toHaveLength(1);
    expect(company[0]!.properties.name).toBe('Renamed After The Read Ltd');
    expect(done.repairs).toBe(1);
    expect(done.byObject.customer).toEqual(counts({ updated: 1 }));
  }, 120_000);

  it('a customer workflow writes everything again when a backfill wrote its records since its last write', async () => {
    // The order no check at the backfill can see: the workflow writes, a backfill's write of older state
    // lands after it, the backfill records, then the workflow records. Played here by hand: the stale
    // value a late backfill write leaves, and the backfill_seq its record moves.
    const customerId = customerIds[7]!;
    await stack.stripe.customers.update(customerId, { metadata: { touched: '1' } });
    await eventually(async () => {
      const status = await api<{ state: string; lastSyncAt: string | null }>('GET', `/customers/${stack.accountId}/${customerId}/sync`);
      expect(status.json).toMatchObject({ state: 'synced', lastSyncAt: expect.any(String) });
    }, 60_000, 250);
    const company = (await objects('companies')).find((c) => c.properties.stripe_customer_id === customerId)!;
    expect(company.properties.stripe_subscription_status).toBe('active');
    await hubspot.crm.companies.basicApi.update(company.id, { properties: { stripe_subscription_status: 'past_due' } });
    await stack.database.db.updateTable('crmLinks').set((eb) => ({ backfillSeq: eb('backfillSeq', '+', 1) }))
      .where('accountId', '=', stack.accountId).where('customerId', '=', customerId).execute();
    // An event that changes no CRM field: without the rule, the workflow would write nothing.
    await stack.stripe.customers.update(customerId, { metadata: { touched: '2' } });
    await eventually(async () => {
      const now = (await objects('companies')).find((c) => c.id === company.id)!;
      expect(now.properties.stripe_subscription_status).toBe('active');
    }, 60_000, 250);
  }, 120_000);
});

describe('historical backfill: discounts', () => {
  let stack: TestStack;
  const { run, objects } = harness(() => stack);
  beforeAll(async () => {
    stack = await startTestStack({ provider: 'hubspot', env: { CRM_RATE_LIMIT_PER_SECOND: '50', STRIPE_READ_RATE_LIMIT_PER_SECOND: '50' } });
    // History from before the service: no webhooks, so only the backfill writes these customers.
    for await (const endpoint of stack.stripe.webhookEndpoints.list()) await stack.stripe.webhookEndpoints.update(endpoint.id, { disabled: true });
  }, 150_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('applies coupons the Stripe lists name only by id: on the subscription and on the customer', async () => {
    const price = await stack.stripe.prices.create({ currency: 'usd', unit_amount: 4000, recurring: { interval: 'month' }, product_data: { name: 'Team' } });
    const half = await stack.stripe.coupons.create({ percent_off: 50, duration: 'forever', name: 'Half' });
    const quarter = await stack.stripe.coupons.create({ percent_off: 25, duration: 'forever', name: 'Quarter' });
    const bySub = await stack.stripe.customers.create({ name: 'Sub Discount', email: 'a@sub-discount.example', payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    await stack.stripe.subscriptions.create({ customer: bySub.id, items: [{ price: price.id }], discounts: [{ coupon: half.id }] });
    // The legacy `coupon` parameter (what the clover API's typings no longer name) gives a customer-level discount.
    const byCustomer = await stack.stripe.customers.create({
      name: 'Customer Discount', email: 'b@customer-discount.example', payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' }, coupon: quarter.id,
    } as Stripe.CustomerCreateParams);
    await stack.stripe.subscriptions.create({ customer: byCustomer.id, items: [{ price: price.id }] });
    await run({});
    const companies = await objects('companies');
    const mrrOf = (id: string) => companies.find((c) => c.properties.stripe_customer_id === id)?.properties.stripe_mrr;
    expect(mrrOf(bySub.id)).toBe('20');
    expect(mrrOf(byCustomer.id)).toBe('30');
    const amounts = (await objects('deals')).map((d) => d.properties.amount).sort();
    expect(amounts).toEqual(['20', '30']);
  }, 120_000);
});

describe('historical backfill to HubSpot in B2C mode', () => {
  let stack: TestStack;
  const { run, objects } = harness(() => stack);
  beforeAll(async () => {
    stack = await startTestStack({ provider: 'hubspot', env: { SYNC_MODE: 'b2c', CRM_RATE_LIMIT_PER_SECOND: '50', STRIPE_READ_RATE_LIMIT_PER_SECOND: '50' } });
  }, 150_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('makes every customer a contact carrying the Stripe fields, with its deals on the contact; no companies', async () => {
    stack.sandboxes.stripe.sandbox.seed({ customers: 120, subscriptionsPerCustomer: 1, withInvoices: false, emitEvents: false });
    const noEmail = await stack.stripe.customers.create({ name: 'No Email Person' });
    const done = await run({});
    expect(done.byObject).toEqual({
      customer: counts({ created: 120, skipped: 1 }),
      subscription: counts({ created: 120 }),
    });
    expect(await objects('companies')).toHaveLength(0);
    const contacts = await objects('contacts');
    expect(contacts).toHaveLength(120);
    for (const c of contacts) {
      expect(c.properties).toMatchObject({ stripe_subscription_status: 'active', stripe_customer_id: expect.stringMatching(/^cus_/) });
      expect(Number(c.properties.stripe_mrr)).toBeGreaterThan(0);
    }
    const contactOf = new Map(contacts.map((c) => [c.properties.stripe_customer_id, c.id]));
    const deals = await objects('deals');
    expect(deals).toHaveLength(120);
    for (const deal of deals) {
      expect(deal.associations.companies ?? []).toEqual([]);
      expect(deal.associations.contacts).toHaveLength(1);
    }
    const records = await stack.database.db.selectFrom('backfillRecords').selectAll().where('runId', '=', done.id).where('outcome', '=', 'skipped').execute();
    expect(records).toEqual([expect.objectContaining({ stripeId: noEmail.id, reason: expect.stringMatching(/email/) })]);
    const links = await stack.database.db.selectFrom('crmLinks').select(['customerId', 'companyId', 'contactId']).where('accountId', '=', stack.accountId).execute();
    for (const l of links.filter((x) => contactOf.has(x.customerId))) expect(l).toMatchObject({ companyId: null, contactId: contactOf.get(l.customerId) });
  }, 120_000);
});

describe('historical backfill to Salesforce through jsforce', () => {
  let stack: TestStack;
  let sf: Connection;
  beforeAll(async () => {
    stack = await startTestStack({ provider: 'salesforce', env: { CRM_RATE_LIMIT_PER_SECOND: '50', STRIPE_READ_RATE_LIMIT_PER_SECOND: '50' } });
    sf = salesforceConnectionFor(stack.sandboxes.salesforce.url, 'reader');
  }, 150_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('upserts Accounts, Contacts and Opportunities by the Stripe ids in collections of 200, matching an existing Account and keeping its name, adopting a contact', async () => {
    stack.sandboxes.stripe.sandbox.seed({ customers: 150, subscriptionsPerCustomer: 1, withInvoices: false, emitEvents: false });
    const ids: string[] = [];
    const emails = new Map<string, string>();
    for await (const c of stack.stripe.customers.list({ limit: 100 })) {
      ids.push(c.id);
      emails.set(c.id, c.email!);
    }
    await sf.sobject('Account').create({ Name: 'Kept Name Ltd', Stripe_Customer_ID__c: ids[0]! });
    // Someone entered this person before the sync: adopted by email, not duplicated.
    const adopted = await sf.sobject('Contact').create({ LastName: 'Entered By Hand', Email: emails.get(ids[1]!)! }) as { id: string };
    const { run } = harness(() => stack);
    // One chain: full pages of 100, two to a collection call.
    const done = await run({ concurrency: 1 });
    expect(done.byObject).toEqual({
      customer: counts({ created: 149, matched: 1 }),
      contact: counts({ created: 149, updated: 1 }),
      subscription: counts({ created: 150 }),
    });
    const accounts = (await sf.query<{ Id: string; Name: string; Stripe_Customer_ID__c: string; Stripe_Subscription_Status__c: string }>('SELECT Id, Name, Stripe_Customer_ID__c, Stripe_Subscription_Status__c FROM Account')).records;
    expect(new Set(accounts.map((a) => a.Stripe_Customer_ID__c)).size).toBe(150);
    expect(accounts).toHaveLength(150);
    expect(accounts.find((a) => a.Stripe_Customer_ID__c === ids[0])).toMatchObject({ Name: 'Kept Name Ltd', Stripe_Subscription_Status__c: 'active' });
    const accountOf = new Map(accounts.map((a) => [a.Stripe_Customer_ID__c, a.Id]));
    const contacts = (await sf.query<{ Id: string; AccountId: string; Stripe_Customer_ID__c: string }>('SELECT Id, AccountId, Stripe_Customer_ID__c FROM Contact')).records;
    expect(contacts).toHaveLength(150);
    for (const c of contacts) expect(c.AccountId).toBe(accountOf.get(c.Stripe_Customer_ID__c));
    expect(contacts.find((c) => c.Stripe_Customer_ID__c === ids[1])!.Id).toBe(adopted.id);
    const opportunities = (await sf.query<{ AccountId: string; StageName: string; Stripe_Subscription_ID__c: string }>('SELECT AccountId, StageName, Stripe_Subscription_ID__c FROM Opportunity')).records;
    expect(opportunities).toHaveLength(150);
    expect(new Set(opportunities.map((o) => o.Stripe_Subscription_ID__c)).size).toBe(150);
    for (const o of opportunities) expect(o).toMatchObject({ StageName: 'Closed Won', AccountId: expect.stringMatching(/^001/) });
    // 150 customers in pages of 100, written two pages to a collection call; and the identity index, one
    // page of Accounts and one of Contacts.
    expect(done.crmRequests).toBeLessThanOrEqual(6 + 2);
  }, 90_000);

  it('writes a run above SALESFORCE_BULK_THRESHOLD through Bulk API 2.0 jobs', async () => {
    // A second stack whose threshold (1) makes everything after the first page bulk.
    const bulk = await startTestStack({ provider: 'salesforce', env: { CRM_RATE_LIMIT_PER_SECOND: '50', STRIPE_READ_RATE_LIMIT_PER_SECOND: '50', SALESFORCE_BULK_THRESHOLD: '1' } });
    try {
      const conn = salesforceConnectionFor(bulk.sandboxes.salesforce.url, 'reader');
      bulk.sandboxes.stripe.sandbox.seed({ customers: 450, subscriptionsPerCustomer: 1, withInvoices: false, emitEvents: false });
      const ids: string[] = [];
      for await (const c of bulk.stripe.customers.list({ limit: 100 })) ids.push(c.id);
      await conn.sobject('Account').create({ Name: 'Kept By Bulk', Stripe_Customer_ID__c: ids[ids.length - 1]! });
      const { run } = harness(() => bulk);
      const view = await run({ concurrency: 1 });
      expect(view.byObject).toEqual({
        customer: counts({ created: 449, matched: 1 }),
        contact: counts({ created: 450 }),
        subscription: counts({ created: 450 }),
      });
      const state = (await (await fetch(`${bulk.sandboxes.salesforce.url}/__sandbox/state`)).json()) as { bulkJobs: Record<string, number> };
      expect(state.bulkJobs).toMatchObject({ Failed: 0, Open: 0 });
      expect(state.bulkJobs.JobComplete).toBeGreaterThanOrEqual(3);
      const accounts = (await conn.query<{ Id: string; Name: string; Stripe_Customer_ID__c: string; Stripe_MRR__c: number }>('SELECT Id, Name, Stripe_Customer_ID__c, Stripe_MRR__c FROM Account')).records;
      expect(new Set(accounts.map((a) => a.Stripe_Customer_ID__c)).size).toBe(450);
      expect(accounts).toHaveLength(450);
      expect(accounts.find((a) => a.Stripe_Customer_ID__c === ids[ids.length - 1])).toMatchObject({ Name: 'Kept By Bulk' });
      expect(accounts.every((a) => a.Stripe_MRR__c > 0)).toBe(true);
      const accountOf = new Map(accounts.map((a) => [a.Stripe_Customer_ID__c, a.Id]));
      const contacts = (await conn.query<{ AccountId: string; Stripe_Customer_ID__c: string }>('SELECT AccountId, Stripe_Customer_ID__c FROM Contact')).records;
      expect(contacts).toHaveLength(450);
      for (const c of contacts) expect(c.AccountId).toBe(accountOf.get(c.Stripe_Customer_ID__c));
      expect((await conn.query('SELECT Id FROM Opportunity')).totalSize).toBe(450);
    } finally {
      await bulk.close();
    }
  }, 120_000);
});
