import type { Context, Hono } from 'hono';
import { batchBody, checkBatchSize, objectTypeParam, queryInt, type RouteContext } from '../context.js';
import {
  HubSpotApiError,
  invalidInput,
  missingAttributes,
  notFoundError,
  standardError,
  validationError,
  type StandardError,
} from '../errors.js';
import {
  isRecord,
  optionalString,
  queryBoolean,
  queryList,
  readObject,
  readPropertyMap,
  requireArray,
  requireString,
} from '../json.js';
import type { ObjectTypeDef, ObjectTypeName } from '../object-types.js';
import { parseSearchRequest, runSearch } from '../search.js';
import type { CrmRecord, CrmStore, PendingUniques, PreparedValues } from '../store.js';
import type { AssociationTypeDef } from '../associations.js';

const MAX_BATCH = 100;
/** Batch reads that ask for property histories are capped lower by HubSpot. */
const MAX_BATCH_WITH_HISTORY = 50;
const MAX_LIST_LIMIT = 100;
const MAX_LIST_LIMIT_WITH_HISTORY = 50;

/** An association requested in a create body, resolved and checked but not yet written. */
interface PendingAssociation {
  toType: ObjectTypeName;
  toId: string;
  defs: AssociationTypeDef[];
}

/** The objects API: basic CRUD, batch, search, merge and (contacts) GDPR delete, for every standard object. */
export function mountObjectRoutes(app: Hono, ctx: RouteContext): void {
  const { store } = ctx;
  const base = '/crm/v3/objects/:objectType';

  app.post('/crm/v3/objects/contacts/gdpr-delete', async (c) => {
    const body = await readObject(c, 'PublicGdprDeleteInput', ['objectId']);
    const objectId = requireString(body, 'objectId', 'PublicGdprDeleteInput');
    const idProperty = optionalString(body, 'idProperty', 'PublicGdprDeleteInput');
    const rec = store.find('contacts', objectId, { idProperty });
    // HubSpot blocklists an unknown email instead of failing; an unknown record id is a 404.
    if (rec) store.purge(rec);
    else if (idProperty === undefined) throw notFoundError();
    return c.body(null, 204);
  });

  app.post(`${base}/search`, async (c) => {
    const def = objectTypeParam(store, c);
    const req = parseSearchRequest(await readObject(c, 'PublicObjectSearchRequest'), (name) => store.properties.get(def.name, name), (raw) => store.types.resolve(raw));
    const page = runSearch(store.live(def.name), def, req, (rec, toType) => store.associatedIds(rec, toType).map((a) => a.toId));
    const body: Record<string, unknown> = {
      total: page.total,
      results: page.results.map((r) => store.serialize(r, { properties: req.properties })),
    };
    if (page.nextAfter !== undefined) body.paging = { next: { after: page.nextAfter, link: `?after=${page.nextAfter}` } };
    return c.json(body, 200);
  });

  app.post(`${base}/merge`, async (c) => {
    const def = objectTypeParam(store, c);
    if (!def.mergeable) throw validationError(`Merging is not supported for object type ${def.typeId}`);
    const body = await readObject(c, 'PublicMergeInput', ['objectIdToMerge', 'primaryObjectId']);
    const primaryId = requireString(body, 'primaryObjectId', 'PublicMergeInput');
    const secondaryId = requireString(body, 'objectIdToMerge', 'PublicMergeInput');
    const primary = store.find(def.name, primaryId);
    const secondary = store.find(def.name, secondaryId);
    if (!primary) throw notFoundError(`${def.upperName} ${primaryId} does not exist`);
    if (!secondary) throw notFoundError(`${def.upperName} ${secondaryId} does not exist`);
    if (primary.id === secondary.id) {
      throw validationError(`Cannot merge ${def.upperName} ${secondaryId} into ${primaryId}: they are the same record.`);
    }
    const merged = store.merge(primary, secondary);
    return c.json(store.serialize(merged), 200);
  });

  app.post(`${base}/batch/create`, async (c) => {
    const def = objectTypeParam(store, c);
    const startedAt = ctx.now();
    const inputs = requireArray(await readObject(c, 'BatchInputSimplePublicObjectBatchInputForCreate', ['inputs']), 'inputs', 'BatchInput');
    checkBatchSize(inputs, MAX_BATCH);
    const pending: PendingUniques = new Map();
    const prepared = inputs.map((raw) => {
      if (!isRecord(raw)) throw invalidInput('Cannot build SimplePublicObjectBatchInputForCreate, expected a JSON object');
      if (raw.properties === undefined) throw missingAttributes('SimplePublicObjectBatchInputForCreate', ['properties']);
      return {
        values: store.prepare(def.name, readPropertyMap(raw.properties, 'SimplePublicObjectBatchInputForCreate'), undefined, pending),
        associations: readCreateAssociations(store, def, raw.associations),
        traceId: optionalString(raw, 'objectWriteTraceId', 'SimplePublicObjectBatchInputForCreate'),
      };
    });
    const results = prepared.map((p) => {
      const rec = commitCreate(store, def, p.values, p.associations);
      return withTrace(store.serialize(rec, { properties: written(p.values) }), p.traceId);
    });
    return c.json(batchBody(startedAt, ctx.now(), results), 201);
  });

  app.post(`${base}/batch/read`, async (c) => {
    const def = objectTypeParam(store, c);
    const startedAt = ctx.now();
    const body = await readObject(c, 'BatchReadInputSimplePublicObjectId', ['inputs']);
    const inputs = requireArray(body, 'inputs', 'BatchReadInputSimplePublicObjectId');
    const properties = stringList(body.properties, 'properties');
    const propertiesWithHistory = stringList(body.propertiesWithHistory, 'propertiesWithHistory');
    checkBatchSize(inputs, MAX_BATCH);
    if (propertiesWithHistory && propertiesWithHistory.length > 0 && inputs.length > MAX_BATCH_WITH_HISTORY) {
      throw validationError(
        `The maximum number of inputs supported in a batch request for property histories is ${MAX_BATCH_WITH_HISTORY}. Please reduce the number of items and try again`,
      );
    }
    const idProperty = optionalString(body, 'idProperty', 'BatchReadInputSimplePublicObjectId');
    const archived = queryBoolean(c, 'archived');
    const found = new Map<string, CrmRecord>();
    const missing: string[] = [];
    for (const raw of inputs) {
      const id = isRecord(raw) ? requireString(raw, 'id', 'SimplePublicObjectId') : undefined;
      if (id === undefined) throw missingAttributes('SimplePublicObjectId', ['id']);
      const rec = store.find(def.name, id, { idProperty, archived });
      if (rec) found.set(rec.id, rec);
      else missing.push(id);
    }
    const results = [...found.values()].map((r) => store.serialize(r, { properties, propertiesWithHistory }));
    const errors = missing.length > 0 ? [notFoundBatchError(def, missing)] : [];
    return c.json(batchBody(startedAt, ctx.now(), results, errors), errors.length > 0 ? 207 : 200);
  });

  app.post(`${base}/batch/update`, async (c) => {
    const def = objectTypeParam(store, c);
    const startedAt = ctx.now();
    const inputs = requireArray(await readObject(c, 'BatchInputSimplePublicObjectBatchInput', ['inputs']), 'inputs', 'BatchInput');
    checkBatchSize(inputs, MAX_BATCH);
    const parsed = inputs.map((raw) => {
      if (!isRecord(raw)) throw invalidInput('Cannot build SimplePublicObjectBatchInput, expected a JSON object');
      const missingAttrs = ['id', 'properties'].filter((k) => raw[k] === undefined || raw[k] === null);
      if (missingAttrs.length > 0) throw missingAttributes('SimplePublicObjectBatchInput', missingAttrs);
      return {
        id: requireString(raw, 'id', 'SimplePublicObjectBatchInput'),
        idProperty: optionalString(raw, 'idProperty', 'SimplePublicObjectBatchInput'),
        properties: readPropertyMap(raw.properties, 'SimplePublicObjectBatchInput'),
        traceId: optionalString(raw, 'objectWriteTraceId', 'SimplePublicObjectBatchInput'),
      };
    });
    rejectDuplicateIds(parsed.map((p) => p.id));
    const pending: PendingUniques = new Map();
    const missing: string[] = [];
    const writes: Array<{ rec: CrmRecord; values: PreparedValues; traceId: string | undefined }> = [];
    for (const p of parsed) {
      if (p.idProperty !== undefined) store.requireIdProperty(def.name, p.idProperty);
      const rec = store.find(def.name, p.id, { idProperty: p.idProperty });
      if (!rec) {
        missing.push(p.id);
        continue;
      }
      writes.push({ rec, values: store.prepare(def.name, p.properties, rec, pending), traceId: p.traceId });
    }
    const results = writes.map((w) =>
      withTrace(store.serialize(store.commitUpdate(w.rec, w.values), { properties: written(w.values) }), w.traceId),
    );
    const errors = missing.length > 0 ? [notFoundBatchError(def, missing)] : [];
    return c.json(batchBody(startedAt, ctx.now(), results, errors), errors.length > 0 ? 207 : 200);
  });

  app.post(`${base}/batch/upsert`, async (c) => {
    const def = objectTypeParam(store, c);
    const startedAt = ctx.now();
    const inputs = requireArray(await readObject(c, 'BatchInputSimplePublicObjectBatchInputUpsert', ['inputs']), 'inputs', 'BatchInput');
    checkBatchSize(inputs, MAX_BATCH);
    const parsed = inputs.map((raw) => {
      if (!isRecord(raw)) throw invalidInput('Cannot build SimplePublicObjectBatchInputUpsert, expected a JSON object');
      const missingAttrs = ['id', 'properties'].filter((k) => raw[k] === undefined || raw[k] === null);
      if (missingAttrs.length > 0) throw missingAttributes('SimplePublicObjectBatchInputUpsert', missingAttrs);
      const idProperty = optionalString(raw, 'idProperty', 'SimplePublicObjectBatchInputUpsert');
      if (idProperty === undefined) {
        throw validationError('Upserting requires an idProperty naming a unique-value property on every input.');
      }
      store.requireIdProperty(def.name, idProperty);
      return {
        id: requireString(raw, 'id', 'SimplePublicObjectBatchInputUpsert'),
        idProperty,
        properties: readPropertyMap(raw.properties, 'SimplePublicObjectBatchInputUpsert'),
        traceId: optionalString(raw, 'objectWriteTraceId', 'SimplePublicObjectBatchInputUpsert'),
      };
    });
    rejectDuplicateIds(parsed.map((p) => `${p.idProperty}=${normalizedKey(def, p.idProperty, p.id)}`), parsed.map((p) => p.id));
    const pending: PendingUniques = new Map();
    const writes = parsed.map((p) => {
      const rec = store.find(def.name, p.id, { idProperty: p.idProperty });
      // The input's id is the unique value; it wins over a conflicting value in properties.
      const properties = new Map(p.properties);
      if (!rec) properties.set(p.idProperty, p.id);
      else properties.delete(p.idProperty);
      return { rec, values: store.prepare(def.name, properties, rec, pending), traceId: p.traceId, idProperty: p.idProperty };
    });
    const results = writes.map((w) => {
      const rec = w.rec ? store.commitUpdate(w.rec, w.values) : store.commitCreate(def.name, w.values);
      const body = store.serialize(rec, { properties: [...written(w.values), w.idProperty] });
      return withTrace({ ...body, new: w.rec === undefined }, w.traceId);
    });
    return c.json(batchBody(startedAt, ctx.now(), results), 200);
  });

  app.post(`${base}/batch/archive`, async (c) => {
    const def = objectTypeParam(store, c);
    const inputs = requireArray(await readObject(c, 'BatchInputSimplePublicObjectId', ['inputs']), 'inputs', 'BatchInputSimplePublicObjectId');
    checkBatchSize(inputs, MAX_BATCH);
    const ids = inputs.map((raw) => {
      if (!isRecord(raw)) throw missingAttributes('SimplePublicObjectId', ['id']);
      return requireString(raw, 'id', 'SimplePublicObjectId');
    });
    for (const id of ids) {
      const rec = store.find(def.name, id);
      if (rec) store.archive(rec);
    }
    return c.body(null, 204);
  });

  app.get(base, (c) => {
    const def = objectTypeParam(store, c);
    const propertiesWithHistory = queryList(c, 'propertiesWithHistory');
    const cap = propertiesWithHistory && propertiesWithHistory.length > 0 ? MAX_LIST_LIMIT_WITH_HISTORY : MAX_LIST_LIMIT;
    const limit = queryInt(c, 'limit', 10, cap);
    const page = store.page(def.name, queryBoolean(c, 'archived'), c.req.query('after') || undefined, limit);
    const opts = { properties: queryList(c, 'properties'), propertiesWithHistory, associations: queryList(c, 'associations') };
    const body: Record<string, unknown> = { results: page.results.map((r) => store.serialize(r, opts)) };
    if (page.next !== undefined) body.paging = { next: { after: page.next, link: `?after=${page.next}` } };
    return c.json(body, 200);
  });

  app.post(base, async (c) => {
    const def = objectTypeParam(store, c);
    const body = await readObject(c, 'SimplePublicObjectInputForCreate', ['properties']);
    const values = store.prepare(def.name, readPropertyMap(body.properties, 'SimplePublicObjectInputForCreate'));
    const associations = readCreateAssociations(store, def, body.associations);
    const rec = commitCreate(store, def, values, associations);
    return c.json(store.serialize(rec, { properties: written(values) }), 201);
  });

  app.get(`${base}/:objectId`, (c) => {
    const def = objectTypeParam(store, c);
    const rec = findOrThrow(store, def, c);
    return c.json(
      store.serialize(rec, {
        properties: queryList(c, 'properties'),
        propertiesWithHistory: queryList(c, 'propertiesWithHistory'),
        associations: queryList(c, 'associations'),
      }),
      200,
    );
  });

  app.patch(`${base}/:objectId`, async (c) => {
    const def = objectTypeParam(store, c);
    const body = await readObject(c, 'SimplePublicObjectInput', ['properties']);
    const idProperty = c.req.query('idProperty');
    if (idProperty !== undefined) store.requireIdProperty(def.name, idProperty);
    const rec = findOrThrow(store, def, c);
    const values = store.prepare(def.name, readPropertyMap(body.properties, 'SimplePublicObjectInput'), rec);
    return c.json(store.serialize(store.commitUpdate(rec, values), { properties: written(values) }), 200);
  });

  app.delete(`${base}/:objectId`, (c) => {
    const def = objectTypeParam(store, c);
    // Archiving is idempotent in HubSpot: an unknown or already archived id still answers 204.
    const rec = store.find(def.name, c.req.param('objectId'));
    if (rec) store.archive(rec);
    return c.body(null, 204);
  });
}

