import { describe, expect, it } from 'vitest';
import {
  companyDomainOf,
  decideDealStage,
  reviewCandidates,
  decideSharedField,
  dealStageReadNeeded,
  DEFAULT_IDENTITY_OPTIONS,
  jaroWinkler,
  matchCustomer,
  normalizeCompanyName,
  normalizeEmail,
  type CrmCandidate,
} from '../../domain/identity.js';

describe('normalisation', () => {
  it.each([
    [' Ada@Example.COM ', false, 'ada@example.com'],
    ['ada+billing@example.com', false, 'ada+billing@example.com'],
    ['ada+billing@example.com', true, 'ada@example.com'],
    ['not-an-email', false, null],
    ['@example.com', false, null],
    [null, false, null],
  ])('normalizeEmail(%j, plus=%s) = %j', (email, plus, expected) => expect(normalizeEmail(email, plus)).toBe(expected));

  it.each([
    ['ada@acme.io', 'acme.io'],
    ['ada@GMAIL.com', null],
    ['x@mailinator.com', null],
    [null, null],
  ])('companyDomainOf(%j) = %j', (email, domain) => expect(companyDomainOf(email)).toBe(domain));

  it.each([
    ['Acme, Inc.', 'acme'],
    ['ACME Corporation', 'acme'],
    ['The Acme Company LLC', 'acme'],
    ['Müller GmbH', 'muller'],
    ['Smith & Sons Ltd', 'smith and sons'],
    ['Inc', 'inc'],
    [null, ''],
  ])('normalizeCompanyName(%j) = %j', (name, expected) => expect(normalizeCompanyName(name)).toBe(expected));

  it.each([
    ['martha', 'marhta', 0.961],
    ['dwayne', 'duane', 0.84],
    ['dixon', 'dicksonx', 0.813],
    ['acme', 'acme', 1],
    ['', 'acme', 0],
  ])('jaroWinkler(%j, %j) ≈ %d', (a, b, expected) => expect(jaroWinkler(a, b)).toBeCloseTo(expected, 3));
});

const record = (recordId: string, overrides: Partial<CrmCandidate> = {}): CrmCandidate => ({ recordId, stripeCustomerId: null, emails: [], domain: null, name: null, ...overrides });
const customer = { id: 'cus_1', email: 'ada@acme.io', name: 'Acme Inc' };

