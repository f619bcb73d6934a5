import type { Connection } from 'jsforce';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { salesforceConnectionFor } from '../../sandboxes/salesforce/index.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

interface AccountRow { Id: string; Name: string; Stripe_Customer_ID__c: string; Stripe_Subscription_Status__c: string; Stripe_MRR__c: number; Stripe_LTV__c: number; Stripe_Plan_Name__c: string; Stripe_Currency__c: string; Stripe_Failed_Payment_Count__c: number }

describe('real-time sync to Salesforce, end to end through stripe and jsforce', () => {
  for (const mode of ['b2b', 'b2c'] as const) {
    describe(mode, () => {
      let stack: TestStack;
      let sf: Connection;
      beforeAll(async () => {
        stack = await startTestStack({ provider: 'salesforce', env: { SYNC_MODE: mode } });
        sf = salesforceConnectionFor(stack.sandboxes.salesforce.url, 'reader');
      });
      afterAll(async () => {
        await stack?.close();
      });

      it('writes the customer, its subscription as an Opportunity and its payments as Tasks', async () => {
        const price = await stack.stripe.prices.create({ currency: 'eur', unit_amount: 12000, recurring: { interval: 'year' }, product_data: { name: 'Annual' } });
        const customer = await stack.stripe.customers.create({ name: 'Ada Lovelace', email: `ada-${mode}@engine.example`, payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
        await stack.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });

        const object = mode === 'b2b' ? 'Account' : 'Contact';
        const fields = 'Id, Stripe_Customer_ID__c, Stripe_Subscription_Status__c, Stripe_MRR__c, Stripe_LTV__c, Stripe_Plan_Name__c, Stripe_Currency__c, Stripe_Failed_Payment_Count__c';
        const record = await eventually(async () => {
          const rows = (await sf.query<AccountRow>(`SELECT ${fields} FROM ${object} WHERE Stripe_Customer_ID__c = '${customer.id}'`)).records;
          expect(rows).toHaveLength(1);
          expect(rows[0]).toMatchObject({ Stripe_Subscription_Status__c: 'active', Stripe_LTV__c: 120 });
          return rows[0]!;
        });
        expect(record).toMatchObject({ Stripe_MRR__c: 10, Stripe_Plan_Name__c: 'Annual', Stripe_Currency__c: 'EUR', Stripe_Failed_Payment_Count__c: 0 });

        // The account is written first; the contact and the opportunity follow it.
        const contacts = await eventually(async () => {
          const rows = (await sf.query<{ Id: string; Email: string; AccountId: string | null; LastName: string }>(`SELECT Id, Email, AccountId, LastName FROM Contact WHERE Email = 'ada-${mode}@engine.example'`)).records;
          expect(rows).toHaveLength(1);
          return rows;
        });
        expect(contacts[0]!.LastName).toBe('Lovelace');
        if (mode === 'b2b') expect(contacts[0]!.AccountId).toBe(record.Id);

        await eventually(async () => {
          const opportunities = (await sf.query<{ Name: string; StageName: string; Amount: number }>(`SELECT Name, StageName, Amount FROM Opportunity WHERE Stripe_Subscription_ID__c != null`)).records;
          expect(opportunities).toEqual([expect.objectContaining({ StageName: 'Closed Won', Amount: 10 })]);
        });
        const tasks = await eventually(async () => {
          const rows = (await sf.query<{ Subject: string; Stripe_Activity_Key__c: string; Status: string }>(`SELECT Subject, Stripe_Activity_Key__c, Status FROM Task`)).records;
          expect(rows.length).toBeGreaterThanOrEqual(1);
          return rows;
        });
        expect(tasks.map((t) => t.Stripe_Activity_Key__c)).toEqual([expect.stringMatching(/^invoice_paid:in_/)]);
        expect(tasks[0]!.Subject).toMatch(/EUR 120\.00/);
      });
    });
  }
});
