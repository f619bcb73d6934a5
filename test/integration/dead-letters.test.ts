import type { Client as HubSpotClient } from '@hubspot/api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerWorkflowId } from '../../domain/workflow-ids.js';
import { hubspotClientFor } from '../../sandboxes/hubspot/index.js';
import type { SyncStatus } from '../../workflows/customer-sync.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

interface DeadLetterBody { id: string; status: string; errorType: string; reason: string; customerId: string; workflowId: string; eventIds: string[]; retryCount: number }

describe('permanent CRM failures become dead letters that an operator can see and retry', () => {
  let stack: TestStack;
  let hubspot: HubSpotClient;
  beforeAll(async () => {
    stack = await startTestStack({ provider: 'hubspot' });
    hubspot = hubspotClientFor(stack.sandboxes.hubspot.url, 'admin');
  });
  afterAll(async () => {
    await stack?.close();
  });
  const api = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${stack.api.url}${path}`, init);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('records the failure with its reason, keeps the workflow serving, and succeeds on retry once the CRM is fixed', async () => {
    // Someone deletes a property the sync writes: every company write is now invalid.
    await hubspot.crm.properties.coreApi.archive('companies', 'stripe_plan_name');
    const price = await stack.stripe.prices.create({ currency: 'usd', unit_amount: 2000, recurring: { interval: 'month' }, product_data: { name: 'Basic' } });
    const customer = await stack.stripe.customers.create({ name: 'Initech', email: 'bill@initech.example' });
    await stack.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }], trial_period_days: 7 });
    const handle = stack.client.workflow.getHandle(customerWorkflowId(stack.accountId, customer.id));

    const letter = await eventually(async () => {
      const { body } = await api(`/dead-letters?status=open&customerId=${customer.id}`);
      const data = body.data as DeadLetterBody[];
      expect(data.length).toBeGreaterThanOrEqual(1);
      return data[0]!;
    });
    expect(letter).toMatchObject({ status: 'open', errorType: 'CrmValidationError', customerId: customer.id, workflowId: handle.workflowId });
    expect(letter.reason).toMatch(/stripe_plan_name/);
    expect(letter.eventIds.length).toBeGreaterThan(0);
    const shown = await api(`/dead-letters/${letter.id}`);
    expect(shown.body).toMatchObject({ id: letter.id, payload: { attempted: [{ operation: 'crmSyncRound', input: { customerId: customer.id, account: { fields: { plan_name: 'Basic' } } } }] } });

    const status = await handle.query<SyncStatus>('syncStatus');
    expect(status).toMatchObject({ state: 'dead-lettered', lastError: { type: 'CrmValidationError', deadLetterId: letter.id } });
    // Visible in the Temporal UI's search too.
    await eventually(async () => {
      const found = [];
      for await (const wf of stack.client.workflow.list({ query: `SyncState = "dead-lettered" AND StripeCustomerId = "${customer.id}"` })) found.push(wf.workflowId);
      expect(found).toEqual([handle.workflowId]);
    });

    // The workflow still accepts events while dead-lettered.
    await stack.stripe.customers.update(customer.id, { metadata: { tier: 'gold' } });
    await eventually(async () => expect((await handle.query<SyncStatus>('syncStatus')).eventsApplied).toBeGreaterThan(status.eventsApplied));

    // Fix the CRM (re-provisioning recreates the property), then retry through the API.
    await stack.clients.crm.provision();
    const retried = await api(`/dead-letters/${letter.id}/retry`, { method: 'POST' });
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ status: 'retrying', retryCount: 1 });

    const company = await eventually(async () => {
      const c = await hubspot.crm.companies.basicApi.getById(customer.id, ['stripe_subscription_status', 'stripe_plan_name'], undefined, undefined, false, 'stripe_customer_id');
      expect(c.properties).toMatchObject({ stripe_subscription_status: 'trialing', stripe_plan_name: 'Basic' });
      return c;
    });
    expect(company.id).toBeTruthy();
    await eventually(async () => expect((await api(`/dead-letters/${letter.id}`)).body.status).toBe('resolved'));
    expect(await handle.query<SyncStatus>('syncStatus')).toMatchObject({ state: 'synced', lastError: null });
    expect((await api(`/dead-letters/${letter.id}/retry`, { method: 'POST' })).status).toBe(409);
  });

  it('answers unknown dead letters and bad filters with clear errors', async () => {
    expect(await api('/dead-letters/999999')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect(await api('/dead-letters?status=bogus')).toMatchObject({ status: 400, body: { error: { code: 'invalid_status' } } });
  });
});
