import type { Context } from 'hono';
import type { Billing } from './billing.js';
import type { Clocks } from './clocks.js';
import { invalidRequest, noSuch } from './errors.js';
import { expand } from './expand.js';
import { parseRequest, type Parsed, type RawParams, type Shape } from './params.js';
import { list } from './render.js';
import type { StripeState } from './state.js';
import { page, type PageQuery, type Row } from './store.js';
import type { WebhookDispatcher } from './webhooks.js';

export interface Env {
  Variables: {
    /** Parameters as sent: the form body of a POST, the query string of a GET or DELETE. */
    raw: RawParams;
    requestId: string;
  };
}

/** Everything a route needs: the account's state, its billing engine, clocks and webhook dispatcher. */
export interface SandboxContext {
  state: StripeState;
  billing: Billing;
  clocks: Clocks;
  webhooks: WebhookDispatcher;
}

export function params<S extends Shape>(c: Context<Env>, shape: S): Parsed<S> {
  return parseRequest(shape, c.get('raw'));
}

/** Sends an API object after applying the request's `expand[]`. */
export function send(c: Context<Env>, s: StripeState, body: unknown, expandPaths: readonly string[] = []): Response {
  return c.json(expand(s, body, expandPaths) as object);
}

/** A list endpoint: cursor paging over `rows`, newest first, then rendering and expansion. */
export function sendList<R extends Row, Out>(
  c: Context<Env>,
  s: StripeState,
  opts: {
    url: string;
    rows: readonly R[];
    query: PageQuery;
    lookup: (id: string) => Row | undefined;
    kind: string;
    filter?: (row: R) => boolean;
    render: (row: R) => Out;
    expand: readonly string[];
  },
): Response {
  if (opts.query.starting_after !== undefined && opts.query.ending_before !== undefined) {
    throw invalidBoth();
  }
  const result = page(
    opts.rows,
    opts.query,
    (id, param) => {
      const row = opts.lookup(id);
      if (!row) throw noSuch(opts.kind, id, param);
      return row;
    },
    opts.filter,
  );
  return send(c, s, list(result.data.map(opts.render), opts.url, result.has_more), opts.expand);
}

function invalidBoth() {
  return invalidRequest('You may only specify one of these parameters: ending_before, starting_after.', { param: 'ending_before' });
}
