import type { Context, Hono } from 'hono';
import { ASSOCIATION_CATEGORIES, compareIds, type AssociationTypeDef } from '../associations.js';
import { batchBody, checkBatchSize, objectTypeParam, queryInt, type RouteContext } from '../context.js';
import {
  HubSpotApiError,
  invalidInput,
  missingAttributes,
  standardError,
  validationError,
  type StandardError,
} from '../errors.js';
import { isRecord, optionalString, readJson, readObject, requireArray, requireString } from '../json.js';
import type { ObjectTypeDef } from '../object-types.js';
import type { CrmRecord, CrmStore } from '../store.js';

/** HubSpot's v4 association batches take up to 1,000 inputs; a record's associations page at 500. */
const MAX_ASSOCIATION_BATCH = 1000;
const MAX_ASSOCIATIONS_PAGE = 500;

/** A failure of one input, reported in a batch's `errors` rather than failing the batch. */
class InputError extends Error {
  override readonly name = 'InputError';
  constructor(readonly error: StandardError) {
    super(error.message);
  }
}

/** Associations v4: record-level PUT/DELETE/GET, batches, and label definitions. */
export function mountAssociationRoutes(app: Hono, ctx: RouteContext): void {
  const { store } = ctx;

  app.put('/crm/v4/objects/:fromObjectType/:fromObjectId/associations/default/:toObjectType/:toObjectId', (c) => {
    const startedAt = ctx.now();
    const from = objectTypeParam(store, c, 'fromObjectType');
    const to = objectTypeParam(store, c, 'toObjectType');
    const pair = requirePair(store, from, c.req.param('fromObjectId'), to, c.req.param('toObjectId'));
    const results = associateDefault(store, from, pair.from, to, pair.to);
    return c.json(batchBody(startedAt, ctx.now(), results), 200);
  });

  app.put('/crm/v4/objects/:objectType/:objectId/associations/:toObjectType/:toObjectId', async (c) => {
    const from = objectTypeParam(store, c);
    const to = objectTypeParam(store, c, 'toObjectType');
    const body = await readJson(c);
    if (!Array.isArray(body)) throw invalidInput('Cannot deserialize request body: expected an array of AssociationSpec');
    if (body.length === 0) throw validationError('At least one association type is required.');
    const defs = body.map((spec) => readSpec(store, from, to, spec));
    const pair = requirePair(store, from, c.req.param('objectId'), to, c.req.param('toObjectId'));
    store.associations.add(from.name, pair.from.id, to.name, pair.to.id, defs);
    return c.json(labelsBetween(store, from, pair.from, to, pair.to), 201);
  });

  app.delete('/crm/v4/objects/:objectType/:objectId/associations/:toObjectType/:toObjectId', (c) => {
    const from = objectTypeParam(store, c);
    const to = objectTypeParam(store, c, 'toObjectType');
    const fromRec = store.find(from.name, c.req.param('objectId'));
    const toRec = store.find(to.name, c.req.param('toObjectId'));
    if (fromRec && toRec) store.associations.removeAll(from.name, fromRec.id, to.name, toRec.id);
    return c.body(null, 204);
  });

  app.get('/crm/v4/objects/:objectType/:objectId/associations/:toObjectType', (c) => {
    const from = objectTypeParam(store, c);
    const to = objectTypeParam(store, c, 'toObjectType');
    const limit = queryInt(c, 'limit', MAX_ASSOCIATIONS_PAGE, MAX_ASSOCIATIONS_PAGE);
    const rec = store.find(from.name, c.req.param('objectId'));
    const page = associationPage(store, rec, to, c.req.query('after'), limit);
    const body: Record<string, unknown> = { results: page.results };
    if (page.next !== undefined) body.paging = { next: { after: page.next, link: `?after=${page.next}` } };
    return c.json(body, 200);
  });

  const batch = '/crm/v4/associations/:fromObjectType/:toObjectType';

  app.post(`${batch}/batch/read`, async (c) => {
    const startedAt = ctx.now();
    const { from, to, inputs } = await batchInputs(c, 'BatchInputPublicFetchAssociationsBatchRequest');
    const results: unknown[] = [];
    const errors: StandardError[] = [];
    for (const raw of inputs) {
      if (!isRecord(raw)) throw missingAttributes('PublicFetchAssociationsBatchRequest', ['id']);
      const id = requireString(raw, 'id', 'PublicFetchAssociationsBatchRequest');
      const rec = store.find(from.name, id);
      const page = associationPage(store, rec, to, optionalString(raw, 'after', 'PublicFetchAssociationsBatchRequest'), MAX_ASSOCIATIONS_PAGE);
      if (page.results.length === 0) {
        errors.push(
          standardError('OBJECT_NOT_FOUND', `No ${to.name} is associated with ${from.singular} ${id}.`, {
            fromObjectId: [id],
            toObjectType: [to.name],
          }),
        );
        continue;
      }
      const result: Record<string, unknown> = { from: { id }, to: page.results };
      if (page.next !== undefined) result.paging = { next: { after: page.next, link: `?after=${page.next}` } };
      results.push(result);
    }
    return c.json(batchBody(startedAt, ctx.now(), results, errors), errors.length > 0 ? 207 : 200);
  });

  app.post(`${batch}/batch/create`, async (c) => {
    const startedAt = ctx.now();
    const { from, to, inputs } = await batchInputs(c, 'BatchInputPublicAssociationMultiPost');
    const results: unknown[] = [];
    const errors: StandardError[] = [];
    for (const raw of inputs) {
      try {
        const { fromId, toId, types } = readMultiPost(raw);
        const defs = types.map((spec) => readSpec(store, from, to, spec));
        const pair = requirePairOrInputError(store, from, fromId, to, toId);
        store.associations.add(from.name, pair.from.id, to.name, pair.to.id, defs);
        results.push(labelsBetween(store, from, pair.from, to, pair.to));
      } catch (err) {
        errors.push(asInputError(err));
      }
    }
    return c.json(batchBody(startedAt, ctx.now(), results, errors), errors.length > 0 ? 207 : 201);
  });

  app.post(`${batch}/batch/associate/default`, async (c) => {
    const startedAt = ctx.now();
    const { from, to, inputs } = await batchInputs(c, 'BatchInputPublicDefaultAssociationMultiPost');
    const results: unknown[] = [];
    const errors: StandardError[] = [];
    for (const raw of inputs) {
      try {
        if (!isRecord(raw) || !isRecord(raw.from) || !isRecord(raw.to)) {
          throw missingAttributes('PublicDefaultAssociationMultiPost', ['from', 'to']);
        }
        const pair = requirePairOrInputError(
          store,
          from,
          requireString(raw.from, 'id', 'PublicObjectId'),
          to,
          requireString(raw.to, 'id', 'PublicObjectId'),
        );
        results.push(...associateDefault(store, from, pair.from, to, pair.to));
      } catch (err) {
        errors.push(asInputError(err));
      }
    }
    return c.json(batchBody(startedAt, ctx.now(), results, errors), 200);
  });

  app.post(`${batch}/batch/archive`, async (c) => {
    const { from, to, inputs } = await batchInputs(c, 'BatchInputPublicAssociationMultiArchive');
    for (const raw of inputs) {
      if (!isRecord(raw) || !isRecord(raw.from) || !Array.isArray(raw.to)) {
        throw missingAttributes('PublicAssociationMultiArchive', ['from', 'to']);
      }
      const fromRec = store.find(from.name, requireString(raw.from, 'id', 'PublicObjectId'));
      for (const target of raw.to as unknown[]) {
        if (!isRecord(target)) throw missingAttributes('PublicObjectId', ['id']);
        const toRec = store.find(to.name, requireString(target, 'id', 'PublicObjectId'));
        if (fromRec && toRec) store.associations.removeAll(from.name, fromRec.id, to.name, toRec.id);
      }
    }
    return c.body(null, 204);
  });

  app.post(`${batch}/batch/labels/archive`, async (c) => {
    const { from, to, inputs } = await batchInputs(c, 'BatchInputPublicAssociationMultiPost');
    for (const raw of inputs) {
      const { fromId, toId, types } = readMultiPost(raw);
      const defs = types.map((spec) => readSpec(store, from, to, spec));
      const fromRec = store.find(from.name, fromId);
      const toRec = store.find(to.name, toId);
      if (fromRec && toRec) store.associations.removeTypes(from.name, fromRec.id, to.name, toRec.id, defs);
    }
    return c.body(null, 204);
  });

  app.get(`${batch}/labels`, (c) => {
    const from = objectTypeParam(store, c, 'fromObjectType');
    const to = objectTypeParam(store, c, 'toObjectType');
    return c.json({ results: store.associations.typesBetween(from.name, to.name).map(specWithLabel) }, 200);
  });

  app.post(`${batch}/labels`, async (c) => {
    const from = objectTypeParam(store, c, 'fromObjectType');
    const to = objectTypeParam(store, c, 'toObjectType');
    const body = await readObject(c, 'PublicAssociationDefinitionCreateRequest', ['label', 'name']);
    const label = requireString(body, 'label', 'PublicAssociationDefinitionCreateRequest');
    const inverseLabel = optionalString(body, 'inverseLabel', 'PublicAssociationDefinitionCreateRequest');
    const created = store.associations.createLabel(from.name, to.name, label, inverseLabel);
    return c.json({ results: created.map(specWithLabel) }, 200);
  });

  app.put(`${batch}/labels`, async (c) => {
    const from = objectTypeParam(store, c, 'fromObjectType');
    const to = objectTypeParam(store, c, 'toObjectType');
    const body = await readObject(c, 'PublicAssociationDefinitionUpdateRequest', ['associationTypeId', 'label']);
    if (typeof body.associationTypeId !== 'number') throw invalidInput('Cannot deserialize `associationTypeId`: expected an integer');
    const label = requireString(body, 'label', 'PublicAssociationDefinitionUpdateRequest');
    const inverseLabel = optionalString(body, 'inverseLabel', 'PublicAssociationDefinitionUpdateRequest');
    store.associations.updateLabel(from.name, to.name, body.associationTypeId, label, inverseLabel);
    return c.body(null, 204);
  });

  app.delete(`${batch}/labels/:associationTypeId`, (c) => {
    const from = objectTypeParam(store, c, 'fromObjectType');
    const to = objectTypeParam(store, c, 'toObjectType');
    const typeId = Number(c.req.param('associationTypeId'));
    if (!Number.isInteger(typeId)) throw validationError(`Invalid association type id ${c.req.param('associationTypeId')}`);
    store.associations.deleteLabel(from.name, to.name, typeId);
    return c.body(null, 204);
  });

  async function batchInputs(c: Context, model: string) {
    const from = objectTypeParam(store, c, 'fromObjectType');
    const to = objectTypeParam(store, c, 'toObjectType');
    if (!store.associations.supportsPair(from.name, to.name)) {
      throw validationError(`Associations from ${from.typeId} to ${to.typeId} are not supported`);
    }
    const inputs = requireArray(await readObject(c, model, ['inputs']), 'inputs', model);
    checkBatchSize(inputs, MAX_ASSOCIATION_BATCH);
    return { from, to, inputs };
  }
}