describe('matchCustomer', () => {
  it.each([
    ['a record carrying the Stripe id', [record('1', { stripeCustomerId: 'cus_1' }), record('2', { emails: ['ada@acme.io'] })], { kind: 'link', recordId: '1', method: 'external-id' }],
    ['two records carrying the Stripe id (duplicates)', [record('1', { stripeCustomerId: 'cus_1' }), record('2', { stripeCustomerId: 'cus_1' })], { kind: 'review', reason: 'duplicate-records' }],
    ['one exact email', [record('7', { emails: ['ADA@acme.io'] })], { kind: 'link', recordId: '7', method: 'email' }],
    ['two records with the email', [record('7', { emails: ['ada@acme.io'] }), record('8', { emails: ['ada@acme.io'] })], { kind: 'review', reason: 'several-email-matches' }],
    ['an email on a record of another Stripe customer (a roll-up or a new record: a person decides)', [record('7', { emails: ['ada@acme.io'], stripeCustomerId: 'cus_other' })], { kind: 'review', reason: 'linked-to-another-customer', candidates: [{ recordId: '7', method: 'email' }] }],
    ['the domain and name of a record of another Stripe customer (a sibling, not the same email)', [record('7', { domain: 'acme.io', name: 'ACME Inc.', stripeCustomerId: 'cus_eu' })], { kind: 'create' }],
    ['a free record by email beside a record of another customer', [record('7', { emails: ['ada@acme.io'] }), record('8', { emails: ['ada@acme.io'], stripeCustomerId: 'cus_other' })], { kind: 'link', recordId: '7', method: 'email' }],
    ['another customer\'s record at the domain with an unrelated name', [record('7', { domain: 'acme.io', name: 'Zebra Logistics', stripeCustomerId: 'cus_other' })], { kind: 'create' }],
    ['domain plus a suffix variant of the name', [record('3', { domain: 'www.acme.io', name: 'ACME Corporation' })], { kind: 'link', recordId: '3', method: 'domain-name' }],
    ['domain plus a typo in the name', [record('3', { domain: 'acme.io', name: 'Acme Inc' }), record('4', { domain: 'acme.io', name: 'Acmee' })], { kind: 'review', reason: 'duplicate-records' }],
    ['domain with an unrelated name', [record('3', { domain: 'acme.io', name: 'Zebra Logistics' })], { kind: 'create' }],
    ['duplicate companies with the same domain and name', [record('3', { domain: 'acme.io', name: 'Acme' }), record('4', { domain: 'acme.io', name: 'Acme Inc.' })], { kind: 'review', reason: 'duplicate-records' }],
    ['no candidate at all', [], { kind: 'create' }],
  ])('%s', (_name, candidates, expected) => {
    expect(matchCustomer(customer, candidates)).toMatchObject(expected);
  });

  it('sends a nameless customer at a known domain to review instead of creating a duplicate', () => {
    const nameless = { id: 'cus_4', email: 'new.person@acme.io', name: null };
    expect(matchCustomer(nameless, [record('3', { domain: 'acme.io', name: 'Acme' })])).toMatchObject({ kind: 'review', reason: 'ambiguous-name', candidates: [{ recordId: '3' }] });
  });

  it('never matches free-mail customers on domain', () => {
    const gmail = { id: 'cus_2', email: 'someone@gmail.com', name: 'Acme' };
    expect(matchCustomer(gmail, [record('3', { domain: 'gmail.com', name: 'Acme' })])).toEqual({ kind: 'create' });
  });

  it.each([
    ['review', { kind: 'review', reason: 'no-candidate', candidates: [] }],
    ['unlinked', { kind: 'unlinked' }],
  ] as const)('applies the %s policy when nothing matches', (policy, expected) => {
    expect(matchCustomer(customer, [], { ...DEFAULT_IDENTITY_OPTIONS, noCandidate: policy })).toEqual(expected);
  });

  it('matches plus-addressed emails only where configured', () => {
    const plus = { id: 'cus_3', email: 'ada+stripe@acme.io', name: null };
    const candidates = [record('9', { emails: ['ada@acme.io'] })];
    expect(matchCustomer(plus, candidates)).toEqual({ kind: 'create' });
    expect(matchCustomer(plus, candidates, { ...DEFAULT_IDENTITY_OPTIONS, plusAddressing: true })).toMatchObject({ kind: 'link', recordId: '9', method: 'email' });
  });
});

describe('decideSharedField (ownership of name and domain)', () => {
  it.each([
    ['Acme', null, null, { write: true, conflict: null }],
    ['Acme', '', 'Old', { write: true, conflict: null }],
    ['Acme', 'Acme', 'Acme', { write: false, conflict: null }],
    [null, 'Acme', null, { write: false, conflict: null }],
    ['Acme Inc', 'Acme', 'Acme', { write: true, conflict: { winner: 'stripe', rule: 'unchanged-since-our-write' } }],
    ['Acme Inc', 'ACME (key account)', 'Acme', { write: false, conflict: { winner: 'crm', rule: 'edited-in-crm' } }],
    ['Acme Inc', 'Acme Holdings', null, { write: false, conflict: { winner: 'crm', rule: 'edited-in-crm' } }],
  ])('stripe %j, crm %j, last written %j', (stripe, crm, last, expected) => {
    expect(decideSharedField(stripe, crm, last)).toEqual(expected);
  });

  it.each([
    ['stripe', 'Acme Inc', 'ACME (key account)', 'Acme', { write: true, conflict: { winner: 'stripe', rule: 'stripe-owned' } }],
    ['stripe', 'Acme Inc', 'Acme Inc', 'Acme', { write: false, conflict: null }],
    ['crm', 'Acme Inc', 'Acme', 'Acme', { write: false, conflict: { winner: 'crm', rule: 'crm-owned' } }],
    ['crm', 'Acme Inc', '', 'Acme', { write: true, conflict: null }],
    ['shared', 'Acme Inc', 'Acme', 'Acme', { write: true, conflict: { winner: 'stripe', rule: 'unchanged-since-our-write' } }],
  ] as const)('owned by %s: stripe %j, crm %j, last written %j', (owner, stripe, crm, last, expected) => {
    expect(decideSharedField(stripe, crm, last, owner)).toEqual(expected);
  });
});

