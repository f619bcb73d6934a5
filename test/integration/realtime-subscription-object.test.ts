import type { Client as HubSpotClient } from '@hubspot/api-client';
import type { Connection } from 'jsforce';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspotClientFor } from '../../sandboxes/hubspot/index.js';
import { salesforceConnectionFor } from '../../sandboxes/salesforce/index.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

/**
 * CRM_SUBSCRIPTION_OBJECT end to end: Stripe sandbox → signed webhook → API → workflow → CRM sandbox,
 * read back with the HubSpot client and jsforce. The subscription lands on the custom object (setup
 * created or found it when the stack started), tied to the company / Account, and no deal is written.
 */

const day = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10);

describe('subscriptions as a HubSpot custom object, end to end', () => {
  let stack: TestStack;
  let hubspot: HubSpotClient;
  const PROPS = ['stripe_subscription_id', 'stripe_subscription_name', 'stripe_subscription_status', 'stripe_subscription_stage', 'stripe_mrr', 'stripe_currency',
    'stripe_customer_id', 'stripe_start_date', 'stripe_next_renewal_date', 'stripe_trial_end_date', 'stripe_end_date'];
  beforeAll(async () => {
    stack = await startTestStack({ provider: 'hubspot', env: { CRM_SUBSCRIPTION_OBJECT: 'stripe_subscription' } });
    hubspot = hubspotClientFor(stack.sandboxes.hubspot.url, 'reader-token');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('writes the subscription as a custom object record associated with the company, follows its cancellation, and creates no deal', async () => {
    const [schema] = (await hubspot.crm.schemas.coreApi.getAll()).results;
    expect(schema).toMatchObject({ name: 'stripe_subscription' });
    const objectType = schema!.objectTypeId!;

    const price = await stack.stripe.prices.create({ currency: 'usd', unit_amount: 4950, recurring: { interval: 'month' }, product_data: { name: 'Pro' } });
    const customer = await stack.stripe.customers.create({ name: 'Initech', email: 'bill@initech.example', payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const sub = await stack.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id, quantity: 2 }] });
    const periodEnd = sub.items.data[0]!.current_period_end;

    const company = await eventually(async () => {
      const c = await hubspot.crm.companies.basicApi.getById(customer.id, ['stripe_subscription_status'], undefined, undefined, false, 'stripe_customer_id');
      expect(c.properties.stripe_subscription_status).toBe('active');
      return c;
    });
    const record = await eventually(async () => {
      const r = await hubspot.crm.objects.basicApi.getById(objectType, sub.id, PROPS, undefined, ['companies'], false, 'stripe_subscription_id');
      expect(r.properties.stripe_subscription_status).toBe('active');
      return r;
    });
    expect(record.properties).toMatchObject({
      stripe_subscription_id: sub.id, stripe_subscription_name: `Pro (${sub.id})`, stripe_subscription_stage: 'won', stripe_mrr: '99', stripe_currency: 'USD',
      stripe_customer_id: customer.id, stripe_start_date: day(sub.start_date), stripe_next_renewal_date: day(periodEnd), stripe_trial_end_date: null, stripe_end_date: null,
    });
    await eventually(async () => {
      const associated = (await hubspot.crm.associations.v4.basicApi.getPage(objectType, record.id, 'companies')).results.map((a) => a.toObjectId);
      expect(associated).toEqual([company.id]);
    });

    // Only a date changes: the record follows (the renewal goes, the scheduled end appears).
    await stack.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
    await eventually(async () => {
      const r = await hubspot.crm.objects.basicApi.getById(objectType, sub.id, PROPS, undefined, undefined, false, 'stripe_subscription_id');
      expect(r.properties).toMatchObject({ stripe_subscription_status: 'active', stripe_next_renewal_date: null, stripe_end_date: day(periodEnd) });
    });
    await stack.stripe.subscriptions.cancel(sub.id);
    await eventually(async () => {
      const r = await hubspot.crm.objects.basicApi.getById(objectType, sub.id, PROPS, undefined, undefined, false, 'stripe_subscription_id');
      expect(r.properties.stripe_subscription_status).toBe('canceled');
    });

    expect((await hubspot.crm.objects.basicApi.getPage(objectType, 100)).results).toHaveLength(1);
    expect((await hubspot.crm.deals.basicApi.getPage(100)).results).toEqual([]);
  });
});

describe('subscriptions as a Salesforce custom object, end to end', () => {
  let stack: TestStack;
  let sf: Connection;
  beforeAll(async () => {
    stack = await startTestStack({ provider: 'salesforce', env: { CRM_SUBSCRIPTION_OBJECT: 'Stripe_Subscription__c' } });
    sf = salesforceConnectionFor(stack.sandboxes.salesforce.url, 'reader');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('setup finds the object in place, and the subscription becomes its record under the Account, with no Opportunity', async () => {
    const report = await stack.clients.crm.provision();
    expect(report.missing).toEqual([]);
    expect(report.existing).toEqual(expect.arrayContaining(['Stripe_Subscription__c.Stripe_Subscription_ID__c', 'Stripe_Subscription__c.Account__c']));

    const price = await stack.stripe.prices.create({ currency: 'eur', unit_amount: 12000, recurring: { interval: 'year' }, product_data: { name: 'Annual' } });
    const customer = await stack.stripe.customers.create({ name: 'Umbrella', email: 'alice@umbrella.example', payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const sub = await stack.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });

    const account = await eventually(async () => {
      const rows = (await sf.query<{ Id: string }>(`SELECT Id FROM Account WHERE Stripe_Customer_ID__c = '${customer.id}'`)).records;
      expect(rows).toHaveLength(1);
      return rows[0]!;
    });
    const record = await eventually(async () => {
      const rows = (await sf.query<Record<string, unknown>>(
        'SELECT Id, Name, Stripe_Subscription_ID__c, Stripe_Subscription_Status__c, Stripe_Stage__c, Stripe_MRR__c, Stripe_Currency__c, Stripe_Customer_ID__c, ' +
          `Stripe_Start_Date__c, Stripe_Next_Renewal_Date__c, Stripe_End_Date__c, Account__c FROM Stripe_Subscription__c WHERE Stripe_Subscription_ID__c = '${sub.id}'`,
      )).records;
      expect(rows).toHaveLength(1);
      expect(rows[0]!.Stripe_Subscription_Status__c).toBe('active');
      return rows[0]!;
    });
    expect(record).toMatchObject({
      Name: `Annual (${sub.id})`, Stripe_Stage__c: 'won', Stripe_MRR__c: 10, Stripe_Currency__c: 'EUR', Stripe_Customer_ID__c: customer.id,
      Stripe_Start_Date__c: day(sub.start_date), Stripe_Next_Renewal_Date__c: day(sub.items.data[0]!.current_period_end), Stripe_End_Date__c: null, Account__c: account.Id,
    });

    await stack.stripe.subscriptions.cancel(sub.id);
    await eventually(async () => {
      const [row] = (await sf.query<Record<string, unknown>>(`SELECT Stripe_Subscription_Status__c, Stripe_End_Date__c, Stripe_Next_Renewal_Date__c FROM Stripe_Subscription__c`)).records;
      expect(row).toMatchObject({ Stripe_Subscription_Status__c: 'canceled', Stripe_Next_Renewal_Date__c: null });
      expect(row!.Stripe_End_Date__c).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    });
    expect((await sf.query('SELECT Id FROM Stripe_Subscription__c')).records).toHaveLength(1);
    expect((await sf.query('SELECT Id FROM Opportunity')).records).toEqual([]);
  });
});