function readMultiPost(raw: unknown): { fromId: string; toId: string; types: unknown[] } {
  if (!isRecord(raw)) throw missingAttributes('PublicAssociationMultiPost', ['from', 'to', 'types']);
  const missing = ['from', 'to', 'types'].filter((k) => raw[k] === undefined || raw[k] === null);
  if (missing.length > 0) throw missingAttributes('PublicAssociationMultiPost', missing);
  if (!isRecord(raw.from) || !isRecord(raw.to)) throw missingAttributes('PublicObjectId', ['id']);
  if (!Array.isArray(raw.types) || raw.types.length === 0) throw validationError('At least one association type is required.');
  return {
    fromId: requireString(raw.from, 'id', 'PublicObjectId'),
    toId: requireString(raw.to, 'id', 'PublicObjectId'),
    types: raw.types as unknown[],
  };
}

function readSpec(store: CrmStore, from: ObjectTypeDef, to: ObjectTypeDef, raw: unknown): AssociationTypeDef {
  if (!isRecord(raw)) throw missingAttributes('AssociationSpec', ['associationCategory', 'associationTypeId']);
  const missing = ['associationCategory', 'associationTypeId'].filter((k) => raw[k] === undefined || raw[k] === null);
  if (missing.length > 0) throw missingAttributes('AssociationSpec', missing);
  const category = raw.associationCategory;
  if (typeof category !== 'string' || !(ASSOCIATION_CATEGORIES as readonly string[]).includes(category)) {
    throw invalidInput(
      `Cannot deserialize value of type \`AssociationCategory\` from String ${JSON.stringify(category)}: not one of the values accepted for Enum class: [${ASSOCIATION_CATEGORIES.join(', ')}]`,
    );
  }
  if (typeof raw.associationTypeId !== 'number' || !Number.isInteger(raw.associationTypeId)) {
    throw invalidInput('Cannot deserialize `associationTypeId`: expected an integer');
  }
  return store.associations.resolveSpec(from.name, to.name, { associationCategory: category, associationTypeId: raw.associationTypeId });
}

