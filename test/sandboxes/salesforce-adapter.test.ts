import type { Connection } from 'jsforce';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CrmNotFoundError, CrmRateLimitError, CrmValidationError, type CrmAdapter, type DealInput, type StageConflict } from '../../activities/crm/types.js';
import {
  createSalesforceAdapter,
  formatSalesforceProvisionReport,
  SalesforceConfigError,
  SalesforceTimeoutError,
  type SalesforceAdapterOptions,
} from '../../activities/crm/salesforce/index.js';
import { crmPropertyDefinitions } from '../../domain/crm-field-names.js';
import type { CrmFieldValues } from '../../domain/crm-fields.js';
import type { TimelineEntry } from '../../domain/customer-events.js';
import {
  SALESFORCE_API_VERSION,
  salesforceConnectionFor,
  startSalesforceSandbox,
  type CustomFieldSpec,
  type SalesforceSandbox,
} from '../../sandboxes/salesforce/index.js';
import type { RunningSandbox } from '../../sandboxes/shared/serve.js';

// The fields an admin sets up by hand, written out from the domain's definitions (not from the adapter's
// own requirement list, so provision() is checked against an independent account of the setup).
function stripeFieldSpecs(): CustomFieldSpec[] {
  return crmPropertyDefinitions('salesforce').map((d): CustomFieldSpec => {
    switch (d.salesforce.type) {
      case 'Text':
        return d.field === 'customer_id'
          ? { name: d.name, label: d.label, type: 'string', length: 255, externalId: true, unique: true }
          : { name: d.name, label: d.label, type: 'string', length: 255 };
      case 'Number':
        return { name: d.name, label: d.label, type: 'double', precision: 18, scale: d.salesforce.scale ?? 0 };
      case 'Date':
        return { name: d.name, label: d.label, type: 'date' };
      case 'DateTime':
        return { name: d.name, label: d.label, type: 'datetime' };
      case 'Checkbox':
        return { name: d.name, label: d.label, type: 'boolean' };
      case 'Picklist':
        return { name: d.name, label: d.label, type: 'picklist', picklistValues: [...d.options] };
    }
  });
}

const FULL_SETUP: Record<string, CustomFieldSpec[]> = {
  Account: stripeFieldSpecs(),
  // B2C keeps the Stripe fields on the Contact; B2B only needs the customer id there.
  Contact: stripeFieldSpecs(),
  Opportunity: [
    { name: 'Stripe_Subscription_ID__c', type: 'string', length: 255, externalId: true, unique: true },
    { name: 'Stripe_Subscription_Status__c', type: 'string', length: 255 },
  ],
  Task: [{ name: 'Stripe_Activity_Key__c', type: 'string', length: 255, externalId: true, unique: true }],
};

const FIELDS: CrmFieldValues = {
  customer_id: 'cus_A1',
  subscription_status: 'active',
  mrr: 49.5,
  currency: 'USD',
  plan_name: 'Pro',
  billing_interval: 'month',
  next_renewal_date: '2026-12-01',
  trial_end_date: null,
  payment_method_status: 'valid',
  ltv: 1234.567,
  last_payment_date: '2026-11-01',
  last_payment_amount: 49.5,
  failed_payment_count: 0,
  last_payment_failure: null,
  delinquent: false,
  customer_deleted: false,
  days_to_first_payment: 0,
  discount: '20% off (repeating, 3 months)',
  cancel_at_period_end: false,
  last_mrr_change: 49.5,
  last_mrr_change_kind: 'new',
  last_mrr_change_date: '2026-11-01',
  synced_at: '2026-11-27T14:00:00Z',
};

let server: RunningSandbox & { sandbox: SalesforceSandbox };
/** A real jsforce connection for reading back what a Salesforce user would see. */
let conn: Connection;
let b2b: CrmAdapter;
let b2c: CrmAdapter;

function adapter(options: Partial<SalesforceAdapterOptions> = {}, url = server.url): CrmAdapter {
  return createSalesforceAdapter({ instanceUrl: url, accessToken: 'sandbox-token', apiVersion: SALESFORCE_API_VERSION, mode: 'b2b', ...options });
}

async function admin(method: string, path: string, body?: unknown, url = server.url): Promise<unknown> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.status, `${method} ${path}`).toBeLessThan(300);
  return res.json();
}

/** Data API requests Salesforce has metered so far (each one counts against the org's daily allocation). */
async function apiRequests(): Promise<number> {
  const state = (await admin('GET', '/__sandbox/state')) as { apiUsage: { used: number } };
  return state.apiUsage.used;
}

