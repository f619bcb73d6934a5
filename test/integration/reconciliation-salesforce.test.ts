import { randomBytes } from 'node:crypto';
import type { Connection } from 'jsforce';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { salesforceConnectionFor } from '../../sandboxes/salesforce/index.js';
import type { ReconciliationInput, ReconciliationProgress } from '../../workflows/reconciliation.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

interface AccountRow { Id: string; Stripe_MRR__c: number | null; Stripe_Plan_Name__c: string | null }
interface Discrepancy { kind: string; status: string; customerId: string | null; fields: Record<string, { expected: string | null; actual: string | null }> }

describe('reconciliation against Salesforce (SOQL scan with queryMore, jsforce)', () => {
  let stack: TestStack;
  let sf: Connection;
  const customers: string[] = [];

  const account = async (customerId: string) =>
    (await sf.query<AccountRow>(`SELECT Id, Stripe_MRR__c, Stripe_Plan_Name__c FROM Account WHERE Stripe_Customer_ID__c = '${customerId}'`)).records[0];
  const run = (mode: ReconciliationInput['mode']) =>
    stack.client.workflow.execute<(input: ReconciliationInput) => Promise<ReconciliationProgress>>('reconciliationWorkflow', {
      taskQueue: stack.taskQueue, workflowId: `reconciliation-full/${stack.accountId}/test-${randomBytes(3).toString('hex')}`,
      args: [{ kind: 'full', mode, accountId: stack.accountId }],
    });
  const runKind = (kind: ReconciliationInput['kind']) =>
    stack.client.workflow.execute<(input: ReconciliationInput) => Promise<ReconciliationProgress>>('reconciliationWorkflow', {
      taskQueue: stack.taskQueue, workflowId: `reconciliation-${kind}/${stack.accountId}/test-${randomBytes(3).toString('hex')}`,
      args: [{ kind, mode: 'report', accountId: stack.accountId }],
    });
  const discrepancies = async (runId: string) =>
    ((await (await fetch(`${stack.api.url}/reconciliations/${runId}`)).json()) as { discrepancies: { data: Discrepancy[] } }).discrepancies.data;

  beforeAll(async () => {
    stack = await startTestStack({ provider: 'salesforce' });
    sf = salesforceConnectionFor(stack.sandboxes.salesforce.url, 'reader');
    const price = await stack.stripe.prices.create({ currency: 'eur', unit_amount: 12000, recurring: { interval: 'year' }, product_data: { name: 'Annual' } });
    for (const name of ['Ada', 'Grace', 'Edsger']) {
      const customer = await stack.stripe.customers.create({ name, email: `ops@${name.toLowerCase()}.example`, payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
      await stack.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
      customers.push(customer.id);
    }
    for (const id of customers) await eventually(async () => expect((await account(id))?.Stripe_MRR__c).toBe(10), 30_000);
    await eventually(async () => {
      const pending = await stack.database.db.selectFrom('stripeEvents').select('eventId').where('accountId', '=', stack.accountId)
        .where('disposition', '=', 'routed').where('processedAt', 'is', null).execute();
      expect(pending).toEqual([]);
    }, 60_000);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('reports drift, a deleted Account and an orphan with no false positives, then repairs what it can', async () => {
    const [a, b] = customers as [string, string, string];
    const clean = await run('report');
    expect(await discrepancies(clean.runId!)).toEqual([]);
    expect(clean.totals).toEqual({ stripe: { customers: 3, mrr: { EUR: 30 } }, crm: { customers: 3, mrr: { EUR: 30 } } });

    await sf.sobject('Account').update({ Id: (await account(a))!.Id, Stripe_Plan_Name__c: 'Monthly' });
    await sf.sobject('Account').destroy((await account(b))!.Id);
    const ghost = `cus_ghost${randomBytes(4).toString('hex')}`;
    await sf.sobject('Account').create({ Name: 'Ghost', Stripe_Customer_ID__c: ghost });

    const report = await run('report');
    const found = await discrepancies(report.runId!);
    expect(found.map((d) => `${d.kind}:${d.customerId}:${d.status}`).sort()).toEqual([`drift:${a}:open`, `missing-record:${b}:open`, `orphan:${ghost}:needs-review`].sort());
    expect(found.find((d) => d.kind === 'drift')!.fields).toEqual({ plan_name: { expected: 'Annual', actual: 'Monthly' } });

    const repair = await run('repair');
    expect(repair.counts.repairRequested).toBe(2);
    await eventually(async () => {
      expect((await account(a))?.Stripe_Plan_Name__c).toBe('Annual');
      expect((await account(b))?.Stripe_MRR__c).toBe(10);
    }, 30_000);
    const after = await run('report');
    expect((await discrepancies(after.runId!)).map((d) => d.kind)).toEqual(['orphan']);
  });

  it('pages through more Accounts than one query batch holds (queryMore via nextRecordsUrl)', async () => {
    // 2,100 Accounts carrying a Stripe id, created 200 per sObject Collections call.
    for (let i = 0; i < 2100; i += 200) {
      await sf.sobject('Account').create(Array.from({ length: 200 }, (_, k) => ({ Name: `Bulk ${i + k}`, Stripe_Customer_ID__c: `cus_bulk${i + k}${randomBytes(2).toString('hex')}` })));
    }
    const total = (await sf.query<{ expr0: number }>('SELECT COUNT() FROM Account WHERE Stripe_Customer_ID__c != null')).totalSize;
    const progress = await runKind('duplicates');
    expect(progress.counts.crmRecordsRead).toBe(total);
    expect(progress.counts.crmRequests).toBe(Math.ceil(total / 2000));
    expect(progress.totals.crm?.customers).toBe(total);
    expect(await discrepancies(progress.runId!)).toEqual([]);
  });
});
