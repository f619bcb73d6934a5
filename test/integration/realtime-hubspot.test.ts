import type { Client as HubSpotClient } from '@hubspot/api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspotClientFor } from '../../sandboxes/hubspot/index.js';
import { customerWorkflowId } from '../../domain/workflow-ids.js';
import type { SyncStatus } from '../../workflows/customer-sync.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

const PROPS = ['name', 'domain', 'stripe_customer_id', 'stripe_subscription_status', 'stripe_mrr', 'stripe_currency', 'stripe_plan_name', 'stripe_billing_interval',
  'stripe_next_renewal_date', 'stripe_payment_method_status', 'stripe_ltv', 'stripe_last_payment_date', 'stripe_last_payment_amount', 'stripe_failed_payment_count',
  'stripe_delinquent', 'stripe_discount', 'stripe_cancel_at_period_end', 'stripe_last_mrr_change', 'stripe_last_mrr_change_kind', 'stripe_synced_at', 'stripe_needs_enrichment'];

describe('real-time sync to HubSpot, end to end through the real clients', () => {
  let stack: TestStack;
  let hubspot: HubSpotClient;
  beforeAll(async () => {
    stack = await startTestStack({ provider: 'hubspot' });
    hubspot = hubspotClientFor(stack.sandboxes.hubspot.url, 'reader-token');
  });
  afterAll(async () => {
    await stack?.close();
  });

  const company = async (customerId: string) => {
    const res = await hubspot.crm.companies.basicApi.getById(customerId, PROPS, undefined, ['contacts', 'deals'], false, 'stripe_customer_id');
    return res;
  };
  const notesFor = async (companyId: string) => {
    const res = await hubspot.crm.objects.notes.searchApi.doSearch({
      filterGroups: [{ filters: [{ propertyName: 'associations.company', operator: 'EQ' as never, value: companyId }] }],
      properties: ['hs_note_body', 'stripe_activity_key'], limit: 100, sorts: [], after: '0',
    } as never);
    return res.results;
  };

  it('writes a new paying customer as a company, a contact and a won deal, with the Stripe fields', async () => {
    const price = await stack.stripe.prices.create({ currency: 'usd', unit_amount: 4950, recurring: { interval: 'month' }, product_data: { name: 'Pro' } });
    const customer = await stack.stripe.customers.create({ name: 'Acme Analytics', email: 'ada@acme.example', payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    await stack.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id, quantity: 2 }] });

    const record = await eventually(async () => {
      const r = await company(customer.id);
      expect(r.properties.stripe_subscription_status).toBe('active');
      expect(r.properties.stripe_ltv).toBe('99');
      return r;
    });
    expect(record.properties).toMatchObject({
      name: 'Acme Analytics', domain: 'acme.example', stripe_customer_id: customer.id, stripe_mrr: '99', stripe_currency: 'USD',
      stripe_plan_name: 'Pro', stripe_billing_interval: 'month', stripe_payment_method_status: 'valid', stripe_failed_payment_count: '0',
      // Created because no record matched: flagged for someone to complete.
      stripe_needs_enrichment: 'true',
      stripe_delinquent: 'false', stripe_cancel_at_period_end: 'false', stripe_last_mrr_change_kind: 'new', stripe_last_payment_amount: '99',
    });
    // The company is written first; the contact, the deal and the note follow it.
    await eventually(async () => {
      const contact = await hubspot.crm.contacts.basicApi.getById('ada@acme.example', ['email', 'stripe_customer_id'], undefined, ['companies'], false, 'email');
      expect(contact.properties.stripe_customer_id).toBe(customer.id);
      expect(contact.associations?.companies?.results.map((a) => a.id)).toContain(record.id);
    });
    // HubSpot lists an association once per type (primary and unlabeled), so count distinct records.
    const dealIds = await eventually(async () => {
      const ids = [...new Set(((await company(customer.id)).associations?.deals?.results ?? []).map((a) => a.id))];
      expect(ids).toHaveLength(1);
      return ids;
    });
    const deal = await hubspot.crm.deals.basicApi.getById(dealIds[0]!, ['dealname', 'amount', 'dealstage', 'stripe_subscription_status']);
    expect(deal.properties).toMatchObject({ dealname: 'Pro (' + (await stack.stripe.subscriptions.list({ customer: customer.id })).data[0]!.id + ')', amount: '99', dealstage: 'closedwon', stripe_subscription_status: 'active' });
    const notes = await eventually(async () => {
      const n = await notesFor(record.id);
      expect(n.length).toBeGreaterThanOrEqual(1);
      return n;
    });
    expect(notes.map((n) => n.properties.stripe_activity_key)).toEqual(expect.arrayContaining([expect.stringMatching(/^invoice_paid:in_/)]));

    const status = await stack.client.workflow.getHandle(customerWorkflowId(stack.accountId, customer.id)).query<SyncStatus>('syncStatus');
    expect(status).toMatchObject({ state: 'synced', links: { accountId: record.id }, lastError: null });
  });

  it('follows an upgrade, a failed renewal, a refund and a scheduled cancellation', async () => {
    const price = await stack.stripe.prices.create({ currency: 'usd', unit_amount: 1000, recurring: { interval: 'month' }, product_data: { name: 'Seats' } });
    const clock = await stack.stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000) });
    const customer = await stack.stripe.customers.create({ name: 'Globex', email: 'hank@globex.example', test_clock: clock.id, payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const sub = await stack.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id, quantity: 3 }] });
    await eventually(async () => expect((await company(customer.id)).properties.stripe_mrr).toBe('30'));

    await stack.stripe.subscriptions.update(sub.id, { items: [{ id: sub.items.data[0]!.id, quantity: 5 }], proration_behavior: 'none' });
    await eventually(async () => expect((await company(customer.id)).properties).toMatchObject({ stripe_mrr: '50', stripe_last_mrr_change: '20', stripe_last_mrr_change_kind: 'expansion' }));

    const charges = await stack.stripe.charges.list({ customer: customer.id });
    await stack.stripe.refunds.create({ charge: charges.data[0]!.id, amount: 500 });
    await eventually(async () => expect((await company(customer.id)).properties.stripe_ltv).toBe('25'));

    // The card now declines: the renewal fails and the CRM shows it.
    const failing = await stack.stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer: customer.id });
    await stack.stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: failing.id } });
    const current = await stack.stripe.testHelpers.testClocks.retrieve(clock.id);
    await stack.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: current.frozen_time + 32 * 86_400 });
    await eventually(async () => {
      const p = (await company(customer.id)).properties;
      expect(p.stripe_subscription_status).toBe('past_due');
      expect(Number(p.stripe_failed_payment_count)).toBeGreaterThanOrEqual(1);
      expect(p.stripe_payment_method_status).toBe('failed');
    }, 30_000);

    await stack.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
    await eventually(async () => expect((await company(customer.id)).properties.stripe_cancel_at_period_end).toBe('true'));
  });

  it('follows a product rename to every customer on that product (catalog fan-out)', async () => {
    const product = await stack.stripe.products.create({ name: 'Growth' });
    const price = await stack.stripe.prices.create({ currency: 'usd', unit_amount: 5000, recurring: { interval: 'month' }, product: product.id });
    const ids: string[] = [];
    for (const n of [1, 2]) {
      const customer = await stack.stripe.customers.create({ name: `Renamer ${n}`, email: `r${n}@rename.example`, payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
      await stack.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
      ids.push(customer.id);
    }
    for (const id of ids) await eventually(async () => expect((await company(id)).properties.stripe_plan_name).toBe('Growth'));
    await stack.stripe.products.update(product.id, { name: 'Growth Plus' });
    // Webhook → catalog workflow → fan-out activity → each customer's workflow → CRM: allow for a loaded machine.
    for (const id of ids) await eventually(async () => expect((await company(id)).properties.stripe_plan_name).toBe('Growth Plus'), 60_000);
  });
});
