import type { Client as HubSpotClient } from '@hubspot/api-client';
import type { Connection } from 'jsforce';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crmFieldNames } from '../../domain/crm-field-names.js';
import { customerWorkflowId } from '../../domain/workflow-ids.js';
import { hubspotClientFor } from '../../sandboxes/hubspot/index.js';
import { salesforceConnectionFor } from '../../sandboxes/salesforce/index.js';
import type { SyncStatus } from '../../workflows/customer-sync.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

type Counts = Record<'created' | 'matched' | 'updated' | 'skipped' | 'failed', number>;
interface RunView {
  id: string;
  status: string;
  counts: Counts;
  byObject: Record<string, Counts>;
  crmRequests: number | null;
  identityIndex: { rows: number; requests: number; done: boolean } | null;
}
interface LogRow {
  objectType: string;
  stripeId: string;
  customerId: string;
  outcome: string;
  reason: string | null;
  crmRecordId: string | null;
}
interface Review {
  id: string;
  kind: string;
  source: string;
  status: string;
  reason: string;
  customerId: string;
  candidates: Array<{ recordId: string; method: string; score: number; name: string | null; domain: string | null }>;
}
interface HubSpotObject {
  id: string;
  properties: Record<string, string | null>;
  associations: Record<string, Array<{ toId: string }>>;
  archived: boolean;
}

const counts = (partial: Partial<Counts>): Counts => ({ created: 0, matched: 0, updated: 0, skipped: 0, failed: 0, ...partial });