function findOrThrow(store: CrmStore, def: ObjectTypeDef, c: Context): CrmRecord {
  const id = c.req.param('objectId') ?? '';
  const idProperty = c.req.query('idProperty');
  const rec = store.find(def.name, id, { idProperty, archived: queryBoolean(c, 'archived') });
  if (rec) return rec;
  if (idProperty === undefined && !/^\d+$/.test(id)) throw notFoundError('Object not found.  objectId are usually numeric.');
  throw notFoundError();
}

/** Names written by a request; the answer echoes them next to the id and timestamps. */
const written = (values: PreparedValues): string[] => [...values.keys()];

function withTrace(body: Record<string, unknown>, traceId: string | undefined): Record<string, unknown> {
  return traceId === undefined ? body : { ...body, objectWriteTraceId: traceId };
}

function notFoundBatchError(def: ObjectTypeDef, ids: string[]): StandardError {
  return standardError(
    'OBJECT_NOT_FOUND',
    `Could not get some ${def.upperName} objects, they may be deleted or not exist. Check that ids are valid.`,
    { ids },
  );
}

function normalizedKey(def: ObjectTypeDef, idProperty: string, id: string): string {
  return def.name === 'contacts' && idProperty === 'email' ? id.toLowerCase() : id;
}

function rejectDuplicateIds(keys: string[], shown: string[] = keys): void {
  const seen = new Set<string>();
  const dupes: string[] = [];
  keys.forEach((k, i) => {
    if (seen.has(k)) dupes.push(shown[i] ?? k);
    seen.add(k);
  });
  if (dupes.length > 0) throw validationError(`Duplicate IDs found in batch input: [${dupes.join(', ')}]. IDs must be unique`);
}

