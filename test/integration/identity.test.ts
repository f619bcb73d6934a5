import type { Client as HubSpotClient } from '@hubspot/api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerWorkflowId } from '../../domain/workflow-ids.js';
import { hubspotClientFor } from '../../sandboxes/hubspot/index.js';
import type { SyncStatus } from '../../workflows/customer-sync.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../support/wait.js';

describe('identity: Stripe customers find the CRM records that already exist', () => {
  let stack: TestStack;
  let hubspot: HubSpotClient;
  beforeAll(async () => {
    stack = await startTestStack({ provider: 'hubspot' });
    hubspot = hubspotClientFor(stack.sandboxes.hubspot.url, 'sales-team');
  });
  afterAll(async () => {
    await stack?.close();
  });

  const api = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${stack.api.url}${path}`, { ...init, headers: { 'content-type': 'application/json' } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const existingCompany = async (name: string, domain: string) => (await hubspot.crm.companies.basicApi.create({ properties: { name, domain }, associations: [] })).id;
  const companiesAt = async (domain: string) =>
    (await hubspot.crm.companies.searchApi.doSearch({ filterGroups: [{ filters: [{ propertyName: 'domain', operator: 'EQ' as never, value: domain }] }], properties: ['name', 'stripe_customer_id', 'stripe_mrr', 'stripe_needs_enrichment'], limit: 10, sorts: [], after: '0' } as never)).results;
  const status = (customerId: string) => stack.client.workflow.getHandle(customerWorkflowId(stack.accountId, customerId)).query<SyncStatus>('syncStatus');
  const subscribe = async (customerId: string) => {
    const price = await stack.stripe.prices.create({ currency: 'usd', unit_amount: 3000, recurring: { interval: 'month' }, product_data: { name: 'Team' } });
    await stack.stripe.subscriptions.create({ customer: customerId, items: [{ price: price.id }], trial_period_days: 14 });
  };

  it('links to the company of a contact with the same email, creating nothing new', async () => {
    const companyId = await existingCompany('Acme Analytics', 'acme-id.example');
    const contact = await hubspot.crm.contacts.basicApi.create({ properties: { email: 'ada@acme-id.example', firstname: 'Ada' }, associations: [] });
    await hubspot.crm.associations.v4.basicApi.createDefault('contacts', contact.id, 'companies', companyId);
    const customer = await stack.stripe.customers.create({ name: 'Acme Analytics Inc', email: 'Ada@acme-id.example' });
    await subscribe(customer.id);
    await eventually(async () => {
      const companies = await companiesAt('acme-id.example');
      expect(companies).toHaveLength(1);
      expect(companies[0]!.properties).toMatchObject({ stripe_customer_id: customer.id, stripe_mrr: '0' });
      // A record people already keep is not flagged for enrichment; only one the sync created is.
      expect(companies[0]!.properties.stripe_needs_enrichment ?? null).toBeNull();
    });
    await eventually(async () => expect(await status(customer.id)).toMatchObject({ state: 'synced', identity: { method: 'email' }, links: { accountId: companyId } }));
    // The CRM owns the company name: a person's "Acme Analytics" survives Stripe's "Acme Analytics Inc", and the conflict is logged.
    const company = await hubspot.crm.companies.basicApi.getById(companyId, ['name']);
    expect(company.properties.name).toBe('Acme Analytics');
    const conflicts = await api(`/conflicts?customerId=${customer.id}`);
    expect(conflicts.body.data).toEqual([expect.objectContaining({ field: 'name', stripeValue: 'Acme Analytics Inc', crmValue: 'Acme Analytics', winner: 'crm', rule: 'edited-in-crm', recordId: companyId })]);
  });

  it('writes a renamed customer to a company only while nobody has edited the name in the CRM', async () => {
    const customer = await stack.stripe.customers.create({ name: 'Vandelay Industries', email: 'art@vandelay-id.example' });
    await subscribe(customer.id);
    const companyId = await eventually(async () => {
      const [company] = await companiesAt('vandelay-id.example');
      expect(company?.properties.name).toBe('Vandelay Industries');
      return company!.id;
    });
    await stack.stripe.customers.update(customer.id, { name: 'Vandelay Imports' });
    await eventually(async () => expect((await hubspot.crm.companies.basicApi.getById(companyId, ['name'])).properties.name).toBe('Vandelay Imports'));
    await hubspot.crm.companies.basicApi.update(companyId, { properties: { name: 'Vandelay (strategic)' } });
    await stack.stripe.customers.update(customer.id, { name: 'Vandelay Exports' });
    await eventually(async () => {
      const conflicts = await api(`/conflicts?customerId=${customer.id}`);
      // Newest first: the person's edit won; before it, our own unchanged value gave way to the rename.
      expect(conflicts.body.data).toEqual([
        expect.objectContaining({ field: 'name', stripeValue: 'Vandelay Exports', crmValue: 'Vandelay (strategic)', winner: 'crm', rule: 'edited-in-crm' }),
        expect.objectContaining({ field: 'name', stripeValue: 'Vandelay Imports', crmValue: 'Vandelay Industries', winner: 'stripe', rule: 'unchanged-since-our-write' }),
      ]);
    });
    expect((await hubspot.crm.companies.basicApi.getById(companyId, ['name'])).properties.name).toBe('Vandelay (strategic)');
  });

  it('links by company domain and a fuzzy name, never a free-mail domain', async () => {
    const companyId = await existingCompany('Globex Corporation', 'globex-id.example');
    const customer = await stack.stripe.customers.create({ name: 'Globex', email: 'new.person@globex-id.example' });
    await subscribe(customer.id);
    await eventually(async () => expect(await status(customer.id)).toMatchObject({ state: 'synced', identity: { method: 'domain-name' }, links: { accountId: companyId } }));

    await existingCompany('Hooli', 'gmail.com');
    const personal = await stack.stripe.customers.create({ name: 'Hooli', email: 'gavin.belson.id@gmail.com' });
    await subscribe(personal.id);
    await eventually(async () => expect(await status(personal.id)).toMatchObject({ state: 'synced', identity: { method: 'created' } }));
    expect((await companiesAt('gmail.com')).map((c) => c.properties.stripe_customer_id ?? null)).toEqual([null]);
  });

  it('sends duplicate companies to review, waits, and syncs the moment a person picks one', async () => {
    const first = await existingCompany('Initech', 'initech-id.example');
    await existingCompany('Initech Inc.', 'initech-id.example');
    const customer = await stack.stripe.customers.create({ name: 'Initech', email: 'billing@initech-id.example' });
    await subscribe(customer.id);

    const review = await eventually(async () => {
      const { body } = await api(`/reviews?status=open&customerId=${customer.id}`);
      const data = body.data as Array<{ id: string; reason: string; candidates: Array<{ recordId: string; name: string }> }>;
      expect(data).toHaveLength(1);
      return data[0]!;
    });
    expect(review.reason).toBe('duplicate-records');
    expect(review.candidates.map((c) => c.recordId).sort()).toHaveLength(2);
    expect(await status(customer.id)).toMatchObject({ state: 'awaiting-review', identity: { reviewId: review.id } });
    await eventually(async () => {
      const found = [];
      for await (const wf of stack.client.workflow.list({ query: `SyncState = "awaiting-review" AND StripeCustomerId = "${customer.id}"` })) found.push(wf.workflowId);
      expect(found).toHaveLength(1);
    });
    // Nothing was written while waiting.
    expect((await companiesAt('initech-id.example')).every((c) => !c.properties.stripe_customer_id)).toBe(true);

    expect((await api(`/reviews/${review.id}/resolve`, { method: 'POST', body: JSON.stringify({ action: 'merge' }) })).status).toBe(400);
    const resolved = await api(`/reviews/${review.id}/resolve`, { method: 'POST', body: JSON.stringify({ action: 'link', recordId: first }) });
    expect(resolved).toMatchObject({ status: 200, body: { status: 'resolved', resolution: { action: 'link', recordId: first } } });
    await eventually(async () => expect(await status(customer.id)).toMatchObject({ state: 'synced', identity: { method: 'review' }, links: { accountId: first } }));
    const companies = await companiesAt('initech-id.example');
    expect(companies.find((c) => c.id === first)?.properties.stripe_customer_id).toBe(customer.id);
    expect((await api(`/reviews/${review.id}/resolve`, { method: 'POST', body: JSON.stringify({ action: 'create' }) })).status).toBe(409);

    const rate = await api(`/identity/match-rate?accountId=${stack.accountId}`);
    expect(rate.body).toMatchObject({ byMethod: { email: 1, 'domain-name': 1, review: 1, created: 2 }, awaitingReview: 0 });
    expect(rate.body.rate).toBe(1);
  });

  it('lets a person relink and unlink a customer, writing everything to the new record and auditing each change', async () => {
    const customer = await stack.stripe.customers.create({ name: 'Soylent Foods', email: 'sol@soylent-id.example' });
    await subscribe(customer.id);
    const first = await eventually(async () => {
      const s = await status(customer.id);
      expect(s.state).toBe('synced');
      return s.links.accountId!;
    });
    const other = await existingCompany('Soylent Holdings', 'soylent-holdings.example');
    expect((await api(`/customers/${stack.accountId}/${customer.id}/link`, { method: 'POST', body: JSON.stringify({ recordId: '' }) })).status).toBe(400);
    expect((await api(`/customers/${stack.accountId}/${customer.id}/link`, { method: 'POST', body: JSON.stringify({ recordId: other }) })).status).toBe(202);
    await eventually(async () => expect(await status(customer.id)).toMatchObject({ state: 'synced', identity: { method: 'manual' }, links: { accountId: other } }));
    const moved = await hubspot.crm.companies.basicApi.getById(other, ['stripe_customer_id', 'stripe_subscription_status']);
    expect(moved.properties).toMatchObject({ stripe_customer_id: customer.id, stripe_subscription_status: 'trialing' });
    expect((await hubspot.crm.companies.basicApi.getById(first, ['stripe_customer_id'])).properties.stripe_customer_id || null).toBeNull();

    expect((await api(`/customers/${stack.accountId}/${customer.id}/link`, { method: 'POST', body: JSON.stringify({ recordId: null }) })).status).toBe(202);
    await eventually(async () => expect(await status(customer.id)).toMatchObject({ state: 'unlinked', identity: { method: 'unlinked' }, links: { accountId: null } }));
    const history = await api(`/customers/${stack.accountId}/${customer.id}/link-history`);
    expect((history.body.data as Array<{ fromRecordId: string | null; toRecordId: string | null; reason: string }>).map((r) => [r.reason, r.fromRecordId, r.toRecordId])).toEqual([
      ['relink', first, other],
      ['unlink', other, null],
    ]);
  });
  it('rolls several Stripe customers of one company into one record, summing MRR, and takes one out again', async () => {
    const paying = async (name: string, email: string, unitAmount: number) => {
      const customer = await stack.stripe.customers.create({ name, email, payment_method: 'pm_card_visa', invoice_settings: { default_payment_method: 'pm_card_visa' } });
      const price = await stack.stripe.prices.create({ currency: 'usd', unit_amount: unitAmount, recurring: { interval: 'month' }, product_data: { name: `${name} plan` } });
      const subscription = await stack.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
      return { customer, subscription };
    };
    const us = await paying('Initrode', 'bill@initrode-id.example', 10_000);
    const recordId = await eventually(async () => {
      const s = await status(us.customer.id);
      expect(s.state).toBe('synced');
      return s.links.accountId!;
    });
    // The same company billed from another region: same contact email, a customer of its own in Stripe.
    const eu = await paying('Initrode', 'bill@initrode-id.example', 4_950);
    const review = await eventually(async () => {
      const { body } = await api(`/reviews?status=open&customerId=${eu.customer.id}`);
      const data = body.data as Array<{ id: string; reason: string; candidates: Array<{ recordId: string }> }>;
      expect(data).toHaveLength(1);
      return data[0]!;
    });
    expect(review).toMatchObject({ reason: 'linked-to-another-customer', candidates: [{ recordId }] });
    expect((await api(`/reviews/${review.id}/resolve`, { method: 'POST', body: JSON.stringify({ action: 'link', recordId }) })).status).toBe(200);

    const company = () => hubspot.crm.companies.basicApi.getById(recordId, ['stripe_customer_id', 'stripe_mrr', 'stripe_plan_name', 'stripe_currency']);
    await eventually(async () => expect((await company()).properties).toMatchObject({ stripe_customer_id: us.customer.id, stripe_mrr: '149.5', stripe_currency: 'USD', stripe_plan_name: 'Initrode plan' }));
    expect(await companiesAt('initrode-id.example')).toHaveLength(1);

    // Either member's change is written as the sum.
    await stack.stripe.subscriptions.update(eu.subscription.id, { items: [{ id: eu.subscription.items.data[0]!.id, quantity: 2 }], proration_behavior: 'none' });
    await eventually(async () => expect((await company()).properties.stripe_mrr).toBe('199'));
    await stack.stripe.subscriptions.update(us.subscription.id, { items: [{ id: us.subscription.items.data[0]!.id, quantity: 3 }], proration_behavior: 'none' });
    await eventually(async () => expect((await company()).properties.stripe_mrr).toBe('399'));
    const record = await api(`/identity/records/hubspot/${recordId}`);
    expect(record.body).toMatchObject({ members: [{ customerId: expect.any(String) }, { customerId: expect.any(String) }], rollup: { byCurrency: { USD: { mrr: 399, members: 2 } } } });
    expect((await api('/identity/records/hubspot/999999999')).status).toBe(404);

    // The EU customer leaves the record: it shows the US customer alone again, still under its Stripe id.
    expect((await api(`/customers/${stack.accountId}/${eu.customer.id}/link`, { method: 'POST', body: JSON.stringify({ recordId: null }) })).status).toBe(202);
    await eventually(async () => expect((await company()).properties).toMatchObject({ stripe_customer_id: us.customer.id, stripe_mrr: '300' }));
  });
  it('leaves a deal\'s stage to the sales team once it exists: a converted trial does not move a deal a person moved', async () => {
    const clock = await stack.stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000) });
    const customer = await stack.stripe.customers.create({ name: 'Stagecraft', email: 'ops@stagecraft-id.example', test_clock: clock.id });
    const price = await stack.stripe.prices.create({ currency: 'usd', unit_amount: 3000, recurring: { interval: 'month' }, product_data: { name: 'Team' } });
    const sub = await stack.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }], trial_period_days: 14 });
    const dealId = await eventually(async () => {
      const s = await status(customer.id);
      expect(s.state).toBe('synced');
      expect(s.links.dealIds[sub.id]).toBeTruthy();
      return s.links.dealIds[sub.id]!;
    });
    const deal = async () => (await hubspot.crm.deals.basicApi.getById(dealId, ['dealstage', 'stripe_subscription_status', 'amount'])).properties;
    expect((await deal()).dealstage).toBe('qualifiedtobuy');
    // A salesperson moves the deal on; then the trial converts in Stripe.
    await hubspot.crm.deals.basicApi.update(dealId, { properties: { dealstage: 'contractsent' } });
    await stack.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: sub.trial_end! + 2 * 3600 });
    await eventually(async () => {
      // Stripe's fields follow; the stage stays the salesperson's, and the disagreement is logged.
      // (No card on file: the first invoice leaves it past_due, which is as won as active.)
      expect(await deal()).toMatchObject({ dealstage: 'contractsent', stripe_subscription_status: 'past_due', amount: '30' });
      const conflicts = await api(`/conflicts?customerId=${customer.id}&field=deal_stage`);
      expect(conflicts.body.data).toEqual([
        expect.objectContaining({ field: 'deal_stage', stripeValue: 'closedwon', crmValue: 'contractsent', winner: 'crm', rule: 'crm-owned', recordId: dealId }),
      ]);
    }, 30_000);
    // A full resync rewrites every Stripe field but still not the stage.
    const resynced = await stack.client.workflow.getHandle(customerWorkflowId(stack.accountId, customer.id)).executeUpdate('resync', { args: [{ full: true }] });
    expect(resynced).toMatchObject({ state: 'synced' });
    expect((await deal()).dealstage).toBe('contractsent');
  });

  it('follows a changed Stripe email on the linked contact until a person edits it in the CRM', async () => {
    const customer = await stack.stripe.customers.create({ name: 'Hooli', email: 'gavin@hooli-id.example' });
    await subscribe(customer.id);
    const contactId = await eventually(async () => {
      const s = await status(customer.id);
      expect(s.state).toBe('synced');
      return s.links.contactId!;
    });
    const email = async () => (await hubspot.crm.contacts.basicApi.getById(contactId, ['email'])).properties.email;
    // The link survives the change: the same contact gets the new email, no second contact appears.
    await stack.stripe.customers.update(customer.id, { email: 'gavin.belson@hooli-id.example' });
    await eventually(async () => expect(await email()).toBe('gavin.belson@hooli-id.example'));
    // A person corrects the email in the CRM; Stripe's next change must not overwrite it.
    await hubspot.crm.contacts.basicApi.update(contactId, { properties: { email: 'gbelson@hooli-id.example' } });
    await stack.stripe.customers.update(customer.id, { email: 'ceo@hooli-id.example' });
    await eventually(async () => {
      const conflicts = await api(`/conflicts?customerId=${customer.id}&field=email`);
      // Newest first: the person's edit kept, and before it Stripe's change written over our own earlier value.
      expect(conflicts.body.data).toEqual([
        expect.objectContaining({ field: 'email', stripeValue: 'ceo@hooli-id.example', crmValue: 'gbelson@hooli-id.example', winner: 'crm', rule: 'edited-in-crm', recordId: contactId }),
        expect.objectContaining({ field: 'email', stripeValue: 'gavin.belson@hooli-id.example', crmValue: 'gavin@hooli-id.example', winner: 'stripe', rule: 'unchanged-since-our-write' }),
      ]);
    });
    expect(await email()).toBe('gbelson@hooli-id.example');
    expect((await status(customer.id)).links.contactId).toBe(contactId);
  });
});
