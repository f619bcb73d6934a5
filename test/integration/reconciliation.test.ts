import { randomBytes } from 'node:crypto';
import type { Client as HubSpotClient } from '@hubspot/api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconciliationScheduleId, RECONCILIATION_KINDS } from '../../domain/reconciliation-ids.js';
import { hubspotClientFor } from '../../sandboxes/hubspot/index.js';
import { ensureReconciliationSchedules } from '../../workers/reconciliation-schedules.js';
import type { ReconciliationInput, ReconciliationProgress } from '../../workflows/reconciliation.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

interface Discrepancy { kind: string; status: string; customerId: string | null; crmRecordId: string | null; fields: Record<string, { expected: string | null; actual: string | null }>; details: Record<string, unknown> }

describe('reconciliation: finds drift between Stripe and HubSpot, reports it and repairs it', () => {
  let stack: TestStack;
  let hubspot: HubSpotClient;
  const customers: string[] = [];
  const subscriptions: string[] = [];
  let unlinked = '';
  const ghosts: string[] = [];

  const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${stack.api.url}${path}`);
    return { status: res.status, body: (await res.json()) as T };
  };
  const post = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${stack.api.url}${path}`, { method: 'POST' });
    return { status: res.status, body: (await res.json()) as T };
  };
  const company = (customerId: string) =>
    hubspot.crm.companies.basicApi.getById(customerId, ['stripe_mrr', 'stripe_plan_name', 'stripe_subscription_status', 'stripe_ltv'], undefined, undefined, false, 'stripe_customer_id');
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
    for (const name of ['Acme', 'Globex', 'Initech', 'Umbrella']) {
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
    await eventually(async () => {
      const pending = await stack.database.db.selectFrom('stripeEvents').select('eventId').where('accountId', '=', stack.accountId)
        .where('disposition', '=', 'routed').where('processedAt', 'is', null).execute();
      expect(pending).toEqual([]);
    }, 60_000);
  });
  afterAll(async () => {
    for (const kind of RECONCILIATION_KINDS) await stack?.client.schedule.getHandle(reconciliationScheduleId(stack.accountId, kind)).delete().catch(() => undefined);
    await stack?.close();
  });

  it('a clean CRM gives a run with no discrepancies and matching totals', async () => {
    const progress = await run('full', 'report');
    expect(await discrepancies(progress.runId!)).toEqual([]);
    expect(progress.totals.stripe).toEqual({ customers: 4, mrr: { USD: 198 } });
    expect(progress.totals.crm).toEqual({ customers: 4, mrr: { USD: 198 } });
    expect(progress.counts).toMatchObject({ stripeCustomers: 4, stripeSubscriptions: 4, compared: 4, suspects: 0 });
  });

  it('reports every injected drift, orphan, unlinked customer and duplicate, and nothing else', async () => {
    const [a, b, c] = customers as [string, string, string, string];
    // CRM-side edit on A; a missed webhook on B (seat change in Stripe); C's company deleted in the CRM.
    const recordA = await company(a);
    await hubspot.crm.companies.basicApi.update(recordA.id, { properties: { stripe_mrr: '1', stripe_plan_name: 'Legacy' } });
    await withoutWebhooks(async () => {
      const sub = await stack.stripe.subscriptions.retrieve(subscriptions[1]!);
      await stack.stripe.subscriptions.update(sub.id, { items: [{ id: sub.items.data[0]!.id, quantity: 3 }], proration_behavior: 'none' });
      unlinked = (await stack.stripe.customers.create({ name: 'Hooli', email: 'gavin@hooli.example' })).id;
    });
    await hubspot.crm.companies.basicApi.archive((await company(c)).id);
    // Two CRM records naming Stripe customers that never existed, sharing a domain.
    for (const n of [1, 2]) {
      const id = `cus_ghost${randomBytes(4).toString('hex')}`;
      ghosts.push(id);
      await hubspot.crm.companies.basicApi.create({ properties: { name: `Ghost ${n}`, domain: 'ghost.example', stripe_customer_id: id, stripe_mrr: '10', stripe_currency: 'USD' } });
    }

    const progress = await run('full', 'report');
    const found = await discrepancies(progress.runId!);
    const summary = found.map((d) => `${d.kind}:${d.customerId ?? d.details.key}:${d.status}`).sort();
    expect(summary).toEqual([
      `drift:${a}:open`, `drift:${b}:open`, 'duplicate-domain:ghost.example:needs-review', `missing-record:${c}:open`,
      `orphan:${ghosts[0]}:needs-review`, `orphan:${ghosts[1]}:needs-review`, `unlinked:${unlinked}:needs-review`,
    ].sort());
    const driftA = found.find((d) => d.kind === 'drift' && d.customerId === a)!;
    expect(driftA.fields).toEqual({ mrr: { expected: '49.5', actual: '1' }, plan_name: { expected: 'Pro', actual: 'Legacy' } });
    expect(found.find((d) => d.kind === 'drift' && d.customerId === b)!.fields.mrr).toEqual({ expected: '148.5', actual: '49.5' });
    expect(progress.totals.stripe).toEqual({ customers: 5, mrr: { USD: 297 } });
    expect(progress.totals.crm).toEqual({ customers: 5, mrr: { USD: 49.5 + 1 + 49.5 + 20 } });

    // The API: runs listed, discrepancies filterable, bad filters refused.
    const runs = await get<{ data: Array<{ id: string; kind: string; status: string; summary: { discrepancies: Record<string, Record<string, number>> } }> }>('/reconciliations?kind=full');
    expect(runs.body.data[0]).toMatchObject({ id: progress.runId, kind: 'full', status: 'completed', summary: { discrepancies: { drift: { open: 2 }, orphan: { 'needs-review': 2 } } } });
    expect((await discrepancies(progress.runId!, '&kind=drift')).map((d) => d.customerId).sort()).toEqual([a, b].sort());
    expect((await discrepancies(progress.runId!, '&field=plan_name')).map((d) => d.customerId)).toEqual([a]);
    expect((await discrepancies(progress.runId!, `&customerId=${unlinked}`)).map((d) => d.kind)).toEqual(['unlinked']);
    expect((await get<{ error: { code: string } }>(`/reconciliations/${progress.runId}?kind=nonsense`)).body.error.code).toBe('invalid_kind');
    expect((await get('/reconciliations/999999999')).status).toBe(404);
    const metrics = await get<{ latest: Record<string, { id: string }> }>('/reconciliations/metrics');
    expect(metrics.body.latest.full?.id).toBe(progress.runId);
  });

  it('repair mode resyncs drifted and missing customers through their workflows; the next run is clean of them', async () => {
    const [a, b, c] = customers as [string, string, string, string];
    const progress = await run('full', 'repair');
    expect(progress.counts.repairRequested).toBe(3);
    expect((await discrepancies(progress.runId!, '&status=repair-requested')).map((d) => d.customerId).sort()).toEqual([a, b, c].sort());
    await eventually(async () => {
      expect((await company(a)).properties).toMatchObject({ stripe_mrr: '49.5', stripe_plan_name: 'Pro' });
      expect((await company(b)).properties).toMatchObject({ stripe_mrr: '148.5' });
      expect((await company(c)).properties).toMatchObject({ stripe_mrr: '49.5' });
    }, 30_000);
    const after = await run('full', 'report');
    expect((await discrepancies(after.runId!)).map((d) => d.kind).sort()).toEqual(['duplicate-domain', 'orphan', 'orphan', 'unlinked']);
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
});