function stringList(raw: unknown, name: string): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw) || raw.some((v) => typeof v !== 'string')) {
    throw invalidInput(`Cannot deserialize \`${name}\`: expected an array of strings`);
  }
  return raw as string[];
}

/**
 * The `associations` of a create body (`[{to:{id}, types:[{associationCategory, associationTypeId}]}]`):
 * the type id decides the target object type, and the target must exist.
 */
function readCreateAssociations(store: CrmStore, def: ObjectTypeDef, raw: unknown): PendingAssociation[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalidInput('Cannot deserialize `associations`: expected an array of PublicAssociationsForObject');
  return raw.map((entry: unknown) => {
    if (!isRecord(entry)) throw invalidInput('Cannot build PublicAssociationsForObject, expected a JSON object');
    const missing = ['to', 'types'].filter((k) => entry[k] === undefined || entry[k] === null);
    if (missing.length > 0) throw missingAttributes('PublicAssociationsForObject', missing);
    if (!isRecord(entry.to)) throw missingAttributes('PublicObjectId', ['id']);
    const toId = requireString(entry.to, 'id', 'PublicObjectId');
    if (!Array.isArray(entry.types) || entry.types.length === 0) {
      throw validationError('Each association needs at least one association type.');
    }
    const defs = (entry.types as unknown[]).map((t) => {
      if (!isRecord(t) || typeof t.associationCategory !== 'string' || typeof t.associationTypeId !== 'number') {
        throw missingAttributes('AssociationSpec', ['associationCategory', 'associationTypeId']);
      }
      const typeDef = store.associations.type(t.associationTypeId);
      if (!typeDef || typeDef.from !== def.name || typeDef.category !== t.associationCategory) {
        throw validationError(
          `${t.associationCategory} association type ${t.associationTypeId} is not valid from ${def.typeId}`,
        );
      }
      return typeDef;
    });
    const toType = defs[0]?.to;
    if (!toType || defs.some((d) => d.to !== toType)) {
      throw validationError('All association types of one association must point at the same object type.');
    }
    if (!store.find(toType, toId)) {
      throw validationError(`Cannot create association: ${store.types.get(toType).upperName} ${toId} does not exist.`);
    }
    return { toType, toId, defs };
  });
}

function commitCreate(store: CrmStore, def: ObjectTypeDef, values: PreparedValues, associations: PendingAssociation[]): CrmRecord {
  const rec = store.commitCreate(def.name, values);
  for (const a of associations) {
    const target = store.find(a.toType, a.toId);
    if (!target) throw new HubSpotApiError(500, 'INTERNAL_ERROR', 'association target vanished during create');
    store.associations.add(def.name, rec.id, a.toType, target.id, a.defs);
  }
  return rec;
}
