import type { Client as HubSpotClient } from '@hubspot/api-client';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspotClientFor } from '../../sandboxes/hubspot/index.js';
import { customerWorkflowId } from '../../domain/workflow-ids.js';
import type { SyncStatus } from '../../workflows/customer-sync.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

const COMPARED = ['stripe_subscription_status', 'stripe_mrr', 'stripe_currency', 'stripe_plan_name', 'stripe_billing_interval', 'stripe_ltv',
  'stripe_last_payment_amount', 'stripe_failed_payment_count', 'stripe_delinquent', 'stripe_cancel_at_period_end', 'stripe_last_mrr_change',
  'stripe_last_mrr_change_kind', 'stripe_payment_method_status', 'stripe_discount'];

// Stripe's event times have one-second resolution: changes a second apart can be ordered from their
// payloads alone (closer ones are settled by reading Stripe, which is tested in the unit tests).
const nextSecond = () => new Promise((r) => setTimeout(r, 1050));

/** The same customer story each time: sign-up, upgrade, partial refund, scheduled cancellation, downgrade. */
async function story(stripe: Stripe, price: Stripe.Price, label: string): Promise<string> {
  const customer = await stripe.customers.create({ name: `Story ${label}`, email: `owner@story-${label}.example`, payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
  const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id, quantity: 2 }] });
  await nextSecond();
  await stripe.subscriptions.update(sub.id, { items: [{ id: sub.items.data[0]!.id, quantity: 5 }], proration_behavior: 'none' });
  const charge = (await stripe.charges.list({ customer: customer.id })).data[0]!;
  await stripe.refunds.create({ charge: charge.id, amount: 1000 });
  await nextSecond();
  await stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
  await nextSecond();
  await stripe.subscriptions.update(sub.id, { items: [{ id: sub.items.data[0]!.id, quantity: 3 }], proration_behavior: 'none' });
  await stripe.customers.update(customer.id, { metadata: { story: label } });
  return customer.id;
}

async function crmView(hubspot: HubSpotClient, customerId: string) {
  const company = await hubspot.crm.companies.basicApi.getById(customerId, COMPARED, undefined, ['deals', 'contacts'], false, 'stripe_customer_id');
  const notes = await hubspot.crm.objects.notes.searchApi.doSearch({
    filterGroups: [{ filters: [{ propertyName: 'associations.company', operator: 'EQ' as never, value: company.id }] }],
    properties: ['stripe_activity_key'], limit: 100, sorts: [], after: '0',
  } as never);
  const kinds = notes.results.map((n) => String(n.properties.stripe_activity_key).split(':')[0]).sort();
  return {
    properties: Object.fromEntries(COMPARED.map((p) => [p, company.properties[p] ?? null])),
    deals: new Set((company.associations?.deals?.results ?? []).map((d) => d.id)).size,
    contacts: new Set((company.associations?.contacts?.results ?? []).map((c) => c.id)).size,
    timeline: kinds,
  };
}

async function settled(stack: TestStack, customerId: string): Promise<void> {
  await stack.sandboxes.stripe.sandbox.webhooks.whenIdle();
  await eventually(async () => {
    const status = await stack.client.workflow.getHandle(customerWorkflowId(stack.accountId, customerId)).query<SyncStatus>('syncStatus');
    expect(status).toMatchObject({ state: 'synced', pendingEvents: 0, pendingTimeline: 0 });
    const unprocessed = await stack.database.db.selectFrom('stripeEvents').select('eventId')
      .where('customerId', '=', customerId).where('disposition', '=', 'routed').where('processedAt', 'is', null).execute();
    expect(unprocessed).toEqual([]);
  }, 45_000);
}

