import { describe, expect, it } from 'vitest';
import {
  candidatesFromIndex,
  decideIdentities,
  heldDependentReason,
  IDENTITY_HOLD,
  indexLookupOf,
  isIdentityHold,
  type IndexMatchRow,
} from '../../domain/backfill-identity.js';
import { DEFAULT_IDENTITY_OPTIONS, type CrmCandidate } from '../../domain/identity.js';

const row = (recordId: string, overrides: Partial<IndexMatchRow> = {}): IndexMatchRow => ({
  recordId, name: null, domain: null, stripeCustomerId: null, claimedBy: null, linkedTo: null, email: null, ...overrides,
});
const ada = { id: 'cus_ada', email: ' Ada@Acme.io ', name: 'Acme Inc' };

describe('indexLookupOf', () => {
  it.each([
    [ada, { customerId: 'cus_ada', email: 'ada@acme.io', domain: 'acme.io' }],
    [{ id: 'cus_g', email: 'bob@gmail.com', name: null }, { customerId: 'cus_g', email: 'bob@gmail.com', domain: null }],
    [{ id: 'cus_n', email: null, name: 'No Mail' }, { customerId: 'cus_n', email: null, domain: null }],
  ])('%j searches %j', (customer, lookup) => expect(indexLookupOf(customer)).toEqual(lookup));
});

describe('candidatesFromIndex: what the real-time searches would have returned', () => {
  it.each<[string, IndexMatchRow[], Array<Partial<CrmCandidate>>]>([
    ['a record carrying the Stripe id', [row('1', { stripeCustomerId: 'cus_ada' })], [{ recordId: '1', stripeCustomerId: 'cus_ada', emails: [] }]],
    ['a record at the domain', [row('2', { domain: 'acme.io', name: 'ACME' })], [{ recordId: '2', stripeCustomerId: null, domain: 'acme.io', name: 'ACME' }]],
    ['a company of a contact with the email carries the customer\'s email', [row('3', { email: 'ada@acme.io' })], [{ recordId: '3', emails: [' Ada@Acme.io '] }]],
    ['found by domain and by email: one candidate with the email', [row('4', { domain: 'acme.io' }), row('4', { domain: 'acme.io', email: 'ada@acme.io' })], [{ recordId: '4', emails: [' Ada@Acme.io '] }]],
    ['rows of other customers\' lookups are not this customer\'s', [row('5', { domain: 'other.io' }), row('6', { email: 'eve@acme.io' }), row('7', { stripeCustomerId: 'cus_eve' })], []],
    ['a record this run linked to another customer belongs to it', [row('8', { domain: 'acme.io', claimedBy: 'cus_eve' })], [{ recordId: '8', stripeCustomerId: 'cus_eve' }]],
    ['a record a workflow linked since the index read it belongs to that customer', [row('9', { domain: 'acme.io', linkedTo: 'cus_eve' })], [{ recordId: '9', stripeCustomerId: 'cus_eve' }]],
    ['the customer\'s own claim does not make it someone else\'s (a retried step decides again alike)', [row('10', { email: 'ada@acme.io', claimedBy: 'cus_ada', linkedTo: 'cus_ada' })], [{ recordId: '10', stripeCustomerId: null }]],
  ])('%s', (_, rows, expected) => {
    const candidates = candidatesFromIndex(ada, rows);
    expect(candidates).toHaveLength(expected.length);
    expected.forEach((e, i) => expect(candidates[i]).toMatchObject(e));
  });
});

describe('decideIdentities: the matcher over a page, records taken in customer order', () => {
  const acme = (recordId: string, overrides: Partial<CrmCandidate> = {}): CrmCandidate => ({ recordId, stripeCustomerId: null, emails: [], domain: 'acme.io', name: 'Acme', ...overrides });
  it.each<[string, Array<{ id: string; email: string | null; name: string | null }>, Record<string, CrmCandidate[]>, Record<string, unknown>]>([
    [
      'one free record at the domain: the first customer takes it, the second sees it taken and is created',
      [{ id: 'cus_b', email: 'b@acme.io', name: 'Acme' }, { id: 'cus_a', email: 'a@acme.io', name: 'Acme Inc' }],
      { cus_a: [acme('1')], cus_b: [acme('1')] },
      { cus_a: { kind: 'link', recordId: '1', method: 'domain-name' }, cus_b: { kind: 'create' } },
    ],
    [
      'the second with the taken record\'s email goes to review (linked to another customer), as in real time',
      [{ id: 'cus_a', email: 'a@acme.io', name: 'Acme' }, { id: 'cus_b', email: 'b@acme.io', name: 'Zeta' }],
      { cus_a: [acme('1')], cus_b: [acme('1', { emails: ['b@acme.io'] })] },
      { cus_a: { kind: 'link', recordId: '1' }, cus_b: { kind: 'review', reason: 'linked-to-another-customer' } },
    ],
    [
      'a record carrying the Stripe id is not a claim: nobody else wanted it anyway',
      [{ id: 'cus_a', email: 'a@acme.io', name: 'Acme' }],
      { cus_a: [acme('1', { stripeCustomerId: 'cus_a' })] },
      { cus_a: { kind: 'link', recordId: '1', method: 'external-id' } },
    ],
    [
      'two records at the domain with the same name: review, nothing taken',
      [{ id: 'cus_a', email: 'a@acme.io', name: 'Acme' }, { id: 'cus_b', email: 'b@acme.io', name: 'Acme' }],
      { cus_a: [acme('1'), acme('2')], cus_b: [acme('1'), acme('2')] },
      { cus_a: { kind: 'review', reason: 'duplicate-records' }, cus_b: { kind: 'review', reason: 'duplicate-records' } },
    ],
  ])('%s', (_, customers, candidates, expected) => {
    const decided = decideIdentities(customers, new Map(Object.entries(candidates)), DEFAULT_IDENTITY_OPTIONS);
    expect(decided.map((d) => d.customer.id)).toEqual([...customers.map((c) => c.id)].sort());
    for (const d of decided) expect(d.decision).toMatchObject(expected[d.customer.id]!);
  });

  it('follows the configured policy when nothing matches', () => {
    const [d] = decideIdentities([{ id: 'cus_x', email: 'x@nowhere.io', name: 'X' }], new Map(), { ...DEFAULT_IDENTITY_OPTIONS, noCandidate: 'unlinked' });
    expect(d!.decision).toEqual({ kind: 'unlinked' });
  });
});

describe('identity holds in the migration log', () => {
  it.each([
    [IDENTITY_HOLD.review('12', 'ambiguous-name'), true],
    [IDENTITY_HOLD.dryRunReview('duplicate-records'), true],
    [IDENTITY_HOLD.unlinkedPolicy, true],
    [IDENTITY_HOLD.unlinkedDecision, true],
    ['the customer workflow has written newer Stripe state', false],
    [null, false],
  ])('isIdentityHold(%j) = %s', (reason, held) => expect(isIdentityHold(reason)).toBe(held));

  it('names the review for the customer and its dependants', () => {
    const reason = IDENTITY_HOLD.review('12', 'ambiguous-name');
    expect(reason).toMatch(/^identity review 12 \(ambiguous-name\)/);
    expect(heldDependentReason(reason)).toBe(`its customer is not in the CRM: ${reason}`);
    expect(IDENTITY_HOLD.dryRunReview('ambiguous-name')).toBe('would go to review: ambiguous-name');
  });
});
