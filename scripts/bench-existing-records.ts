import { normalizeDomain } from '../domain/identity.js';
import type { CrmSeed } from './bench-crm-seed.js';

/**
 * `bench:backfill --existing N`: a CRM that already holds N records when the backfill starts, made the
 * way real CRMs hold a business's customers, so the run's identity resolution works at scale. Shares of N:
 * - 30 % companies at a customer's corporate domain named with a legal suffix, punctuation or case
 *   ("Customer 12, LLC"), 15 % with a typo ("Custmer 12"): linked by domain and name;
 * - 10 % companies under a trading name with no domain, and as many contacts carrying a customer's exact
 *   (free-mail) address, each at one of them: linked by email;
 * - 5 % companies carrying a customer's Stripe id (an earlier sync): linked by it;
 * - 4 % companies in pairs at one customer's domain, both named like it: a duplicate, so a review;
 * - the rest unrelated: companies at prospects' domains, and contacts (colleagues at the linked
 *   companies, leads at the prospects) whom no customer's email names.
 * Every other customer has an address at example.com, where the CRM has nothing: created.
 */
export type SeededKind = 'suffix' | 'typo' | 'email' | 'external-id' | 'duplicate';

/** What the backfill should decide for a customer of each kind (crm_links.match_method, or a review). */
export const EXPECTED_METHOD: Readonly<Record<SeededKind, 'domain-name' | 'email' | 'external-id' | 'review'>> = {
  suffix: 'domain-name', typo: 'domain-name', email: 'email', 'external-id': 'external-id', duplicate: 'review',
};

export interface ExistingPlan {
  /** Customers the CRM holds records of, each seeded in Stripe on its own (its own email domain). */
  customers: Array<{ kind: SeededKind; emailDomain: string }>;
  unrelatedCompanies: number;
  unrelatedContacts: number;
}

export function planExisting(records: number): ExistingPlan {
  const share = (p: number) => Math.floor(records * p);
  const counts: Record<SeededKind, number> = { suffix: share(0.3), typo: share(0.15), email: share(0.1), 'external-id': share(0.05), duplicate: share(0.02) };
  // Records per customer: two for email (company and contact) and duplicate (two companies), else one.
  const used = counts.suffix + counts.typo + 2 * counts.email + counts['external-id'] + 2 * counts.duplicate;
  const customers: ExistingPlan['customers'] = [];
  // Interleaved, so no kind gathers in one stretch of the seeding.
  for (let i = 0; i < counts.suffix; i++) {
    for (const kind of ['suffix', 'typo', 'email', 'external-id', 'duplicate'] as const) {
      if (i >= counts[kind]) continue;
      // Free-mail: only the exact email can find the company, never its domain.
      customers.push({ kind, emailDomain: kind === 'email' ? 'gmail.com' : `company${customers.length + 1}.com` });
    }
  }
  const rest = records - used;
  return { customers, unrelatedCompanies: Math.ceil(rest / 2), unrelatedContacts: Math.floor(rest / 2) };
}

/** A planned customer as Stripe seeded it: its id and the number in its name and email (`Customer <n>`). */
export interface SeededCustomer {
  kind: SeededKind;
  emailDomain: string;
  id: string;
  n: number;
}

/** A seeded company and the customer it belongs to (null: unrelated). */
export interface SeededCompany {
  kind: SeededKind | 'unrelated';
  customerId: string | null;
  domain: string | null;
}

const SUFFIXED = [(n: number) => `Customer ${n} Inc`, (n: number) => `Customer ${n}, LLC`, (n: number) => `The Customer ${n} Company`, (n: number) => `CUSTOMER ${n} LTD`, (n: number) => `Customer ${n} GmbH`];
// Each scores at least 0.97 against "Customer <n>" (Jaro-Winkler; the auto-link threshold is 0.94).
const MISSPELT = [(n: number) => `Custmer ${n}`, (n: number) => `Cusotmer ${n}`, (n: number) => `Customre ${n} Inc`, (n: number) => `Costumer ${n}`];

