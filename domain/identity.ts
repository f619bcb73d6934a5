/**
 * Identity resolution: which CRM record a Stripe customer is. Pure, so the hierarchy and the fuzzy
 * rules are table-tested and benchmarked on labelled data. A wrong automatic link is worse than a
 * queued one, so every ambiguity goes to review with its candidates and scores.
 *
 * Steps, in order (the first that decides wins):
 *   1. an existing cross-reference link (the caller checks its table before calling this);
 *   2. a CRM record already carrying the Stripe customer id;
 *   3. exact email, normalised for case and whitespace (and plus-addressing where configured);
 *   4. company domain plus fuzzy company name — never for free-mail or disposable domains;
 *   5. the review queue, or the no-candidate policy.
 *
 * Name similarity is Jaro-Winkler (prefix scale 0.1) over names normalised by lower-casing,
 * dropping punctuation and legal suffixes (Inc, LLC, GmbH, ...). Scores ≥ `autoLinkScore` (0.94)
 * link automatically when exactly one candidate reaches it; scores ≥ `reviewScore` (0.85) go to review.
 */

export type MatchMethod = 'link' | 'external-id' | 'email' | 'domain-name' | 'review' | 'created';

export interface IdentityCustomer {
  id: string;
  email: string | null;
  name: string | null;
}

export interface CrmCandidate {
  recordId: string;
  /** The Stripe customer id the record carries, if any. */
  stripeCustomerId: string | null;
  /** Emails of the record (company: its contacts' emails; contact: its own). */
  emails: string[];
  domain: string | null;
  name: string | null;
}

export interface ScoredCandidate {
  recordId: string;
  method: Exclude<MatchMethod, 'link' | 'review' | 'created'>;
  score: number;
}

export type MatchDecision =
  | { kind: 'link'; recordId: string; method: ScoredCandidate['method']; score: number }
  | { kind: 'review'; reason: 'duplicate-records' | 'several-email-matches' | 'ambiguous-name' | 'no-candidate' | 'linked-to-another-customer'; candidates: ScoredCandidate[] }
  | { kind: 'create' }
  | { kind: 'unlinked' };

export type NoCandidatePolicy = 'create' | 'review' | 'unlinked';

export interface IdentityOptions {
  /** Treat a+tag@x.com as a@x.com (only where the organisation's mail server does the same). */
  plusAddressing: boolean;
  autoLinkScore: number;
  reviewScore: number;
  noCandidate: NoCandidatePolicy;
}

export const DEFAULT_IDENTITY_OPTIONS: IdentityOptions = { plusAddressing: false, autoLinkScore: 0.94, reviewScore: 0.85, noCandidate: 'create' };

/** Mail providers anyone can sign up with: a shared domain says nothing about the company. */
export const FREE_MAIL_DOMAINS: ReadonlySet<string> = new Set([
  'gmail.com', 'googlemail.com', 'yahoo.com', 'yahoo.co.uk', 'yahoo.fr', 'ymail.com', 'hotmail.com', 'hotmail.co.uk', 'hotmail.fr',
  'outlook.com', 'live.com', 'msn.com', 'icloud.com', 'me.com', 'mac.com', 'aol.com', 'proton.me', 'protonmail.com', 'pm.me',
  'gmx.com', 'gmx.de', 'gmx.net', 'web.de', 't-online.de', 'yandex.ru', 'yandex.com', 'mail.ru', 'qq.com', '163.com', '126.com',
  'zoho.com', 'fastmail.com', 'hey.com', 'tutanota.com', 'orange.fr', 'free.fr', 'laposte.net', 'libero.it', 'naver.com',
]);

/** Throwaway address services. */
export const DISPOSABLE_DOMAINS: ReadonlySet<string> = new Set([
  'mailinator.com', 'guerrillamail.com', '10minutemail.com', 'tempmail.com', 'temp-mail.org', 'yopmail.com', 'trashmail.com',
  'sharklasers.com', 'getnada.com', 'dispostable.com', 'maildrop.cc', 'throwawaymail.com', 'fakeinbox.com',
]);

