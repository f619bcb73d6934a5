import {
  companyDomainOf,
  matchCustomer,
  normalizeEmail,
  type CrmCandidate,
  type IdentityCustomer,
  type IdentityOptions,
  type MatchDecision,
} from './identity.js';

/**
 * Pure parts of the backfill's identity resolution: the real-time path's matcher (domain/identity.ts)
 * applied to a page of customers at once, with candidates from the run's identity index (the CRM's
 * companies and contacts as the run started) instead of CRM searches per customer.
 */

/** What the index is searched by for a customer: its Stripe id, its exact email, its company domain. */
export interface IndexLookup {
  customerId: string;
  /** Trimmed and lower-cased, as the index keeps contacts' emails (the CRM's email search is not case-sensitive either). */
  email: string | null;
  /** Never a free-mail or disposable domain (companyDomainOf). */
  domain: string | null;
}

export function indexLookupOf(customer: IdentityCustomer): IndexLookup {
  return { customerId: customer.id, email: normalizeEmail(customer.email, false), domain: companyDomainOf(customer.email) };
}

/** A company/Account the index query found for one of a page's lookups. */
export interface IndexMatchRow {
  recordId: string;
  name: string | null;
  /** Normalised domain of the record. */
  domain: string | null;
  /** The Stripe id the record carried when the index read it. */
  stripeCustomerId: string | null;
  /** The customer this run linked it to. */
  claimedBy: string | null;
  /** A customer crm_links ties it to (a customer workflow may have linked it since the index read it). */
  linkedTo: string | null;
  /** The contact email it was found by (null: found by Stripe id or domain). */
  email: string | null;
}

/**
 * The candidates the real-time path's CRM searches would return for this customer: records carrying
 * its Stripe id, records at its company domain, and the companies of contacts with its exact email,
 * each with the Stripe customer it belongs to (what it carries, else whom this run or a workflow linked
 * it to; the customer itself does not count, so a retried step decides as the first attempt did).
 */
export function candidatesFromIndex(customer: IdentityCustomer, rows: readonly IndexMatchRow[]): CrmCandidate[] {
  const lookup = indexLookupOf(customer);
  const byRecord = new Map<string, CrmCandidate>();
  for (const row of rows) {
    const byEmail = lookup.email !== null && row.email === lookup.email;
    const relevant = row.stripeCustomerId === customer.id || (lookup.domain !== null && row.domain === lookup.domain) || byEmail;
    if (!relevant) continue;
    const owner = row.stripeCustomerId ?? [row.claimedBy, row.linkedTo].find((o) => o !== null && o !== customer.id) ?? null;
    const known = byRecord.get(row.recordId);
    const emails = byEmail && customer.email ? [customer.email] : [];
    byRecord.set(row.recordId, known
      ? { ...known, emails: [...new Set([...known.emails, ...emails])], stripeCustomerId: known.stripeCustomerId ?? owner }
      : { recordId: row.recordId, stripeCustomerId: owner, emails, domain: row.domain, name: row.name });
  }
  return [...byRecord.values()].sort((a, b) => a.recordId.localeCompare(b.recordId));
}

export interface IdentityResolution {
  customer: IdentityCustomer;
  candidates: CrmCandidate[];
  decision: MatchDecision;
}

/** Whether the decision takes a record that carries no Stripe id yet (the claim a run must make first). */
export function claimsRecord(decision: MatchDecision): decision is Extract<MatchDecision, { kind: 'link' }> {
  return decision.kind === 'link' && decision.method !== 'external-id';
}

/**
 * matchCustomer for each customer of a page, in customer id order, as if they were linked one after
 * another: a record one of them takes belongs to that customer for the next (the real-time path's
 * second workflow finds it carrying the first one's Stripe id), so two customers never take one record.
 */
export function decideIdentities(customers: readonly IdentityCustomer[], candidates: ReadonlyMap<string, readonly CrmCandidate[]>, options: IdentityOptions): IdentityResolution[] {
  const taken = new Map<string, string>();
  return [...customers].sort((a, b) => a.id.localeCompare(b.id)).map((customer) => {
    const own = (candidates.get(customer.id) ?? []).map((c) => {
      const holder = c.stripeCustomerId === null ? taken.get(c.recordId) : undefined;
      return holder !== undefined && holder !== customer.id ? { ...c, stripeCustomerId: holder } : c;
    });
    const decision = matchCustomer(customer, own, options);
    if (claimsRecord(decision)) taken.set(decision.recordId, customer.id);
    return { customer, candidates: own, decision };
  });
}

/**
 * Why a customer's company was not written for identity reasons, as the migration log says it; its
 * contact, deals and activities are skipped with the same reason (isIdentityHold finds it).
 */
export const IDENTITY_HOLD = {
  review: (reviewId: string, reason: string) => `identity review ${reviewId} (${reason}): waits for a person to choose its CRM record (POST /reviews/${reviewId}/resolve)`,
  dryRunReview: (reason: string) => `would go to review: ${reason}`,
  unlinkedPolicy: 'the identity policy leaves it unlinked (IDENTITY_NO_CANDIDATE=unlinked): no CRM record matched',
  unlinkedDecision: 'left unlinked by an identity decision (a resolved review or a person\'s unlink): not written to the CRM',
} as const;

const HOLD_PREFIXES = ['identity review ', 'would go to review: ', IDENTITY_HOLD.unlinkedPolicy, IDENTITY_HOLD.unlinkedDecision];

export function isIdentityHold(reason: string | null): boolean {
  return reason !== null && HOLD_PREFIXES.some((p) => reason.startsWith(p));
}

/** The reason a held customer's contact, deal or activity is skipped with. */
export function heldDependentReason(customerReason: string): string {
  return `its customer is not in the CRM: ${customerReason}`;
}
