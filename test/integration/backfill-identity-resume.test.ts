import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client as HubSpotClient } from '@hubspot/api-client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { backfillWorkflowId } from '../../domain/backfill.js';
import { hubspotClientFor, type ResponseRecord } from '../../sandboxes/hubspot/index.js';
import { startLocalStack } from '../../scripts/local-stack.js';
import type { BackfillInput } from '../../workflows/backfill.js';
import { startDevServerWithDynamicConfig } from '../support/dev-server.js';
import { projectRoot, workflowBundle } from '../support/harness.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

interface RunView {
  id: string;
  status: string;
  identityIndex: { rows: number; requests: number; done: boolean } | null;
}
type IndexState = NonNullable<NonNullable<BackfillInput['carried']>['identityIndex']>;
interface LogRow {
  objectType: string;
  stripeId: string;
  outcome: string;
  reason: string | null;
  crmRecordId: string | null;
}

/** HubSpot's list page: 100 records per request. */
const PAGE = 100;
/** Under the sandbox's HubSpot limit (190 per 10 s), so no 429 adds requests to the counts. */
const ENV = { CRM_RATE_LIMIT_PER_SECOND: '15', STRIPE_READ_RATE_LIMIT_PER_SECOND: '50' };
/** The index's list endpoints (the `after` cursor is in the query, not the path). */
const LIST = { companies: '/crm/v3/objects/companies', contacts: '/crm/v3/objects/contacts' } as const;
type Listed = keyof typeof LIST;

/**
 * What the HubSpot sandbox answered on the two list endpoints, by status, as it sent it; and what to do
 * right after the nth page of one has gone out (break the next request, restart the workers).
 */
function listTraffic() {
  const served: Record<Listed, Record<number, number>> = { companies: {}, contacts: {} };
  const after = new Map<Listed, { pages: number; then: () => void }>();
  const onResponse = (r: ResponseRecord) => {
    const listed = (Object.keys(LIST) as Listed[]).find((k) => r.method === 'GET' && r.path.replace(/\/$/, '') === LIST[k]);
    if (!listed) return;
    served[listed][r.status] = (served[listed][r.status] ?? 0) + 1;
    const plan = after.get(listed);
    // Synchronous: a fault rule is in place before the client can ask for the next page.
    if (plan && r.status === 200 && served[listed][200] === plan.pages) {
      after.delete(listed);
      plan.then();
    }
  };
  return { served, after, onResponse };
}

/**
 * A HubSpot stack for one describe block, opened by `open` with `traffic` counting its list requests,
 * the sales team's HubSpot client, and the backfill API calls the tests make.
 */
function indexStack(open: (sandboxOptions: { hubspot: { onResponse: (r: ResponseRecord) => void } }) => Promise<TestStack>) {
  const traffic = listTraffic();
  let stack: TestStack | undefined;
  let hubspot: HubSpotClient | undefined;
  beforeAll(async () => {
    stack = await open({ hubspot: { onResponse: traffic.onResponse } });
    hubspot = hubspotClientFor(stack.sandboxes.hubspot.url, 'sales-team');
  }, 150_000);
  afterAll(async () => {
    await stack?.close();
  });
  const get = () => stack!;
  const api = async <T>(method: string, route: string, body?: unknown): Promise<{ status: number; json: T }> => {
    const res = await fetch(`${get().api.url}${route}`, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, json: (await res.json()) as T };
  };
  const start = async (body: Record<string, unknown>): Promise<string> => {
    const { status, json } = await api<RunView>('POST', '/backfills', body);
    expect(status).toBe(202);
    return json.id;
  };
  const finished = (id: string) => eventually(async () => {
    const { json } = await api<RunView>('GET', `/backfills/${id}`);
    expect(['completed', 'canceled', 'failed']).toContain(json.status);
    return json;
  }, 120_000, 250);
  return { traffic, api, start, finished, stack: get, hubspot: () => hubspot! };
}

interface Population {
  companyIds: string[];
  /** A: its company, on the companies' last page, matches by domain and a similar name. */
  a: { id: string; at: number };
  /** B: its exact email on a contact of the contacts' last page, at a company of another domain. */
  b: { id: string; at: number };
}