/** Runs `fn` and returns its result with the number of API requests it made. */
async function counted<T>(fn: () => Promise<T>): Promise<{ result: T; requests: number }> {
  const before = await apiRequests();
  const result = await fn();
  return { result, requests: (await apiRequests()) - before };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

async function soql<T>(query: string): Promise<T[]> {
  return (await conn.query<T & Record<string, unknown>>(query)).records;
}

beforeAll(async () => {
  server = await startSalesforceSandbox({ port: 0, customFields: FULL_SETUP });
  conn = salesforceConnectionFor(server.url);
  b2b = adapter();
  b2c = adapter({ mode: 'b2c' });
});

afterAll(async () => {
  await server.close();
});

beforeEach(async () => {
  // Records, faults and limits back to a fresh org; the custom fields come from the creation options.
  await admin('POST', '/__sandbox/reset');
});

describe('upsertAccount', () => {
  it('creates the Account with its Stripe fields, and a retry finds it instead of creating a second', async () => {
    const first = await counted(() => b2b.upsertAccount({ customerId: 'cus_A1', name: 'Acme Inc', domain: 'acme.test', fields: FIELDS }));
    expect(first.result).toEqual({ id: expect.stringMatching(/^001/), created: true });
    // Creating takes the upsert that leaves the shared Name out, then the one that sets it.
    expect(first.requests).toBe(2);

    const retry = await counted(() => b2b.upsertAccount({ customerId: 'cus_A1', name: 'Acme Inc', domain: 'acme.test', fields: { ...FIELDS, mrr: 99, delinquent: true } }));
    expect(retry.result).toEqual({ id: first.result.id, created: false });
    expect(retry.requests).toBe(1);

    const accounts = await soql<Record<string, unknown>>(
      'SELECT Id, Name, Website, Stripe_Customer_ID__c, Stripe_MRR__c, Stripe_LTV__c, Stripe_Delinquent__c, Stripe_Synced_At__c, ' +
        'Stripe_Next_Renewal_Date__c, Stripe_Trial_End_Date__c, Stripe_Subscription_Status__c, Stripe_Discount__c FROM Account',
    );
    expect(accounts).toEqual([
      expect.objectContaining({
        Id: first.result.id,
        Name: 'Acme Inc',
        Website: 'acme.test',
        Stripe_Customer_ID__c: 'cus_A1',
        Stripe_MRR__c: 99,
        Stripe_LTV__c: 1234.567,
        Stripe_Delinquent__c: true,
        Stripe_Synced_At__c: '2026-11-27T14:00:00.000+0000',
        Stripe_Next_Renewal_Date__c: '2026-12-01',
        Stripe_Trial_End_Date__c: null,
        Stripe_Subscription_Status__c: 'active',
        Stripe_Discount__c: '20% off (repeating, 3 months)',
      }),
    ]);
  });

  it('leaves the Name and Website of an existing Account alone, including one an admin linked by customer id', async () => {
    const linked = await conn.sobject('Account').create({ Name: 'Acme Corporation', Website: 'https://acme.example', Stripe_Customer_ID__c: 'cus_B2' });
    const { result, requests } = await counted(() => b2b.upsertAccount({ customerId: 'cus_B2', name: 'acme inc', domain: 'acme.test', fields: { ...FIELDS, customer_id: 'cus_B2' }, recordId: null }));
    expect(result).toEqual({ id: linked.id, created: false });
    expect(requests).toBe(1);
    expect(await conn.sobject('Account').retrieve(linked.id as string)).toMatchObject({
      Name: 'Acme Corporation',
      Website: 'https://acme.example',
      Stripe_MRR__c: 49.5,
      Stripe_Plan_Name__c: 'Pro',
    });
    expect((await conn.query('SELECT COUNT() FROM Account')).totalSize).toBe(1);
  });

  it('names a new Account after the domain, else the customer id, when Stripe has no name; long values are cut to fit', async () => {
    const byDomain = await b2b.upsertAccount({ customerId: 'cus_N1', name: '  ', domain: 'initech.test', fields: {} });
    const byId = await b2b.upsertAccount({ customerId: 'cus_N2', name: null, domain: null, fields: { plan_name: 'x'.repeat(300) } });
    expect(await conn.sobject('Account').retrieve(byDomain.id)).toMatchObject({ Name: 'initech.test', Website: 'initech.test' });
    expect(await conn.sobject('Account').retrieve(byId.id)).toMatchObject({ Name: 'cus_N2', Website: null, Stripe_Plan_Name__c: 'x'.repeat(255) });
  });
});

describe('updateAccountFields', () => {
  it('writes Stripe fields by record id, keeping the Account\'s Stripe id, and refuses a deleted Account as CrmNotFoundError', async () => {
    const account = await b2b.upsertAccount({ customerId: 'cus_R1', name: 'Rolled Up', domain: null, fields: { ...FIELDS, customer_id: 'cus_R1' } });
    await b2b.updateAccountFields(account.id, { mrr: 150, currency: 'USD', plan_name: 'Pro, Team' });
    expect(await conn.sobject('Account').retrieve(account.id)).toMatchObject({ Stripe_Customer_ID__c: 'cus_R1', Stripe_MRR__c: 150, Stripe_Plan_Name__c: 'Pro, Team', Name: 'Rolled Up' });
    await conn.sobject('Account').destroy(account.id);
    expect(await rejection(b2b.updateAccountFields(account.id, { mrr: 1 }))).toBeInstanceOf(CrmNotFoundError);
  });
});

describe('readAccount', () => {
  it('reads the Stripe fields back as strings, and null for an unknown customer', async () => {
    const { id } = await b2b.upsertAccount({ customerId: 'cus_R1', name: 'Reader', domain: null, fields: { ...FIELDS, customer_id: 'cus_R1' } });
    const record = await b2b.readAccount('cus_R1');
    expect(record?.id).toBe(id);
    expect(record?.properties).toMatchObject({
      Stripe_Customer_ID__c: 'cus_R1',
      Stripe_MRR__c: '49.5',
      Stripe_Delinquent__c: 'false',
      Stripe_Last_Payment_Failure__c: null,
      Stripe_Last_MRR_Change_Kind__c: 'new',
      Stripe_Synced_At__c: '2026-11-27T14:00:00.000+0000',
    });
    expect(Object.keys(record?.properties ?? {})).toHaveLength(crmPropertyDefinitions('salesforce').length);
    expect(await b2b.readAccount("cus_O'Brien\\")).toBeNull();
  });

  it('reads the Contact in B2C mode, where the Stripe fields live', async () => {
    const { id } = await b2c.upsertContact({ customerId: 'cus_C9', email: 'solo@example.com', firstName: 'Sam', lastName: 'Solo', fields: { ...FIELDS, customer_id: 'cus_C9' }, accountId: null });
    expect(await b2c.readAccount('cus_C9')).toMatchObject({ id, properties: { Stripe_MRR__c: '49.5', Stripe_Customer_ID__c: 'cus_C9' } });
  });
});

describe('upsertContact', () => {
  it('creates the contact under the Account, falls back to the email for LastName, and does not duplicate it on retry', async () => {
    const account = await b2b.upsertAccount({ customerId: 'cus_P1', name: 'Analytical Engines', domain: 'engines.test', fields: {} });
    const input = { customerId: 'cus_P1', email: 'ada@engines.test', firstName: 'Ada', lastName: null, fields: {}, accountId: account.id, recordId: null };
    const first = await counted(() => b2b.upsertContact(input));
    expect(first.result).toEqual({ id: expect.stringMatching(/^003/), created: true });
    // First link: a look for a contact to adopt, then the upsert.
    expect(first.requests).toBe(2);

    const retry = await b2b.upsertContact(input);
    expect(retry).toEqual({ id: first.result.id, created: false });

    const steady = await counted(() => b2b.upsertContact({ ...input, lastName: 'Lovelace', recordId: first.result.id }));
    expect(steady).toEqual({ result: { id: first.result.id, created: false }, requests: 1 });

    const contacts = await soql<Record<string, unknown>>('SELECT Id, FirstName, LastName, Email, AccountId, Stripe_Customer_ID__c, Stripe_MRR__c FROM Contact');
    expect(contacts).toEqual([
      expect.objectContaining({
        Id: first.result.id,
        FirstName: 'Ada',
        LastName: 'Lovelace',
        Email: 'ada@engines.test',
        AccountId: account.id,
        Stripe_Customer_ID__c: 'cus_P1',
        // B2B leaves the Stripe fields on the Account.
        Stripe_MRR__c: null,
      }),
    ]);
  });

  it('adopts a contact a person created with the same email instead of adding a second one', async () => {
    const existing = await conn.sobject('Contact').create({ FirstName: 'Grace', LastName: 'Hopper', Email: 'Grace@Navy.test', Title: 'Rear Admiral' });
    const taken = await conn.sobject('Contact').create({ LastName: 'Other', Email: 'grace@navy.test', Stripe_Customer_ID__c: 'cus_OTHER' });
    const result = await b2b.upsertContact({ customerId: 'cus_G1', email: 'grace@navy.test', firstName: null, lastName: null, fields: {}, accountId: null });
    expect(result).toEqual({ id: existing.id, created: false });
    expect(await conn.sobject('Contact').retrieve(existing.id as string)).toMatchObject({
      FirstName: 'Grace',
      LastName: 'Hopper',
      Title: 'Rear Admiral',
      Stripe_Customer_ID__c: 'cus_G1',
    });
    expect(await conn.sobject('Contact').retrieve(taken.id as string)).toMatchObject({ Stripe_Customer_ID__c: 'cus_OTHER' });
    expect((await conn.query('SELECT COUNT() FROM Contact')).totalSize).toBe(2);
  });

  it('recreates a linked contact someone deleted', async () => {
    const first = await b2b.upsertContact({ customerId: 'cus_D1', email: 'gone@example.com', firstName: null, lastName: null, fields: {}, accountId: null });
    await conn.sobject('Contact').destroy(first.id);
    const again = await b2b.upsertContact({ customerId: 'cus_D1', email: 'gone@example.com', firstName: null, lastName: null, fields: {}, accountId: null, recordId: first.id });
    expect(again.created).toBe(true);
    expect(again.id).not.toBe(first.id);
    expect(await soql('SELECT LastName, Stripe_Customer_ID__c FROM Contact')).toEqual([expect.objectContaining({ LastName: 'gone', Stripe_Customer_ID__c: 'cus_D1' })]);
  });

  it('changes a linked contact\'s email only while it still shows what we last wrote, and reports each disagreement', async () => {
    const base = { customerId: 'cus_E1', firstName: null, lastName: 'Email', fields: {}, accountId: null };
    const first = await b2b.upsertContact({ ...base, email: 'one@example.com' });
    const followed = await b2b.upsertContact({ ...base, email: 'two@example.com', recordId: first.id, previousEmail: 'one@example.com' });
    expect(followed).toMatchObject({ id: first.id, emailConflict: { crmValue: 'one@example.com', winner: 'stripe', rule: 'unchanged-since-our-write' } });
    await conn.sobject('Contact').update({ Id: first.id, Email: 'person@example.com' });
    const kept = await b2b.upsertContact({ ...base, email: 'three@example.com', recordId: first.id, previousEmail: 'two@example.com' });
    expect(kept).toMatchObject({ id: first.id, emailConflict: { crmValue: 'person@example.com', winner: 'crm', rule: 'edited-in-crm' } });
    expect(await conn.sobject('Contact').retrieve(first.id)).toMatchObject({ Email: 'person@example.com', Stripe_Customer_ID__c: 'cus_E1' });
    expect((await conn.query('SELECT COUNT() FROM Contact')).totalSize).toBe(1);
  });

  it('writes the Stripe fields on the contact in B2C mode', async () => {
    const { id } = await b2c.upsertContact({ customerId: 'cus_C1', email: 'c@example.com', firstName: 'Cee', lastName: 'Consumer', fields: { ...FIELDS, customer_id: 'cus_C1' }, accountId: null });
    expect(await conn.sobject('Contact').retrieve(id)).toMatchObject({ LastName: 'Consumer', AccountId: null, Stripe_MRR__c: 49.5, Stripe_Payment_Method_Status__c: 'valid' });
  });

  it('refuses an Account that was deleted as CrmNotFoundError', async () => {
    const account = await b2b.upsertAccount({ customerId: 'cus_X1', name: 'Soon Gone', domain: null, fields: {} });
    await conn.sobject('Account').destroy(account.id);
    const err = await rejection(b2b.upsertContact({ customerId: 'cus_X1', email: 'x@example.com', firstName: null, lastName: 'X', fields: {}, accountId: account.id }));
    expect(err).toBeInstanceOf(CrmNotFoundError);
  });

  it('refuses Opportunities and Tasks that still name a deleted Account as CrmNotFoundError, so the workflow relinks', async () => {
    // Deleting an Account deletes its Contacts and Opportunities (cascade); the next writes still carry its Id.
    const account = await b2b.upsertAccount({ customerId: 'cus_X2', name: 'Gone Too', domain: null, fields: {} });
    await b2b.upsertDeals({ customerId: 'cus_X2', accountId: account.id, contactId: null, deals: [deal('sub_X2')] });
    await conn.sobject('Account').destroy(account.id);
    expect(await soql('SELECT Id FROM Opportunity WHERE Stripe_Subscription_ID__c = \'sub_X2\'')).toEqual([]);
    const deals = await rejection(b2b.upsertDeals({ customerId: 'cus_X2', accountId: account.id, contactId: null, deals: [deal('sub_X2')] }));
    expect(deals).toBeInstanceOf(CrmNotFoundError);
    expect((deals as Error).message).toMatch(/ENTITY_IS_DELETED/);
    const entry: TimelineEntry = { key: 'invoice_paid:in_X2', kind: 'invoice_paid', occurredAt: 1_764_246_000, subject: 'Invoice paid', body: 'paid', actionable: false };
    expect(await rejection(b2b.writeTimeline({ customerId: 'cus_X2', accountId: account.id, contactId: null, entries: [entry] }))).toBeInstanceOf(CrmNotFoundError);
    // The Account upsert by customer id does not see the deleted record: it creates a new one.
    const again = await b2b.upsertAccount({ customerId: 'cus_X2', name: 'Gone Too', domain: null, fields: {} });
    expect(again.created).toBe(true);
    expect(again.id).not.toBe(account.id);
  });
});

const deal = (subscriptionId: string, overrides: Partial<DealInput> = {}): DealInput => ({
  subscriptionId,
  name: `Pro (${subscriptionId})`,
  amount: 49.5,
  currency: 'USD',
  stage: 'won',
  closeDate: '2026-11-01',
  status: 'active',
  ...overrides,
});

describe('upsertDeals', () => {
  it('upserts every changed subscription in one request, and a retry updates the same Opportunities', async () => {
    const account = await b2b.upsertAccount({ customerId: 'cus_D', name: 'Dealer', domain: null, fields: {} });
    const deals = [deal('sub_won'), deal('sub_open', { stage: 'open', status: 'trialing', amount: 0 }), deal('sub_lost', { stage: 'lost', status: 'incomplete_expired' })];
    const first = await counted(() => b2b.upsertDeals({ customerId: 'cus_D', accountId: account.id, contactId: null, deals }));
    expect(first.requests).toBe(1);
    expect(Object.keys(first.result).sort()).toEqual(['sub_lost', 'sub_open', 'sub_won']);

    const retry = await counted(() => b2b.upsertDeals({ customerId: 'cus_D', accountId: account.id, contactId: null, deals: [deal('sub_won', { status: 'past_due', amount: 59.5 }), ...deals.slice(1)] }));
    expect(retry).toEqual({ result: first.result, requests: 1 });

    const opportunities = await soql<Record<string, unknown>>(
      'SELECT Id, Name, StageName, IsWon, IsClosed, Amount, CloseDate, AccountId, Stripe_Subscription_ID__c, Stripe_Subscription_Status__c FROM Opportunity ORDER BY Stripe_Subscription_ID__c',
    );
    expect(opportunities).toEqual([
      expect.objectContaining({ Id: first.result.sub_lost, StageName: 'Closed Lost', IsWon: false, IsClosed: true, Stripe_Subscription_Status__c: 'incomplete_expired' }),
      expect.objectContaining({ Id: first.result.sub_open, StageName: 'Qualification', IsClosed: false, Amount: 0 }),
      expect.objectContaining({
        Id: first.result.sub_won,
        Name: 'Pro (sub_won)',
        StageName: 'Closed Won',
        IsWon: true,
        Amount: 59.5,
        CloseDate: '2026-11-01',
        AccountId: account.id,
        Stripe_Subscription_ID__c: 'sub_won',
        Stripe_Subscription_Status__c: 'past_due',
      }),
    ]);
  });

  it('uses the configured stage names and splits more than 200 subscriptions into collections of 200', async () => {
    const custom = adapter({ stageNames: { open: 'Prospecting' } });
    const deals = Array.from({ length: 201 }, (_, i) => deal(`sub_${String(i).padStart(3, '0')}`, { stage: 'open' }));
    const { result, requests } = await counted(() => custom.upsertDeals({ customerId: 'cus_M', accountId: null, contactId: null, deals }));
    expect(requests).toBe(2);
    expect(Object.keys(result)).toHaveLength(201);
    expect(await soql('SELECT StageName FROM Opportunity WHERE Stripe_Subscription_ID__c = \'sub_200\'')).toEqual([expect.objectContaining({ StageName: 'Prospecting' })]);
    expect((await conn.query('SELECT COUNT() FROM Opportunity')).totalSize).toBe(201);
  });

  it('names every refused record in a CrmValidationError, after saving the others', async () => {
    const err = await rejection(b2b.upsertDeals({ customerId: 'cus_V', accountId: null, contactId: null, deals: [deal('sub_ok'), deal('sub_huge', { amount: 1e17 })] }));
    expect(err).toBeInstanceOf(CrmValidationError);
    expect((err as Error).message).toContain('sub_huge');
    expect((err as Error).message).toContain('NUMBER_OUTSIDE_VALID_RANGE');
    expect((err as CrmValidationError).details).toEqual({
      failures: [{ key: 'sub_huge', errors: [expect.objectContaining({ code: 'NUMBER_OUTSIDE_VALID_RANGE', fields: ['Amount'] })] }],
    });
    expect(await soql('SELECT Stripe_Subscription_ID__c FROM Opportunity')).toEqual([expect.objectContaining({ Stripe_Subscription_ID__c: 'sub_ok' })]);
  });

  it('leaves an Opportunity\'s StageName to Salesforce once it exists: a person\'s stage survives, disagreements are reported', async () => {
    const account = await b2b.upsertAccount({ customerId: 'cus_St', name: 'Staged', domain: null, fields: {} });
    const conflicts: StageConflict[] = [];
    const upsert = (deals: DealInput[]) => counted(() => b2b.upsertDeals({ customerId: 'cus_St', accountId: account.id, contactId: null, deals, onStageConflict: (c) => conflicts.push(c) }));
    const stageOf = async (id: string) => (await soql<{ StageName: string }>(`SELECT StageName FROM Opportunity WHERE Id = '${id}'`))[0]?.StageName;
    const trial = deal('sub_st', { stage: 'open', status: 'trialing', amount: 0 });
    const id = (await upsert([trial])).result.sub_st!;
    expect(await stageOf(id)).toBe('Qualification');

    // A person moves it; Stripe's stage has not moved: StageName is left out and nothing is read.
    await conn.sobject('Opportunity').update({ Id: id, StageName: 'Negotiation/Review' });
    expect((await upsert([{ ...trial, amount: 5, lastStage: 'open' }])).requests).toBe(1);
    expect(await stageOf(id)).toBe('Negotiation/Review');

    // The trial converts: the person's stage stands, the disagreement is reported (one query, one upsert).
    const converted = deal('sub_st', { lastStage: 'open' });
    expect((await upsert([converted])).requests).toBe(2);
    expect(await stageOf(id)).toBe('Negotiation/Review');
    expect(conflicts).toEqual([{ subscriptionId: 'sub_st', recordId: id, stripeValue: 'Closed Won', crmValue: 'Negotiation/Review', winner: 'crm', rule: 'edited-in-crm' }]);

    // Still what we wrote: Stripe's move is written.
    await conn.sobject('Opportunity').update({ Id: id, StageName: 'Qualification' });
    await upsert([converted]);
    expect(await stageOf(id)).toBe('Closed Won');

    // Deleted in Salesforce: created again, with the StageName it requires even though the write left it out.
    await conn.sobject('Opportunity').destroy(id);
    const recreated = (await upsert([deal('sub_st', { lastStage: 'won', amount: 7 })])).result.sub_st!;
    expect(recreated).not.toBe(id);
    expect(await stageOf(recreated)).toBe('Closed Won');
  });

  it('makes no request when there is nothing to write', async () => {
    expect(await counted(() => b2b.upsertDeals({ customerId: 'cus_E', accountId: null, contactId: null, deals: [] }))).toEqual({ result: {}, requests: 0 });
    expect(await counted(() => b2b.writeTimeline({ customerId: 'cus_E', accountId: null, contactId: null, entries: [] }))).toEqual({ result: { keys: [] }, requests: 0 });
  });
});

describe('writeTimeline', () => {
  const entries: TimelineEntry[] = [
    { key: 'invoice_paid:in_1', kind: 'invoice_paid', occurredAt: 1_764_246_000, subject: 'Invoice INV-1 paid: USD 49.50', body: 'Stripe invoice in_1 was paid (USD 49.50).', actionable: false },
    { key: 'payment_failed:in_2:1', kind: 'payment_failed', occurredAt: 1_764_332_400, subject: 'Payment failed: USD 49.50', body: 'Card declined.', actionable: true },
  ];

  it('writes notes as completed Tasks and actionable entries as open ones, on the Account and contact, once', async () => {
    const account = await b2b.upsertAccount({ customerId: 'cus_T', name: 'Timeline Co', domain: null, fields: {} });
    const contact = await b2b.upsertContact({ customerId: 'cus_T', email: 'tim@timeline.test', firstName: 'Tim', lastName: 'Line', fields: {}, accountId: account.id });
    const input = { customerId: 'cus_T', accountId: account.id, contactId: contact.id, entries };
    const first = await counted(() => b2b.writeTimeline(input));
    expect(first).toEqual({ result: { keys: ['invoice_paid:in_1', 'payment_failed:in_2:1'] }, requests: 1 });

    // A replayed event writes the same entries again: still two Tasks.
    expect(await b2b.writeTimeline({ ...input, entries: [...entries, entries[0] as TimelineEntry] })).toEqual(first.result);
    const tasks = await soql<Record<string, unknown>>('SELECT Subject, Description, Status, IsClosed, Priority, ActivityDate, WhatId, WhoId, Stripe_Activity_Key__c FROM Task ORDER BY ActivityDate');
    expect(tasks).toEqual([
      expect.objectContaining({
        Stripe_Activity_Key__c: 'invoice_paid:in_1',
        Subject: 'Invoice INV-1 paid: USD 49.50',
        Description: 'Stripe invoice in_1 was paid (USD 49.50).',
        Status: 'Completed',
        IsClosed: true,
        ActivityDate: '2025-11-27',
        WhatId: account.id,
        WhoId: contact.id,
      }),
      expect.objectContaining({ Stripe_Activity_Key__c: 'payment_failed:in_2:1', Status: 'Not Started', IsClosed: false, Priority: 'High', ActivityDate: '2025-11-28' }),
    ]);
  });

  it('links Tasks to the contact alone in B2C mode', async () => {
    const contact = await b2c.upsertContact({ customerId: 'cus_TC', email: 'b2c@example.com', firstName: null, lastName: 'Buyer', fields: {}, accountId: null });
    await b2c.writeTimeline({ customerId: 'cus_TC', accountId: null, contactId: contact.id, entries: [entries[1] as TimelineEntry] });
    expect(await soql('SELECT WhatId, WhoId FROM Task')).toEqual([expect.objectContaining({ WhatId: null, WhoId: contact.id })]);
  });
});

describe('errors', () => {
  it('reports an exhausted daily allocation as CrmRateLimitError with a 60 s delay', async () => {
    await admin('PATCH', '/__sandbox/limits', { dailyApiRequests: 10, used: 10 });
    const err = await rejection(b2b.upsertAccount({ customerId: 'cus_L', name: 'Limited', domain: null, fields: {} }));
    expect(err).toBeInstanceOf(CrmRateLimitError);
    expect((err as CrmRateLimitError).retryAfterMs).toBe(60_000);
  });

  it('reports the concurrency limit with a short delay, and uses configured delays', async () => {
    await admin('PATCH', '/__sandbox/limits', { maxConcurrentRequests: 0 });
    const err = await rejection(b2b.readAccount('cus_L'));
    expect(err).toBeInstanceOf(CrmRateLimitError);
    expect((err as CrmRateLimitError).retryAfterMs).toBe(5_000);
    const tuned = adapter({ rateLimitDelays: { concurrencyMs: 750 } });
    expect(await rejection(tuned.writeTimeline({ customerId: 'cus_L', accountId: null, contactId: null, entries: [{ key: 'k', kind: 'refund', occurredAt: 0, subject: 's', body: 'b', actionable: false }] }))).toMatchObject({
      name: 'CrmRateLimitError',
      retryAfterMs: 750,
    });
  });

  it('maps an injected over-limit answer (Salesforce has no 429) to CrmRateLimitError', async () => {
    await admin('POST', '/__sandbox/faults', { path: '/composite/sobjects/Opportunity', rate429: 1, times: 1 });
    const err = await rejection(b2b.upsertDeals({ customerId: 'cus_F', accountId: null, contactId: null, deals: [deal('sub_f')] }));
    expect(err).toBeInstanceOf(CrmRateLimitError);
    expect((err as CrmRateLimitError).retryAfterMs).toBe(60_000);
  });

  it('makes a single attempt on a 5xx and leaves the retry to Temporal', async () => {
    await admin('POST', '/__sandbox/faults', { method: 'GET', path: '/query', rate5xx: 1, status5xx: 503, times: 1 });
    const err = await rejection(b2b.readAccount('cus_5'));
    // Thrown as-is: not a CrmValidationError (permanent) and not a rate limit.
    expect(err).not.toBeInstanceOf(CrmValidationError);
    expect(err).not.toBeInstanceOf(CrmRateLimitError);
    expect(err).toMatchObject({ errorCode: 'SERVER_UNAVAILABLE' });
    expect(await admin('GET', '/__sandbox/faults')).toMatchObject({ injected: { '5xx': 1 } });
    expect(await b2b.readAccount('cus_5')).toBeNull();
  });

  it('gives up on a request that takes longer than the request timeout', async () => {
    await admin('POST', '/__sandbox/faults', { path: '/query', latencyMs: 1_500, times: 1 });
    const impatient = adapter({ requestTimeoutMs: 200 });
    expect(await rejection(impatient.readAccount('cus_slow'))).toBeInstanceOf(SalesforceTimeoutError);
  });

  it('reports a field the org lacks as CrmValidationError with Salesforce\'s code', async () => {
    const misnamed = adapter({ fieldNameOverrides: { mrr: 'Stripe_Monthly_Revenue__c' } });
    const err = await rejection(misnamed.upsertAccount({ customerId: 'cus_V1', name: 'V', domain: null, fields: FIELDS }));
    expect(err).toBeInstanceOf(CrmValidationError);
    expect((err as CrmValidationError).details).toEqual({ errors: [expect.objectContaining({ code: 'INVALID_FIELD' })] });
    expect(await misnamed.provision()).toMatchObject({ missing: ['Account.Stripe_Monthly_Revenue__c ("Stripe MRR"): Number(15, 3)'] });
  });

  it('refuses configurations it cannot work with when created', () => {
    expect(() => adapter({ fieldNameOverrides: { customer_id: null } })).toThrow(SalesforceConfigError);
    expect(() => adapter({ apiVersion: '45.0' })).toThrow(SalesforceConfigError);
  });
});

describe('provision', () => {
  it('finds every field in place in a fully set-up org, for both modes, and creates nothing', async () => {
    const report = await counted(() => b2b.provision());
    expect(report.result.missing).toEqual([]);
    expect(report.result.created).toEqual([]);
    expect(report.result.existing).toContain('Account.Stripe_Customer_ID__c');
    expect(report.result.existing).toContain('Contact.Stripe_Customer_ID__c');
    expect(report.result.existing).toContain('Opportunity.Stripe_Subscription_ID__c');
    expect(report.result.existing).toContain('Task.Stripe_Activity_Key__c');
    expect(report.result.existing).toHaveLength(crmPropertyDefinitions('salesforce').length + 4);
    expect(report.requests).toBe(4);
    expect((await b2c.provision()).missing).toEqual([]);
    expect(formatSalesforceProvisionReport(report.result)).toBe(`Salesforce: all ${report.result.existing.length} custom fields the sync writes are in place.`);
  });

  it('reports exactly the fields an admin must add or change', async () => {
    const partial = await startSalesforceSandbox({
      port: 0,
      customFields: {
        Account: [
          // Present but not marked External ID / Unique.
          { name: 'Stripe_Customer_ID__c', type: 'string', length: 255 },
          // Two decimals: KWD amounts would lose their third.
          { name: 'Stripe_MRR__c', type: 'double', precision: 18, scale: 2 },
          { name: 'Stripe_Delinquent__c', type: 'boolean' },
          { name: 'Stripe_Plan_Name__c', type: 'date' },
          { name: 'Stripe_Payment_Method_Status__c', type: 'picklist', picklistValues: ['valid', 'failed'], restrictedPicklist: true },
        ],
        Task: [{ name: 'Stripe_Activity_Key__c', type: 'string', length: 255, externalId: true, unique: true }],
      },
    });
    try {
      const report = await adapter({}, partial.url).provision();
      expect(report.created).toEqual([]);
      expect(report.existing).toEqual(['Account.Stripe_Delinquent__c', 'Task.Stripe_Activity_Key__c']);
      expect(report.missing).toEqual([
        'Account.Stripe_Customer_ID__c ("Stripe Customer ID"): Text(255), External ID, Unique — is not an External ID, is not Unique',
        'Account.Stripe_Subscription_Status__c ("Stripe Subscription Status"): Picklist (active, past_due, trialing, unpaid, paused, incomplete, incomplete_expired, canceled, none)',
        'Account.Stripe_MRR__c ("Stripe MRR"): Number(15, 3) — has 2 decimal places',
        'Account.Stripe_Currency__c ("Stripe Currency"): Text(255)',
        'Account.Stripe_Plan_Name__c ("Stripe Plan"): Text(255) — exists as Date',
        'Account.Stripe_Billing_Interval__c ("Stripe Billing Interval"): Text(255)',
        'Account.Stripe_Next_Renewal_Date__c ("Stripe Next Renewal Date"): Date',
        'Account.Stripe_Trial_End_Date__c ("Stripe Trial End Date"): Date',
        'Account.Stripe_Payment_Method_Status__c ("Stripe Payment Method Status"): Picklist (valid, expiring, failed, missing) — its restricted picklist lacks expiring, missing',
        'Account.Stripe_LTV__c ("Stripe Lifetime Value"): Number(15, 3)',
        'Account.Stripe_Last_Payment_Date__c ("Stripe Last Payment Date"): Date',
        'Account.Stripe_Last_Payment_Amount__c ("Stripe Last Payment Amount"): Number(15, 3)',
        'Account.Stripe_Failed_Payment_Count__c ("Stripe Failed Payments"): Number(18, 0)',
        'Account.Stripe_Last_Payment_Failure__c ("Stripe Last Payment Failure"): Text(255)',
        'Account.Stripe_Customer_Deleted__c ("Stripe Customer Deleted"): Checkbox',
        'Account.Stripe_Days_To_First_Payment__c ("Stripe Days To First Payment"): Number(18, 0)',
        'Account.Stripe_Discount__c ("Stripe Discount"): Text(255)',
        'Account.Stripe_Cancel_At_Period_End__c ("Stripe Cancels At Period End"): Checkbox',
        'Account.Stripe_Last_MRR_Change__c ("Stripe Last MRR Change"): Number(15, 3)',
        'Account.Stripe_Last_MRR_Change_Kind__c ("Stripe Last MRR Change Kind"): Picklist (new, expansion, contraction, churn, reactivation)',
        'Account.Stripe_Last_MRR_Change_Date__c ("Stripe Last MRR Change Date"): Date',
        'Account.Stripe_Needs_Enrichment__c ("Stripe Needs Enrichment"): Checkbox',
        'Account.Stripe_Synced_At__c ("Stripe Synced At"): Date/Time',
        'Contact.Stripe_Customer_ID__c ("Stripe Customer ID"): Text(255), External ID, Unique',
        'Opportunity.Stripe_Subscription_ID__c ("Stripe Subscription ID"): Text(255), External ID, Unique',
        'Opportunity.Stripe_Subscription_Status__c ("Stripe Subscription Status"): Text(255)',
      ]);
      const printed = formatSalesforceProvisionReport(report);
      expect(printed.split('\n')[0]).toBe('Salesforce: 26 of 28 custom fields the sync writes are missing or need changes.');
      expect(printed).toContain('\n  - Opportunity.Stripe_Subscription_ID__c ("Stripe Subscription ID"): Text(255), External ID, Unique');
    } finally {
      await partial.close();
    }
  });
});

describe('subscriptions as a custom object (CRM_SUBSCRIPTION_OBJECT)', () => {
  // The object as an admin would build it by hand, written out here rather than from the adapter's requirement list.
  const subscriptionObject = (lookup: CustomFieldSpec) => ({
    name: 'Stripe_Subscription__c',
    label: 'Stripe Subscription',
    fields: [
      { name: 'Stripe_Subscription_ID__c', type: 'string', length: 255, externalId: true, unique: true },
      { name: 'Stripe_Subscription_Status__c', type: 'string', length: 255 },
      { name: 'Stripe_Stage__c', type: 'picklist', picklistValues: ['open', 'won', 'lost'] },
      { name: 'Stripe_MRR__c', type: 'double', precision: 18, scale: 3 },
      { name: 'Stripe_Currency__c', type: 'string', length: 255 },
      { name: 'Stripe_Customer_ID__c', type: 'string', length: 255 },
      { name: 'Stripe_Start_Date__c', type: 'date' },
      { name: 'Stripe_Next_Renewal_Date__c', type: 'date' },
      { name: 'Stripe_Trial_End_Date__c', type: 'date' },
      { name: 'Stripe_End_Date__c', type: 'date' },
      lookup,
    ] satisfies CustomFieldSpec[],
  });
  const accountLookup: CustomFieldSpec = { name: 'Account__c', type: 'reference', referenceTo: 'Account' };
  const contactLookup: CustomFieldSpec = { name: 'Contact__c', type: 'reference', referenceTo: 'Contact' };
  const { Opportunity: _opportunity, ...withoutOpportunity } = FULL_SETUP;
  let org: RunningSandbox & { sandbox: SalesforceSandbox };
  let orgConn: Connection;
  const SELECT = 'SELECT Id, Name, Stripe_Subscription_ID__c, Stripe_Subscription_Status__c, Stripe_Stage__c, Stripe_MRR__c, Stripe_Currency__c, Stripe_Customer_ID__c, ' +
    'Stripe_Start_Date__c, Stripe_Next_Renewal_Date__c, Stripe_Trial_End_Date__c, Stripe_End_Date__c, Account__c FROM Stripe_Subscription__c ORDER BY Stripe_Subscription_ID__c';
  const sub = (id: string, overrides: Partial<DealInput> = {}): DealInput => ({
    subscriptionId: id, name: `Pro (${id})`, amount: 49.5, currency: 'USD', stage: 'won', closeDate: '2026-11-01', status: 'active',
    nextRenewalDate: '2026-12-01', trialEndDate: null, endDate: null, ...overrides,
  });

  /** `counted`, against this describe's own org. */
  async function counted<T>(fn: () => Promise<T>): Promise<{ result: T; requests: number }> {
    const used = async () => ((await admin('GET', '/__sandbox/state', undefined, org.url)) as { apiUsage: { used: number } }).apiUsage.used;
    const before = await used();
    const result = await fn();
    return { result, requests: (await used()) - before };
  }

  beforeAll(async () => {
    org = await startSalesforceSandbox({ port: 0, customFields: withoutOpportunity, customObjects: [subscriptionObject(accountLookup), { name: 'Contact_Subscription__c', fields: subscriptionObject(contactLookup).fields }] });
    orgConn = salesforceConnectionFor(org.url);
  });

  afterAll(async () => {
    await org.close();
  });

  beforeEach(async () => {
    await admin('POST', '/__sandbox/reset', undefined, org.url);
  });

  it('upserts one record per subscription by its id in one request, with its details and Account, and writes no Opportunity', async () => {
    const crm = adapter({ subscriptionObject: 'Stripe_Subscription__c' }, org.url);
    const account = await crm.upsertAccount({ customerId: 'cus_S', name: 'Subscriber', domain: null, fields: {} });
    const longName = `${'Enterprise plan with many add-ons '.repeat(4)}(sub_b)`;
    const deals = [sub('sub_a'), sub('sub_b', { name: longName, stage: 'open', status: 'trialing', amount: 0, currency: 'EUR', trialEndDate: '2026-11-15', nextRenewalDate: '2026-11-15' })];
    const first = await counted(() => crm.upsertDeals({ customerId: 'cus_S', accountId: account.id, contactId: null, deals }));
    expect(first.requests).toBe(1);
    const records = (await orgConn.query<Record<string, unknown>>(SELECT)).records;
    expect(records).toEqual([
      expect.objectContaining({
        Id: first.result.sub_a, Name: 'Pro (sub_a)', Stripe_Subscription_ID__c: 'sub_a', Stripe_Subscription_Status__c: 'active', Stripe_Stage__c: 'won', Stripe_MRR__c: 49.5,
        Stripe_Currency__c: 'USD', Stripe_Customer_ID__c: 'cus_S', Stripe_Start_Date__c: '2026-11-01', Stripe_Next_Renewal_Date__c: '2026-12-01', Stripe_Trial_End_Date__c: null,
        Stripe_End_Date__c: null, Account__c: account.id,
      }),
      expect.objectContaining({ Id: first.result.sub_b, Name: longName.slice(0, 80), Stripe_Stage__c: 'open', Stripe_MRR__c: 0, Stripe_Currency__c: 'EUR', Stripe_Trial_End_Date__c: '2026-11-15' }),
    ]);
    expect((await orgConn.query('SELECT Id FROM Opportunity')).records).toEqual([]);

    // A retry or a later change updates the same records; a cancellation clears the renewal and sets the end.
    const canceled = sub('sub_a', { status: 'canceled', nextRenewalDate: null, endDate: '2026-11-20' });
    const again = await counted(() => crm.upsertDeals({ customerId: 'cus_S', accountId: account.id, contactId: null, deals: [canceled, deals[1]!] }));
    expect(again).toEqual({ result: first.result, requests: 1 });
    const [updated] = (await orgConn.query<Record<string, unknown>>(SELECT)).records;
    expect(updated).toMatchObject({ Stripe_Subscription_Status__c: 'canceled', Stripe_Next_Renewal_Date__c: null, Stripe_End_Date__c: '2026-11-20' });
    expect((await orgConn.query(`SELECT Id FROM Stripe_Subscription__c`)).records).toHaveLength(2);
  });

  it('the backfill writes the same records, through collections and through Bulk API 2.0', async () => {
    const crm = adapter({ subscriptionObject: 'Stripe_Subscription__c' }, org.url);
    const account = await crm.upsertAccount({ customerId: 'cus_B', name: 'Backfilled', domain: null, fields: {} });
    const backfill = crm.backfill!;
    const links = { customerId: 'cus_B', accountId: account.id, contactId: null };
    const viaCollection = await backfill.upsertDeals([{ ...sub('sub_x'), ...links }]);
    const viaBulk = await backfill.upsertDeals([{ ...sub('sub_y', { status: 'canceled', nextRenewalDate: null, endDate: '2026-11-20' }), ...links }], {});
    expect([...viaCollection, ...viaBulk].map((r) => [r.key, r.ok])).toEqual([['sub_x', true], ['sub_y', true]]);
    const rows = (await orgConn.query<Record<string, unknown>>(SELECT)).records;
    expect(rows).toEqual([
      expect.objectContaining({ Stripe_Subscription_ID__c: 'sub_x', Account__c: account.id, Stripe_Customer_ID__c: 'cus_B', Stripe_Next_Renewal_Date__c: '2026-12-01' }),
      expect.objectContaining({ Stripe_Subscription_ID__c: 'sub_y', Account__c: account.id, Stripe_Subscription_Status__c: 'canceled', Stripe_Next_Renewal_Date__c: null, Stripe_End_Date__c: '2026-11-20' }),
    ]);
    expect(await backfill.findDeals(['sub_x', 'sub_y'])).toEqual({ sub_x: rows[0]!.Id, sub_y: rows[1]!.Id });
    // The real-time path upserts onto the same record.
    expect(await crm.upsertDeals({ ...links, deals: [sub('sub_x')] })).toEqual({ sub_x: rows[0]!.Id });
    expect((await orgConn.query('SELECT Id FROM Opportunity')).records).toEqual([]);
  });

  it('hangs B2C records off the Contact', async () => {
    const crm = adapter({ subscriptionObject: 'Contact_Subscription__c', mode: 'b2c' }, org.url);
    const contact = await crm.upsertContact({ customerId: 'cus_C', email: 'c@example.com', firstName: 'C', lastName: 'D', fields: {}, accountId: null });
    const ids = await crm.upsertDeals({ customerId: 'cus_C', accountId: null, contactId: contact.id, deals: [sub('sub_c')] });
    const [record] = (await orgConn.query<Record<string, unknown>>(`SELECT Id, Contact__c, Stripe_Customer_ID__c FROM Contact_Subscription__c`)).records;
    expect(record).toMatchObject({ Id: ids.sub_c, Contact__c: contact.id, Stripe_Customer_ID__c: 'cus_C' });
  });

  it('setup finds the object and its fields in place, in both modes, instead of the Opportunity fields', async () => {
    const report = await adapter({ subscriptionObject: 'Stripe_Subscription__c' }, org.url).provision();
    expect(report.missing).toEqual([]);
    expect(report.existing).toEqual(expect.arrayContaining(['Stripe_Subscription__c.Name', 'Stripe_Subscription__c.Stripe_Subscription_ID__c', 'Stripe_Subscription__c.Account__c']));
    expect(report.existing.filter((f) => f.startsWith('Opportunity.'))).toEqual([]);
    // B2C needs the Contact lookup, which this object lacks.
    const b2cReport = await adapter({ subscriptionObject: 'Stripe_Subscription__c', mode: 'b2c' }, org.url).provision();
    expect(b2cReport.missing).toEqual(['Stripe_Subscription__c.Contact__c ("Contact"): Lookup(Contact)']);
  });

  it('setup prints exactly what is missing: the object itself, or the fields that cannot serve', async () => {
    const missingObject = await adapter({ subscriptionObject: 'Billing_Subscription__c' }, org.url).provision();
    expect(missingObject.missing).toEqual([
      expect.stringMatching(/^Billing_Subscription__c: the custom object does not exist/),
      'Billing_Subscription__c.Name (Record Name "Subscription Name"): Text(80), not Auto Number',
      'Billing_Subscription__c.Stripe_Subscription_ID__c ("Stripe Subscription ID"): Text(255), External ID, Unique',
      'Billing_Subscription__c.Stripe_Subscription_Status__c ("Stripe Subscription Status"): Text(255)',
      'Billing_Subscription__c.Stripe_Stage__c ("Stripe Stage"): Picklist (open, won, lost)',
      'Billing_Subscription__c.Stripe_MRR__c ("Stripe MRR"): Number(15, 3)',
      'Billing_Subscription__c.Stripe_Currency__c ("Stripe Currency"): Text(255)',
      'Billing_Subscription__c.Stripe_Customer_ID__c ("Stripe Customer ID"): Text(255)',
      'Billing_Subscription__c.Stripe_Start_Date__c ("Stripe Start Date"): Date',
      'Billing_Subscription__c.Stripe_Next_Renewal_Date__c ("Stripe Next Renewal Date"): Date',
      'Billing_Subscription__c.Stripe_Trial_End_Date__c ("Stripe Trial End Date"): Date',
      'Billing_Subscription__c.Stripe_End_Date__c ("Stripe End Date"): Date',
      'Billing_Subscription__c.Account__c ("Account"): Lookup(Account)',
    ]);
    expect(formatSalesforceProvisionReport(missingObject)).toContain('\n  - Billing_Subscription__c.Account__c ("Account"): Lookup(Account)');

    // The object exists, but its key is not an External ID and its Account lookup points elsewhere.
    await admin('POST', '/__sandbox/schema/objects', {
      name: 'Billing_Subscription__c',
      fields: [
        ...subscriptionObject(accountLookup).fields.filter((f) => f.name !== 'Stripe_Subscription_ID__c' && f.name !== 'Account__c'),
        { name: 'Stripe_Subscription_ID__c', type: 'string', length: 255 },
        { name: 'Account__c', type: 'reference', referenceTo: 'Contact' },
      ],
    }, org.url);
    const broken = await adapter({ subscriptionObject: 'Billing_Subscription__c' }, org.url).provision();
    expect(broken.missing).toEqual([
      'Billing_Subscription__c.Stripe_Subscription_ID__c ("Stripe Subscription ID"): Text(255), External ID, Unique — is not an External ID, is not Unique',
      'Billing_Subscription__c.Account__c ("Account"): Lookup(Account) — looks up Contact, not Account',
    ]);
  });

  it('refuses a subscription object that is not a custom object API name when created', () => {
    expect(() => adapter({ subscriptionObject: 'Subscriptions' })).toThrow(SalesforceConfigError);
  });
});

describe('backfill identity index and links', () => {
  it('pages through every Account with one query and queryMore, 2,000 per request, and starts the query over once the locator is gone', async () => {
    const created: string[] = [];
    for (let i = 0; i < 2_050; i += 200) {
      const chunk = Array.from({ length: Math.min(200, 2_050 - i) }, (_, j) => ({ Name: `Account ${i + j}` }));
      const results = (await conn.sobject('Account').create(chunk, { allOrNone: true })) as Array<{ id: string }>;
      created.push(...results.map((r) => r.id));
    }
    await conn.sobject('Account').update({ Id: created[0]!, Website: 'https://www.first.test/about', Stripe_Customer_ID__c: 'cus_1' });
    const backfill = b2b.backfill!;
    const first = await counted(() => backfill.listAccountsForIdentity(null));
    expect(first.requests).toBe(1);
    expect(first.result.rows).toHaveLength(2_000);
    expect(first.result.rows.find((r) => r.recordId === created[0])).toEqual({ recordId: created[0], name: 'Account 0', domain: 'https://www.first.test/about', stripeCustomerId: 'cus_1' });
    const second = await counted(() => backfill.listAccountsForIdentity(first.result.next));
    expect(second.requests).toBe(1);
    expect(second.result.next).toBeNull();
    expect(new Set([...first.result.rows, ...second.result.rows].map((r) => r.recordId))).toEqual(new Set(created));

    // A retry long after: the locator has expired, so the query starts over (the index keeps each row once).
    const resumed = await counted(() => backfill.listAccountsForIdentity(`/services/data/v${SALESFORCE_API_VERSION}/query/01gEXPIRED-2000`));
    expect(resumed.requests).toBe(2);
    expect(resumed.result.rows.map((r) => r.recordId)).toEqual(first.result.rows.map((r) => r.recordId));
    expect(resumed.result.next).not.toBeNull();
  });

  it('lists Contacts that have an email and an Account', async () => {
    const account = ((await conn.sobject('Account').create({ Name: 'Acme' })) as { id: string }).id;
    const contact = ((await conn.sobject('Contact').create({ LastName: 'Ada', Email: 'Ada@Acme.test', AccountId: account })) as { id: string }).id;
    await conn.sobject('Contact').create({ LastName: 'Alone', Email: 'alone@acme.test' });
    await conn.sobject('Contact').create({ LastName: 'No Mail', AccountId: account });
    expect(await b2b.backfill!.listContactsForIdentity(null)).toEqual({ rows: [{ contactId: contact, email: 'Ada@Acme.test', accountIds: [account] }], next: null });
  });

  it('writes linked Accounts by Id in one collection, stamping the Stripe id; Name only where given; a deleted one fails alone', async () => {
    const kept = ((await conn.sobject('Account').create({ Name: 'Kept Name' })) as { id: string }).id;
    const gone = ((await conn.sobject('Account').create({ Name: 'Gone' })) as { id: string }).id;
    await conn.sobject('Account').destroy(gone);
    const { result, requests } = await counted(() => b2b.backfill!.updateAccounts([
      { customerId: 'cus_1', recordId: kept, name: null, domain: 'kept.test', fields: FIELDS },
      { customerId: 'cus_2', recordId: gone, name: 'Gone', domain: null, fields: FIELDS },
    ]));
    expect(requests).toBe(1);
    expect(result[0]).toEqual({ key: 'cus_1', ok: true, id: kept, created: false });
    expect(result[1]).toMatchObject({ key: 'cus_2', ok: false });
    const [row] = await soql<Record<string, unknown>>(`SELECT Name, Website, Stripe_Customer_ID__c, Stripe_MRR__c FROM Account WHERE Id = '${kept}'`);
    expect(row).toMatchObject({ Name: 'Kept Name', Website: 'kept.test', Stripe_Customer_ID__c: 'cus_1', Stripe_MRR__c: 49.5 });
    // From now on the upserts by the Stripe id land on it.
    expect(await b2b.upsertAccount({ customerId: 'cus_1', name: null, domain: null, fields: FIELDS })).toEqual({ id: kept, created: false });
  });
});
