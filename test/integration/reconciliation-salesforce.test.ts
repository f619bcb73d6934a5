import { randomBytes } from 'node:crypto';
import type { Connection } from 'jsforce';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { salesforceConnectionFor } from '../../sandboxes/salesforce/index.js';
import { salesforceDemoFields } from '../../scripts/demo-salesforce.js';
import type { ReconciliationInput, ReconciliationProgress } from '../../workflows/reconciliation.js';
import { eventsSettled, startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

interface AccountRow { Id: string; Stripe_MRR__c: number | null; Stripe_Plan_Name__c: string | null }
interface Discrepancy { kind: string; status: string; customerId: string | null; fields: Record<string, { expected: string | null; actual: string | null }> }
interface Review { id: string; kind: string; reason: string; customerId: string | null; subject: string; status: string; candidates: Array<{ recordId: string; customerId?: string | null }> }

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
  const runKind = (kind: ReconciliationInput['kind'], mode: ReconciliationInput['mode'] = 'report') =>
    stack.client.workflow.execute<(input: ReconciliationInput) => Promise<ReconciliationProgress>>('reconciliationWorkflow', {
      taskQueue: stack.taskQueue, workflowId: `reconciliation-${kind}/${stack.accountId}/test-${randomBytes(3).toString('hex')}`,
      args: [{ kind, mode, accountId: stack.accountId }],
    });
  const discrepancies = async (runId: string) =>
    ((await (await fetch(`${stack.api.url}/reconciliations/${runId}`)).json()) as { discrepancies: { data: Discrepancy[] } }).discrepancies.data;

  beforeAll(async () => {
    // An org whose admin made the Stripe id an External ID but not Unique: Salesforce then lets two
    // Accounts carry one customer, which is what the duplicate scan is for.
    const customFields = salesforceDemoFields('b2b');
    customFields.Account = customFields.Account!.map((f) => (f.name === 'Stripe_Customer_ID__c' ? { ...f, unique: false } : f));
    stack = await startTestStack({ provider: 'salesforce', sandboxOptions: { salesforce: { customFields } } });
    sf = salesforceConnectionFor(stack.sandboxes.salesforce.url, 'reader');
    const price = await stack.stripe.prices.create({ currency: 'eur', unit_amount: 12000, recurring: { interval: 'year' }, product_data: { name: 'Annual' } });
    for (const name of ['Ada', 'Grace', 'Edsger']) {
      const customer = await stack.stripe.customers.create({ name, email: `ops@${name.toLowerCase()}.example`, payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
      await stack.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
      customers.push(customer.id);
    }
    for (const id of customers) await eventually(async () => expect((await account(id))?.Stripe_MRR__c).toBe(10), 30_000);
    await eventsSettled(stack);
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
    expect(found.map((d) => `${d.kind}:${d.customerId}:${d.status}`).sort()).toEqual([`drift:${a}:open`, `missing-record:${b}:open`, `orphan:${ghost}:open`].sort());
    expect(found.find((d) => d.kind === 'drift')!.fields).toEqual({ plan_name: { expected: 'Annual', actual: 'Monthly' } });

    const repair = await run('repair');
    expect(repair.counts.repairRequested).toBe(2);
    await eventually(async () => {
      expect((await account(a))?.Stripe_Plan_Name__c).toBe('Annual');
      expect((await account(b))?.Stripe_MRR__c).toBe(10);
    }, 30_000);
    // Deleting B's Account took its Contact and Opportunity with it (cascade): the resync must
    // recreate all three under the new Account, not dead-letter the writes that still named the old one.
    const recreated = (await account(b))!.Id;
    await eventually(async () => {
      const contacts = await sf.query<{ Id: string; AccountId: string }>(`SELECT Id, AccountId FROM Contact WHERE Stripe_Customer_ID__c = '${b}'`);
      expect(contacts.records.map((c) => c.AccountId)).toEqual([recreated]);
      const deals = await sf.query<{ Id: string; AccountId: string }>(`SELECT Id, AccountId FROM Opportunity WHERE AccountId = '${recreated}'`);
      expect(deals.totalSize).toBe(1);
    }, 30_000);
    const deadLetters = await stack.database.db.selectFrom('deadLetters').select(['errorType', 'reason']).where('customerId', '=', b).execute();
    expect(deadLetters).toEqual([]);
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
  it('queues Accounts sharing one Stripe id for merge review; keeping one relinks the customer to it and releases the other', async () => {
    const c = customers[2]!;
    const original = (await account(c))!.Id;
    const created = await sf.sobject('Account').create({ Name: 'Edsger (copy)', Stripe_Customer_ID__c: c });
    expect(created.success).toBe(true);
    const copy = { id: String(created.id) };
    const scan = await runKind('duplicates', 'repair');
    expect(scan.counts.reviews).toMatchObject({ queued: 1 });
    const reviews = async (query: string) =>
      ((await (await fetch(`${stack.api.url}/reviews?accountId=${stack.accountId}&${query}`)).json()) as { data: Review[] }).data;
    const [pair] = await reviews('kind=duplicate-merge&status=open');
    expect(pair).toMatchObject({ reason: 'duplicate-stripe-id', customerId: c, subject: `duplicate-stripe-id:${c}` });
    expect(pair!.candidates.map((x) => x.recordId).sort()).toEqual([original, copy.id].sort());

    const resolve = (body: unknown) => fetch(`${stack.api.url}/reviews/${pair!.id}/resolve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await resolve({ action: 'keep', recordId: 'not-a-candidate' })).status).toBe(400);
    expect((await resolve({ action: 'keep', recordId: copy.id, note: 'the copy has the right owner' })).status).toBe(200);
    await eventually(async () => {
      const rows = await sf.query<{ Id: string; Name: string; Stripe_Customer_ID__c: string | null; Stripe_MRR__c: number | null }>(
        `SELECT Id, Name, Stripe_Customer_ID__c, Stripe_MRR__c FROM Account WHERE Id IN ('${original}', '${copy.id}')`);
      const byId = new Map(rows.records.map((r) => [r.Id, r]));
      // The kept Account carries the customer and gets every field; the other stays, released, with its history.
      expect(byId.get(copy.id)).toMatchObject({ Stripe_Customer_ID__c: c, Stripe_MRR__c: 10 });
      expect(byId.get(original)).toMatchObject({ Name: 'Edsger', Stripe_Customer_ID__c: null });
    }, 30_000);
    const history = await stack.database.db.selectFrom('linkAudit').select(['fromRecordId', 'toRecordId', 'reason']).where('customerId', '=', c).orderBy('id').execute();
    expect(history.at(-1)).toEqual({ fromRecordId: original, toRecordId: copy.id, reason: 'relink' });
    const rescan = await runKind('duplicates', 'repair');
    expect(await discrepancies(rescan.runId!)).toEqual([]);
    expect(await reviews('kind=duplicate-merge&status=open')).toEqual([]);
  });
});
