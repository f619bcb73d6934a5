import { loadavg } from 'node:os';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { loadConfig } from '../config/index.js';
import { BACKFILL_PAGE_SIZE, backfillWorkflowId } from '../domain/backfill.js';
import { isIdentityHold } from '../domain/backfill-identity.js';
import { salesforceConnectionFor } from '../sandboxes/salesforce/index.js';
import type { CrmSeedResult } from './bench-crm-seed.js';
import { checkExisting, crmSeedFor, EXPECTED_METHOD, planExisting, type CrmCompany, type SeededCustomer } from './bench-existing-records.js';
import { parseArgs, percentile, startBenchInfrastructure } from './bench-support.js';
import { startLocalStackWithExternalSandboxes } from './local-stack.js';

/**
 * `npm run bench:backfill -- --customers 100000 [--provider hubspot|salesforce] [--crm-limit 19] [--crm-rate 18.5] [--stripe-rate 20]
 *   [--concurrency 8] [--bulk-threshold N] [--inject-429s N] [--existing N] [--profile [--trace]]`
 *
 * A historical backfill of `customers` seeded Stripe customers (one subscription each) through the API,
 * the backfill workflow and the CRM sandbox: every customer becomes a company and a contact, every
 * subscription a deal (B2B), so a run writes three CRM records per customer. HubSpot runs with
 * Professional's limits: the sandbox refuses more than 190 requests per rolling 10 s, the CRM queue is
 * limited to 19 activities/s, and each activity is one batch request of up to 100 records → a bound of
 * 1,900 records/s. Salesforce has no per-second limit (a daily allocation and a concurrency cap): its bound
 * is the CRM queue's rate times its batch (collections of 200 → 3,800 records/s), and a run above
 * SALESFORCE_BULK_THRESHOLD writes Bulk API 2.0 jobs whose speed is Salesforce's processing, not a request rate.
 *
 * Prints records/s and the ratio to the bound, the 429s the CRM served, records lost and duplicated (every
 * Stripe customer must be exactly one company and one contact, every subscription one deal), peak memory and
 * the live heap after a collection at 10k records and at the end, and the load average (the machine may be
 * shared). `--profile` also prints where the time went, from the workflow's histories.
 *
 * `--existing N` starts from a CRM that already holds N records matching the customers as real CRMs do
 * (scripts/bench-existing-records.ts), written straight into the sandbox's store before the run. It then
 * prints what identity resolution cost and decided: the index's rows and requests (and their share of the
 * requests the CRM served during the run), companies linked by method, created, customers held for review and the reviews
 * opened, against what the seed was built to produce, and FAIL lines if a seeded company was not linked
 * to its customer, a duplicate was written, or a domain that had a company gained another.
 */
const args = parseArgs(process.argv.slice(2), {
  customers: '100000', provider: 'hubspot', 'crm-limit': '19', 'crm-rate': '18.5', 'stripe-rate': '', concurrency: '8', profile: 'false', 'inject-429s': '0', 'bulk-threshold': '', trace: 'false', existing: '0',
  'admin-url': 'postgres://postgres@127.0.0.1:5432/postgres',
});
const customers = Number(args.customers);
/** Records the CRM holds before the run (0: an empty CRM, every customer created). */
const existing = Number(args.existing);
const plan = existing > 0 ? planExisting(existing) : null;
if (plan && plan.customers.length > customers) throw new Error(`--existing ${existing} seeds records for ${plan.customers.length} customers: run with --customers ${plan.customers.length} or more`);
const provider = args.provider === 'salesforce' ? 'salesforce' : 'hubspot';
/** The CRM's own limit, requests/s (HubSpot Pro: 190 per rolling 10 s); the bound is measured against it. */
const crmLimit = Number(args['crm-limit']);
/**
 * CRM_RATE_LIMIT_PER_SECOND for the run: a little under the CRM's limit. The shared budget paces requests
 * exactly, but they reach HubSpot with some jitter and HubSpot counts arrivals in a rolling window, so a
 * pace at the very limit meets the odd 429 (each retried after a whole window).
 */