describe('decideDealStage (the CRM owns the stage once the deal exists)', () => {
  const won = 'closedwon';
  const open = 'qualifiedtobuy';
  it.each([
    ['a deal new to us gets its stage', won, undefined, undefined, false, { write: true, conflict: null }],
    ['Stripe\'s stage unchanged: left out, whatever the CRM shows', won, won, undefined, false, { write: false, conflict: null }],
    ['unchanged, even if a person moved it', won, won, { exists: true, stage: 'contractsent' }, false, { write: false, conflict: null }],
    ['a deal deleted in the CRM is created with its stage', won, open, { exists: false, stage: null }, true, { write: true, conflict: null }],
    ['trial converts, CRM still shows our stage', won, open, { exists: true, stage: open }, true, { write: true, conflict: { winner: 'stripe', rule: 'unchanged-since-our-write' } }],
    ['trial converts, CRM stage empty', won, open, { exists: true, stage: null }, true, { write: true, conflict: null }],
    ['trial converts, a person moved the deal', won, open, { exists: true, stage: 'contractsent' }, true, { write: false, conflict: { winner: 'crm', rule: 'edited-in-crm' } }],
    ['a person already set what Stripe says', won, open, { exists: true, stage: won }, true, { write: false, conflict: null }],
  ] as const)('%s', (_, stripe, last, crm, readNeeded, expected) => {
    expect(dealStageReadNeeded(stripe, last)).toBe(readNeeded);
    expect(decideDealStage(stripe, last, crm)).toEqual(expected);
  });

  it.each([
    ['crm (the default): our own stage is not moved either, the difference is logged', 'crm', won, open, { exists: true, stage: open }, true, { write: false, conflict: { winner: 'crm', rule: 'crm-owned' } }],
    ['crm: a deal created again still gets its stage', 'crm', won, open, { exists: false, stage: null }, true, { write: true, conflict: null }],
    ['crm: a new deal gets its stage', 'crm', won, undefined, undefined, false, { write: true, conflict: null }],
    ['stripe: written with every deal write, nothing read', 'stripe', won, won, undefined, false, { write: true, conflict: null }],
    ['stripe: written over a person\'s stage', 'stripe', won, open, undefined, false, { write: true, conflict: null }],
  ] as const)('owned by %s', (_, owner, stripe, last, crm, readNeeded, expected) => {
    expect(dealStageReadNeeded(stripe, last, owner)).toBe(readNeeded);
    expect(decideDealStage(stripe, last, crm, owner)).toEqual(expected);
  });
});

describe('reviewCandidates (what a person chooses between)', () => {
  it('carries each scored record\'s name, domain and the Stripe customer it names; a record the search did not return shows none', () => {
    const found = [
      { recordId: '1', stripeCustomerId: null, emails: [], domain: 'acme.io', name: 'Acme' },
      { recordId: '2', stripeCustomerId: 'cus_other', emails: ['a@acme.io'], domain: null, name: 'Acme EU' },
    ];
    expect(reviewCandidates([{ recordId: '2', method: 'email', score: 1 }, { recordId: '9', method: 'domain-name', score: 0.9 }], found)).toEqual([
      { recordId: '2', method: 'email', score: 1, name: 'Acme EU', domain: null, customerId: 'cus_other' },
      { recordId: '9', method: 'domain-name', score: 0.9, name: null, domain: null, customerId: null },
    ]);
  });
});
