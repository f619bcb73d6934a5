import type { Hono } from 'hono';
import { compareIds } from '../associations.js';
import { queryInt, type RouteContext } from '../context.js';
import { notFoundError, validationError } from '../errors.js';
import { queryBoolean } from '../json.js';
import { serializeOwner } from '../owners.js';

/** HubSpot pages owners at up to 500, 100 by default. */
const MAX_OWNERS_PAGE = 500;

/** The Owners API: list (with email filter and paging) and get by id or user id. */
export function mountOwnerRoutes(app: Hono, ctx: RouteContext): void {
  const { store } = ctx;

  // The official client requests `/crm/v3/owners/` with a trailing slash; the app is non-strict about it.
  app.get('/crm/v3/owners', (c) => {
    const archived = queryBoolean(c, 'archived');
    const email = c.req.query('email')?.toLowerCase();
    const limit = queryInt(c, 'limit', 100, MAX_OWNERS_PAGE);
    const after = c.req.query('after');
    const matching = store.owners
      .filter((o) => o.archived === archived && (email === undefined || o.email.toLowerCase() === email))
      .sort((a, b) => compareIds(a.id, b.id));
    const start = after ? matching.findIndex((o) => compareIds(o.id, after) > 0) : 0;
    const page = start < 0 ? [] : matching.slice(start, start + limit);
    const body: Record<string, unknown> = { results: page.map(serializeOwner) };
    const last = page[page.length - 1];
    if (start >= 0 && start + limit < matching.length && last) {
      body.paging = { next: { after: last.id, link: `?after=${last.id}` } };
    }
    return c.json(body, 200);
  });

  app.get('/crm/v3/owners/:ownerId', (c) => {
    const raw = c.req.param('ownerId');
    const idProperty = c.req.query('idProperty') ?? 'id';
    if (idProperty !== 'id' && idProperty !== 'userId') {
      throw validationError(`idProperty must be one of [id, userId], got ${idProperty}`);
    }
    const archived = queryBoolean(c, 'archived');
    const owner = store.owners.find(
      (o) => (idProperty === 'id' ? o.id === raw : String(o.userId) === raw) && o.archived === archived,
    );
    if (!owner) throw notFoundError(`Owner ${raw} was not found`);
    return c.json(serializeOwner(owner), 200);
  });
}
