import { randomBytes } from 'node:crypto';
import type { Client as HubSpotClient } from '@hubspot/api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerWorkflowId } from '../../domain/workflow-ids.js';
import { hubspotClientFor } from '../../sandboxes/hubspot/index.js';
import type { SyncStatus } from '../../workflows/customer-sync.js';
import type { ReconciliationInput, ReconciliationProgress } from '../../workflows/reconciliation.js';
import { eventsSettled, startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

interface Discrepancy { kind: string; customerId: string | null; crmRecordId: string | null; fields: Record<string, { expected: string | null; actual: string | null }> | null }

// A record two Stripe customers share shows their roll-up: reconciliation must compare it with the
// roll-up of both customers' fresh state, not report each customer's own numbers as drift.
describe('reconciliation of a roll-up record', () => {
  let stack: TestStack;
  let hubspot: HubSpotClient;
  let recordId = '';

  const api = async <T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${stack.api.url}${path}`, { ...init, headers: { 'content-type': 'application/json' } });
    return { status: res.status, body: (await res.json()) as T };
  };
  const run = (mode: ReconciliationInput['mode']) =>
    stack.client.workflow.execute<(input: ReconciliationInput) => Promise<ReconciliationProgress>>('reconciliationWorkflow', {
      taskQueue: stack.taskQueue, workflowId: `reconciliation-full/${stack.accountId}/rollup-${randomBytes(3).toString('hex')}`,
      args: [{ kind: 'full', mode, accountId: stack.accountId }],
    });
  const discrepancies = async (runId: string) => (await api<{ discrepancies: { data: Discrepancy[] } }>(`/reconciliations/${runId}?limit=100`)).body.discrepancies.data;
  const mrr = async () => (await hubspot.crm.companies.basicApi.getById(recordId, ['stripe_mrr'])).properties.stripe_mrr;

  beforeAll(async () => {
    stack = await startTestStack({ provider: 'hubspot' });
    hubspot = hubspotClientFor(stack.sandboxes.hubspot.url, 'reader-token');
    const paying = async (unitAmount: number) => {
      const customer = await stack.stripe.customers.create({ name: 'Wayne Enterprises', email: 'lucius@wayne-rollup.example', payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
      const price = await stack.stripe.prices.create({ currency: 'usd', unit_amount: unitAmount, recurring: { interval: 'month' }, product_data: { name: 'Gotham' } });
      await stack.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
      return customer.id;
    };
    const first = await paying(10_000);
    recordId = await eventually(async () => {
      const status = await stack.client.workflow.getHandle(customerWorkflowId(stack.accountId, first)).query<SyncStatus>('syncStatus');
      expect(status.state).toBe('synced');
      return status.links.accountId!;
    });
    const second = await paying(2_500);
    const review = await eventually(async () => {
      const { body } = await api<{ data: Array<{ id: string }> }>(`/reviews?status=open&customerId=${second}`);
      expect(body.data).toHaveLength(1);
      return body.data[0]!;
    });
    await api(`/reviews/${review.id}/resolve`, { method: 'POST', body: JSON.stringify({ action: 'link', recordId }) });
    await eventually(async () => expect(await mrr()).toBe('125'));
    await eventsSettled(stack);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('finds nothing wrong with a correct roll-up, and the totals agree', async () => {
    const progress = await run('report');
    expect(await discrepancies(progress.runId!)).toEqual([]);
    expect(progress.totals.stripe.mrr).toEqual({ USD: 125 });
    expect(progress.totals.crm?.mrr).toEqual({ USD: 125 });
  });

  it('reports a hand-edited roll-up once, against the sum of both customers, and repair restores the sum', async () => {
    await hubspot.crm.companies.basicApi.update(recordId, { properties: { stripe_mrr: '100' } });
    const reported = await run('report');
    const found = await discrepancies(reported.runId!);
    expect(found).toEqual([expect.objectContaining({ kind: 'drift', crmRecordId: recordId, fields: { mrr: expect.objectContaining({ expected: '125', actual: '100' }) } })]);
    await run('repair');
    await eventually(async () => expect(await mrr()).toBe('125'));
  });
  it('a backfill attaches to the roll-up record instead of writing one customer\'s numbers over it or creating another', async () => {
    const started = await api<{ id: string }>('/backfills', { method: 'POST', body: JSON.stringify({ objects: ['customers'] }) });
    expect(started.status).toBe(202);
    const done = await eventually(async () => {
      const { body } = await api<{ status: string; counts: Record<string, number> }>(`/backfills/${started.body.id}`);
      expect(body.status).toBe('completed');
      return body;
    }, 90_000, 250);
    const matched = await api<{ data: Array<{ objectType: string; reason: string | null; crmRecordId: string | null }> }>(`/backfills/${started.body.id}/records?outcome=matched`);
    const accounts = matched.body.data.filter((r) => r.reason?.includes('roll-up'));
    expect(accounts).toHaveLength(2);
    for (const r of accounts) expect(r.crmRecordId).toBe(recordId);
    expect(done.status).toBe('completed');
    expect(await mrr()).toBe('125');
    const companies = await fetch(`${stack.sandboxes.hubspot.url}/__sandbox/objects/companies`).then(async (res) => ((await res.json()) as { results: Array<{ archived?: boolean }> }).results.filter((c) => !c.archived));
    expect(companies).toHaveLength(1);
  });
});
