import type { Client as HubSpotClient } from '@hubspot/api-client';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SEARCH_ATTRIBUTES } from '../../domain/temporal-names.js';
import { customerWorkflowId } from '../../domain/workflow-ids.js';
import { hubspotClientFor } from '../../sandboxes/hubspot/index.js';
import { startLocalStack } from '../../scripts/local-stack.js';
import type { SyncStatus } from '../../workflows/customer-sync.js';
import { startDevServerWithDynamicConfig } from '../support/dev-server.js';
import { workflowBundle } from '../support/harness.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

const PROPS = ['name', 'stripe_customer_id', 'stripe_subscription_status', 'stripe_mrr', 'stripe_plan_name', 'stripe_trial_end_date', 'stripe_next_renewal_date',
  'stripe_payment_method_status', 'stripe_discount', 'stripe_ltv', 'stripe_last_mrr_change', 'stripe_last_mrr_change_kind', 'stripe_cancel_at_period_end', 'stripe_synced_at'];
const DEAL_PROPS = ['dealname', 'dealstage', 'amount', 'stripe_subscription_id', 'stripe_subscription_status'];

/** The Stripe fields as a CRM user reads them, without the sync timestamp and HubSpot's own bookkeeping. */
const stripeFields = (properties: Record<string, string | null>) =>
  Object.fromEntries(PROPS.filter((p) => p !== 'stripe_synced_at').map((p) => [p, properties[p] ?? null]));

/** HubSpot clears a property by storing an empty string; the client may hand it back as '' or null. */
const blank = (value: string | null | undefined) => value === '' || value === null || value === undefined;

// Stripe's event times have one-second resolution: changes of one object a second apart are ordered
// from their payloads, closer ones by a read from Stripe. Spacing them keeps each step one plain round.
const nextSecond = () => new Promise((r) => setTimeout(r, 1050));

/** Reads what a CRM user sees: the company by its Stripe id, its associated deals and contacts. */
function crmReader(hubspot: HubSpotClient) {
  const company = (customerId: string) => hubspot.crm.companies.basicApi.getById(customerId, PROPS, undefined, ['contacts', 'deals'], false, 'stripe_customer_id');
  const deals = async (customerId: string) => {
    const record = await company(customerId);
    // HubSpot lists an association once per type (primary and unlabeled), so count distinct records.
    const ids = [...new Set((record.associations?.deals?.results ?? []).map((a) => a.id))];
    return Promise.all(ids.map(async (id) => (await hubspot.crm.deals.basicApi.getById(id, DEAL_PROPS)).properties));
  };
  return { company, deals };
}