const crmRate = Number(args['crm-rate']);
const config = loadConfig();
const stripeRate = args['stripe-rate'] ? Number(args['stripe-rate']) : config.stripe.readRateLimitPerSecond;
const batch = provider === 'salesforce' ? 200 : BACKFILL_PAGE_SIZE;
/** Where the sync keeps the Stripe customer id on companies/Accounts and contacts. */
const customerIdField = provider === 'salesforce' ? 'Stripe_Customer_ID__c' : 'stripe_customer_id';
const bulkThreshold = args['bulk-threshold'] ? Number(args['bulk-threshold']) : config.crm.salesforce.bulkThreshold;
/**
 * Records/s the request limit allows with full batches. HubSpot: its limit (19/s for Pro) × 100. Salesforce has
 * no per-second limit (a daily allocation and a concurrency cap): the pace is ours, CRM_RATE_LIMIT_PER_SECOND ×
 * 200 per collection; a run above SALESFORCE_BULK_THRESHOLD writes bulk jobs instead, whose speed is Salesforce's
 * processing (the sandbox's is quick), not a request rate, so that bound is only the collections'.
 */
const bound = provider === 'salesforce' ? crmRate * batch : crmLimit * batch;
const log = (line: string) => console.log(line);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const gc = (globalThis as { gc?: () => void }).gc;
const countBy = (keys: readonly string[]) => {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
};

interface RunView {
  id: string;
  status: string;
  processed: number;
  counts: Record<string, number>;
  byObject: Record<string, Record<string, number>>;
  rate: number;
  stripeReads: number | null;
  crmRequests: number | null;
  summary: { activeSeconds?: number } | null;
  identityIndex: { rows: number; requests: number; done: boolean } | null;
}

log(provider === 'salesforce'
  ? `bench:backfill customers=${customers} provider=salesforce: no per-second limit; paced at ${crmRate} requests/s × ${batch} records per collection = bound ${bound} records/s ` +
    `(a lookup query per Account and Contact collection makes 5 requests per 200 customers: ${Math.round((crmRate * 600) / 5)} records/s with collections alone); ` +
    `above SALESFORCE_BULK_THRESHOLD=${bulkThreshold} records the run writes Bulk API 2.0 jobs; Stripe reads ${stripeRate}/s`
  : `bench:backfill customers=${customers} provider=hubspot: CRM limit ${crmLimit} requests/s × ${batch} records = bound ${bound} records/s ` +
    `(HubSpot sandbox window ${crmLimit * 10}/10 s); CRM_RATE_LIMIT_PER_SECOND=${crmRate}; Stripe reads ${stripeRate}/s`);
log(`load average at start: ${load()} (2 cores; other work on the machine slows every figure)`);
const infra = await startBenchInfrastructure(args['admin-url']!, config.temporal.cliPath, process.env.PATH ?? '');
const stack = await startLocalStackWithExternalSandboxes({
  temporalAddress: infra.temporal.address,
  databaseUrl: infra.databaseUrl,
  provider,
  env: {
    CRM_RATE_LIMIT_PER_SECOND: String(crmRate), STRIPE_READ_RATE_LIMIT_PER_SECOND: String(stripeRate), DATABASE_POOL_MAX: '16',
    ...(args['bulk-threshold'] ? { SALESFORCE_BULK_THRESHOLD: args['bulk-threshold'] } : {}),
  },
  sandboxOptions: {
    // Stripe's own default read limit (100 requests/s) stays on: the backfill must live within it.
    stripe: { realTimeTickMs: false },
    // HubSpot's default policy is Professional's: 190 requests per rolling 10 s.
    hubspot: { rateLimit: { max: crmLimit * 10, windowMs: 10_000 }, dailyLimit: 100_000_000 },
    salesforce: { limits: { dailyApiRequests: 10_000_000 } },
  },
});
const sandboxes = { urls: stack.sandboxUrls };
const stackStartedAt = Date.now();

const peaks = { rss: 0, heap: 0 };
const sample = () => {
  const m = process.memoryUsage();
  peaks.rss = Math.max(peaks.rss, m.rss);
  peaks.heap = Math.max(peaks.heap, m.heapUsed);
};
const sampler = setInterval(sample, 200);
/** The heap still reachable: what a leak would grow (heapUsed also counts garbage not yet collected). */
const liveHeap = () => {
  if (!gc) return null;
  gc();
  return process.memoryUsage().heapUsed;
};