function requirePair(store: CrmStore, from: ObjectTypeDef, fromId: string | undefined, to: ObjectTypeDef, toId: string | undefined) {
  const fromRec = fromId === undefined ? undefined : store.find(from.name, fromId);
  const toRec = toId === undefined ? undefined : store.find(to.name, toId);
  const missing = [
    ...(fromRec ? [] : [`${from.upperName} ${fromId ?? ''}`]),
    ...(toRec ? [] : [`${to.upperName} ${toId ?? ''}`]),
  ];
  if (!fromRec || !toRec) throw validationError(`Cannot associate records that do not exist: ${missing.join(', ')}`);
  if (!store.associations.supportsPair(from.name, to.name)) {
    throw validationError(`Associations from ${from.typeId} to ${to.typeId} are not supported`);
  }
  return { from: fromRec, to: toRec };
}

function requirePairOrInputError(store: CrmStore, from: ObjectTypeDef, fromId: string, to: ObjectTypeDef, toId: string) {
  const fromRec = store.find(from.name, fromId);
  const toRec = store.find(to.name, toId);
  if (!fromRec || !toRec) {
    const missing = [...(fromRec ? [] : [fromId]), ...(toRec ? [] : [toId])];
    throw new InputError(
      standardError('VALIDATION_ERROR', `One or more objects do not exist: ${missing.join(', ')}`, {
        fromObjectId: [fromId],
        toObjectId: [toId],
      }),
    );
  }
  return { from: fromRec, to: toRec };
}