async function signedRedelivery(stack: TestStack, event: Stripe.Event): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = JSON.stringify(event);
  const secret = stack.appDeps.stripe.secrets[0]!.secret;
  const res = await fetch(`${stack.api.url}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': stack.stripe.webhooks.generateTestHeaderString({ payload, secret }) },
    body: payload,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('real-time sync to HubSpot: discounts, trials, payment methods, disputes, deletions, plans and the operator surface', () => {
  let stack: TestStack;
  let hubspot: HubSpotClient;
  let crm: ReturnType<typeof crmReader>;
  beforeAll(async () => {
    stack = await startTestStack({ provider: 'hubspot' });
    hubspot = hubspotClientFor(stack.sandboxes.hubspot.url, 'reader-token');
    crm = crmReader(hubspot);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const handle = (customerId: string) => stack.client.workflow.getHandle(customerWorkflowId(stack.accountId, customerId));
  const api = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${stack.api.url}${path}`, init);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  /** Every event delivered and written: the workflow is synced with nothing pending. */
  const settled = async (customerId: string) => {
    await stack.sandboxes.stripe.sandbox.webhooks.whenIdle();
    return eventually(async () => {
      const status = await handle(customerId).query<SyncStatus>('syncStatus');
      expect(status).toMatchObject({ state: 'synced', pendingEvents: 0, pendingTimeline: 0 });
      return status;
    }, 30_000);
  };
  const price = (name: string, cents: number, extra: Partial<Stripe.PriceCreateParams> = {}) =>
    stack.stripe.prices.create({ currency: 'usd', unit_amount: cents, recurring: { interval: 'month' }, product_data: { name }, ...extra });
  const customer = (label: string, extra: Partial<Stripe.CustomerCreateParams> = {}) =>
    stack.stripe.customers.create({
      name: `${label} Ltd`, email: `billing@${label.toLowerCase()}.example`,
      payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' }, ...extra,
    });

  it('applies a 20% forever coupon on the subscription to MRR and describes it, and restores MRR when an update removes it', async () => {
    const coupon = await stack.stripe.coupons.create({ percent_off: 20, duration: 'forever', name: 'Launch 20%' });
    const team = await price('Team', 5000);
    const { id: customerId } = await customer('Subdiscountco');
    const sub = await stack.stripe.subscriptions.create({ customer: customerId, items: [{ price: team.id }], discounts: [{ coupon: coupon.id }] });
    await eventually(async () => {
      expect((await crm.company(customerId)).properties).toMatchObject({ stripe_subscription_status: 'active', stripe_mrr: '40', stripe_discount: '20% off (forever)' });
      // The deal's amount is the discounted MRR too (deals are written beside the company, so read both until both show it).
      expect(await crm.deals(customerId)).toEqual([expect.objectContaining({ amount: '40', dealstage: 'closedwon' })]);
    }, 10_000);

    await nextSecond();
    await stack.stripe.subscriptions.update(sub.id, { discounts: '' });
    await eventually(async () => {
      const p = (await crm.company(customerId)).properties;
      expect(p).toMatchObject({ stripe_mrr: '50', stripe_last_mrr_change: '10', stripe_last_mrr_change_kind: 'expansion' });
      expect(blank(p.stripe_discount)).toBe(true);
      expect(await crm.deals(customerId)).toEqual([expect.objectContaining({ amount: '50' })]);
    }, 10_000);
  });

  it('applies a 20% forever coupon on the customer to MRR, and restores MRR on customer.discount.deleted', async () => {
    const coupon = await stack.stripe.coupons.create({ percent_off: 20, duration: 'forever', name: 'Friends 20%' });
    const team = await price('Team', 5000);
    const { id: customerId } = await customer('Custdiscountco');
    await stack.stripe.subscriptions.create({ customer: customerId, items: [{ price: team.id }] });
    await eventually(async () => expect((await crm.company(customerId)).properties).toMatchObject({ stripe_subscription_status: 'active', stripe_mrr: '50' }));

    // The legacy `coupon` parameter, which Stripe still honours for integrations pinned to older versions.
    await nextSecond();
    await stack.stripe.customers.update(customerId, { coupon: coupon.id } as Stripe.CustomerUpdateParams);
    await eventually(async () => expect((await crm.company(customerId)).properties).toMatchObject({ stripe_mrr: '40', stripe_discount: '20% off (forever)' }), 10_000);

    await nextSecond();
    await stack.stripe.customers.deleteDiscount(customerId);
    await eventually(async () => {
      const p = (await crm.company(customerId)).properties;
      expect(p.stripe_mrr).toBe('50');
      expect(blank(p.stripe_discount)).toBe(true);
    }, 10_000);
  });

  it('shows a trial as trialing with no MRR and an open deal, then active and paying once the trial ends on the test clock (the stage stays the sales team\'s)', async () => {
    const starter = await price('Starter', 3000);
    const clock = await stack.stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000) });
    const { id: customerId } = await customer('Trialco', { test_clock: clock.id });
    const sub = await stack.stripe.subscriptions.create({ customer: customerId, items: [{ price: starter.id }], trial_period_days: 14 });
    const trialEnd = new Date(sub.trial_end! * 1000).toISOString().slice(0, 10);
    await eventually(async () => {
      const p = (await crm.company(customerId)).properties;
      expect(p).toMatchObject({ stripe_subscription_status: 'trialing', stripe_mrr: '0', stripe_plan_name: 'Starter', stripe_trial_end_date: trialEnd, stripe_next_renewal_date: trialEnd });
      expect(await crm.deals(customerId)).toEqual([expect.objectContaining({ dealstage: 'qualifiedtobuy', stripe_subscription_status: 'trialing', stripe_subscription_id: sub.id })]);
    });

    await stack.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: sub.trial_end! + 2 * 3600 });
    await eventually(async () => {
      const p = (await crm.company(customerId)).properties;
      expect(p).toMatchObject({ stripe_subscription_status: 'active', stripe_mrr: '30', stripe_last_mrr_change_kind: 'new' });
      expect(blank(p.stripe_trial_end_date)).toBe(true);
      // The deal stage is CRM-owned by default (FIELD_OWNERSHIP): Stripe's "won" is logged, not written.
      expect(await crm.deals(customerId)).toEqual([expect.objectContaining({ dealstage: 'qualifiedtobuy', stripe_subscription_status: 'active', amount: '30' })]);
      const conflicts = await api(`/conflicts?customerId=${customerId}&field=deal_stage`);
      expect(conflicts.body.data).toEqual([expect.objectContaining({ stripeValue: 'closedwon', crmValue: 'qualifiedtobuy', winner: 'crm', rule: 'crm-owned' })]);
    }, 30_000);
  });

  it('shows the default payment method going missing when it is detached and valid again when a new one is set', async () => {
    const basic = await price('Basic', 1500);
    const created = await customer('Cardco');
    const customerId = created.id;
    await stack.stripe.subscriptions.create({ customer: customerId, items: [{ price: basic.id }] });
    await eventually(async () => expect((await crm.company(customerId)).properties).toMatchObject({ stripe_subscription_status: 'active', stripe_payment_method_status: 'valid' }));

    await nextSecond();
    const defaultMethod = (await stack.stripe.customers.retrieve(customerId) as Stripe.Customer).invoice_settings.default_payment_method;
    expect(typeof defaultMethod).toBe('string');
    await stack.stripe.paymentMethods.detach(defaultMethod as string);
    await eventually(async () => expect((await crm.company(customerId)).properties.stripe_payment_method_status).toBe('missing'));

    await nextSecond();
    const replacement = await stack.stripe.paymentMethods.attach('pm_card_mastercard', { customer: customerId });
    await stack.stripe.customers.update(customerId, { invoice_settings: { default_payment_method: replacement.id } });
    await eventually(async () => expect((await crm.company(customerId)).properties.stripe_payment_method_status).toBe('valid'));
  });

  it('puts a dispute on the company timeline as a task for someone to act on (routed through the charge\'s owner)', async () => {
    const pro = await price('Pro', 4950);
    const { id: customerId } = await customer('Disputeco');
    await stack.stripe.subscriptions.create({ customer: customerId, items: [{ price: pro.id }] });
    const record = await eventually(async () => {
      const r = await crm.company(customerId);
      expect(r.properties.stripe_ltv).toBe('49.5');
      return r;
    });
    const charge = (await stack.stripe.charges.list({ customer: customerId })).data[0]!;
    const res = await fetch(`${stack.sandboxes.stripe.url}/__sandbox/charges/${charge.id}/dispute`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'fraudulent' }),
    });
    expect(res.status).toBe(200);
    const { dispute } = await res.json() as { dispute: string };
    expect(dispute).toMatch(/^dp_/);

    const task = await eventually(() => hubspot.crm.objects.tasks.basicApi.getById(
      `dispute:${dispute}:opened`, ['hs_task_subject', 'hs_task_body', 'hs_task_status', 'stripe_activity_key'], undefined, ['companies'], false, 'stripe_activity_key',
    ));
    expect(task.properties).toMatchObject({ hs_task_status: 'NOT_STARTED', hs_task_subject: 'Dispute opened: USD 49.50 (fraudulent)' });
    expect(task.properties.hs_task_body).toContain(charge.id);
    expect(task.associations?.companies?.results.map((a) => a.id)).toContain(record.id);
    // The dispute's own event names only the charge: the audit shows it reached this customer's workflow.
    const audited = await stack.database.db.selectFrom('stripeEvents').select(['customerId', 'disposition'])
      .where('type', '=', 'charge.dispute.created').where('customerId', '=', customerId).execute();
    expect(audited).toEqual([{ customerId, disposition: 'routed' }]);
  });

  it('keeps the CRM record of a deleted Stripe customer and shows it churned, with no card on file', async () => {
    const seats = await price('Seats', 2500);
    const { id: customerId } = await customer('Goneco');
    const sub = await stack.stripe.subscriptions.create({ customer: customerId, items: [{ price: seats.id, quantity: 2 }] });
    const before = await eventually(async () => {
      const r = await crm.company(customerId);
      expect(r.properties).toMatchObject({ stripe_subscription_status: 'active', stripe_mrr: '50', stripe_payment_method_status: 'valid' });
      return r;
    });

    await nextSecond();
    await stack.stripe.customers.del(customerId);
    await settled(customerId);
    const after = await crm.company(customerId);
    // Same record, name kept: the account's history stays in the CRM.
    expect(after.id).toBe(before.id);
    expect(after.properties).toMatchObject({
      name: 'Goneco Ltd', stripe_customer_id: customerId, stripe_subscription_status: 'canceled', stripe_mrr: '0', stripe_cancel_at_period_end: 'false', stripe_ltv: '50',
    });
    expect(blank(after.properties.stripe_next_renewal_date)).toBe(true);
    // The lost 50 a month is the latest MRR movement: churn.
    expect.soft({ change: after.properties.stripe_last_mrr_change, kind: after.properties.stripe_last_mrr_change_kind }).toEqual({ change: '-50', kind: 'churn' });
    // A deleted customer has no payment method left in Stripe (deletion removes them): nothing is "valid".
    expect.soft(after.properties.stripe_payment_method_status).toBe('missing');
    // The subscription paid, so its deal stays won; its status shows the churn.
    expect(await crm.deals(customerId)).toEqual([expect.objectContaining({ dealstage: 'closedwon', stripe_subscription_status: 'canceled', stripe_subscription_id: sub.id })]);

    // Reading the deleted customer afresh from Stripe (an operator's full resync) agrees with what the events wrote.
    const resync = await api(`/customers/${stack.accountId}/${customerId}/resync?full=true`, { method: 'POST' });
    expect(resync).toMatchObject({ status: 200, body: { state: 'synced', lastError: null } });
    expect.soft(stripeFields((await crm.company(customerId)).properties)).toEqual(stripeFields(after.properties));
  });

  it('follows a plan change to another product in the plan name and the deal name', async () => {
    const basic = await price('Basic Plan', 2000);
    const premium = await price('Premium Plan', 8000);
    const { id: customerId } = await customer('Planco');
    const sub = await stack.stripe.subscriptions.create({ customer: customerId, items: [{ price: basic.id }] });
    await eventually(async () => {
      expect((await crm.company(customerId)).properties).toMatchObject({ stripe_plan_name: 'Basic Plan', stripe_mrr: '20' });
      expect(await crm.deals(customerId)).toEqual([expect.objectContaining({ dealname: `Basic Plan (${sub.id})` })]);
    });

    await nextSecond();
    await stack.stripe.subscriptions.update(sub.id, { items: [{ id: sub.items.data[0]!.id, price: premium.id }], proration_behavior: 'none' });
    await eventually(async () => {
      expect((await crm.company(customerId)).properties).toMatchObject({ stripe_plan_name: 'Premium Plan', stripe_mrr: '80', stripe_last_mrr_change_kind: 'expansion' });
      expect(await crm.deals(customerId)).toEqual([expect.objectContaining({ dealname: `Premium Plan (${sub.id})`, amount: '80' })]);
    });
  });

  it('repairs a CRM value someone changed by hand when an operator runs a full resync through the API, answering after the write', async () => {
    const pro = await price('Pro', 4950);
    const { id: customerId } = await customer('Resyncco');
    await stack.stripe.subscriptions.create({ customer: customerId, items: [{ price: pro.id }] });
    const record = await eventually(async () => {
      const r = await crm.company(customerId);
      expect(r.properties).toMatchObject({ stripe_subscription_status: 'active', stripe_mrr: '49.5' });
      return r;
    });
    const synced = await settled(customerId);

    await hubspot.crm.companies.basicApi.update(record.id, { properties: { stripe_mrr: '12345' } });
    expect((await crm.company(customerId)).properties.stripe_mrr).toBe('12345');

    const resync = await api(`/customers/${stack.accountId}/${customerId}/resync?full=true`, { method: 'POST' });
    expect(resync.status).toBe(200);
    expect(resync.body).toMatchObject({ customerId, state: 'synced', links: { accountId: record.id }, lastError: null, pendingEvents: 0 });
    expect(Date.parse(resync.body.lastSyncAt as string)).toBeGreaterThan(Date.parse(synced.lastSyncAt!));
    // Written before the answer: no waiting.
    expect((await crm.company(customerId)).properties.stripe_mrr).toBe('49.5');
  });

  it('answers GET /customers/:account/:customerId/sync with the links of the HubSpot records, and 404 for an unknown customer', async () => {
    const pro = await price('Pro', 4950);
    const { id: customerId } = await customer('Linkco');
    const sub = await stack.stripe.subscriptions.create({ customer: customerId, items: [{ price: pro.id }] });
    await eventually(async () => expect(await crm.deals(customerId)).toHaveLength(1));
    await settled(customerId);

    const record = await crm.company(customerId);
    const contact = await hubspot.crm.contacts.basicApi.getById('billing@linkco.example', ['email'], undefined, undefined, false, 'email');
    const deal = await hubspot.crm.deals.basicApi.getById(sub.id, DEAL_PROPS, undefined, undefined, false, 'stripe_subscription_id');
    const { status, body } = await api(`/customers/${stack.accountId}/${customerId}/sync`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ accountId: stack.accountId, customerId, state: 'synced', lastError: null, pendingEvents: 0 });
    expect(body.links).toEqual({ accountId: record.id, contactId: contact.id, dealIds: { [sub.id]: deal.id } });

    expect(await api(`/customers/${stack.accountId}/cus_doesnotexist/sync`)).toMatchObject({
      status: 404, body: { error: { code: 'not_found', message: expect.stringMatching(/no sync workflow/) } },
    });
    expect(await api(`/customers/${stack.accountId}/cus_doesnotexist/resync`, { method: 'POST' })).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
  });

  it('makes the workflow findable by StripeCustomerId and SyncState, with CrmRecordId = the HubSpot company, and no personal data in search attributes', async () => {
    const pro = await price('Pro', 4950);
    const email = 'grace@searchco.example';
    const { id: customerId } = await customer('Searchco', { email });
    await stack.stripe.subscriptions.create({ customer: customerId, items: [{ price: pro.id }] });
    await settled(customerId);
    const record = await crm.company(customerId);

    const found = await eventually(async () => {
      const executions = [];
      for await (const wf of stack.client.workflow.list({ query: `StripeCustomerId = "${customerId}" AND SyncState = "synced"` })) executions.push(wf);
      expect(executions.map((e) => e.workflowId)).toEqual([customerWorkflowId(stack.accountId, customerId)]);
      expect(executions[0]!.typedSearchAttributes.get(SEARCH_ATTRIBUTES.crmRecordId)).toBe(record.id);
      return executions[0]!;
    });
    expect(found.status.name).toBe('RUNNING');

    const description = await handle(customerId).describe();
    const attributes = Object.fromEntries(description.typedSearchAttributes.getAll().map((pair) => [pair.key.name, pair.value]));
    expect(attributes).toMatchObject({ StripeCustomerId: customerId, StripeAccountId: stack.accountId, CrmRecordId: record.id, SyncState: 'synced' });
    const shown = JSON.stringify({ attributes, legacy: description.searchAttributes, memo: description.memo ?? null });
    expect(shown).not.toContain(email);
    expect(shown).not.toContain('searchco.example');
    expect(shown).not.toContain('Searchco');
  });
});

