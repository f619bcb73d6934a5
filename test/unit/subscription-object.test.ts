import { describe, expect, it } from 'vitest';
import { InvalidSubscriptionObjectError } from '../../domain/errors.js';
import { hubspotObjectPath, parseHubSpotSubscriptionObject, parseSalesforceSubscriptionObject } from '../../domain/subscription-object.js';

describe('HubSpot subscription object', () => {
  it.each([
    ['deal', null, null],
    ['Deals', null, null],
    ['0-3', null, null],
    ['stripe_subscription', { kind: 'name', name: 'stripe_subscription' }, 'p_stripe_subscription'],
    ['p_stripe_subscription', { kind: 'name', name: 'stripe_subscription' }, 'p_stripe_subscription'],
    ['p144000001_stripe_subscription', { kind: 'fullyQualifiedName', fullyQualifiedName: 'p144000001_stripe_subscription', name: 'stripe_subscription' }, 'p144000001_stripe_subscription'],
    ['2-3508482', { kind: 'objectTypeId', objectTypeId: '2-3508482' }, '2-3508482'],
  ])('%s → %j, addressed as %s', (raw, ref, path) => {
    const parsed = parseHubSpotSubscriptionObject(raw);
    expect(parsed).toEqual(ref);
    expect(parsed === null ? null : hubspotObjectPath(parsed)).toBe(path);
  });

  it.each(['stripe-subscription', '1subscriptions', 'p_', 'company', 'tickets', '2-abc', ''])('rejects %j', (raw) => {
    expect(() => parseHubSpotSubscriptionObject(raw)).toThrow(InvalidSubscriptionObjectError);
  });
});

describe('Salesforce subscription object', () => {
  it.each([
    ['Opportunity', null],
    ['opportunity', null],
    ['Stripe_Subscription__c', 'Stripe_Subscription__c'],
    ['Sub__c', 'Sub__c'],
  ])('%s → %s', (raw, expected) => {
    expect(parseSalesforceSubscriptionObject(raw)).toBe(expected);
  });

  it.each(['Stripe_Subscription', 'Stripe__Subscription__c', '_Sub__c', 'Account', 'stripe_subscription'])('rejects %j', (raw) => {
    expect(() => parseSalesforceSubscriptionObject(raw)).toThrow(InvalidSubscriptionObjectError);
  });
});
