import { randomBytes } from 'node:crypto';
import type Stripe from 'stripe';
import { hubspotValue } from '../activities/crm/hubspot/values.js';
import { loadConfig } from '../config/index.js';
import {
  customerSnapshotFromStripe,
  paymentFromCharge,
  paymentFromRefund,
  subscriptionSnapshotFromStripe,
  type PaymentSnapshot,
  type StripeSubscriptionInput,
  type SubscriptionSnapshot,
} from '../domain/billing-snapshot.js';
import { crmFieldNames } from '../domain/crm-field-names.js';
import { applyPayments, createPaymentAggregates } from '../domain/payment-aggregates.js';
import { computeExpected } from '../domain/reconciliation.js';
import { stripeClientFor } from '../sandboxes/stripe/index.js';
import type { ReconciliationInput, ReconciliationProgress } from '../workflows/reconciliation.js';
import { parseArgs, startBenchInfrastructure } from './bench-support.js';
import { startLocalStack } from './local-stack.js';

/**
 * `npm run bench:reconcile -- --customers 100000 --drift 1%`
 *
 * Seeds the Stripe sandbox (customers with subscriptions, cards and each subscription's paid invoice
 * and charge) and the HubSpot sandbox with the companies the sync would have written (plus their
 * crm_links rows), injects known drift — changed fields (subscription, payment history and MRR
 * movement fields), deleted CRM records, orphan records, unlinked Stripe customers — then runs one
 * full reconciliation through Temporal and compares what it reports with what was injected. The
 * run compares every Stripe-owned field of every customer, payment history included, so the charge
 * list is a stream of its own: its cost is printed beside the others.
 *
 * The CRM read bound is the least time any full scan can take: the pages it must read (HubSpot lists
 * 100 records per request) plus the verification reads, at CRM_RATE_LIMIT_PER_SECOND.
 */
const args = parseArgs(process.argv.slice(2), {
  customers: '10000', drift: '1%', 'crm-rate': '19', 'admin-url': 'postgres://postgres@127.0.0.1:5432/postgres',
});
const customers = Number(args.customers);
const driftRate = Number(args.drift!.replace('%', '')) / (args.drift!.endsWith('%') ? 100 : 1);
const crmRate = Number(args['crm-rate']);
const config = loadConfig();
const log = (line: string) => console.log(line);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

log(`bench:reconcile customers=${customers} drift=${(driftRate * 100).toFixed(2)}% crm-rate=${crmRate} req/s`);
const infra = await startBenchInfrastructure(args['admin-url']!, config.temporal.cliPath, process.env.PATH ?? '');
const stack = await startLocalStack({
  temporalAddress: infra.temporal.address,
  databaseUrl: infra.databaseUrl,
  provider: 'hubspot',
  env: { CRM_RATE_LIMIT_PER_SECOND: String(crmRate), DATABASE_POOL_MAX: '16' },
  sandboxOptions: {
    stripe: { rateLimit: false, realTimeTickMs: false },
    hubspot: { rateLimit: { max: crmRate * 10, windowMs: 10_000 }, dailyLimit: 100_000_000 },
  },
});