describe('continue-as-new under a server that suggests it early', () => {
  // The dev server suggests continue-as-new at 4096 history events by default; this one at 60, which
  // the first sync (~50 events) and a round or two of changes (~10 each) reach within seconds.
  const SUGGEST_AT = 60;
  let server: Awaited<ReturnType<typeof startDevServerWithDynamicConfig>>;
  let stack: TestStack;
  let hubspot: HubSpotClient;
  beforeAll(async () => {
    server = await startDevServerWithDynamicConfig({ 'limit.historyCount.suggestContinueAsNew': SUGGEST_AT });
    stack = await startLocalStack({ temporalAddress: server.address, databaseUrl: inject('databaseUrl'), workflowBundle: await workflowBundle(), provider: 'hubspot' });
    hubspot = hubspotClientFor(stack.sandboxes.hubspot.url, 'reader-token');
  });
  afterAll(async () => {
    await stack?.close();
    await server?.stop();
  });

  it('carries the dedupe set, the links and the CRM state into the new run', async () => {
    const crm = crmReader(hubspot);
    const price = await stack.stripe.prices.create({ currency: 'usd', unit_amount: 2000, recurring: { interval: 'month' }, product_data: { name: 'Long' } });
    const { id: customerId } = await stack.stripe.customers.create({ name: 'Longrun Ltd', email: 'ops@longrun.example', payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    await stack.stripe.subscriptions.create({ customer: customerId, items: [{ price: price.id }] });
    const handle = stack.client.workflow.getHandle(customerWorkflowId(stack.accountId, customerId));
    await eventually(async () => expect((await handle.query<SyncStatus>('syncStatus')).state).toBe('synced'));
    const firstRunId = (await handle.describe()).runId;
    const before = await handle.query<SyncStatus>('syncStatus');
    expect(before.links.accountId).toBeTruthy();

    // Changes to one customer, one round each, until the server suggests continuing as new and the workflow does.
    let applied = before.eventsApplied;
    for (let round = 0; round < 20 && (await handle.describe()).runId === firstRunId; round++) {
      await stack.stripe.customers.update(customerId, { metadata: { round: String(round) } });
      applied = await eventually(async () => {
        const s = await handle.query<SyncStatus>('syncStatus');
        expect(s).toMatchObject({ pendingEvents: 0, pendingTimeline: 0 });
        expect(s.eventsApplied).toBeGreaterThan(applied);
        return s.eventsApplied;
      });
      await nextSecond();
    }
    await stack.sandboxes.stripe.sandbox.webhooks.whenIdle();
    expect((await handle.describe()).runId).not.toBe(firstRunId);
    const firstRun = stack.client.workflow.getHandle(handle.workflowId, firstRunId);
    expect((await firstRun.describe()).status.name).toBe('CONTINUED_AS_NEW');
    // It was the server's suggestion that ended the first run, not something else.
    expect((await firstRun.fetchHistory()).events?.length).toBeGreaterThanOrEqual(SUGGEST_AT);

    const status = await eventually(async () => {
      const s = await handle.query<SyncStatus>('syncStatus');
      expect(s).toMatchObject({ pendingEvents: 0, pendingTimeline: 0, lastError: null });
      return s;
    });
    expect(status.links).toEqual(before.links);
    expect(status.eventsApplied).toBeGreaterThan(before.eventsApplied);
    // Nothing is pending in the new run: it is as synced as the old one was, in its status and in the UI's search.
    const state = await eventually(async () => {
      const { state: s } = await handle.query<SyncStatus>('syncStatus');
      expect(s).toBe('synced');
      return s;
    }, 3_000).catch(async () => (await handle.query<SyncStatus>('syncStatus')).state);
    expect.soft(state).toBe('synced');
    const attributes = Object.fromEntries((await handle.describe()).typedSearchAttributes.getAll().map((pair) => [pair.key.name, pair.value]));
    expect.soft(attributes).toMatchObject({ SyncState: 'synced', CrmRecordId: before.links.accountId });
    const crmBefore = await crm.company(customerId);

    // Stripe delivers an event of the first run again: the carried dedupe set knows it.
    const [old] = await stack.database.db.selectFrom('stripeEvents').select('eventId')
      .where('customerId', '=', customerId).where('type', '=', 'invoice.paid').execute();
    expect(old).toBeDefined();
    const redelivered = await signedRedelivery(stack, await stack.stripe.events.retrieve(old!.eventId));
    expect(redelivered).toMatchObject({ status: 200, body: { disposition: 'routed', redelivery: true } });
    // Processed: every round ends with a sync record, so lastSyncAt moves even when nothing is written.
    const after = await eventually(async () => {
      const s = await handle.query<SyncStatus>('syncStatus');
      expect(s).toMatchObject({ state: 'synced', pendingEvents: 0 });
      expect(Date.parse(s.lastSyncAt ?? '')).toBeGreaterThan(Date.parse(status.lastSyncAt ?? ''));
      return s;
    });
    expect(after.eventsApplied).toBe(status.eventsApplied);
    expect(after.links).toEqual(before.links);
    const crmAfter = await crm.company(customerId);
    expect(crmAfter.id).toBe(crmBefore.id);
    expect(stripeFields(crmAfter.properties)).toEqual(stripeFields(crmBefore.properties));
    expect(crmAfter.properties).toMatchObject({ stripe_mrr: '20', stripe_ltv: '20', stripe_subscription_status: 'active' });
    expect(await crm.deals(customerId)).toHaveLength(1);
  });
});
