import { describe, expect, it } from 'vitest';
import { dealFingerprint, dealStage, forgetWrites, lastWrittenStage, planCrmWrites, planDeals, splitName, type CrmLinks, type LastWritten, type SyncSettings } from '../../domain/crm-plan.js';
import { companyDomainOf, DEFAULT_IDENTITY_OPTIONS } from '../../domain/identity.js';
import { applyCustomerEvent, initialSyncState, type CustomerSyncState } from '../../domain/customer-sync-state.js';
import { customer, item, recurringPrice, subscription, T0, DAY } from './billing-builders.js';

const settings: SyncSettings = { mode: 'b2b', mrr: { discounts: 'apply' }, debounceMs: 0, identity: DEFAULT_IDENTITY_OPTIONS };
function stateWith(status = 'active'): CustomerSyncState {
  let s = initialSyncState('acct_1', 'cus_1');
  s = applyCustomerEvent(s, { eventId: 'evt_c', type: 'customer.created', created: T0, receivedAtMs: 0, accountId: 'acct_1', customerId: 'cus_1', objectId: 'cus_1', payload: { kind: 'customer', customer: customer() } }, settings.mrr).state;
  s = applyCustomerEvent(s, { eventId: 'evt_s', type: 'customer.subscription.created', created: T0, receivedAtMs: 0, accountId: 'acct_1', customerId: 'cus_1', objectId: 'sub_1', payload: { kind: 'subscription', subscription: subscription([item(recurringPrice(4900))], { status }), previous: null } }, settings.mrr).state;
  return s;
}
const noLinks: CrmLinks = { accountId: null, contactId: null, dealIds: {} };
const nothingWritten: LastWritten = { fields: null, contactEmail: null, deals: {} };

describe('planCrmWrites', () => {
  it('writes account, contact and deal the first time', () => {
    const plan = planCrmWrites(stateWith(), noLinks, nothingWritten, settings, T0);
    expect(plan).toMatchObject({ writeAccount: true, writeContact: true });
    expect(plan.deals).toEqual([expect.objectContaining({ subscriptionId: 'sub_1', amount: 49, stage: 'won', currency: 'USD', name: 'Basic (sub_1)' })]);
    expect(plan.fields.mrr).toBe(49);
  });

  it('writes nothing when nothing changed since the last write', () => {
    const state = stateWith();
    const first = planCrmWrites(state, noLinks, nothingWritten, settings, T0);
    const links: CrmLinks = { accountId: '1', contactId: '2', dealIds: { sub_1: '3' } };
    const written: LastWritten = { fields: first.fields, contactEmail: 'ada@example.com', deals: { sub_1: JSON.stringify(['Basic (sub_1)', 49, 'USD', 'won', first.deals[0]!.closeDate, 'active']) } };
    const again = planCrmWrites(state, links, written, settings, T0 + 60);
    expect(again).toMatchObject({ writeAccount: false, writeContact: false, deals: [], changedFields: [] });
  });

  it('in B2C mode writes the contact only, carrying the fields', () => {
    const plan = planCrmWrites(stateWith(), noLinks, nothingWritten, { ...settings, mode: 'b2c' }, T0);
    expect(plan.writeAccount).toBe(false);
    expect(plan.writeContact).toBe(true);
  });
});

