import { randomBytes } from 'node:crypto';
import type { Client as HubSpotClient } from '@hubspot/api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconciliationScheduleId, RECONCILIATION_KINDS } from '../../domain/reconciliation-ids.js';
import { hubspotClientFor } from '../../sandboxes/hubspot/index.js';
import { ensureReconciliationSchedules } from '../../workers/reconciliation-schedules.js';
import type { ReconciliationInput, ReconciliationProgress } from '../../workflows/reconciliation.js';
import { eventsSettled, startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

interface Discrepancy { kind: string; status: string; customerId: string | null; crmRecordId: string | null; fields: Record<string, { expected: string | null; actual: string | null; rule?: string }>; details: Record<string, unknown> }
interface Review { id: string; kind: string; source: string; status: string; reason: string; customerId: string | null; subject: string | null; candidates: Array<{ recordId: string; method: string; score: number; customerId?: string | null }>; resolution: Record<string, unknown> | null }

describe('reconciliation: finds drift between Stripe and HubSpot, reports it and repairs it', () => {
  let stack: TestStack;
  let hubspot: HubSpotClient;
  const customers: string[] = [];
  const subscriptions: string[] = [];
  let unlinked = '';
  const ghosts: string[] = [];
  const ghostRecords: string[] = [];

  const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${stack.api.url}${path}`);
    return { status: res.status, body: (await res.json()) as T };
  };
  const post = async <T>(path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${stack.api.url}${path}`, { method: 'POST', ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as T };
  };
  // This file's Stripe account only: other test files share the database.
  const reviews = async (query: string) => (await get<{ data: Review[] }>(`/reviews?limit=500&accountId=${stack.accountId}&${query}`)).body.data;
  const company = (customerId: string) =>
    hubspot.crm.companies.basicApi.getById(customerId, ['stripe_mrr', 'stripe_plan_name', 'stripe_subscription_status', 'stripe_ltv', 'stripe_last_mrr_change_kind'], undefined, undefined, false, 'stripe_customer_id');
  const run = (kind: ReconciliationInput['kind'], mode: ReconciliationInput['mode']) =>
    stack.client.workflow.execute<(input: ReconciliationInput) => Promise<ReconciliationProgress>>('reconciliationWorkflow', {
      taskQueue: stack.taskQueue, workflowId: `reconciliation-${kind}/${stack.accountId}/test-${randomBytes(3).toString('hex')}`,
      args: [{ kind, mode, accountId: stack.accountId }],
    });
  const discrepancies = async (runId: string, query = '') =>
    (await get<{ discrepancies: { data: Discrepancy[] } }>(`/reconciliations/${runId}?limit=1000${query}`)).body.discrepancies.data;
  /** Changes made while the webhook endpoint is disabled never reach the sync: a missed webhook. */
  const withoutWebhooks = async (fn: () => Promise<void>) => {
    const [endpoint] = (await stack.stripe.webhookEndpoints.list()).data;
    await stack.stripe.webhookEndpoints.update(endpoint!.id, { disabled: true });
    try {
      await fn();
    } finally {
      await stack.stripe.webhookEndpoints.update(endpoint!.id, { disabled: false });
    }
  };

  beforeAll(async () => {
    stack = await startTestStack({ provider: 'hubspot' });
    hubspot = hubspotClientFor(stack.sandboxes.hubspot.url, 'reader-token');
    const price = await stack.stripe.prices.create({ currency: 'usd', unit_amount: 4950, recurring: { interval: 'month' }, product_data: { name: 'Pro' } });
    // The fifth, Stark, only ever drifts in its payment history.
    for (const name of ['Acme', 'Globex', 'Initech', 'Umbrella', 'Stark']) {
      const customer = await stack.stripe.customers.create({ name, email: `ops@${name.toLowerCase()}.example`, payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
      const sub = await stack.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
      customers.push(customer.id);
      subscriptions.push(sub.id);
    }
    for (const id of customers) {
      await eventually(async () => {
        const c = await company(id);
        expect(c.properties).toMatchObject({ stripe_subscription_status: 'active', stripe_mrr: '49.5', stripe_ltv: '49.5' });
      }, 30_000);
    }
    // Let the last writes (contacts, deals, notes) settle: no event may still be in flight.
    await eventsSettled(stack);
  });
  afterAll(async () => {
    for (const kind of RECONCILIATION_KINDS) await stack?.client.schedule.getHandle(reconciliationScheduleId(stack.accountId, kind)).delete().catch(() => undefined);
    await stack?.close();
  });

  it('a clean CRM gives a run with no discrepancies and matching totals', async () => {
    const progress = await run('full', 'report');
    expect(await discrepancies(progress.runId!)).toEqual([]);
    expect(progress.totals.stripe).toEqual({ customers: 5, mrr: { USD: 247.5 } });
    expect(progress.totals.crm).toEqual({ customers: 5, mrr: { USD: 247.5 } });
    // Every payment field of every customer is compared from the account's charge list: one paid invoice each.
    expect(progress.counts).toMatchObject({ stripeCustomers: 5, stripeSubscriptions: 5, stripeCharges: 5, compared: 5, suspects: 0 });
  });

  it('reports every injected drift, orphan, unlinked customer and duplicate, and nothing else', async () => {
    const [a, b, c, , e] = customers as [string, string, string, string, string];
    // CRM-side edit on A (a movement that contradicts A paying); a missed webhook on B (seat change in
    // Stripe); C's company deleted in the CRM; a missed refund on E, whose subscription fields all hold.
    const recordA = await company(a);
    await hubspot.crm.companies.basicApi.update(recordA.id, { properties: { stripe_mrr: '1', stripe_plan_name: 'Legacy', stripe_last_mrr_change_kind: 'churn' } });
    await withoutWebhooks(async () => {
      const sub = await stack.stripe.subscriptions.retrieve(subscriptions[1]!);
      await stack.stripe.subscriptions.update(sub.id, { items: [{ id: sub.items.data[0]!.id, quantity: 3 }], proration_behavior: 'none' });
      unlinked = (await stack.stripe.customers.create({ name: 'Hooli', email: 'gavin@hooli.example' })).id;
      const [charge] = (await stack.stripe.charges.list({ customer: e })).data;
      await stack.stripe.refunds.create({ charge: charge!.id, amount: 1000 });
    });
    await hubspot.crm.companies.basicApi.archive((await company(c)).id);
    // Two CRM records naming Stripe customers that never existed, sharing a domain.
    for (const n of [1, 2]) {
      const id = `cus_ghost${randomBytes(4).toString('hex')}`;
      ghosts.push(id);
      ghostRecords.push((await hubspot.crm.companies.basicApi.create({ properties: { name: `Ghost ${n}`, domain: 'ghost.example', stripe_customer_id: id, stripe_mrr: '10', stripe_currency: 'USD' } })).id);
    }

    const progress = await run('full', 'report');
    const found = await discrepancies(progress.runId!);
    const summary = found.map((d) => `${d.kind}:${d.customerId ?? d.details.key}:${d.status}`).sort();
    // Report mode: everything is reported (status open), nothing goes to the review queue.
    expect(summary).toEqual([
      `drift:${a}:open`, `drift:${b}:open`, `drift:${e}:open`, 'duplicate-domain:ghost.example:open', `missing-record:${c}:open`,
      `orphan:${ghosts[0]}:open`, `orphan:${ghosts[1]}:open`, `unlinked:${unlinked}:open`,
    ].sort());
    expect(await reviews('source=reconciliation')).toEqual([]);
    const driftA = found.find((d) => d.kind === 'drift' && d.customerId === a)!;
    expect(driftA.fields).toEqual({
      mrr: { expected: '49.5', actual: '1' }, plan_name: { expected: 'Pro', actual: 'Legacy' },
      last_mrr_change_kind: { expected: 'new, expansion, contraction or reactivation', actual: 'churn', rule: 'MRR is above zero, so the latest movement is not churn' },
    });
    const driftB = found.find((d) => d.kind === 'drift' && d.customerId === b)!;
    expect(driftB.fields.mrr).toEqual({ expected: '148.5', actual: '49.5' });
    // The CRM still shows B's first movement (new, 49.5), which the current MRR contradicts.
    expect(driftB.fields.last_mrr_change).toMatchObject({ expected: '148.5', actual: '49.5' });
    // E: only the payment history moved.
    expect(found.find((d) => d.kind === 'drift' && d.customerId === e)!.fields).toEqual({ ltv: { expected: '39.5', actual: '49.5' } });
    expect(progress.totals.stripe).toEqual({ customers: 6, mrr: { USD: 346.5 } });
    expect(progress.totals.crm).toEqual({ customers: 6, mrr: { USD: 49.5 + 1 + 49.5 + 49.5 + 20 } });

    // The API: runs listed, discrepancies filterable, bad filters refused.
    const runs = await get<{ data: Array<{ id: string; kind: string; status: string; summary: { discrepancies: Record<string, Record<string, number>> } }> }>('/reconciliations?kind=full');
    expect(runs.body.data[0]).toMatchObject({ id: progress.runId, kind: 'full', status: 'completed', summary: { discrepancies: { drift: { open: 3 }, orphan: { open: 2 } } } });
    expect((await discrepancies(progress.runId!, '&kind=drift')).map((d) => d.customerId).sort()).toEqual([a, b, e].sort());
    expect((await discrepancies(progress.runId!, '&field=plan_name')).map((d) => d.customerId)).toEqual([a]);
    expect((await discrepancies(progress.runId!, `&customerId=${unlinked}`)).map((d) => d.kind)).toEqual(['unlinked']);
    expect((await get<{ error: { code: string } }>(`/reconciliations/${progress.runId}?kind=nonsense`)).body.error.code).toBe('invalid_kind');
    expect((await get('/reconciliations/999999999')).status).toBe(404);
    const metrics = await get<{ latest: Record<string, { id: string }> }>('/reconciliations/metrics');
    expect(metrics.body.latest.full?.id).toBe(progress.runId);
  });

  it('repair mode resyncs drifted and missing customers and queues the rest for review, once; the next run is clean of them', async () => {
    const [a, b, c, , e] = customers as [string, string, string, string, string];
    const progress = await run('full', 'repair');
    expect(progress.counts.repairRequested).toBe(4);
    expect((await discrepancies(progress.runId!, '&status=repair-requested')).map((d) => d.customerId).sort()).toEqual([a, b, c, e].sort());
    await eventually(async () => {
      expect((await company(a)).properties).toMatchObject({ stripe_mrr: '49.5', stripe_plan_name: 'Pro', stripe_last_mrr_change_kind: 'new' });
      // The resync saw B's MRR move from 49.5 to 148.5: an expansion, now consistent with the state.
      expect((await company(b)).properties).toMatchObject({ stripe_mrr: '148.5', stripe_last_mrr_change_kind: 'expansion' });
      expect((await company(c)).properties).toMatchObject({ stripe_mrr: '49.5' });
      expect((await company(e)).properties).toMatchObject({ stripe_ltv: '39.5' });
    }, 30_000);

    // Orphans, the unlinked customer and the duplicate group went to the review queue, each with what a person decides on.
    expect(progress.counts.reviews).toEqual({ queued: 4, alreadyOpen: 0, ignored: 0, closed: 0 });
    const queued = await reviews('source=reconciliation&status=open');
    expect(queued.map((r) => `${r.kind}:${r.reason}:${r.subject}`).sort()).toEqual([
      `duplicate-merge:duplicate-domain:duplicate-domain:ghost.example`, `orphan:stripe-customer-missing:${ghosts[0]}`,
      `orphan:stripe-customer-missing:${ghosts[1]}`, `unlinked:no-crm-record:${unlinked}`,
    ].sort());
    expect(queued.find((r) => r.kind === 'duplicate-merge')!.candidates.map((x) => x.customerId).sort()).toEqual([...ghosts].sort());
    const reported = await discrepancies(progress.runId!, '&status=needs-review');
    expect(reported).toHaveLength(4);
    expect(reported.map((d) => d.details.reviewId).sort()).toEqual(queued.map((r) => r.id).sort());
    // GET /reviews filters by kind.
    expect((await reviews('kind=orphan')).map((r) => r.customerId).sort()).toEqual([...ghosts].sort());
    expect((await reviews('kind=unlinked')).map((r) => r.customerId)).toEqual([unlinked]);

    // A second repair run finds the same things and queues nothing twice.
    const again = await run('full', 'repair');
    expect(again.counts.reviews).toEqual({ queued: 0, alreadyOpen: 4, ignored: 0, closed: 0 });
    expect(await reviews('source=reconciliation&status=open')).toHaveLength(4);
    expect((await discrepancies(again.runId!)).map((d) => d.kind).sort()).toEqual(['duplicate-domain', 'orphan', 'orphan', 'unlinked']);
  });

  it('an incremental run checks only customers with Stripe events since the last run', async () => {
    const d = customers[3]!;
    await withoutWebhooks(async () => {
      const sub = await stack.stripe.subscriptions.retrieve(subscriptions[3]!);
      await stack.stripe.subscriptions.update(sub.id, { items: [{ id: sub.items.data[0]!.id, quantity: 2 }], proration_behavior: 'none' });
    });
    const progress = await run('incremental', 'report');
    expect(progress.since).toBeGreaterThan(0);
    const found = await discrepancies(progress.runId!, '&kind=drift');
    expect(found.map((x) => x.customerId)).toEqual([d]);
    expect(found[0]!.fields.mrr).toEqual({ expected: '99', actual: '49.5' });
    // The run overlaps the previous one by a minute, so Hooli (created moments before it, still unlinked) may be seen again.
    const others = (await discrepancies(progress.runId!)).filter((x) => x.kind !== 'drift');
    expect(others.every((x) => x.kind === 'unlinked' && x.customerId === unlinked)).toBe(true);
    // Customers named by events since the previous run (less a minute of overlap) were checked; no full scan.
    const previous = (await get<{ data: Array<{ startedAt: string }> }>('/reconciliations?kind=full&limit=1')).body.data[0]!;
    expect(progress.since).toBe(Math.floor(new Date(previous.startedAt).getTime() / 1000) - 60);
    expect(progress.counts.stripeEvents).toBeGreaterThan(0);
    expect(progress.counts.stripeCustomers).toBe(0);
  });

  it('repairs a linked customer that has no workflow yet by signal-with-start', async () => {
    // Hooli was never synced (its events were missed); a link without a workflow is what a backfill leaves.
    await stack.database.db.insertInto('crmLinks').values({
      accountId: stack.accountId, customerId: unlinked, provider: 'hubspot', companyId: '999999', contactId: null, dealIds: '{}', matchMethod: 'external-id',
      productIds: [], stripeStateAt: null, lastSyncedAt: null,
    }).execute();
    const progress = await run('full', 'repair');
    const found = await discrepancies(progress.runId!, `&customerId=${unlinked}`);
    expect(found.map((x) => `${x.kind}:${x.status}`)).toEqual(['missing-record:repair-requested']);
    // Its unlinked review is no longer what the run finds: settled by the run, not left open for nobody.
    const settled = (await reviews(`kind=unlinked&customerId=${unlinked}`))[0]!;
    expect(settled).toMatchObject({ status: 'resolved', resolution: { action: 'cleared', runId: progress.runId } });
    expect(progress.counts.reviews).toMatchObject({ closed: 1, alreadyOpen: 3 });
    await eventually(async () => expect((await company(unlinked)).properties.stripe_subscription_status).toBe('none'), 30_000);
    const after = await run('full', 'report');
    expect((await discrepancies(after.runId!)).map((x) => x.kind).sort()).toEqual(['duplicate-domain', 'orphan', 'orphan']);
  });

  it('creates the schedules idempotently; pause, resume and trigger-now work through the API', async () => {
    const options = { accountId: stack.accountId, taskQueue: stack.taskQueue };
    const config = { ...stack.config, reconciliation: { ...stack.config.reconciliation, timezone: 'Europe/Paris' } };
    expect(await ensureReconciliationSchedules(stack.client, config, options)).toHaveLength(3);
    await ensureReconciliationSchedules(stack.client, config, options);
    type Schedules = { data: Array<{ kind: string; paused: boolean; nextActionTimes: string[] }> };
    expect((await get<Schedules>('/reconciliations/schedules')).body.data.map((s) => [s.kind, s.paused])).toEqual([['incremental', false], ['full', false], ['duplicates', false]]);
    const described = await stack.client.schedule.getHandle(reconciliationScheduleId(stack.accountId, 'full')).describe();
    expect(described.spec.timezone).toBe('Europe/Paris');
    expect(described.spec.calendars?.[0]).toMatchObject({ dayOfWeek: [{ start: 'SUNDAY', end: 'SUNDAY', step: 1 }], hour: [{ start: 4, end: 4, step: 1 }] });

    expect((await post<{ paused: boolean }>('/reconciliations/schedules/full/pause')).body.paused).toBe(true);
    // A restart updates the schedule but keeps it paused.
    await ensureReconciliationSchedules(stack.client, config, options);
    expect((await get<Schedules>('/reconciliations/schedules')).body.data.find((s) => s.kind === 'full')!.paused).toBe(true);
    expect((await post<{ paused: boolean }>('/reconciliations/schedules/full/resume')).body.paused).toBe(false);
    expect((await post('/reconciliations/schedules/weekly/pause')).status).toBe(404);

    expect((await post('/reconciliations/schedules/duplicates/trigger')).status).toBe(202);
    const duplicatesRun = await eventually(async () => {
      const runs = await get<{ data: Array<{ id: string; status: string; workflowId: string }> }>('/reconciliations?kind=duplicates');
      expect(runs.body.data[0]?.status).toBe('completed');
      return runs.body.data[0]!;
    }, 30_000);
    expect(duplicatesRun.workflowId).toMatch(new RegExp(`^reconciliation-duplicates/${stack.accountId}`));
    expect((await discrepancies(duplicatesRun.id)).map((x) => `${x.kind}:${x.details.key}`)).toEqual(['duplicate-domain:ghost.example']);
  });
  it('creates the schedules once when several replicas start at the same time, and a changed configuration updates them', async () => {
    const options = { accountId: stack.accountId, taskQueue: stack.taskQueue };
    for (const kind of RECONCILIATION_KINDS) await stack.client.schedule.getHandle(reconciliationScheduleId(stack.accountId, kind)).delete().catch(() => undefined);
    const config = { ...stack.config, reconciliation: { ...stack.config.reconciliation, mode: 'repair' as const, timezone: 'America/New_York', daily: { hour: 2, minute: 30 } } };
    const results = await Promise.all([1, 2, 3].map(() => ensureReconciliationSchedules(stack.client, config, options)));
    expect(results).toEqual([1, 2, 3].map(() => RECONCILIATION_KINDS.map((kind) => reconciliationScheduleId(stack.accountId, kind))));
    const listed: string[] = [];
    for await (const schedule of stack.client.schedule.list()) if (schedule.scheduleId.endsWith(`/${stack.accountId}`)) listed.push(schedule.scheduleId);
    expect(listed.sort()).toEqual(RECONCILIATION_KINDS.map((kind) => reconciliationScheduleId(stack.accountId, kind)).sort());
    for (const kind of RECONCILIATION_KINDS) {
      const d = await stack.client.schedule.getHandle(reconciliationScheduleId(stack.accountId, kind)).describe();
      expect(d.spec.timezone).toBe('America/New_York');
      // Every run kind, the duplicate scan included, runs in the configured mode.
      expect(d.action.type === 'startWorkflow' && d.action.args).toEqual([{ kind, mode: 'repair', accountId: stack.accountId }]);
    }
    const daily = await stack.client.schedule.getHandle(reconciliationScheduleId(stack.accountId, 'incremental')).describe();
    expect(daily.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 2, end: 2, step: 1 }], minute: [{ start: 30, end: 30, step: 1 }] });

    // A new configuration, again from three replicas at once: the same three schedules, now at the new times.
    const changed = { ...config, reconciliation: { ...config.reconciliation, mode: 'report' as const, timezone: 'Asia/Tokyo', daily: { hour: 6, minute: 15 }, weekly: { day: 'MONDAY' as const, hour: 1, minute: 0 } } };
    await Promise.all([1, 2, 3].map(() => ensureReconciliationSchedules(stack.client, changed, options)));
    const updated = await stack.client.schedule.getHandle(reconciliationScheduleId(stack.accountId, 'incremental')).describe();
    expect(updated.spec.timezone).toBe('Asia/Tokyo');
    expect(updated.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 6, end: 6, step: 1 }], minute: [{ start: 15, end: 15, step: 1 }] });
    expect(updated.action.type === 'startWorkflow' && updated.action.args).toEqual([{ kind: 'incremental', mode: 'report', accountId: stack.accountId }]);
    const weekly = await stack.client.schedule.getHandle(reconciliationScheduleId(stack.accountId, 'full')).describe();
    expect(weekly.spec.calendars?.[0]).toMatchObject({ dayOfWeek: [{ start: 'MONDAY', end: 'MONDAY', step: 1 }], hour: [{ start: 1, end: 1, step: 1 }] });
    listed.length = 0;
    for await (const schedule of stack.client.schedule.list()) if (schedule.scheduleId.endsWith(`/${stack.accountId}`)) listed.push(schedule.scheduleId);
    expect(listed).toHaveLength(3);
  });

  it('resolving reviews acts through Temporal: link or leave out an unlinked customer, unlink an orphan, dismiss a duplicate group for good', async () => {
    // Two customers whose webhooks were missed: Vandelay, for which a person already made a company, and Kramerica.
    const vandelayCompany = await hubspot.crm.companies.basicApi.create({ properties: { name: 'Vandelay Industries', domain: 'vandelay.example' } });
    let vandelay = '';
    let kramerica = '';
    await withoutWebhooks(async () => {
      vandelay = (await stack.stripe.customers.create({ name: 'Vandelay Industries', email: 'art@vandelay.example' })).id;
      kramerica = (await stack.stripe.customers.create({ name: 'Kramerica', email: 'k@kramerica.example' })).id;
    });
    const first = await run('full', 'repair');
    expect(first.counts.reviews).toMatchObject({ queued: 2 });
    const vandelayReview = (await reviews(`kind=unlinked&status=open&customerId=${vandelay}`))[0]!;
    // The candidates are what the customer workflow's matcher would weigh: the company at its domain, with its score.
    expect(vandelayReview.candidates).toEqual([expect.objectContaining({ recordId: vandelayCompany.id, method: 'domain-name', score: 1 })]);
    const kramericaReview = (await reviews(`kind=unlinked&status=open&customerId=${kramerica}`))[0]!;
    expect(kramericaReview.candidates).toEqual([]);

    // What a kind cannot do is refused, with the actions it can.
    expect((await post<{ error: { code: string; message: string } }>(`/reviews/${vandelayReview.id}/resolve`, { action: 'keep', recordId: 'x' })).body.error)
      .toEqual({ code: 'invalid_resolution', message: 'a unlinked review is resolved with action link, create, ignore' });
    // Link: the customer's workflow (started now: it had none) claims the company and writes everything to it.
    expect((await post<Review>(`/reviews/${vandelayReview.id}/resolve`, { action: 'link', recordId: vandelayCompany.id })).body).toMatchObject({ status: 'resolved', resolution: { action: 'link', recordId: vandelayCompany.id } });
    expect((await post(`/reviews/${vandelayReview.id}/resolve`, { action: 'ignore' })).status).toBe(409);
    // Ignore: the customer stays out of the CRM, now and after its next event.
    expect((await post<Review>(`/reviews/${kramericaReview.id}/resolve`, { action: 'ignore' })).status).toBe(200);
    await eventually(async () => {
      expect((await company(vandelay)).id).toBe(vandelayCompany.id);
      expect((await company(vandelay)).properties.stripe_subscription_status).toBe('none');
      const kramericaSync = await get<{ state: string; identity: { method: string } }>(`/customers/${stack.accountId}/${kramerica}/sync`);
      expect(kramericaSync.body).toMatchObject({ state: 'unlinked', identity: { method: 'unlinked' } });
    }, 30_000);
    expect((await stack.database.db.selectFrom('linkAudit').select(['toRecordId', 'reason']).where('customerId', '=', vandelay).execute())).toEqual([{ toRecordId: vandelayCompany.id, reason: 'link' }]);

    // Orphans: ghost 0's record is released (its Stripe id cleared, the company and its history stay); ghost 1 is test data, dismissed.
    const orphanReview = async (ghost: string) => (await reviews(`kind=orphan&status=open&customerId=${ghost}`))[0]!;
    const [orphan0, orphan1] = [await orphanReview(ghosts[0]!), await orphanReview(ghosts[1]!)];
    expect((await post<{ error: { message: string } }>(`/reviews/${orphan0.id}/resolve`, { action: 'link' })).body.error.message).toMatch(/needs customerId/);
    expect((await post(`/reviews/${orphan1.id}/resolve`, { action: 'ignore', note: 'test data' })).status).toBe(200);
    // The ghost.example group: two different companies, not duplicates.
    const group = (await reviews('kind=duplicate-merge&status=open'))[0]!;
    expect((await post<{ error: { message: string } }>(`/reviews/${group.id}/resolve`, { action: 'keep', recordId: ghostRecords[0] })).body.error.message).toMatch(/keep applies to records sharing one Stripe id/);
    expect((await post(`/reviews/${group.id}/resolve`, { action: 'ignore' })).status).toBe(200);

    // The next run: dismissed findings are reported as ignored and not queued again; Vandelay and Kramerica are settled.
    const second = await run('full', 'repair');
    expect(second.counts.reviews).toEqual({ queued: 0, alreadyOpen: 1, ignored: 3, closed: 0 });
    expect((await discrepancies(second.runId!)).map((d) => `${d.kind}:${d.customerId ?? d.details.key}:${d.status}`).sort()).toEqual([
      'duplicate-domain:ghost.example:ignored', `orphan:${ghosts[0]}:needs-review`, `orphan:${ghosts[1]}:ignored`, `unlinked:${kramerica}:ignored`,
    ].sort());
    expect(await reviews('source=reconciliation&status=open')).toEqual([expect.objectContaining({ id: orphan0.id })]);

    expect((await post<Review>(`/reviews/${orphan0.id}/resolve`, { action: 'unlink' })).body.resolution).toEqual({ action: 'unlink' });
    await eventually(async () => {
      const record = await hubspot.crm.companies.basicApi.getById(ghostRecords[0]!, ['stripe_customer_id', 'name']);
      expect(record.properties.name).toBe('Ghost 1');
      expect(record.properties.stripe_customer_id || null).toBeNull();
    }, 30_000);
    const third = await run('full', 'repair');
    expect((await discrepancies(third.runId!)).map((d) => `${d.kind}:${d.customerId}:${d.status}`).sort()).toEqual([`orphan:${ghosts[1]}:ignored`, `unlinked:${kramerica}:ignored`].sort());
    expect(await reviews('source=reconciliation&status=open')).toEqual([]);

  });
});