try {
  // 1. Stripe: customers with one subscription, its paid invoice and a card each, no events (an import, not live traffic).
  const seeded = stack.sandboxes.stripe.sandbox.seed({ customers, subscriptionsPerCustomer: 1, withInvoices: true, withPaymentMethods: true, emitEvents: false });
  log(`stripe: seeded ${seeded.customers} customers, ${seeded.subscriptions} subscriptions, ${seeded.charges} charges in ${seeded.durationMs} ms`);

  // 2. HubSpot: the company the sync writes for each, straight into the sandbox's store (the API would
  // take customers / rate seconds), with values computed by the same pure functions the sync uses.
  const driver = stripeClientFor(stack.sandboxes.stripe.url, 'sk_test_bench_driver', { maxNetworkRetries: 2 });
  const productNames: Record<string, string> = {};
  for await (const p of driver.products.list({ limit: 100 })) productNames[p.id] = p.name;
  const subsByCustomer = new Map<string, SubscriptionSnapshot[]>();
  // The seeding reads are the same Stripe lists a scan makes: their time is the sandbox's floor for the Stripe side.
  const listStart = Date.now();
  for await (const s of driver.subscriptions.list({ limit: 100, status: 'all' })) {
    const customerId = typeof s.customer === 'string' ? s.customer : s.customer.id;
    subsByCustomer.set(customerId, [...(subsByCustomer.get(customerId) ?? []), subscriptionSnapshotFromStripe(s as StripeSubscriptionInput)]);
  }
  const names = crmFieldNames('hubspot');
  const store = stack.sandboxes.hubspot.sandbox.store;
  const now = Math.floor(Date.now() / 1000);
  const all: Array<{ id: string; recordId: string }> = [];
  const subscriptionListMs = Date.now() - listStart;
  const chargeListStart = Date.now();
  const paymentsByCustomer = new Map<string, PaymentSnapshot[]>();
  for await (const ch of driver.charges.list({ limit: 100, expand: ['data.refunds'] })) {
    const customerId = typeof ch.customer === 'string' ? ch.customer : ch.customer?.id;
    if (!customerId) continue;
    paymentsByCustomer.set(customerId, [...(paymentsByCustomer.get(customerId) ?? []), paymentFromCharge(ch), ...(ch.refunds?.data ?? []).map(paymentFromRefund)]);
  }
  const chargeListMs = Date.now() - chargeListStart;
  const seedStart = Date.now();
  for await (const c of driver.customers.list({ limit: 100, expand: ['data.invoice_settings.default_payment_method'] })) {
    const payments = applyPayments(createPaymentAggregates(), (paymentsByCustomer.get(c.id) ?? []).sort((a, b) => a.created - b.created));
    const expected = computeExpected({ customer: customerSnapshotFromStripe(c as Stripe.Customer), subscriptions: subsByCustomer.get(c.id) ?? [], discounts: [], productNames, payments }, stack.config.crm.mrrDiscounts === 'apply' ? { discounts: 'apply' } : { discounts: 'ignore' }, now);
    const values = new Map<string, string>([['name', c.name ?? c.id], ['domain', `${c.id.toLowerCase()}.example`]]);
    for (const [field, name] of Object.entries(names)) if (name) values.set(name, hubspotValue(expected[field as keyof typeof expected]));
    const rec = store.commitCreate('companies', store.prepare('companies', values));
    all.push({ id: c.id, recordId: rec.id });
  }
  subsByCustomer.clear();
  paymentsByCustomer.clear();
  for (let i = 0; i < all.length; i += 1000) {
    await stack.database.db.insertInto('crmLinks').values(all.slice(i, i + 1000).map((x) => ({
      accountId: stack.accountId, customerId: x.id, provider: 'hubspot', companyId: x.recordId, contactId: null, dealIds: '{}', matchMethod: 'external-id', productIds: [], stripeStateAt: new Date(), lastSyncedAt: new Date(),
    }))).execute();
  }
  log(`hubspot: seeded ${all.length} companies and links in ${Date.now() - seedStart} ms`);
  log(`stripe listing floor on this machine (one client, sequential): subscriptions ${(subscriptionListMs / 1000).toFixed(1)} s; charges ${(chargeListMs / 1000).toFixed(1)} s; customers with the CRM seeding ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);

  // 3. Drift, in four equal parts, on distinct customers.
  const injected = new Set<string>();
  const count = Math.max(4, Math.round(customers * driftRate));
  const shuffled = all.map((x) => ({ x, k: Math.random() })).sort((a, b) => a.k - b.k).map((e) => e.x);
  const pick = shuffled.slice(0, count);
  const quarter = Math.ceil(count / 4);
  // Subscription fields, payment-history fields (compared for every customer, not only suspects) and
  // an MRR movement the current state contradicts (a paying customer whose latest movement is churn).
  const changes: Array<[string, string]> = [
    [names.mrr!, '12345'], [names.plan_name!, 'Drifted plan'], [names.subscription_status!, 'canceled'], [names.payment_method_status!, 'missing'], [names.cancel_at_period_end!, 'true'],
    [names.ltv!, '1'], [names.last_payment_date!, '2001-01-01'], [names.failed_payment_count!, '3'], [names.last_payment_amount!, '0.5'], [names.last_mrr_change_kind!, 'churn'],
  ];
  pick.forEach((target, i) => {
    const rec = store.find('companies', target.recordId)!;
    if (i < quarter) {
      const [name, value] = changes[i % changes.length]!;
      store.commitUpdate(rec, store.prepare('companies', new Map([[name, value]]), rec));
      injected.add(`drift:${target.id}`);
    } else if (i < 2 * quarter) {
      store.archive(rec);
      injected.add(`missing-record:${target.id}`);
    } else if (i < 3 * quarter) {
      store.archive(rec);
      injected.add(`unlinked:${target.id}`);
    } else {
      const ghost = `cus_ghost${randomBytes(6).toString('hex')}`;
      store.commitCreate('companies', store.prepare('companies', new Map([['name', 'Ghost'], ['domain', `${ghost}.example`], [names.customer_id!, ghost], [names.mrr!, '10']])));
      injected.add(`orphan:${ghost}`);
    }
  });
  const unlinkedIds = pick.slice(2 * quarter, 3 * quarter).map((x) => x.id);
  for (let i = 0; i < unlinkedIds.length; i += 1000) {
    await stack.database.db.deleteFrom('crmLinks').where('accountId', '=', stack.accountId).where('customerId', 'in', unlinkedIds.slice(i, i + 1000)).execute();
  }
  all.length = 0;
  log(`injected ${injected.size} discrepancies: ${quarter} changed fields, ${quarter} deleted linked records, ${unlinkedIds.length} unlinked customers, ${injected.size - 2 * quarter - unlinkedIds.length} orphans`);

  // 4. One full run, with memory sampled while it goes.
  const baseline = process.memoryUsage();
  let peakRss = baseline.rss;
  let peakHeap = baseline.heapUsed;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 200);
  // Peaks include the sandboxes' per-request garbage; what stays reachable after a full GC is what a
  // run holds on to (needs --expose-gc, which the npm script passes).
  const gc = (globalThis as { gc?: () => void }).gc;
  const retainedBaseline = gc ? (gc(), process.memoryUsage().heapUsed) : NaN;
  let retainedPeak = retainedBaseline;
  const retainedSampler = gc ? setInterval(() => {
    gc();
    retainedPeak = Math.max(retainedPeak, process.memoryUsage().heapUsed);
  }, 10_000) : undefined;
  const started = Date.now();
  const progress = await stack.client.workflow.execute<(input: ReconciliationInput) => Promise<ReconciliationProgress>>('reconciliationWorkflow', {
    taskQueue: stack.taskQueue, workflowId: `reconciliation-full/${stack.accountId}/bench`, args: [{ kind: 'full', mode: 'report', accountId: stack.accountId }],
  });
  const seconds = (Date.now() - started) / 1000;
  clearInterval(sampler);
  clearInterval(retainedSampler);

  const rows = await stack.database.db.selectFrom('reconciliationDiscrepancies').select(['kind', 'customerId', 'details'])
    .where('runId', '=', progress.runId!).execute();
  const reported = new Set(rows.filter((r) => !r.kind.startsWith('duplicate')).map((r) => `${r.kind}:${r.customerId}`));
  const found = [...injected].filter((k) => reported.has(k)).length;
  const falsePositives = [...reported].filter((k) => !injected.has(k));
  const crmRequests = progress.counts.crmRequests + Math.ceil(progress.counts.suspects / 100);
  const bound = crmRequests / crmRate;
  log(`run: ${progress.counts.stripeCustomers} Stripe customers, ${progress.counts.stripeSubscriptions} subscriptions, ${progress.counts.stripeCharges ?? 0} charges (${Math.ceil((progress.counts.stripeCharges ?? 0) / 100)} list requests, streamed beside the CRM scan), ${progress.counts.crmRecordsRead} CRM records in ${progress.counts.crmRequests} pages; ${progress.counts.suspects} suspects verified`);
  const byField = new Map<string, number>();
  for (const r of await stack.database.db.selectFrom('reconciliationDiscrepancies').select('fields').where('runId', '=', progress.runId!).where('kind', '=', 'drift').execute()) {
    for (const field of Object.keys(r.fields as Record<string, unknown>)) byField.set(field, (byField.get(field) ?? 0) + 1);
  }
  log(`drifted fields reported: ${[...byField].sort((a, b) => b[1] - a[1]).map(([f, n]) => `${f} ${n}`).join(', ')}`);
  log(`drifts found: ${found} / ${injected.size} injected = ${((found / injected.size) * 100).toFixed(1)} %`);
  log(`false positives: ${falsePositives.length}${falsePositives.length ? ` (${falsePositives.slice(0, 5).join(', ')}${falsePositives.length > 5 ? ', …' : ''})` : ''}`);
  log(`phases: ${Object.entries(progress.phaseSeconds).map(([phase, t]) => `${phase} ${t} s`).join(', ')}`);
  log(`scan streams (side by side) done after: ${Object.entries(progress.streamSeconds ?? {}).map(([stream, t]) => `${stream} ${t} s`).join(', ')}`);
  log(`time: ${seconds.toFixed(1)} s; CRM read bound ${bound.toFixed(1)} s (${crmRequests} requests at ${crmRate}/s) → ${(seconds / bound).toFixed(2)} × bound`);
  log(`memory (one process: sandboxes holding ${customers} customers, Temporal worker, API): baseline RSS ${mb(baseline.rss)}, heap ${mb(baseline.heapUsed)}; peak during run RSS ${mb(peakRss)} (+${mb(peakRss - baseline.rss)}), heap ${mb(peakHeap)} (+${mb(peakHeap - baseline.heapUsed)})`);
  if (gc) log(`retained heap after full GC (sampled every 10 s): before run ${mb(retainedBaseline)}, max during run ${mb(retainedPeak)} (+${mb(retainedPeak - retainedBaseline)})`);
  log(`totals: Stripe ${JSON.stringify(progress.totals.stripe)} · CRM ${JSON.stringify(progress.totals.crm)}`);
} finally {
  await stack.close();
  await infra.close();
}