/** The API of one stack, as a user reaches it. */
function harness(get: () => TestStack) {
  const api = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> => {
    const res = await fetch(`${get().api.url}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, json: (await res.json()) as T };
  };
  const run = async (body: Record<string, unknown>) => {
    const { status, json } = await api<RunView>('POST', '/backfills', body);
    expect(status).toBe(202);
    return eventually(async () => {
      const { json: view } = await api<RunView>('GET', `/backfills/${json.id}`);
      expect(['completed', 'canceled', 'failed']).toContain(view.status);
      return view;
    }, 90_000, 250);
  };
  const log = async (runId: string) => (await api<{ data: LogRow[] }>('GET', `/backfills/${runId}/records?limit=1000`)).json.data;
  const openReviews = async () => (await api<{ data: Review[] }>('GET', '/reviews?status=open&kind=match')).json.data;
  return { api, run, log, openReviews };
}

/**
 * Four customers imported without events, each at its own company domain, against a CRM that already
 * holds: a company at the first one's domain under a similar name, a contact with the second one's exact
 * email at a company, two duplicate companies at the third one's domain, and nothing for the fourth.
 */
function seedCustomers(stack: TestStack): Promise<{ a: string; b: string; c: string; d: string; emails: Record<string, string> }> {
  const ids: string[] = [];
  return (async () => {
    for (const domain of ['acme-bf.example', 'globex-bf.example', 'initech-bf.example', 'umbrella-bf.example']) {
      const seeded = stack.sandboxes.stripe.sandbox.seed({ customers: 1, subscriptionsPerCustomer: 1, withInvoices: false, emitEvents: false, emailDomain: domain });
      ids.push(seeded.sample.customers[0]!);
    }
    const emails: Record<string, string> = {};
    for (const id of ids) emails[id] = (await stack.stripe.customers.retrieve(id) as { email: string }).email;
    const [a, b, c, d] = ids as [string, string, string, string];
    return { a, b, c, d, emails };
  })();
}

/** Both CRMs, the same population: A and B matched, D created, C held for review (with its contact and deal). */
function expectFirstRunCounts(done: { byObject: unknown }): void {
  expect(done.byObject).toEqual({
    customer: counts({ matched: 2, created: 1, skipped: 1 }),
    contact: counts({ created: 2, updated: 1, skipped: 1 }),
    subscription: counts({ created: 3, skipped: 1 }),
  });
}

describe('backfill identity resolution against HubSpot: the real-time rules, from an index read with the list APIs', () => {
  let stack: TestStack;
  let hubspot: HubSpotClient;
  let ids: Awaited<ReturnType<typeof seedCustomers>>;
  const crm: Record<string, string> = {};
  const { api, run, log, openReviews } = harness(() => stack);
  const companies = async (): Promise<HubSpotObject[]> =>
    ((await (await fetch(`${stack.sandboxes.hubspot.url}/__sandbox/objects/companies`)).json()) as { results: HubSpotObject[] }).results.filter((o) => !o.archived);
  const contacts = async (): Promise<HubSpotObject[]> =>
    ((await (await fetch(`${stack.sandboxes.hubspot.url}/__sandbox/objects/contacts`)).json()) as { results: HubSpotObject[] }).results.filter((o) => !o.archived);
  const company = async (id: string) => (await companies()).find((c) => c.id === id)!;

  beforeAll(async () => {
    stack = await startTestStack({ provider: 'hubspot', env: { CRM_RATE_LIMIT_PER_SECOND: '50', STRIPE_READ_RATE_LIMIT_PER_SECOND: '50' } });
    hubspot = hubspotClientFor(stack.sandboxes.hubspot.url, 'sales-team');
    ids = await seedCustomers(stack);
    const create = async (properties: Record<string, string>) => (await hubspot.crm.companies.basicApi.create({ properties, associations: [] })).id;
    const nameOf = async (id: string) => (await stack.stripe.customers.retrieve(id) as { name: string }).name;
    crm.acme = await create({ name: `${await nameOf(ids.a)}, Inc.`, domain: 'acme-bf.example' });
    crm.globex = await create({ name: 'Globex Holdings' });
    const contact = await hubspot.crm.contacts.basicApi.create({ properties: { email: ids.emails[ids.b]!, firstname: 'Entered', lastname: 'By Sales' }, associations: [] });
    crm.globexContact = contact.id;
    await hubspot.crm.associations.v4.basicApi.createDefault('contacts', contact.id, 'companies', crm.globex);
    crm.initech1 = await create({ name: await nameOf(ids.c), domain: 'initech-bf.example' });
    crm.initech2 = await create({ name: `${await nameOf(ids.c)} LLC`, domain: 'www.initech-bf.example' });
  }, 150_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('dry run: the same decisions, no review queued, nothing written', async () => {
    const before = await companies();
    const done = await run({ dryRun: true, objects: ['customers', 'subscriptions'] });
    expect(done.status).toBe('completed');
    expect(done.byObject.customer).toEqual(counts({ matched: 2, created: 1, skipped: 1 }));
    expect(done.identityIndex).toMatchObject({ rows: 5, done: true });
    const rows = await log(done.id);
    const customer = (id: string) => rows.find((r) => r.objectType === 'customer' && r.stripeId === id)!;
    expect(customer(ids.a)).toMatchObject({ outcome: 'matched', crmRecordId: crm.acme, reason: 'linked to the existing record by domain-name' });
    expect(customer(ids.b)).toMatchObject({ outcome: 'matched', crmRecordId: crm.globex, reason: 'linked to the existing record by email' });
    expect(customer(ids.c)).toMatchObject({ outcome: 'skipped', reason: 'would go to review: duplicate-records' });
    expect(customer(ids.d)).toMatchObject({ outcome: 'created' });
    const dependants = rows.filter((x) => x.customerId === ids.c && x.objectType !== 'customer');
    expect(dependants.map((r) => r.objectType).sort()).toEqual(['contact', 'subscription']);
    for (const r of dependants) expect(r).toMatchObject({ outcome: 'skipped', reason: 'its customer is not in the CRM: would go to review: duplicate-records' });
    expect(await openReviews()).toEqual([]);
    expect(await companies()).toEqual(before);
    // The run's index goes with it.
    const left = await stack.database.db.selectFrom('backfillIdentityAccounts').select('recordId').where('runId', '=', done.id).execute();
    expect(left).toEqual([]);
  }, 150_000);

  it('links to the records that exist, creates only what nothing matched, and queues the ambiguous one for review', async () => {
    const refusals = async () => ((await (await fetch(`${stack.sandboxes.hubspot.url}/__sandbox/requests`)).json()) as { byStatus: Record<string, number> }).byStatus['409'] ?? 0;
    const refusedBefore = await refusals();
    const done = await run({ objects: ['customers', 'subscriptions'] });
    // B's email is in the index: its contacts batch goes straight to upsert, no create refused over it.
    expect(await refusals()).toBe(refusedBefore);
    expectFirstRunCounts(done);
    // Five rows: four companies and the contact with its company.
    expect(done.identityIndex).toEqual({ rows: 5, requests: 2, done: true });

    const all = await companies();
    expect(all).toHaveLength(5);
    // Linked by domain and a similar name: the Stripe id stamped, the Stripe fields written, the CRM's name kept.
    expect((await company(crm.acme!)).properties).toMatchObject({ stripe_customer_id: ids.a, stripe_subscription_status: 'active', name: expect.stringMatching(/, Inc\.$/), domain: 'acme-bf.example' });
    expect(Number((await company(crm.acme!)).properties.stripe_mrr)).toBeGreaterThan(0);
    expect((await company(crm.acme!)).properties.stripe_needs_enrichment ?? null).toBeNull();
    // Linked through the contact with the exact email: its empty domain is filled, its name stays.
    expect((await company(crm.globex!)).properties).toMatchObject({ stripe_customer_id: ids.b, stripe_subscription_status: 'active', name: 'Globex Holdings', domain: 'globex-bf.example' });
    const globexContact = (await contacts()).find((c) => c.id === crm.globexContact)!;
    expect(globexContact.properties).toMatchObject({ stripe_customer_id: ids.b, email: ids.emails[ids.b] });
    expect(globexContact.associations.companies?.map((a) => a.toId)).toEqual([crm.globex]);
    // Nothing matched: created, flagged for enrichment.
    const created = all.filter((c) => c.properties.stripe_customer_id === ids.d);
    expect(created).toHaveLength(1);
    expect(created[0]!.properties).toMatchObject({ stripe_needs_enrichment: 'true', domain: 'umbrella-bf.example' });
    // The duplicates: untouched, and the customer waits for a person.
    for (const id of [crm.initech1!, crm.initech2!]) expect((await company(id)).properties.stripe_customer_id ?? null).toBeNull();
    expect(all.some((c) => c.properties.stripe_customer_id === ids.c)).toBe(false);

    const reviews = await openReviews();
    expect(reviews).toHaveLength(1);
    const review = reviews[0]!;
    expect(review).toMatchObject({ customerId: ids.c, kind: 'match', source: 'backfill', reason: 'duplicate-records' });
    expect(review.candidates.map((c) => c.recordId).sort()).toEqual([crm.initech1, crm.initech2].sort());
    expect(review.candidates.every((c) => c.domain === 'initech-bf.example' && c.method === 'domain-name')).toBe(true);

    const rows = await log(done.id);
    const of = (type: string, customerId: string) => rows.find((r) => r.objectType === type && r.customerId === customerId)!;
    expect(of('customer', ids.a)).toMatchObject({ outcome: 'matched', crmRecordId: crm.acme, reason: 'linked to the existing record by domain-name' });
    expect(of('customer', ids.b)).toMatchObject({ outcome: 'matched', crmRecordId: crm.globex, reason: 'linked to the existing record by email' });
    expect(of('customer', ids.d)).toMatchObject({ outcome: 'created', crmRecordId: created[0]!.id });
    const held = `identity review ${review.id} (duplicate-records): waits for a person to choose its CRM record (POST /reviews/${review.id}/resolve)`;
    expect(of('customer', ids.c)).toMatchObject({ outcome: 'skipped', reason: held, crmRecordId: null });
    expect(of('contact', ids.c)).toMatchObject({ outcome: 'skipped', reason: `its customer is not in the CRM: ${held}` });
    expect(of('subscription', ids.c)).toMatchObject({ outcome: 'skipped', reason: `its customer is not in the CRM: ${held}` });

    const links = await stack.database.db.selectFrom('crmLinks').select(['customerId', 'companyId', 'matchMethod']).where('accountId', '=', stack.accountId).execute();
    const linkOf = new Map(links.map((l) => [l.customerId, l]));
    expect(linkOf.get(ids.a)).toMatchObject({ companyId: crm.acme, matchMethod: 'domain-name' });
    expect(linkOf.get(ids.b)).toMatchObject({ companyId: crm.globex, matchMethod: 'email' });
    expect(linkOf.get(ids.d)).toMatchObject({ companyId: created[0]!.id, matchMethod: 'created' });
    expect(linkOf.get(ids.c)?.companyId ?? null).toBeNull();
  }, 150_000);

  it('a rerun writes through its links, keeps the CRM\'s names, and holds the customer under review without a second review', async () => {
    const again = await run({ objects: ['customers'] });
    expect(again.byObject.customer).toEqual(counts({ updated: 3, skipped: 1 }));
    expect(await companies()).toHaveLength(5);
    expect((await company(crm.acme!)).properties.name).toMatch(/, Inc\.$/);
    expect((await company(crm.globex!)).properties.name).toBe('Globex Holdings');
    expect(await openReviews()).toHaveLength(1);
  }, 150_000);

  it('resolving the review starts the customer\'s workflow, which links the chosen record and writes its fields', async () => {
    const [review] = await openReviews();
    const resolved = await api<{ status: string }>('POST', `/reviews/${review!.id}/resolve`, { action: 'link', recordId: crm.initech2 });
    expect(resolved).toMatchObject({ status: 200, json: { status: 'resolved' } });
    await eventually(async () => {
      const status = await stack.client.workflow.getHandle(customerWorkflowId(stack.accountId, ids.c)).query<SyncStatus>('syncStatus');
      expect(status).toMatchObject({ state: 'synced', identity: { method: 'review' }, links: { accountId: crm.initech2 } });
    }, 60_000, 250);
    const chosen = await company(crm.initech2!);
    expect(chosen.properties).toMatchObject({ stripe_customer_id: ids.c, stripe_subscription_status: 'active', name: expect.stringMatching(/ LLC$/) });
    expect(Number(chosen.properties.stripe_mrr)).toBeGreaterThan(0);
    expect((await company(crm.initech1!)).properties.stripe_customer_id ?? null).toBeNull();
    const link = await stack.database.db.selectFrom('crmLinks').select(['companyId', 'matchMethod']).where('accountId', '=', stack.accountId).where('customerId', '=', ids.c).executeTakeFirstOrThrow();
    expect(link).toEqual({ companyId: crm.initech2, matchMethod: 'review' });
    expect(await openReviews()).toEqual([]);
  }, 120_000);

  it('a linked customer\'s workflow starts lazily on its next event, writes the linked record and keeps the method that found it', async () => {
    await stack.stripe.customers.update(ids.a, { metadata: { touched: 'yes' } });
    await eventually(async () => {
      const status = await stack.client.workflow.getHandle(customerWorkflowId(stack.accountId, ids.a)).query<SyncStatus>('syncStatus');
      expect(status).toMatchObject({ state: 'synced', links: { accountId: crm.acme } });
    }, 60_000, 250);
    expect(await companies()).toHaveLength(5);
    const link = await stack.database.db.selectFrom('crmLinks').select(['companyId', 'matchMethod']).where('accountId', '=', stack.accountId).where('customerId', '=', ids.a).executeTakeFirstOrThrow();
    expect(link).toEqual({ companyId: crm.acme, matchMethod: 'domain-name' });
  }, 90_000);
});

describe('backfill identity resolution against Salesforce through jsforce', () => {
  let stack: TestStack;
  let sf: Connection;
  let ids: Awaited<ReturnType<typeof seedCustomers>>;
  const crm: Record<string, string> = {};
  const { run, log, openReviews } = harness(() => stack);
  const names = crmFieldNames('salesforce');

  beforeAll(async () => {
    stack = await startTestStack({ provider: 'salesforce', env: { CRM_RATE_LIMIT_PER_SECOND: '50', STRIPE_READ_RATE_LIMIT_PER_SECOND: '50' } });
    sf = salesforceConnectionFor(stack.sandboxes.salesforce.url, 'reader');
    ids = await seedCustomers(stack);
    const nameOf = async (id: string) => (await stack.stripe.customers.retrieve(id) as { name: string }).name;
    const account = async (record: Record<string, string>) => ((await sf.sobject('Account').create(record)) as { id: string }).id;
    crm.acme = await account({ Name: `${await nameOf(ids.a)} Inc`, Website: 'https://www.acme-bf.example/' });
    crm.globex = await account({ Name: 'Globex Holdings' });
    crm.globexContact = ((await sf.sobject('Contact').create({ LastName: 'By Sales', Email: ids.emails[ids.b]!, AccountId: crm.globex })) as { id: string }).id;
    crm.initech1 = await account({ Name: await nameOf(ids.c), Website: 'initech-bf.example' });
    crm.initech2 = await account({ Name: `${await nameOf(ids.c)} LLC`, Website: 'initech-bf.example' });
  }, 150_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('links Accounts by Website and by a Contact\'s email with one SOQL page each for the index, creates the rest, queues the duplicates', async () => {
    const done = await run({ objects: ['customers', 'subscriptions'] });
    expectFirstRunCounts(done);
    expect(done.identityIndex).toEqual({ rows: 5, requests: 2, done: true });
    const key = names.customer_id!;
    const accounts = (await sf.query<Record<string, unknown> & { Id: string }>(`SELECT Id, Name, Website, ${key}, ${names.subscription_status!}, ${names.needs_enrichment!} FROM Account`)).records;
    expect(accounts).toHaveLength(5);
    const byId = new Map(accounts.map((a) => [a.Id, a]));
    expect(byId.get(crm.acme!)).toMatchObject({ [key]: ids.a, [names.subscription_status!]: 'active', Name: expect.stringMatching(/ Inc$/), Website: 'https://www.acme-bf.example/' });
    expect(byId.get(crm.globex!)).toMatchObject({ [key]: ids.b, Name: 'Globex Holdings', Website: 'globex-bf.example' });
    const created = accounts.filter((a) => a[key] === ids.d);
    expect(created).toHaveLength(1);
    expect(created[0]![names.needs_enrichment!]).toBe(true);
    for (const id of [crm.initech1!, crm.initech2!]) expect(byId.get(id)![key] ?? null).toBeNull();
    // The Contact someone entered is adopted by its email and keeps its Account.
    const contact = (await sf.query<{ Id: string; AccountId: string } & Record<string, unknown>>(`SELECT Id, AccountId, ${key} FROM Contact WHERE Id = '${crm.globexContact}'`)).records[0]!;
    expect(contact).toMatchObject({ AccountId: crm.globex, [key]: ids.b });

    const [review] = await openReviews();
    expect(review).toMatchObject({ customerId: ids.c, source: 'backfill', reason: 'duplicate-records' });
    expect(review!.candidates.map((c) => c.recordId).sort()).toEqual([crm.initech1, crm.initech2].sort());
    const rows = await log(done.id);
    expect(rows.find((r) => r.objectType === 'customer' && r.stripeId === ids.a)).toMatchObject({ outcome: 'matched', crmRecordId: crm.acme, reason: 'linked to the existing record by domain-name' });
    expect(rows.find((r) => r.objectType === 'customer' && r.stripeId === ids.b)).toMatchObject({ outcome: 'matched', crmRecordId: crm.globex, reason: 'linked to the existing record by email' });
    expect(rows.find((r) => r.objectType === 'subscription' && r.customerId === ids.c)).toMatchObject({ outcome: 'skipped', reason: expect.stringMatching(/^its customer is not in the CRM: identity review \d+ \(duplicate-records\)/) });
  }, 150_000);
});