const LEGAL_SUFFIXES = new Set([
  'inc', 'incorporated', 'llc', 'llp', 'ltd', 'limited', 'co', 'corp', 'corporation', 'company', 'plc', 'gmbh', 'ag', 'sa', 'sas',
  'sarl', 'bv', 'nv', 'oy', 'ab', 'as', 'aps', 'pty', 'srl', 'spa', 'kk', 'group', 'holdings', 'the',
]);

export function normalizeEmail(email: string | null, plusAddressing: boolean): string | null {
  if (!email) return null;
  const trimmed = email.trim().toLowerCase();
  const at = trimmed.lastIndexOf('@');
  if (at <= 0 || at === trimmed.length - 1) return null;
  let local = trimmed.slice(0, at);
  if (plusAddressing) local = local.split('+')[0] ?? local;
  return `${local}@${trimmed.slice(at + 1)}`;
}

/** The domain that may identify a company: none for free-mail or disposable addresses. */
export function companyDomainOf(email: string | null): string | null {
  const normalized = normalizeEmail(email, false);
  const domain = normalized?.split('@')[1] ?? null;
  if (!domain || FREE_MAIL_DOMAINS.has(domain) || DISPOSABLE_DOMAINS.has(domain)) return null;
  return domain;
}

export function normalizeDomain(domain: string | null): string | null {
  if (!domain) return null;
  const d = domain.trim().toLowerCase().replace(/^https?:\/\//, '').replace(/^www\./, '').split('/')[0] ?? '';
  return d || null;
}

export function normalizeCompanyName(name: string | null): string {
  if (!name) return '';
  const words = name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/&/g, ' and ')
    .replace(/[^a-z0-9 ]+/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
  while (words.length > 1 && LEGAL_SUFFIXES.has(words[words.length - 1]!)) words.pop();
  while (words.length > 1 && words[0] === 'the') words.shift();
  return words.join(' ');
}

/** Jaro-Winkler similarity in [0, 1]. */
export function jaroWinkler(a: string, b: string): number {
  if (a === b) return a.length === 0 ? 0 : 1;
  if (a.length === 0 || b.length === 0) return 0;
  const window = Math.max(0, Math.floor(Math.max(a.length, b.length) / 2) - 1);
  const aMatched = new Array<boolean>(a.length).fill(false);
  const bMatched = new Array<boolean>(b.length).fill(false);
  let matches = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = Math.max(0, i - window); j < Math.min(b.length, i + window + 1); j++) {
      if (bMatched[j] || a[i] !== b[j]) continue;
      aMatched[i] = true;
      bMatched[j] = true;
      matches++;
      break;
    }
  }
  if (matches === 0) return 0;
  let transpositions = 0;
  let k = 0;
  for (let i = 0; i < a.length; i++) {
    if (!aMatched[i]) continue;
    while (!bMatched[k]) k++;
    if (a[i] !== b[k]) transpositions++;
    k++;
  }
  const jaro = (matches / a.length + matches / b.length + (matches - transpositions / 2) / matches) / 3;
  let prefix = 0;
  while (prefix < 4 && a[prefix] === b[prefix]) prefix++;
  return jaro + prefix * 0.1 * (1 - jaro);
}

export function nameSimilarity(a: string | null, b: string | null): number {
  return jaroWinkler(normalizeCompanyName(a), normalizeCompanyName(b));
}