try {
  const before = liveHeap();
  const seedStart = Date.now();
  const seedStripe = async (count: number, emailDomain?: string) => {
    const res = await fetch(`${sandboxes.urls.stripe}/__sandbox/seed`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customers: count, subscriptionsPerCustomer: 1, withInvoices: false, emitEvents: false, ...(emailDomain ? { emailDomain } : {}) }),
    });
    if (!res.ok) throw new Error(`seeding Stripe: ${res.status} ${await res.text()}`);
    return (await res.json()) as { customers: number; subscriptions: number; sample: { customers: string[] } };
  };
  const seeded = await seedStripe(customers - (plan?.customers.length ?? 0));
  // --existing: a customer the CRM holds records of gets an email domain of its own, so one seed call each,
  // one after another: Stripe numbers seeded customers on (`Customer <n>`, `customer<n>@<domain>`).
  const seededCustomers: SeededCustomer[] = [];
  for (const p of plan?.customers ?? []) {
    const one = await seedStripe(1, p.emailDomain);
    seeded.subscriptions += one.subscriptions;
    seededCustomers.push({ ...p, id: one.sample.customers[0]!, n: seeded.customers + seededCustomers.length + 1 });
  }
  log(`seeded ${seeded.customers + seededCustomers.length} customers, ${seeded.subscriptions} subscriptions in ${Date.now() - seedStart} ms`);
  let existingSeed: { companies: ReturnType<typeof crmSeedFor>['companies']; ids: CrmSeedResult } | null = null;
  if (plan) {
    const crmSeedStart = Date.now();
    if (!sandboxes.urls.crmSeed) throw new Error('the sandbox process serves no CRM seeding endpoint');
    const { seed, companies } = crmSeedFor(plan, seededCustomers, customerIdField);
    const res = await fetch(`${sandboxes.urls.crmSeed}/${provider}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(seed) });
    if (!res.ok) throw new Error(`seeding the CRM: ${res.status} ${await res.text()}`);
    existingSeed = { companies, ids: (await res.json()) as CrmSeedResult };
    const kinds = Object.entries(countBy(seededCustomers.map((c) => c.kind))).map(([k, n]) => `${k} ${n}`).join(', ');
    log(`seeded ${seed.companies.length + seed.contacts.length} existing CRM records (${seed.companies.length} companies, ${seed.contacts.length} contacts) into the ${provider} sandbox's store ` +
      `in ${Date.now() - crmSeedStart} ms: for ${seededCustomers.length} customers (${kinds}), ${plan.unrelatedCompanies + plan.unrelatedContacts} unrelated`);
  }
  sample();
  log(`memory before the run (the sandboxes run in their own process): rss ${mb(peaks.rss)} heap ${mb(peaks.heap)}`);

  // The stack provisioned its CRM properties at start; those requests count in HubSpot's rolling 10 s
  // window too. A real backfill starts long after setup: let them leave the window first.
  if (provider === 'hubspot') await new Promise((r) => setTimeout(r, Math.max(0, 10_500 - (Date.now() - stackStartedAt))));
  // `--inject-429s N`: HubSpot refuses the first N contact batches with a 429, to see how a run absorbs them.
  if (provider === 'hubspot' && Number(args['inject-429s']) > 0) {
    await fetch(`${sandboxes.urls.hubspot}/__sandbox/faults`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: '^/crm/v3/objects/contacts/batch/create', rate429: 1, times: Number(args['inject-429s']) }),
    });
  }
  // What the CRM served during the run, by its own count (the run counts one request per batch write; a
  // write's fallback upsert and associations, or a link's update next to an upsert, are more).
  const crmServed = async (): Promise<{ total: number; byRoute: Record<string, number> }> => provider === 'hubspot'
    ? (await (await fetch(`${sandboxes.urls.hubspot}/__sandbox/requests`)).json()) as { total: number; byRoute: Record<string, number> }
    : { total: ((await (await fetch(`${sandboxes.urls.salesforce}/__sandbox/state`)).json()) as { apiUsage: { used: number } }).apiUsage.used, byRoute: {} };
  const crmAtStart = await crmServed();
  const res = await fetch(`${stack.api.url}/backfills`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ concurrency: Number(args.concurrency) }) });
  const started = (await res.json()) as RunView;
  if (res.status !== 202) throw new Error(`POST /backfills: ${res.status} ${JSON.stringify(started)}`);
  const t0 = Date.now();
  let at10k: { rss: number; heap: number; live: number | null; seconds: number } | null = null;
  let run: RunView;
  for (;;) {
    run = (await (await fetch(`${stack.api.url}/backfills/${started.id}`)).json()) as RunView;
    if (!at10k && run.processed >= Math.min(10_000, 3 * customers)) at10k = { ...peaks, live: liveHeap(), seconds: (Date.now() - t0) / 1000 };
    if (!['running', 'paused'].includes(run.status)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const wall = (Date.now() - t0) / 1000;
  const crmAtEnd = await crmServed();
  sample();
  // The run's own figures, before the checks below fetch every record (and the peaks with them).
  const atEnd = { ...peaks, live: liveHeap() };
  const rate = run.processed / wall;
  log(`run ${run.id} ${run.status}: ${run.processed} records in ${wall.toFixed(1)} s = ${rate.toFixed(0)} records/s = ${((rate / bound) * 100).toFixed(1)} % of the ${bound}/s bound`);
  log(`by object: ${Object.entries(run.byObject).map(([o, c]) => `${o} ${JSON.stringify(c)}`).join('; ')}`);
  log(`CRM batch requests ${run.crmRequests ?? '?'} (${((run.crmRequests ?? 0) / wall).toFixed(1)}/s, paced at ${crmRate}/s; ${((run.processed) / Math.max(1, run.crmRequests ?? 1)).toFixed(1)} records each); ` +
    `Stripe reads ${run.stripeReads ?? '?'} (${((run.stripeReads ?? 0) / wall).toFixed(1)}/s, limit ${stripeRate}/s, sandbox 100/s)`);
  log(`load average at the end of the run: ${load()}`);

  // Identity resolution (a B2B run reads an index first): what the index cost, and what the matcher decided.
  const held = new Set<string>();
  const failures: string[] = [];
  if (run.identityIndex) {
    const db = stack.database.db;
    const [methods, skipped, reviews] = await Promise.all([
      db.selectFrom('crmLinks').select(['matchMethod', (eb) => eb.fn.countAll<number>().as('n')])
        .where('accountId', '=', stack.accountId).where('companyId', 'is not', null).groupBy('matchMethod').execute(),
      db.selectFrom('backfillRecords').select(['customerId', 'reason'])
        .where('runId', '=', run.id).where('objectType', '=', 'customer').where('outcome', '=', 'skipped').execute(),
      db.selectFrom('identityReviews').select(['reason', (eb) => eb.fn.countAll<number>().as('n')])
        .where('accountId', '=', stack.accountId).where('source', '=', 'backfill').where('status', '=', 'open').groupBy('reason').execute(),
    ]);
    for (const r of skipped) if (isIdentityHold(r.reason)) held.add(r.customerId);
    const pct = (n: number, of: number) => `${((n / Math.max(1, of)) * 100).toFixed(1)} %`;
    const served = crmAtEnd.total - crmAtStart.total;
    log(`identity index: ${run.identityIndex.rows} rows read in ${run.identityIndex.requests} CRM requests = ${pct(run.identityIndex.requests, served)} of the ${served} requests ` +
      `the CRM served during the run (${pct(run.identityIndex.requests, run.crmRequests ?? 0)} of the ${run.crmRequests ?? '?'} the run counts, one per batch write)`);
    if (plan && provider === 'hubspot') {
      const byRoute = Object.entries(crmAtEnd.byRoute).map(([route, n]) => [route, n - (crmAtStart.byRoute[route] ?? 0)] as const).filter(([, n]) => n > 0);
      log(`  HubSpot requests during the run by route: ${byRoute.map(([route, n]) => `${route} ${n}`).join(', ')}`);
    }
    const linked = Object.fromEntries(methods.filter((m) => m.matchMethod !== 'created').map((m) => [m.matchMethod, Number(m.n)]));
    const created = Number(methods.find((m) => m.matchMethod === 'created')?.n ?? 0);
    log(`identity outcomes: companies linked by method ${JSON.stringify(linked)}, created ${created}; customers skipped for identity review ${held.size}` +
      `${skipped.length > held.size ? ` (and ${skipped.length - held.size} skipped for other reasons)` : ''}; open reviews opened by the run ${reviews.reduce((sum, r) => sum + Number(r.n), 0)} ` +
      `${JSON.stringify(Object.fromEntries(reviews.map((r) => [r.reason, Number(r.n)])))}`);
    if (plan) {
      const expected: Record<string, number> = { ...countBy(seededCustomers.map((c) => EXPECTED_METHOD[c.kind])), created: customers - seededCustomers.length };
      const actual: Record<string, number> = { ...linked, created, review: held.size };
      const differ = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].filter((k) => (expected[k] ?? 0) !== (actual[k] ?? 0));
      log(`  the seed was built for: ${Object.entries(expected).map(([k, n]) => `${k} ${n}`).join(', ')}`);
      if (differ.length > 0) failures.push(`outcomes differ from what the seed was built for: ${differ.map((k) => `${k} ${actual[k] ?? 0} (expected ${expected[k] ?? 0})`).join(', ')}`);
    }
  }

  // Lost and duplicated: every Stripe customer is one company and one contact, every subscription one deal
  // (except customers held for review, whose records are written once a person decides).
  const stripeCustomers = new Set<string>();
  const stripeSubscriptions = new Set<string>();
  const seededEmails = new Map(seededCustomers.map((c) => [c.id, `customer${c.n}@${c.emailDomain}`]));
  let misnumbered = 0;
  for await (const c of stack.stripe.customers.list({ limit: 100 })) {
    if (!held.has(c.id)) stripeCustomers.add(c.id);
    if (seededEmails.has(c.id) && seededEmails.get(c.id) !== c.email) misnumbered++;
  }
  if (misnumbered > 0) failures.push(`${misnumbered} customers seeded for --existing are not who the seed took them for (Stripe's numbering of seeded customers changed)`);
  for await (const s of stack.stripe.subscriptions.list({ limit: 100, status: 'all' })) {
    if (!held.has(typeof s.customer === 'string' ? s.customer : s.customer.id)) stripeSubscriptions.add(s.id);
  }
  const crmKeys: Record<'company' | 'contact' | 'deal', string[]> = { company: [], contact: [], deal: [] };
  let crmCompanies: CrmCompany[] = [];
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  if (provider === 'hubspot') {
    const rowsOf = async (type: string, properties: string[]) => {
      const body = (await (await fetch(`${sandboxes.urls.hubspot}/__sandbox/objects/${type}?properties=${properties.join(',')}`)).json()) as { results: Array<{ id: string; properties: Record<string, string | null>; archived: boolean }> };
      return body.results.filter((r) => !r.archived);
    };
    const keysOf = async (type: string, property: string) => (await rowsOf(type, [property])).map((r) => r.properties[property]).filter((k): k is string => typeof k === 'string');
    crmCompanies = (await rowsOf('companies', [customerIdField, 'domain'])).map((r) => ({ id: r.id, domain: text(r.properties.domain), stripeCustomerId: text(r.properties[customerIdField]) }));
    crmKeys.company = crmCompanies.map((c) => c.stripeCustomerId).filter((k): k is string => k !== null);
    crmKeys.contact = await keysOf('contacts', 'stripe_customer_id');
    crmKeys.deal = await keysOf('deals', 'stripe_subscription_id');
    const requests = (await (await fetch(`${sandboxes.urls.hubspot}/__sandbox/requests`)).json()) as { total: number; rateLimited: { total: number } };
    log(`HubSpot requests ${requests.total}, 429s served ${requests.rateLimited.total}`);
  } else {
    const conn = salesforceConnectionFor(sandboxes.urls.salesforce, 'bench');
    const rowsOf = async (object: string, fields: string[]) => {
      const out: Array<Record<string, unknown>> = [];
      let result = await conn.query<Record<string, unknown>>(`SELECT ${fields.join(', ')} FROM ${object}`);
      for (;;) {
        out.push(...result.records);
        if (result.done || !result.nextRecordsUrl) break;
        result = await conn.queryMore<Record<string, unknown>>(result.nextRecordsUrl);
      }
      return out;
    };
    const keysOf = async (object: string, field: string) => (await rowsOf(object, [field])).map((r) => r[field]).filter((k): k is string => typeof k === 'string');
    crmCompanies = (await rowsOf('Account', ['Id', 'Website', customerIdField])).map((r) => ({ id: String(r.Id), domain: text(r.Website), stripeCustomerId: text(r[customerIdField]) }));
    crmKeys.company = crmCompanies.map((c) => c.stripeCustomerId).filter((k): k is string => k !== null);
    crmKeys.contact = await keysOf('Contact', 'Stripe_Customer_ID__c');
    crmKeys.deal = await keysOf('Opportunity', 'Stripe_Subscription_ID__c');
    const state = (await (await fetch(`${sandboxes.urls.salesforce}/__sandbox/state`)).json()) as { apiUsage: { used: number }; bulkJobs: Record<string, number> };
    log(`Salesforce API requests ${state.apiUsage.used} during the run and the checks; bulk jobs ${JSON.stringify(state.bulkJobs)}`);
  }
  let lost = 0;
  let duplicated = 0;
  for (const [what, keys, expected] of [['company', crmKeys.company, stripeCustomers], ['contact', crmKeys.contact, stripeCustomers], ['deal', crmKeys.deal, stripeSubscriptions]] as const) {
    const distinct = new Set(keys);
    const missing = [...expected].filter((id) => !distinct.has(id)).length;
    lost += missing;
    duplicated += keys.length - distinct.size;
    log(`  ${what}: ${distinct.size} CRM records for ${expected.size} Stripe objects, ${missing} lost, ${keys.length - distinct.size} duplicated`);
  }
  log(`records lost ${lost}, duplicated ${duplicated}${held.size > 0 ? ` (the ${held.size} customers held for review, and their subscriptions, are expected nowhere)` : ''}`);
  if (existingSeed) {
    failures.push(...checkExisting(existingSeed.companies, existingSeed.ids.companyIds, crmCompanies));
    if (failures.length === 0) log(`existing records: every seeded company the run should link carries its customer's Stripe id and no other company does; the duplicates carry none; no seeded domain gained a company`);
  }
  for (const f of failures) log(`FAIL: ${f}`);
  if (at10k) log(`memory at 10k records (${at10k.seconds.toFixed(1)} s): peak rss ${mb(at10k.rss)} heap ${mb(at10k.heap)}${at10k.live !== null ? `, live heap after GC ${mb(at10k.live)}` : ''}`);
  log(`memory at ${run.processed} records: peak rss ${mb(atEnd.rss)} heap ${mb(atEnd.heap)}${atEnd.live !== null ? `, live heap after GC ${mb(atEnd.live)} (before seeding ${mb(before!)})` : ' (run with --expose-gc for the live heap)'}`);
  if (args.profile === 'true') await profile(stack.client, backfillWorkflowId(stack.accountId, run.id));
  log(`targets: ≥ 90 % of the bound; lost = duplicated = 0; memory flat`);
} finally {
  clearInterval(sampler);
  await stack.close();
  await infra.close();
}