/**
 * Two Stripe customers imported without events, and a CRM that already holds more companies and contacts
 * than one list page: companies `Resume Co <i>` at `co-<i>.resume.example` and a contact at each of the first
 * ones. A's company and B's contact are on the last pages, which only a resumed read reaches.
 */
async function seedPopulation(stack: TestStack, hubspot: HubSpotClient, companies: number, contacts: number): Promise<Population> {
  const customer = async (domain: string) => {
    const id = stack.sandboxes.stripe.sandbox.seed({ customers: 1, subscriptionsPerCustomer: 1, withInvoices: false, emitEvents: false, emailDomain: domain }).sample.customers[0]!;
    return { id, ...(await stack.stripe.customers.retrieve(id) as { name: string; email: string }) };
  };
  const a = await customer('resume-a.example');
  const b = await customer('resume-b.example');
  const aAt = companies - 20;
  const bAt = contacts - 10;
  const emailOf = (i: number) => (i === bAt ? b.email : `buyer${i}@co-${i}.resume.example`);

  const companyIds: string[] = [];
  for (let i = 0; i < companies; i += PAGE) {
    const inputs = Array.from({ length: Math.min(PAGE, companies - i) }, (_, j) => ({
      properties: i + j === aAt ? { name: `${a.name}, Inc.`, domain: 'resume-a.example' } : { name: `Resume Co ${i + j}`, domain: `co-${i + j}.resume.example` },
      associations: [],
    }));
    const created = await hubspot.crm.companies.batchApi.create({ inputs });
    // Batch answers are not promised in input order: each company by its domain.
    const byDomain = new Map(created.results.map((r) => [r.properties.domain!, r.id]));
    companyIds.push(...inputs.map((input) => byDomain.get(input.properties.domain)!));
  }
  for (let i = 0; i < contacts; i += PAGE) {
    const n = Math.min(PAGE, contacts - i);
    const created = await hubspot.crm.contacts.batchApi.create({ inputs: Array.from({ length: n }, (_, j) => ({ properties: { email: emailOf(i + j) }, associations: [] })) });
    const byEmail = new Map(created.results.map((r) => [r.properties.email!, r.id]));
    await hubspot.crm.associations.v4.batchApi.createDefault('contacts', 'companies', {
      inputs: Array.from({ length: n }, (_, j) => ({ _from: { id: byEmail.get(emailOf(i + j))! }, to: { id: companyIds[i + j]! } })),
    });
  }
  return { companyIds, a: { id: a.id, at: aAt }, b: { id: b.id, at: bAt } };
}

/** Both customers are linked to the records on the last pages, by the method that found them. */
async function expectMatched(stack: TestStack, api: ReturnType<typeof indexStack>['api'], runId: string, pop: Population): Promise<void> {
  const { json: log } = await api<{ data: LogRow[] }>('GET', `/backfills/${runId}/records?limit=1000`);
  const of = (id: string) => log.data.find((r) => r.objectType === 'customer' && r.stripeId === id);
  expect(of(pop.a.id)).toMatchObject({ outcome: 'matched', crmRecordId: pop.companyIds[pop.a.at], reason: 'linked to the existing record by domain-name' });
  expect(of(pop.b.id)).toMatchObject({ outcome: 'matched', crmRecordId: pop.companyIds[pop.b.at], reason: 'linked to the existing record by email' });
  const links = await stack.database.db.selectFrom('crmLinks').select(['customerId', 'companyId', 'matchMethod']).where('accountId', '=', stack.accountId).execute();
  expect(new Map(links.map((l) => [l.customerId, { companyId: l.companyId, matchMethod: l.matchMethod }]))).toEqual(new Map([
    [pop.a.id, { companyId: pop.companyIds[pop.a.at], matchMethod: 'domain-name' }],
    [pop.b.id, { companyId: pop.companyIds[pop.b.at], matchMethod: 'email' }],
  ]));
}

