import { performance } from 'node:perf_hooks';
import { companyDomainOf, matchCustomer, normalizeDomain, normalizeEmail, type CrmCandidate, type IdentityCustomer } from '../domain/identity.js';
import { seededRandom } from '../sandboxes/shared/faults.js';
import { parseArgs } from './bench-support.js';

/**
 * `npm run bench:identity -- --customers 10000`
 *
 * A labelled population: Stripe customers and a CRM that already holds accounts, with the cases
 * that break naive matching — changed emails, several contacts per company domain, typos and suffix
 * variants in company names, duplicate CRM companies, free-mail addresses, customers absent from the
 * CRM. Each customer knows which record is really its own (or none). The matcher sees only what a
 * CRM search returns (records by Stripe id, by email, by domain), as in production.
 */
const args = parseArgs(process.argv.slice(2), { customers: '10000', seed: '7' });
const n = Number(args.customers);
const random = seededRandom(Number(args.seed));
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

const WORDS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'vandelay', 'stark', 'wayne', 'tyrell', 'soylent', 'cyberdyne', 'aperture', 'massive', 'wonka', 'pied', 'dunder', 'oscorp', 'gringotts', 'monarch', 'nakatomi', 'virtucon', 'zorg', 'yoyodyne', 'prestige', 'sterling', 'bluth', 'krusty', 'duff', 'buy', 'gekko'];
const SECOND = ['analytics', 'labs', 'logistics', 'health', 'robotics', 'foods', 'systems', 'dynamics', 'paper', 'industries', 'media', 'capital', 'energy', 'software', 'studios', 'partners', 'works', 'networks', 'cloud', 'retail'];
const SUFFIXES = ['Inc.', 'LLC', 'Ltd', 'GmbH', 'Corporation', 'Co.', ''];
const FIRST = ['ada', 'grace', 'alan', 'edsger', 'barbara', 'donald', 'margaret', 'ken', 'radia', 'linus', 'frances', 'john', 'hedy', 'tim'];
const FREE = ['gmail.com', 'yahoo.com', 'outlook.com', 'icloud.com', 'proton.me'];

function typo(word: string): string {
  const i = 1 + Math.floor(random() * (word.length - 2));
  const kinds = [() => word.slice(0, i) + word.slice(i + 1), () => word.slice(0, i) + word[i] + word.slice(i), () => word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2)];
  return pick(kinds)();
}

type Category = 'stripe-id' | 'exact-email' | 'changed-email' | 'changed-email-no-name' | 'name-typo' | 'duplicate-companies' | 'free-mail-known' | 'free-mail-unknown' | 'absent' | 'sibling-on-domain';
interface LabelledCustomer extends IdentityCustomer {
  category: Category;
  /** Records that are really this customer (several for duplicate companies), empty when none. */
  truth: string[];
}

const records: CrmCandidate[] = [];
const customers: LabelledCustomer[] = [];
let nextRecord = 1;
const company = (base: string, domain: string, stripeCustomerId: string | null, contacts: string[]): CrmCandidate => {
  const r = { recordId: String(nextRecord++), stripeCustomerId, emails: contacts, domain: pick([domain, `www.${domain}`, `https://${domain}`]), name: `${base} ${pick(SUFFIXES)}`.trim() };
  records.push(r);
  return r;
};
const weights: Array<[Category, number]> = [
  ['stripe-id', 0.3], ['exact-email', 0.18], ['changed-email', 0.12], ['name-typo', 0.1], ['duplicate-companies', 0.05],
  ['free-mail-known', 0.05], ['free-mail-unknown', 0.06], ['absent', 0.08], ['changed-email-no-name', 0.03], ['sibling-on-domain', 0.03],
];
for (let i = 0; i < n; i++) {
  let roll = random();
  let category: Category = 'absent';
  for (const [c, w] of weights) {
    if (roll < w) {
      category = c;
      break;
    }
    roll -= w;
  }
  const base = `${pick(WORDS)} ${pick(SECOND)} ${i}`.replace(/\b\w/g, (c) => c.toUpperCase());
  const domain = `${base.toLowerCase().replace(/[^a-z0-9]+/g, '')}.example`;
  const people = Array.from({ length: 3 }, (_, k) => `${pick(FIRST)}${k}@${domain}`);
  const id = `cus_${i.toString(36).padStart(8, '0')}`;
  const name = `${base} ${pick(SUFFIXES)}`.trim();
  switch (category) {
    case 'stripe-id': {
      const r = company(base, domain, id, people);
      customers.push({ id, email: people[0]!, name, category, truth: [r.recordId] });
      break;
    }
    case 'exact-email': {
      const r = company(base, domain, null, people);
      customers.push({ id, email: pick(people).toUpperCase(), name: random() < 0.5 ? name : null, category, truth: [r.recordId] });
      break;
    }
    case 'changed-email': {
      const r = company(base, domain, null, people);
      customers.push({ id, email: `new.${pick(FIRST)}@${domain}`, name, category, truth: [r.recordId] });
      break;
    }
    case 'name-typo': {
      const r = company(base, domain, null, people);
      const words = base.split(' ');
      words[0] = typo(words[0]!);
      customers.push({ id, email: `billing@${domain}`, name: `${words.join(' ')} ${pick(SUFFIXES)}`.trim(), category, truth: [r.recordId] });
      break;
    }
    case 'duplicate-companies': {
      const a = company(base, domain, null, people.slice(0, 2));
      const b = company(base, domain, null, people.slice(2));
      customers.push({ id, email: `finance@${domain}`, name, category, truth: [a.recordId, b.recordId] });
      break;
    }
    case 'free-mail-known': {
      const personal = `${pick(FIRST)}.${i}@${pick(FREE)}`;
      const r = company(base, domain, null, [...people, personal]);
      customers.push({ id, email: personal, name, category, truth: [r.recordId] });
      break;
    }
    case 'free-mail-unknown': {
      company(base, domain, null, people);
      // Same company name, but a personal address the CRM has never seen: nothing links it safely.
      customers.push({ id, email: `${pick(FIRST)}.x${i}@${pick(FREE)}`, name, category, truth: [] });
      break;
    }
    case 'changed-email-no-name': {
      // A new address at a known domain and no company name in Stripe: nothing to compare names with.
      const r = company(base, domain, null, people);
      customers.push({ id, email: `new.${pick(FIRST)}@${domain}`, name: null, category, truth: [r.recordId] });
      break;
    }
    case 'sibling-on-domain': {
      // Another business unit on the same domain (Acme Labs vs Acme Robotics): not this customer's record.
      const words = base.split(' ');
      const other = [words[0], pick(SECOND.filter((w) => w.toLowerCase() !== words[1]!.toLowerCase())), words[2]].join(' ').replace(/\b\w/g, (c) => c.toUpperCase());
      company(other, domain, null, people);
      customers.push({ id, email: `ops@${domain}`, name, category, truth: [] });
      break;
    }
    case 'absent':
      customers.push({ id, email: `${pick(FIRST)}@${domain}`, name, category, truth: [] });
      break;
  }
}