/** Decides steps 2–5 for one customer against the candidates a CRM search returned. */
export function matchCustomer(customer: IdentityCustomer, candidates: readonly CrmCandidate[], options: IdentityOptions = DEFAULT_IDENTITY_OPTIONS): MatchDecision {
  // 2. A record already carrying the Stripe id. Two of them is a duplicate: never a silent pick.
  const byId = candidates.filter((c) => c.stripeCustomerId === customer.id);
  if (byId.length === 1) return { kind: 'link', recordId: byId[0]!.recordId, method: 'external-id', score: 1 };
  if (byId.length > 1) return { kind: 'review', reason: 'duplicate-records', candidates: byId.map((c) => ({ recordId: c.recordId, method: 'external-id', score: 1 })) };

  // Records that belong to another Stripe customer are not candidates for this one.
  const free = candidates.filter((c) => c.stripeCustomerId === null);

  // 3. Exact email.
  const email = normalizeEmail(customer.email, options.plusAddressing);
  if (email) {
    const byEmail = free.filter((c) => c.emails.some((e) => normalizeEmail(e, options.plusAddressing) === email));
    if (byEmail.length === 1) return { kind: 'link', recordId: byEmail[0]!.recordId, method: 'email', score: 1 };
    if (byEmail.length > 1) return { kind: 'review', reason: 'several-email-matches', candidates: byEmail.map((c) => ({ recordId: c.recordId, method: 'email', score: 1 })) };
  }

  // 4. Company domain plus fuzzy name; free-mail and disposable domains never match on domain.
  const domain = companyDomainOf(customer.email);
  if (domain) {
    const sameDomain = free.filter((c) => normalizeDomain(c.domain) === domain);
    const scored = sameDomain
      .map((c): ScoredCandidate => ({ recordId: c.recordId, method: 'domain-name', score: round(nameSimilarity(customer.name, c.name)) }))
      .filter((c) => c.score >= options.reviewScore)
      .sort((a, b) => b.score - a.score || a.recordId.localeCompare(b.recordId));
    // Records at the customer's domain but no name to compare: a person must decide, not a new record.
    if (!normalizeCompanyName(customer.name) && sameDomain.length > 0) {
      return { kind: 'review', reason: 'ambiguous-name', candidates: sameDomain.map((c) => ({ recordId: c.recordId, method: 'domain-name', score: 0 })) };
    }
    const strong = scored.filter((c) => c.score >= options.autoLinkScore);
    if (strong.length === 1 && scored.length === 1) return { kind: 'link', ...strong[0]! };
    if (scored.length > 0) return { kind: 'review', reason: strong.length > 1 ? 'duplicate-records' : 'ambiguous-name', candidates: scored };
  }

  // A record that already belongs to another Stripe customer (another Stripe account, product or
  // region of the same company) is never linked automatically, nor silently duplicated: a person
  // decides whether it becomes a roll-up record of both or this customer gets a record of its own.
  // Only the exact email counts here: customers of one domain with similar names ("Acme EU", "Acme
  // US") are as often separate customers as one company, and would flood the queue.
  const owned = candidates.filter((c) => c.stripeCustomerId !== null && c.stripeCustomerId !== customer.id);
  const ownedByEmail = email ? owned.filter((c) => c.emails.some((e) => normalizeEmail(e, options.plusAddressing) === email)) : [];
  if (ownedByEmail.length > 0) {
    return { kind: 'review', reason: 'linked-to-another-customer', candidates: ownedByEmail.map((c) => ({ recordId: c.recordId, method: 'email', score: 1 })) };
  }

  // 5. Nothing decided.
  switch (options.noCandidate) {
    case 'create':
      return { kind: 'create' };
    case 'review':
      return { kind: 'review', reason: 'no-candidate', candidates: [] };
    case 'unlinked':
      return { kind: 'unlinked' };
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** A scored candidate as a review shows it: with the record's name, domain and the Stripe customer it carries. */
export interface ReviewCandidate extends ScoredCandidate {
  name: string | null;
  domain: string | null;
  customerId: string | null;
}

/** The scored candidates of a decision with what a person needs to choose between them, from the records the search found. */
export function reviewCandidates(scored: readonly ScoredCandidate[], found: readonly CrmCandidate[]): ReviewCandidate[] {
  const byId = new Map(found.map((c) => [c.recordId, c]));
  return scored.map((c) => {
    const record = byId.get(c.recordId);
    return { ...c, name: record?.name ?? null, domain: record?.domain ?? null, customerId: record?.stripeCustomerId ?? null };
  });
}

/**
 * Who decides a field both Stripe and the people using the CRM could write (FIELD_OWNERSHIP). The
 * `stripe_*` fields are always Stripe's; these are the ones a person may reasonably edit.
 * - `shared`: written only when empty in the CRM or still equal to what we last wrote;
 * - `crm`: written when the record is created (or the CRM value is empty), never over a person's value;
 * - `stripe`: Stripe's value is written whenever it changes, over whatever the CRM shows.
 */
export type FieldOwner = 'stripe' | 'crm' | 'shared';
export const OWNED_FIELDS = ['name', 'domain', 'email', 'deal_stage'] as const;
export type OwnedField = (typeof OWNED_FIELDS)[number];
export type FieldOwnership = Record<OwnedField, FieldOwner>;
/** The defaults: name and email shared, domain with them, the deal stage the sales team's. */
export const DEFAULT_FIELD_OWNERSHIP: FieldOwnership = { name: 'shared', domain: 'shared', email: 'shared', deal_stage: 'crm' };

/** One field both sides may edit (company name and domain, contact email, deal stage): whose value stands. */
export interface SharedFieldDecision {
  write: boolean;
  /** Set when Stripe and the CRM disagree: logged, whichever wins. */
  conflict: { winner: 'stripe' | 'crm'; rule: 'unchanged-since-our-write' | 'edited-in-crm' | 'stripe-owned' | 'crm-owned' } | null;
}

/**
 * Called when Stripe's value differs from what we last wrote, with what the CRM shows now. An empty
 * CRM value is filled whoever owns the field; otherwise the owner decides (see FieldOwner), and
 * every disagreement is reported. Never written the other way (no reverse sync).
 */
export function decideSharedField(stripeValue: string | null, crmValue: string | null, lastWritten: string | null, owner: FieldOwner = 'shared'): SharedFieldDecision {
  const norm = (v: string | null) => (v ?? '').trim();
  if (norm(stripeValue) === '' || norm(stripeValue) === norm(crmValue)) return { write: false, conflict: null };
  if (norm(crmValue) === '') return { write: true, conflict: null };
  if (owner === 'stripe') return { write: true, conflict: { winner: 'stripe', rule: 'stripe-owned' } };
  if (owner === 'crm') return { write: false, conflict: { winner: 'crm', rule: 'crm-owned' } };
  if (lastWritten !== null && norm(crmValue) === norm(lastWritten)) return { write: true, conflict: { winner: 'stripe', rule: 'unchanged-since-our-write' } };
  return { write: false, conflict: { winner: 'crm', rule: 'edited-in-crm' } };
}

/**
 * The deal stage, by its owner (default `crm`: the sales team moves deals through their pipeline).
 * Values are in the CRM's terms (stage ids, StageName). `lastWritten` is the stage we last wrote
 * (undefined: none, the deal is new to us); `crm` is what the CRM shows (undefined: not read;
 * `exists: false`: the deal is gone and the write creates it). A deal new to us or being created
 * again always gets its stage. After that, when Stripe's stage moves (a trial converts, ends unpaid)
 * the CRM's stage is read and decideSharedField decides; when it has not moved the stage is left out,
 * so an ordinary round reads nothing. `stripe` ownership writes the stage with every deal write.
 */
export function decideDealStage(stripeStage: string, lastWritten: string | undefined, crm: { exists: boolean; stage: string | null } | undefined, owner: FieldOwner = 'shared'): SharedFieldDecision {
  if (lastWritten === undefined || (crm !== undefined && !crm.exists) || owner === 'stripe') return { write: true, conflict: null };
  if (lastWritten === stripeStage || crm === undefined) return { write: false, conflict: null };
  return decideSharedField(stripeStage, crm.stage, lastWritten, owner);
}

/** Whether decideDealStage needs the CRM's current stage: only when Stripe's stage moved since our last write. */
export function dealStageReadNeeded(stripeStage: string, lastWritten: string | undefined, owner: FieldOwner = 'shared'): boolean {
  return owner !== 'stripe' && lastWritten !== undefined && lastWritten !== stripeStage;
}