describe('real-time sync under Stripe\'s delivery model and CRM faults', () => {
  let stack: TestStack;
  let hubspot: HubSpotClient;
  let price: Stripe.Price;
  beforeAll(async () => {
    stack = await startTestStack({
      provider: 'hubspot',
      // No grace on shutdown: a restart abandons in-flight activities, as a crash would.
      env: { WORKER_SHUTDOWN_GRACE_SECONDS: '0' },
      // A short HubSpot window, so a 429's stated delay is two seconds rather than ten.
      sandboxOptions: { hubspot: { rateLimit: { max: 1000, windowMs: 2000 } }, stripe: { webhooks: { retry: { initialDelayMs: 200, multiplier: 2 } } } },
    });
    hubspot = hubspotClientFor(stack.sandboxes.hubspot.url, 'reader');
    price = await stack.stripe.prices.create({ currency: 'usd', unit_amount: 4950, recurring: { interval: 'month' }, product_data: { name: 'Pro' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('ends in the same CRM state whether events arrive in order, shuffled, or shuffled with duplicates', async () => {
    const webhooks = stack.sandboxes.stripe.sandbox.webhooks;
    const views = [];
    for (const [label, settings] of [
      ['ordered', { shuffle: false, duplicateRate: 0, concurrency: 1 }],
      ['shuffled', { shuffle: true, shuffleWindowMs: 300, duplicateRate: 0, concurrency: 4 }],
      ['duplicated', { shuffle: true, shuffleWindowMs: 300, duplicateRate: 0.5, concurrency: 4 }],
    ] as const) {
      webhooks.updateSettings(settings);
      const customerId = await story(stack.stripe, price, label);
      await settled(stack, customerId);
      views.push({ label, view: await crmView(hubspot, customerId) });
    }
    const [ordered, ...others] = views;
    expect(ordered!.view.properties).toMatchObject({ stripe_mrr: '148.5', stripe_subscription_status: 'active', stripe_cancel_at_period_end: 'true', stripe_ltv: '89', stripe_last_mrr_change: '-99', stripe_last_mrr_change_kind: 'contraction' });
    expect(ordered!.view).toMatchObject({ deals: 1, contacts: 1, timeline: ['invoice_paid', 'refund'] });
    for (const other of others) expect({ label: other.label, ...other.view }).toEqual({ label: other.label, ...ordered!.view });
    const redelivered = await stack.database.db.selectFrom('stripeEvents').select('eventId').where('deliveries', '>', 1).execute();
    expect(redelivered.length).toBeGreaterThan(0);
  }, 120_000);

  it('finishes a sync interrupted by a worker restart, without duplicate records or activities', async () => {
    stack.sandboxes.stripe.sandbox.webhooks.updateSettings({ shuffle: false, duplicateRate: 0, concurrency: 1 });
    // Slow CRM writes, so the restart lands while activities are in flight.
    const { ids } = await (await fetch(`${stack.sandboxes.hubspot.url}/__sandbox/faults`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ method: 'POST', path: '^/crm/v3/objects/', latencyMs: 1500 }),
    })).json() as { ids: number[] };
    const customerId = await story(stack.stripe, price, 'restart');
    const handle = stack.client.workflow.getHandle(customerWorkflowId(stack.accountId, customerId));
    // Restart while a CRM activity is running (started, not completed).
    await eventually(async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      // State 2 is PENDING_ACTIVITY_STATE_STARTED: a worker holds the task right now.
      expect(pending.some((a) => a.state === 2)).toBe(true);
    }, 15_000, 50);
    await stack.restartWorkers();
    await fetch(`${stack.sandboxes.hubspot.url}/__sandbox/faults`, { method: 'DELETE' });
    expect(ids.length).toBe(1);
    await settled(stack, customerId);
    const view = await crmView(hubspot, customerId);
    expect(view).toMatchObject({ deals: 1, contacts: 1, timeline: ['invoice_paid', 'refund'] });
    expect(view.properties).toMatchObject({ stripe_mrr: '148.5', stripe_ltv: '89' });
    // The abandoned attempt was retried on the new workers.
    const history = (await handle.fetchHistory()).events ?? [];
    expect(history.some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1)).toBe(true);
    const companies = await hubspot.crm.companies.searchApi.doSearch({ filterGroups: [{ filters: [{ propertyName: 'stripe_customer_id', operator: 'EQ' as never, value: customerId }] }], properties: ['name'], limit: 10, sorts: [], after: '0' } as never);
    expect(companies.total).toBe(1);
  }, 120_000);

  it('ends correct when the CRM answers 429 and 5xx for a while', async () => {
    await fetch(`${stack.sandboxes.hubspot.url}/__sandbox/faults`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rules: [{ path: '^/crm/v3/objects/', rate429: 1, times: 2 }, { path: '^/crm/v3/objects/', rate5xx: 1, times: 2, status5xx: 502 }] }),
    });
    const customerId = await story(stack.stripe, price, 'faults');
    await settled(stack, customerId);
    const faults = await (await fetch(`${stack.sandboxes.hubspot.url}/__sandbox/faults`)).json() as { injected: Record<string, number> };
    expect(faults.injected).toMatchObject({ '429': 2, '5xx': 2 });
    await fetch(`${stack.sandboxes.hubspot.url}/__sandbox/faults`, { method: 'DELETE' });
    const view = await crmView(hubspot, customerId);
    expect(view).toMatchObject({ deals: 1, contacts: 1, timeline: ['invoice_paid', 'refund'] });
    expect(view.properties).toMatchObject({ stripe_mrr: '148.5', stripe_ltv: '89' });
    const deadLetters = await stack.database.db.selectFrom('deadLetters').selectAll().where('customerId', '=', customerId).execute();
    expect(deadLetters).toEqual([]);
  }, 120_000);
});