// The CRM's search indexes: by Stripe id, email and domain.
const byStripeId = new Map<string, CrmCandidate[]>();
const byEmail = new Map<string, CrmCandidate[]>();
const byDomain = new Map<string, CrmCandidate[]>();
const add = (map: Map<string, CrmCandidate[]>, key: string | null, r: CrmCandidate) => {
  if (key) (map.get(key) ?? map.set(key, []).get(key)!).push(r);
};
for (const r of records) {
  add(byStripeId, r.stripeCustomerId, r);
  for (const e of r.emails) add(byEmail, normalizeEmail(e, false), r);
  add(byDomain, normalizeDomain(r.domain), r);
}

const started = performance.now();
let autoLinks = 0;
let correctAuto = 0;
let reviews = 0;
let linkedThroughReview = 0;
let ambiguous = 0;
let ambiguousInReview = 0;
const wrong: string[] = [];
const byCategory = new Map<Category, { n: number; auto: number; review: number; created: number }>();
for (const c of customers) {
  const candidates = new Set<CrmCandidate>([
    ...(byStripeId.get(c.id) ?? []),
    ...(byEmail.get(normalizeEmail(c.email, false) ?? '') ?? []),
    ...(byDomain.get(companyDomainOf(c.email) ?? '') ?? []),
  ]);
  const decision = matchCustomer(c, [...candidates]);
  const stats = byCategory.get(c.category) ?? byCategory.set(c.category, { n: 0, auto: 0, review: 0, created: 0 }).get(c.category)!;
  stats.n++;
  if (c.truth.length > 1) ambiguous++;
  if (decision.kind === 'link') {
    autoLinks++;
    stats.auto++;
    if (c.truth.includes(decision.recordId)) correctAuto++;
    else if (wrong.length < 5) wrong.push(`${c.category}: ${c.id} → ${decision.recordId} via ${decision.method}`);
  } else if (decision.kind === 'review') {
    reviews++;
    stats.review++;
    if (decision.candidates.some((k) => c.truth.includes(k.recordId))) linkedThroughReview++;
    if (c.truth.length > 1) ambiguousInReview++;
  } else {
    stats.created++;
  }
}
const seconds = (performance.now() - started) / 1000;
const linkable = customers.filter((c) => c.truth.length > 0).length;
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
console.log(`bench:identity customers=${n} crm-records=${records.length} linkable=${linkable} seed=${args.seed}`);
console.log(`precision of automatic links: ${pct(correctAuto / Math.max(1, autoLinks))} (${correctAuto}/${autoLinks}; target ≥ 99.5 %)`);
console.log(`recall: ${pct((correctAuto + linkedThroughReview) / linkable)} of the linkable population, automatically or through review (${correctAuto} + ${linkedThroughReview} of ${linkable}; target ≥ 95 %)`);
console.log(`sent to review: ${pct(reviews / n)} (${reviews}); ambiguous cases in review: ${ambiguousInReview}/${ambiguous}`);
console.log(`throughput: ${Math.round(n / seconds)} decisions/s`);
for (const [category, s] of byCategory) console.log(`  ${category.padEnd(20)} n=${String(s.n).padStart(5)} auto=${String(s.auto).padStart(5)} review=${String(s.review).padStart(5)} none=${String(s.created).padStart(5)}`);
for (const w of wrong) console.log(`  wrong link: ${w}`);
