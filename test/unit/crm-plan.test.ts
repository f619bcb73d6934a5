import { describe, expect, it } from 'vitest';
import { dealStage, planCrmWrites, splitName, type CrmLinks, type LastWritten, type SyncSettings } from '../../domain/crm-plan.js';
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