describe('subscriptions as a custom object', () => {
  const custom: SyncSettings = { ...settings, subscriptionObject: 'custom' };
  const day = (t: number) => new Date(t * 1000).toISOString().slice(0, 10);
  function planned(overrides: Parameters<typeof subscription>[1]) {
    const sub = subscription([item(recurringPrice(4900))], overrides);
    let s = initialSyncState('acct_1', 'cus_1');
    s = applyCustomerEvent(s, { eventId: 'evt_s', type: 'customer.subscription.created', created: T0, receivedAtMs: 0, accountId: 'acct_1', customerId: 'cus_1', objectId: sub.id, payload: { kind: 'subscription', subscription: sub, previous: null } }, settings.mrr).state;
    return planDeals(s, custom, T0)[0]!;
  }

  it.each([
    ['trialing: renews when the trial ends', { status: 'trialing', trialEnd: T0 + 14 * DAY }, { trialEndDate: day(T0 + 14 * DAY), nextRenewalDate: day(T0 + 14 * DAY), endDate: null }],
    ['canceled: ended, no renewal', { status: 'canceled', endedAt: T0 + 3 * DAY, canceledAt: T0 + 2 * DAY }, { nextRenewalDate: null, endDate: day(T0 + 3 * DAY) }],
    ['scheduled to cancel: the end is known, no renewal', { status: 'active', cancelAtPeriodEnd: true, cancelAt: T0 + 30 * DAY }, { nextRenewalDate: null, endDate: day(T0 + 30 * DAY) }],
  ])('%s', (_label, overrides, dates) => {
    expect(planned(overrides as Parameters<typeof subscription>[1])).toMatchObject(dates);
  });

  it('an active subscription carries its next renewal; a deal plan carries no dates at all', () => {
    const state = stateWith();
    const [asCustom] = planDeals(state, custom, T0);
    expect(asCustom?.nextRenewalDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const [asDeal] = planDeals(state, settings, T0);
    expect(asDeal).not.toHaveProperty('nextRenewalDate');
    expect(dealFingerprint(asDeal!)).toBe(JSON.stringify(['Basic (sub_1)', 49, 'USD', 'won', asDeal!.closeDate, 'active']));
  });

  it('rewrites the record when only a date changed, and not when nothing did', () => {
    const state = stateWith();
    const [deal] = planDeals(state, custom, T0);
    const links: CrmLinks = { accountId: '1', contactId: '2', dealIds: { sub_1: '3' } };
    const written: LastWritten = { fields: null, contactEmail: 'ada@example.com', deals: { sub_1: dealFingerprint(deal!) } };
    expect(planCrmWrites(state, links, written, custom, T0).deals).toEqual([]);
    const stale: LastWritten = { ...written, deals: { sub_1: dealFingerprint({ ...deal!, nextRenewalDate: '2000-01-01' }) } };
    expect(planCrmWrites(state, links, stale, custom, T0).deals.map((d) => d.subscriptionId)).toEqual(['sub_1']);
  });
});

describe('deal stage ownership: what we last wrote', () => {
  const trialing = () => stateWith('trialing');
  const links: CrmLinks = { accountId: '1', contactId: '2', dealIds: { sub_1: '3' } };

  it('a deal new to us carries no last stage (its stage is written); a known one carries the stage we wrote', () => {
    const first = planCrmWrites(trialing(), noLinks, nothingWritten, settings, T0).deals[0]!;
    expect(first.stage).toBe('open');
    expect(first).not.toHaveProperty('lastStage');
    const written: LastWritten = { fields: null, contactEmail: null, deals: { sub_1: dealFingerprint(first) }, stages: { sub_1: 'open' } };
    // The trial converts: the deal is planned again with the stage we last wrote beside Stripe's new one.
    const converted = planCrmWrites(stateWith('active'), links, written, settings, T0 + 60).deals[0]!;
    expect(converted).toMatchObject({ stage: 'won', lastStage: 'open' });
  });

  it('reads the stage out of the fingerprint of a workflow that recorded none apart', () => {
    const written: LastWritten = { fields: null, contactEmail: null, deals: { sub_1: JSON.stringify(['Basic (sub_1)', 49, 'USD', 'open', '2024-01-01', 'trialing']) } };
    expect(lastWrittenStage(written, 'sub_1')).toBe('open');
    expect(lastWrittenStage(written, 'sub_2')).toBeUndefined();
    expect(lastWrittenStage({ ...written, stages: { sub_1: 'won' } }, 'sub_1')).toBe('won');
  });

  it('a full resync forgets every write but the stages', () => {
    const written: LastWritten = { fields: null, contactEmail: 'a@b.co', deals: { sub_1: JSON.stringify(['x', 1, 'USD', 'open', 'd', 'trialing']) }, stages: { sub_2: 'lost' } };
    expect(forgetWrites(written)).toEqual({ fields: null, contactEmail: null, deals: {}, stages: { sub_1: 'open', sub_2: 'lost' } });
  });
});

describe('dealStage', () => {
  it.each([
    [{ status: 'trialing' }, 'open'],
    [{ status: 'incomplete' }, 'open'],
    [{ status: 'active' }, 'won'],
    [{ status: 'past_due' }, 'won'],
    [{ status: 'canceled', trialEnd: null }, 'won'],
    [{ status: 'canceled', trialEnd: T0, endedAt: T0 + 30 * DAY }, 'won'],
    [{ status: 'canceled', trialEnd: T0, endedAt: T0 - DAY }, 'lost'],
    [{ status: 'incomplete_expired', trialEnd: T0, endedAt: T0 - DAY }, 'lost'],
  ])('%j → %s', (overrides, stage) => {
    expect(dealStage(subscription([item(recurringPrice(100))], overrides))).toBe(stage);
  });
});

describe('names and domains', () => {
  it.each([
    ['Ada Lovelace', { firstName: 'Ada', lastName: 'Lovelace' }],
    ['Ada King Lovelace', { firstName: 'Ada King', lastName: 'Lovelace' }],
    ['Cher', { firstName: 'Cher', lastName: null }],
    ['  ', { firstName: null, lastName: null }],
    [null, { firstName: null, lastName: null }],
  ])('splitName(%j)', (name, expected) => expect(splitName(name)).toEqual(expected));

  it.each([
    ['ada@acme.io', 'acme.io'],
    ['Ada@ACME.io ', 'acme.io'],
    ['ada@gmail.com', null],
    [null, null],
  ])('companyDomainOf(%j)', (email, domain) => expect(companyDomainOf(email)).toBe(domain));
});