describe('backfill identity index: a retried attempt resumes from its heartbeated cursor', () => {
  const COMPANIES = 450;
  const CONTACTS = 250;
  const at = indexStack((sandboxOptions) => startTestStack({ provider: 'hubspot', env: ENV, sandboxOptions }));
  const { traffic, api, start, finished } = at;

  it('a list request failing after some pages costs that request again, not the pages before it; every record is indexed once', async () => {
    const [stack, hubspot] = [at.stack(), at.hubspot()];
    const pop = await seedPopulation(stack, hubspot, COMPANIES, CONTACTS);
    expect(traffic.served).toEqual({ companies: {}, contacts: {} });
    // The third companies request and the second contacts request answer 503 once: each index activity
    // fails with pages already in the index, and Temporal retries it.
    const fail503 = (listed: Listed) => () => stack.sandboxes.hubspot.sandbox.injector.add({ method: 'GET', path: `^${LIST[listed]}/?$`, rate5xx: 1, status5xx: 503, times: 1 });
    traffic.after.set('companies', { pages: 2, then: fail503('companies') });
    traffic.after.set('contacts', { pages: 1, then: fail503('contacts') });

    const runId = await start({ objects: ['customers'] });
    const done = await finished(runId);
    expect(done.status).toBe('completed');

    // Both faults were served, and each page was read once: the retried attempt went on from its
    // heartbeated cursor instead of reading the pages before the fault again.
    expect(traffic.served.companies).toEqual({ 200: Math.ceil(COMPANIES / PAGE), 503: 1 });
    expect(traffic.served.contacts).toEqual({ 200: Math.ceil(CONTACTS / PAGE), 503: 1 });
    // One row per company and per contact with its company, one request per page, as the run reports it.
    expect(done.identityIndex).toEqual({ rows: COMPANIES + CONTACTS, requests: Math.ceil(COMPANIES / PAGE) + Math.ceil(CONTACTS / PAGE), done: true });
    await expectMatched(stack, api, runId, pop);
  }, 150_000);
});

