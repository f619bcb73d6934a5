import { loadConfig } from '../config/index.js';
import { BACKFILL_PAGE_SIZE } from '../domain/backfill.js';
import { parseArgs, startBenchInfrastructure } from './bench-support.js';
import { startLocalStackWithExternalSandboxes } from './local-stack.js';

/**
 * `npm run bench:backfill -- --customers 100000 [--provider hubspot|salesforce] [--crm-rate 19]`
 *
 * A historical backfill of `customers` seeded Stripe customers (one subscription each) through the
 * API, the backfill workflow and the CRM sandbox, with HubSpot Professional's limits: the sandbox
 * refuses more than 190 requests per rolling 10 s, the CRM queue is limited to 19 activities/s, and each
 * activity writes one batch of 100 → a bound of 1,900 records/s. Prints records/s and the ratio to the
 * bound, the 429s the CRM served, records lost and duplicated, and peak memory at 10k and at the end.
 */
const args = parseArgs(process.argv.slice(2), {
  customers: '100000', provider: 'hubspot', 'crm-rate': '19', concurrency: '8',
  'admin-url': 'postgres://postgres@127.0.0.1:5432/postgres',
});
const customers = Number(args.customers);
const provider = args.provider === 'salesforce' ? 'salesforce' : 'hubspot';
const crmRate = Number(args['crm-rate']);
const bound = crmRate * BACKFILL_PAGE_SIZE;
const config = loadConfig();
const log = (line: string) => console.log(line);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

interface RunView {
  id: string;
  status: string;
  processed: number;
  counts: Record<string, number>;
  rate: number;
  stripeReads: number | null;
  summary: { activeSeconds?: number } | null;
}

log(`bench:backfill customers=${customers} provider=${provider} crm-limit=${crmRate} activities/s × ${BACKFILL_PAGE_SIZE} records = bound ${bound} records/s` +
  (provider === 'salesforce' ? ' (each Salesforce batch: one SOQL lookup + one collection upsert)' : ` (HubSpot sandbox window ${crmRate * 10}/10 s)`));
const infra = await startBenchInfrastructure(args['admin-url']!, config.temporal.cliPath, process.env.PATH ?? '');
const stack = await startLocalStackWithExternalSandboxes({
  temporalAddress: infra.temporal.address,
  databaseUrl: infra.databaseUrl,
  provider,
  env: { CRM_RATE_LIMIT_PER_SECOND: String(crmRate), DATABASE_POOL_MAX: '16' },
  sandboxOptions: {
    // Stripe's own default read limit (100 requests/s) stays on: the backfill must live within it.
    stripe: { realTimeTickMs: false },
    // HubSpot's default policy is Professional's: 190 requests per rolling 10 s.
    hubspot: { rateLimit: { max: crmRate * 10, windowMs: 10_000 }, dailyLimit: 100_000_000 },
    salesforce: { limits: { dailyApiRequests: 10_000_000 } },
  },
});
const sandboxes = { urls: stack.sandboxUrls };

const peaks = { rss: 0, heap: 0 };
const sample = () => {
  const m = process.memoryUsage();
  peaks.rss = Math.max(peaks.rss, m.rss);
  peaks.heap = Math.max(peaks.heap, m.heapUsed);
};
const sampler = setInterval(sample, 200);

try {
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage();
  const seedStart = Date.now();
  const seeded = (await (await fetch(`${sandboxes.urls.stripe}/__sandbox/seed`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ customers, subscriptionsPerCustomer: 1, withInvoices: false, emitEvents: false }),
  })).json()) as { customers: number; subscriptions: number };
  log(`seeded ${seeded.customers} customers, ${seeded.subscriptions} subscriptions in ${Date.now() - seedStart} ms`);
  sample();
  const baseline = { ...peaks };
  log(`memory before the run (the sandboxes run in their own process): rss ${mb(baseline.rss)} heap ${mb(baseline.heap)}`);

  const res = await fetch(`${stack.api.url}/backfills`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ concurrency: Number(args.concurrency) }) });
  const started = (await res.json()) as RunView;
  if (res.status !== 202) throw new Error(`POST /backfills: ${res.status} ${JSON.stringify(started)}`);
  const t0 = Date.now();
  let at10k: { rss: number; heap: number; seconds: number } | null = null;
  let run: RunView;
  for (;;) {
    run = (await (await fetch(`${stack.api.url}/backfills/${started.id}`)).json()) as RunView;
    if (!at10k && run.processed >= Math.min(10_000, customers)) at10k = { ...peaks, seconds: (Date.now() - t0) / 1000 };
    if (!['running', 'paused'].includes(run.status)) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const wall = (Date.now() - t0) / 1000;
  sample();
  const rate = run.processed / wall;
  log(`run ${run.id} ${run.status}: ${run.processed} records in ${wall.toFixed(1)} s = ${rate.toFixed(0)} records/s = ${((rate / bound) * 100).toFixed(1)} % of the ${bound}/s bound`);
  log(`outcomes: ${JSON.stringify(run.counts)}; Stripe reads ${run.stripeReads ?? '?'} (${((run.stripeReads ?? 0) / wall).toFixed(1)}/s, sandbox limit 100/s)`);

  // Lost and duplicated: every Stripe customer must be exactly one CRM record.
  const keys: string[] = [];
  if (provider === 'hubspot') {
    const all = (await (await fetch(`${sandboxes.urls.hubspot}/__sandbox/objects/companies`)).json()) as { results: Array<{ properties: Record<string, string | null> }> };
    for (const c of all.results) if (c.properties.stripe_customer_id) keys.push(c.properties.stripe_customer_id);
    const requests = (await (await fetch(`${sandboxes.urls.hubspot}/__sandbox/requests`)).json()) as { total: number; rateLimited: { total: number } };
    log(`CRM requests ${requests.total}, 429s served ${requests.rateLimited.total}`);
  } else {
    const all = (await (await fetch(`${sandboxes.urls.salesforce}/__sandbox/records/Account`)).json()) as { records: Array<Record<string, unknown>> };
    for (const a of all.records) if (typeof a.Stripe_Customer_ID__c === 'string') keys.push(a.Stripe_Customer_ID__c);
    const state = (await (await fetch(`${sandboxes.urls.salesforce}/__sandbox/state`)).json()) as { apiUsage: { used: number } };
    log(`Salesforce API requests ${state.apiUsage.used} (${(state.apiUsage.used / wall).toFixed(1)}/s; Salesforce limits per day and concurrency, not per second)`);
  }
  const distinct = new Set(keys);
  const stripeIds = new Set<string>();
  for await (const c of stack.stripe.customers.list({ limit: 100 })) stripeIds.add(c.id);
  const lost = [...stripeIds].filter((id) => !distinct.has(id)).length;
  log(`records lost ${lost}, duplicated ${keys.length - distinct.size} (${distinct.size} CRM records for ${stripeIds.size} Stripe customers)`);
  if (at10k) log(`peak memory at 10k records (${at10k.seconds.toFixed(1)} s): rss ${mb(at10k.rss)} heap ${mb(at10k.heap)}`);
  log(`peak memory at ${run.processed} records: rss ${mb(peaks.rss)} heap ${mb(peaks.heap)}`);
  // What the run left behind in this process (run with NODE_OPTIONS=--expose-gc).
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    log(`heap after the run with the sandboxes emptied: ${mb(process.memoryUsage().heapUsed)} (before seeding: ${mb(before.heapUsed)})`);
  }
  log(`targets: ≥ 90 % of the bound; lost = duplicated = 0; memory flat`);
} finally {
  clearInterval(sampler);
  await stack.close();
  await infra.close();
}
