import type { Context } from 'hono';
import { invalidRequest } from './errors.js';
import { expand } from './expand.js';
import { params, type Env } from './http.js';
import type { Metadata } from './params.js';
import {
  renderCharge,
  renderCustomer,
  renderInvoice,
  renderPaymentIntent,
  renderPrice,
  renderProduct,
  renderSubscription,
} from './render.js';
import { searchParams } from './specs.js';
import type { StripeState } from './state.js';
import type { Row } from './store.js';

/**
 * Stripe's Search Query Language, enough of it for lookups a sync service makes:
 * `email:"a@b.co"`, `name~"acme"`, `metadata["crm_id"]:"42"`, `-status:"canceled"`, `created>1700000000`,
 * clauses joined by AND or by OR (never both, as in Stripe).
 */

type Scalar = string | number | boolean | null;
type Field = (row: never) => Scalar;

interface Resource<R extends Row> {
  url: string;
  rows: (s: StripeState) => readonly R[];
  visible: (r: R) => boolean;
  fields: Record<string, (r: R) => Scalar>;
  metadata: (r: R) => Metadata;
  render: (s: StripeState, r: R) => unknown;
}

function resource<R extends Row>(r: Resource<R>): Resource<Row> {
  return r as unknown as Resource<Row>;
}

const RESOURCES = {
  customers: resource({
    url: '/v1/customers/search',
    rows: (s) => s.customers.all(),
    visible: (r) => !r.deleted,
    fields: { email: (r) => r.email, name: (r) => r.name, phone: (r) => r.phone, created: (r) => r.created },
    metadata: (r) => r.metadata,
    render: (s, r) => renderCustomer(s, r),
  }),
  subscriptions: resource({
    url: '/v1/subscriptions/search',
    rows: (s) => s.subscriptions.all(),
    visible: () => true,
    fields: { status: (r) => r.status, created: (r) => r.created, customer: (r) => r.customer, canceled_at: (r) => r.canceledAt },
    metadata: (r) => r.metadata,
    render: (s, r) => renderSubscription(s, r),
  }),
  invoices: resource({
    url: '/v1/invoices/search',
    rows: (s) => s.invoices.all(),
    visible: () => true,
    fields: {
      created: (r) => r.created,
      currency: (r) => r.currency,
      customer: (r) => r.customer,
      number: (r) => r.number,
      status: (r) => r.status,
      subscription: (r) => r.subscription,
      total: (r) => r.total,
    },
    metadata: (r) => r.metadata,
    render: (s, r) => renderInvoice(s, r),
  }),
  charges: resource({
    url: '/v1/charges/search',
    rows: (s) => s.charges.all(),
    visible: () => true,
    fields: {
      amount: (r) => r.amount,
      created: (r) => r.created,
      currency: (r) => r.currency,
      customer: (r) => r.customer,
      disputed: (r) => r.disputed,
      payment_intent: (r) => r.paymentIntent,
      refunded: (r) => r.amountRefunded >= r.amount,
      status: (r) => r.status,
    },
    metadata: (r) => r.metadata,
    render: (s, r) => renderCharge(s, r),
  }),
  payment_intents: resource({
    url: '/v1/payment_intents/search',
    rows: (s) => s.paymentIntents.all(),
    visible: () => true,
    fields: { amount: (r) => r.amount, created: (r) => r.created, currency: (r) => r.currency, customer: (r) => r.customer, status: (r) => r.status },
    metadata: (r) => r.metadata,
    render: (_s, r) => renderPaymentIntent(r),
  }),
  prices: resource({
    url: '/v1/prices/search',
    rows: (s) => s.prices.all(),
    visible: (r) => !r.deleted && !r.inline,
    fields: {
      active: (r) => r.active,
      currency: (r) => r.currency,
      lookup_key: (r) => r.lookupKey,
      product: (r) => r.product,
      type: (r) => (r.recurring ? 'recurring' : 'one_time'),
      created: (r) => r.created,
    },
    metadata: (r) => r.metadata,
    render: (_s, r) => renderPrice(r),
  }),
  products: resource({
    url: '/v1/products/search',
    rows: (s) => s.products.all(),
    visible: (r) => !r.deleted,
    fields: {
      active: (r) => r.active,
      description: (r) => r.description,
      name: (r) => r.name,
      url: (r) => r.url,
      created: (r) => r.created,
    },
    metadata: (r) => r.metadata,
    render: (_s, r) => renderProduct(r),
  }),
} satisfies Record<string, Resource<Row>>;

export type SearchResource = keyof typeof RESOURCES;

interface Clause {
  negate: boolean;
  field: string;
  metadataKey: string | null;
  op: ':' | '~' | '>' | '<' | '>=' | '<=';
  value: string | number | null;
}