function asInputError(err: unknown): StandardError {
  if (err instanceof InputError) return err.error;
  if (err instanceof HubSpotApiError) return standardError(err.category, err.message, {});
  throw err;
}

/**
 * The default ("most generic") association: the pair's unlabeled type. A contact or deal without a
 * primary company gets this company as its primary, as HubSpot does for the first company associated.
 */
function associateDefault(store: CrmStore, from: ObjectTypeDef, fromRec: CrmRecord, to: ObjectTypeDef, toRec: CrmRecord) {
  const defs = [store.associations.unlabeledType(from.name, to.name)];
  for (const t of store.associations.typesBetween(from.name, to.name)) {
    if (t.category !== 'HUBSPOT_DEFINED' || t.label !== 'Primary') continue;
    const inverse = store.associations.type(t.inverseTypeId);
    const needsPrimary =
      (t.single && !store.associations.holdsSingle(from.name, fromRec.id, t.typeId)) ||
      (inverse?.single === true && !store.associations.holdsSingle(to.name, toRec.id, inverse.typeId));
    if (needsPrimary) defs.push(t);
  }
  const added = store.associations.add(from.name, fromRec.id, to.name, toRec.id, defs);
  return added.map((d) => ({
    from: { id: fromRec.id },
    to: { id: toRec.id },
    associationSpec: { associationCategory: d.category, associationTypeId: d.typeId },
  }));
}

function labelsBetween(store: CrmStore, from: ObjectTypeDef, fromRec: CrmRecord, to: ObjectTypeDef, toRec: CrmRecord) {
  const labels = store.associations
    .between(from.name, fromRec.id, to.name, toRec.id)
    .map((id) => store.associations.type(id)?.label)
    .filter((l): l is string => typeof l === 'string');
  return {
    fromObjectTypeId: from.typeId,
    fromObjectId: fromRec.id,
    toObjectTypeId: to.typeId,
    toObjectId: toRec.id,
    labels,
  };
}

/** `{category, typeId, label}`; the unlabeled type has no label. */
function specWithLabel(t: AssociationTypeDef): Record<string, unknown> {
  const spec: Record<string, unknown> = { category: t.category, typeId: t.typeId };
  if (t.label !== null) spec.label = t.label;
  return spec;
}

/** One page of a record's associations to a type; `after` is the last returned target id. */
function associationPage(store: CrmStore, rec: CrmRecord | undefined, to: ObjectTypeDef, after: string | undefined, limit: number) {
  if (!rec) return { results: [] as unknown[] };
  const all = store.associatedIds(rec, to.name);
  const start = after === undefined ? 0 : all.findIndex((a) => compareIds(a.toId, after) > 0);
  if (start < 0) return { results: [] as unknown[] };
  const slice = all.slice(start, start + limit);
  const results = slice.map((a) => ({ toObjectId: a.toId, associationTypes: a.types.map(specWithLabel) }));
  const last = slice[slice.length - 1];
  return start + limit < all.length && last ? { results, next: last.toId } : { results: results as unknown[] };
}