/**
 * Where the time went, from the histories of every run of the chain: how busy the CRM queue was
 * (write requests started per second), how long writes waited for their rate-limit slot and ran,
 * how long the phase boundary and continue-as-new left it idle.
 */
async function profile(client: Client, workflowId: string): Promise<void> {
  const runs: string[] = [];
  for await (const e of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs.push(e.runId);
  const writes: Array<{ scheduled: number; started: number; closed: number; failed: boolean }> = [];
  const runSpans: Array<{ first: number; last: number }> = [];
  const reads: Array<{ scheduled: number; started: number; closed: number; failed: boolean }> = [];
  for (const runId of runs) {
    const handle: WorkflowHandle = client.workflow.getHandle(workflowId, runId);
    const history = await handle.fetchHistory();
    const times = (history.events ?? []).map((e) => Number((e.eventTime as { seconds?: unknown } | null)?.seconds ?? 0) * 1000 + Math.floor(((e.eventTime as { nanos?: number } | null)?.nanos ?? 0) / 1e6));
    if (times.length > 0) runSpans.push({ first: Math.min(...times), last: Math.max(...times) });
    const scheduled = new Map<string, { type: string; at: number }>();
    const startedAt = new Map<string, number>();
    const attempts = new Map<string, number>();
    const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
    for (const e of history.events ?? []) {
      const at = ms(e.eventTime as never);
      const id = String(e.eventId);
      if (e.activityTaskScheduledEventAttributes) scheduled.set(id, { type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '', at });
      if (e.activityTaskStartedEventAttributes) {
        startedAt.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), at);
        attempts.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), e.activityTaskStartedEventAttributes.attempt ?? 1);
      }
      const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
      if (done) {
        const sid = String(done.scheduledEventId);
        const s = scheduled.get(sid);
        if (!s) continue;
        // A retried attempt's failure is in the last attempt's event only: `attempt` > 1 on the started event says so.
        const entry = { scheduled: s.at, started: startedAt.get(sid) ?? s.at, closed: at, failed: (attempts.get(sid) ?? 1) > 1 };
        if (s.type === 'backfillWrite') writes.push(entry);
        if (s.type === 'backfillRead') reads.push(entry);
      }
    }
  }
  if (writes.length === 0) return;
  writes.sort((a, b) => a.started - b.started);
  const first = writes[0]!.started;
  const last = Math.max(...writes.map((w) => w.closed));
  const perSecond = new Map<number, number>();
  for (const w of writes) perSecond.set(Math.floor((w.started - first) / 1000), (perSecond.get(Math.floor((w.started - first) / 1000)) ?? 0) + 1);
  const seconds = Math.ceil((last - first) / 1000);
  const counts = Array.from({ length: seconds }, (_, i) => perSecond.get(i) ?? 0).sort((a, b) => a - b);
  // Idle: stretches with no write running or waiting for its slot.
  let idle = 0;
  let busyUntil = first;
  for (const w of [...writes].sort((a, b) => a.scheduled - b.scheduled)) {
    if (w.scheduled > busyUntil) idle += w.scheduled - busyUntil;
    busyUntil = Math.max(busyUntil, w.closed);
  }
  const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
  log(`profile: ${runs.length} workflow run(s); ${reads.length} reads, ${writes.length} writes over ${(seconds).toFixed(0)} s from the first write`);
  log(`  writes started per second: p10 ${percentile(counts, 10)}, median ${percentile(counts, 50)}, p90 ${percentile(counts, 90)}`);
  log(`  per second from the first write: ${Array.from({ length: seconds }, (_, i) => perSecond.get(i) ?? 0).join(' ')}`);
  if (args.trace === 'true') {
    const at = (i: number) => first + i * 1000;
    log(`  in flight at each second: ${Array.from({ length: seconds }, (_, i) => writes.filter((w) => w.scheduled <= at(i) && w.closed > at(i)).length).join(' ')}`);
    log(`  reads in flight at each second: ${Array.from({ length: seconds }, (_, i) => reads.filter((w) => w.scheduled <= at(i) && w.closed > at(i)).length).join(' ')}`);
    log(`  reads completed per second: ${Array.from({ length: seconds }, (_, i) => reads.filter((w) => w.closed >= at(i) && w.closed < at(i + 1)).length).join(' ')}`);
  }
  const retried = writes.filter((w) => w.failed).map((w) => `${((w.scheduled - first) / 1000).toFixed(1)}→${((w.closed - first) / 1000).toFixed(1)}`);
  if (retried.length > 0) log(`  writes that needed a retry (a 429, a timeout), scheduled→done, seconds from the first write: ${retried.join(', ')}`);
  log(`  write wait for its slot (scheduled → started) p50 ${percentile(sorted(writes.map((w) => w.started - w.scheduled)), 50)} ms, p95 ${percentile(sorted(writes.map((w) => w.started - w.scheduled)), 95)} ms; ` +
    `run p50 ${percentile(sorted(writes.map((w) => w.closed - w.started)), 50)} ms, p95 ${percentile(sorted(writes.map((w) => w.closed - w.started)), 95)} ms`);
  log(`  read run p50 ${percentile(sorted(reads.map((r) => r.closed - r.started)), 50)} ms, p95 ${percentile(sorted(reads.map((r) => r.closed - r.started)), 95)} ms`);
  runSpans.sort((a, b) => a.first - b.first);
  log(`  workflow runs (seconds from the first write): ${runSpans.map((r) => `${((r.first - first) / 1000).toFixed(1)}–${((r.last - first) / 1000).toFixed(1)}`).join(', ')}`);
  log(`  CRM queue idle (no write scheduled) ${(idle / 1000).toFixed(1)} s; before the first write ${((first - Math.min(...reads.map((r) => r.scheduled))) / 1000).toFixed(1)} s`);
}