function queryError(message: string): never {
  throw invalidRequest(message, { param: 'query' });
}

const CLAUSE = /^\s*(-)?([a-z_.]+)(?:\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\['((?:[^'\\]|\\.)*)'\])?\s*(>=|<=|:|~|>|<)\s*("((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|-?\d+(?:\.\d+)?|null)\s*/;

export function parseQuery(query: string): { clauses: Clause[]; join: 'AND' | 'OR' } {
  const clauses: Clause[] = [];
  let join: 'AND' | 'OR' | null = null;
  let rest = query;
  for (;;) {
    const m = CLAUSE.exec(rest);
    if (!m) queryError(`Invalid search query: ${query}`);
    const raw = m[6] as string;
    let value: string | number | null;
    if (raw === 'null') value = null;
    else if (m[7] !== undefined || m[8] !== undefined) value = (m[7] ?? m[8] ?? '').replace(/\\(.)/g, '$1');
    else value = Number(raw);
    const metadataKey = m[3] ?? m[4] ?? null;
    if (metadataKey !== null && m[2] !== 'metadata') queryError(`Field ${m[2]} does not take a key.`);
    if (m[2] === 'metadata' && metadataKey === null) queryError('metadata must be searched by key, e.g. metadata["key"]:"value".');
    clauses.push({ negate: m[1] === '-', field: m[2] as string, metadataKey, op: m[5] as Clause['op'], value });
    rest = rest.slice(m[0].length);
    if (rest.trim() === '') break;
    const j = /^(AND|OR)\s+/.exec(rest);
    if (!j) queryError(`Invalid search query: ${query}`);
    const word = j[1] as 'AND' | 'OR';
    if (join !== null && join !== word) queryError('Search queries cannot combine AND and OR.');
    join = word;
    rest = rest.slice(j[0].length);
  }
  if (clauses.length > 10) queryError('Search queries can have at most 10 clauses.');
  return { clauses, join: join ?? 'AND' };
}

function matches(clause: Clause, actual: Scalar): boolean {
  const { op, value } = clause;
  let ok: boolean;
  if (op === ':') {
    if (value === null) ok = actual === null || actual === undefined;
    else if (typeof actual === 'string') ok = actual.toLowerCase() === String(value).toLowerCase();
    else if (typeof actual === 'boolean') ok = String(actual) === String(value);
    else ok = actual === value || (actual !== null && String(actual) === String(value));
  } else if (op === '~') {
    if (typeof value !== 'string' || value.length < 3) queryError('Substring matching requires at least 3 characters.');
    ok = typeof actual === 'string' && actual.toLowerCase().includes(value.toLowerCase());
  } else {
    if (typeof value !== 'number' || typeof actual !== 'number') ok = false;
    else ok = op === '>' ? actual > value : op === '<' ? actual < value : op === '>=' ? actual >= value : actual <= value;
  }
  return clause.negate ? !ok : ok;
}

export function searchRows(c: Context<Env>, s: StripeState, name: SearchResource): Response {
  const { params: p, expand: paths } = params(c, searchParams);
  const res = RESOURCES[name];
  const { clauses, join } = parseQuery(p.query);
  for (const clause of clauses) {
    if (clause.field !== 'metadata' && !(clause.field in res.fields)) {
      queryError(`Field \`${clause.field}\` is an unsupported search field for resource \`${name}\`.`);
    }
  }
  const test = (r: Row): boolean => {
    const results = clauses.map((clause) => {
      const actual =
        clause.metadataKey !== null ? (res.metadata(r)[clause.metadataKey] ?? null) : (res.fields[clause.field] as Field)(r as never);
      return matches(clause, actual);
    });
    return join === 'AND' ? results.every(Boolean) : results.some(Boolean);
  };
  const all = res.rows(s);
  const matched: Row[] = [];
  for (let i = all.length - 1; i >= 0; i--) {
    const r = all[i] as Row;
    if (res.visible(r) && test(r)) matched.push(r);
  }
  let offset = 0;
  if (p.page !== undefined) {
    const decoded = Number(Buffer.from(p.page, 'base64url').toString('utf8'));
    if (!Number.isInteger(decoded) || decoded < 0) throw invalidRequest('Invalid page token.', { param: 'page' });
    offset = decoded;
  }
  const limit = p.limit ?? 10;
  const data = matched.slice(offset, offset + limit).map((r) => res.render(s, r));
  const hasMore = offset + limit < matched.length;
  return c.json(
    expand(s, {
      object: 'search_result',
      data,
      has_more: hasMore,
      next_page: hasMore ? Buffer.from(String(offset + limit)).toString('base64url') : null,
      url: res.url,
    }, paths),
  );
}