export function crmSeedFor(plan: ExistingPlan, seeded: readonly SeededCustomer[], customerIdField: string): { seed: CrmSeed; companies: SeededCompany[] } {
  const seed: CrmSeed = { customerIdField, companies: [], contacts: [] };
  const companies: SeededCompany[] = [];
  const company = (c: CrmSeed['companies'][number], meta: SeededCompany) => {
    seed.companies.push(c);
    companies.push(meta);
    return seed.companies.length - 1;
  };
  const linkable: number[] = [];
  // Variants in turn within each kind (the kinds are interleaved).
  const turn: Partial<Record<SeededKind, number>> = {};
  seeded.forEach((s) => {
    const t = (turn[s.kind] = (turn[s.kind] ?? -1) + 1);
    const meta = { kind: s.kind, customerId: s.id, domain: s.emailDomain };
    switch (s.kind) {
      case 'suffix':
        linkable.push(company({ name: SUFFIXED[t % SUFFIXED.length]!(s.n), domain: s.emailDomain, stripeCustomerId: null }, meta));
        break;
      case 'typo':
        linkable.push(company({ name: MISSPELT[t % MISSPELT.length]!(s.n), domain: s.emailDomain, stripeCustomerId: null }, meta));
        break;
      case 'email': {
        const at = company({ name: `Globex ${t + 1} Holdings`, domain: null, stripeCustomerId: null }, { ...meta, domain: null });
        seed.contacts.push({ email: `customer${s.n}@${s.emailDomain}`, firstName: 'Pat', lastName: `Buyer ${s.n}`, company: at });
        break;
      }
      case 'external-id':
        company({ name: `Customer ${s.n}`, domain: s.emailDomain, stripeCustomerId: s.id }, meta);
        break;
      case 'duplicate':
        // Two records of one company (a merge nobody did): neither may be picked silently.
        company({ name: `Customer ${s.n} Inc`, domain: s.emailDomain, stripeCustomerId: null }, meta);
        company({ name: `Customer ${s.n}`, domain: s.emailDomain, stripeCustomerId: null }, meta);
        break;
    }
  });
  const prospects: number[] = [];
  for (let k = 1; k <= plan.unrelatedCompanies; k++) {
    prospects.push(company({ name: `Prospect ${k} Ltd`, domain: `prospect${k}.com`, stripeCustomerId: null }, { kind: 'unrelated', customerId: null, domain: `prospect${k}.com` }));
  }
  for (let k = 1; k <= plan.unrelatedContacts; k++) {
    // Half colleagues at the companies the run will link, half leads at prospects: indexed, never an email match.
    const colleague = k % 2 === 1 && linkable.length > 0;
    const at = colleague ? linkable[Math.floor(k / 2) % linkable.length]! : prospects.length > 0 ? prospects[k % prospects.length]! : null;
    const domain = at !== null ? seed.companies[at]!.domain : 'example.org';
    seed.contacts.push({ email: `${colleague ? 'colleague' : 'lead'}${k}@${domain}`, firstName: 'Sam', lastName: `Contact ${k}`, company: at });
  }
  return { seed, companies };
}

/** A company as the CRM holds it after the run. */
export interface CrmCompany {
  id: string;
  domain: string | null;
  stripeCustomerId: string | null;
}

/**
 * Whether the run duplicated or mislinked what the CRM held: every company seeded for a customer the
 * run should link carries that customer's id (and no other company does), the duplicate pairs carry none
 * (their customer went to review), and no domain where a seeded company was has gained one.
 */
export function checkExisting(companies: readonly SeededCompany[], companyIds: readonly string[], after: readonly CrmCompany[]): string[] {
  const byId = new Map(after.map((c) => [c.id, c]));
  const carrying = new Map<string, number>();
  const atDomain = new Map<string, number>();
  for (const c of after) {
    if (c.stripeCustomerId) carrying.set(c.stripeCustomerId, (carrying.get(c.stripeCustomerId) ?? 0) + 1);
    const d = normalizeDomain(c.domain);
    if (d) atDomain.set(d, (atDomain.get(d) ?? 0) + 1);
  }
  const failures: string[] = [];
  const notLinked: string[] = [];
  const wronglyLinked: string[] = [];
  const seededAt = new Map<string, number>();
  companies.forEach((meta, i) => {
    const id = companyIds[i]!;
    const now = byId.get(id);
    if (meta.domain && meta.kind !== 'unrelated') seededAt.set(meta.domain, (seededAt.get(meta.domain) ?? 0) + 1);
    if (meta.kind === 'unrelated' || meta.kind === 'duplicate' || meta.customerId === null) {
      if (now?.stripeCustomerId) wronglyLinked.push(`${id} (${meta.kind}) carries ${now.stripeCustomerId}`);
      return;
    }
    if (!now) notLinked.push(`${id} (${meta.kind}) is gone`);
    else if (now.stripeCustomerId !== meta.customerId) notLinked.push(`${id} (${meta.kind}) carries ${now.stripeCustomerId ?? 'no Stripe id'}, not ${meta.customerId}`);
    else if ((carrying.get(meta.customerId) ?? 0) > 1) wronglyLinked.push(`${meta.customerId} is on ${carrying.get(meta.customerId)} companies`);
  });
  const grown = [...seededAt].filter(([d, n]) => (atDomain.get(d) ?? 0) > n).map(([d, n]) => `${d} ${n}→${atDomain.get(d)}`);
  const sample = (xs: string[]) => xs.slice(0, 5).join('; ') + (xs.length > 5 ? `; … ${xs.length - 5} more` : '');
  if (notLinked.length > 0) failures.push(`${notLinked.length} seeded companies do not carry their customer's Stripe id: ${sample(notLinked)}`);
  if (wronglyLinked.length > 0) failures.push(`${wronglyLinked.length} companies carry a Stripe id they should not (or one customer's id is on several): ${sample(wronglyLinked)}`);
  if (grown.length > 0) failures.push(`${grown.length} domains that had a seeded company gained a new one: ${sample(grown)}`);
  return failures;
}