describe('backfill identity index: a worker restart mid-index and continue-as-new carry the cursor', () => {
  // This dev server suggests continue-as-new at 10 history events (default 4,096): a backfill run reaches
  // that at the workflow task after its first activity (start, settings, the activity, the workflow tasks),
  // so each index call ends its run and the index's state crosses every run.
  const SUGGEST_AT = 10;
  const COMPANIES = 850;
  const CONTACTS = 250;
  /** Each list page takes this long, so the index is still reading when the workers restart. */
  const PAGE_LATENCY_MS = 600;
  const at = indexStack(async (sandboxOptions) => {
    const server = await startDevServerWithDynamicConfig({ 'limit.historyCount.suggestContinueAsNew': SUGGEST_AT });
    const stack = await startLocalStack({
      temporalAddress: server.address, databaseUrl: inject('databaseUrl'), workflowBundle: await workflowBundle(), provider: 'hubspot', env: ENV, sandboxOptions,
    }).catch(async (err: unknown) => {
      await server.stop();
      throw err;
    });
    const closeStack = stack.close.bind(stack);
    // The server is this block's own: it stops with the stack.
    return Object.assign(stack, { close: async () => { await closeStack(); await server.stop(); } });
  });
  const { traffic, api, start, finished } = at;

  it('the slice ends at the restart, the next run reads on from the carried cursor, and every page is read once', async () => {
    const [stack, hubspot] = [at.stack(), at.hubspot()];
    const pop = await seedPopulation(stack, hubspot, COMPANIES, CONTACTS);
    for (const listed of Object.keys(LIST) as Listed[]) {
      stack.sandboxes.hubspot.sandbox.injector.add({ method: 'GET', path: `^${LIST[listed]}/?$`, latencyMs: PAGE_LATENCY_MS });
    }
    // The workers shut down after the first companies page (a deploy); their grace time (2 s here) is
    // up while the index call is still reading.
    let restarted: Promise<unknown> = Promise.resolve('not restarted');
    traffic.after.set('companies', { pages: 1, then: () => void (restarted = stack.restartWorkers().catch((err: unknown) => err)) });

    const runId = await start({ objects: ['customers'] });
    // Waits on the workflow, not by polling GET /backfills/:id: a progress query reaching a run while the new
    // workers replay it has been seen to make the run miss the server's continue-as-new suggestion (it
    // continues one call later), which would change the runs counted below.
    await stack.client.workflow.getHandle(backfillWorkflowId(stack.accountId, runId)).result();
    const done = await finished(runId);
    expect(done.status).toBe('completed');
    expect(await restarted).toBeUndefined();

    // Each page read once: the index call in flight at the restart stopped at its page and returned its
    // cursor, which the next runs carried; none read the companies before it again.
    expect(traffic.served.companies).toEqual({ 200: Math.ceil(COMPANIES / PAGE) });
    expect(traffic.served.contacts).toEqual({ 200: Math.ceil(CONTACTS / PAGE) });
    expect(done.identityIndex).toEqual({ rows: COMPANIES + CONTACTS, requests: Math.ceil(COMPANIES / PAGE) + Math.ceil(CONTACTS / PAGE), done: true });

    // The runs of the chain, oldest first, and the index state each started with.
    const workflowId = backfillWorkflowId(stack.accountId, runId);
    const runs: Array<{ startedAt: number; index: IndexState | undefined }> = [];
    for await (const execution of stack.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
      const history = await stack.client.workflow.getHandle(workflowId, execution.runId).fetchHistory();
      const input = defaultPayloadConverter.fromPayload<BackfillInput>(history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!);
      runs.push({ startedAt: execution.startTime.getTime(), index: input.carried?.identityIndex ?? undefined });
    }
    runs.sort((x, y) => x.startedAt - y.startedAt);
    const states = runs.map((r) => r.index);
    expect(states[0]).toBeUndefined();
    // A run began in the middle of the companies, from the cursor the restarted call handed back.
    const midCompanies = states.filter((s): s is IndexState => s?.object === 'accounts' && s.cursor !== null);
    expect(midCompanies.length).toBeGreaterThan(0);
    for (const s of midCompanies) {
      expect(s.requests).toBeGreaterThan(0);
      expect(s.requests).toBeLessThan(Math.ceil(COMPANIES / PAGE));
      expect(s.rows).toBe(s.requests * PAGE);
    }
    // And one at the contacts, with every company counted once.
    expect(states).toContainEqual({ object: 'contacts', cursor: null, rows: COMPANIES, requests: Math.ceil(COMPANIES / PAGE) });
    // What each run carried only grew.
    const carried = states.slice(1).map((s) => s?.requests ?? -1);
    expect(carried).toEqual([...carried].sort((x, y) => x - y));
    expect(carried[0]).toBeGreaterThan(0);
    await expectMatched(stack, api, runId, pop);
  }, 150_000);
});

describe('backfill workflow: a first run replays however its first workflow task was cut', () => {
  // Histories of real first runs (up to their end), replayed against today's workflow code.
  const history = (file: string) => temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(path.join(projectRoot, 'test/fixtures/histories', file), 'utf8')));
  const kinds = (h: temporal.api.history.v1.IHistory) => h.events!.map((e) => e.markerRecordedEventAttributes?.markerName ?? temporal.api.enums.v1.EventType[e.eventType!]);

  it('a run whose settings\' local activity a progress query cut from the rest of its first task', async () => {
    // POST /backfills asks the new run for its progress at once; when that query arrives while the local
    // activity runs, the task ends with its marker and the code after it (the index's patch check among it
    // before) runs in a second task. A replay resolves the local activity in the first.
    const split = history('backfill-first-run-split-first-task.json');
    expect(kinds(split).slice(0, 8)).toEqual([
      'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED', 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED', 'EVENT_TYPE_WORKFLOW_TASK_STARTED', 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED',
      'core_patch', 'EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES', 'core_local_activity', 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED',
    ]);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, split);
  });

  it('a run started before the patch check moved ahead of that local activity (in flight at the deploy)', async () => {
    const before = history('backfill-first-run-before-first-task-patch.json');
    expect(kinds(before).slice(4, 7)).toEqual(['core_local_activity', 'core_patch', 'EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES']);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, before);
  });
});
