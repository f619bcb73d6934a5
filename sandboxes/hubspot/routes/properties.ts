import type { Hono } from 'hono';
import { batchBody, checkBatchSize, objectTypeParam, type RouteContext } from '../context.js';
import { HubSpotApiError, missingAttributes, standardError, type StandardError } from '../errors.js';
import { isRecord, queryBoolean, readJson, readObject, requireArray, requireString } from '../json.js';
import { serializeGroup, serializeProperty } from '../properties.js';

const MAX_PROPERTY_BATCH = 100;

/** The Properties API: definitions (single and batch) and property groups. */
export function mountPropertyRoutes(app: Hono, ctx: RouteContext): void {
  const { store } = ctx;
  const base = '/crm/v3/properties/:objectType';

  app.get(`${base}/groups`, (c) => {
    const def = objectTypeParam(store, c);
    return c.json({ results: store.properties.listGroups(def.name).map(serializeGroup) }, 200);
  });

  app.post(`${base}/groups`, async (c) => {
    const def = objectTypeParam(store, c);
    return c.json(serializeGroup(store.properties.createGroup(def.name, await readJson(c))), 201);
  });

  app.get(`${base}/groups/:groupName`, (c) => {
    const def = objectTypeParam(store, c);
    return c.json(serializeGroup(store.properties.getGroup(def.name, c.req.param('groupName'))), 200);
  });

  app.patch(`${base}/groups/:groupName`, async (c) => {
    const def = objectTypeParam(store, c);
    return c.json(serializeGroup(store.properties.updateGroup(def.name, c.req.param('groupName'), await readJson(c))), 200);
  });

  app.delete(`${base}/groups/:groupName`, (c) => {
    const def = objectTypeParam(store, c);
    store.properties.archiveGroup(def.name, c.req.param('groupName'));
    return c.body(null, 204);
  });

  app.post(`${base}/batch/create`, async (c) => {
    const def = objectTypeParam(store, c);
    const startedAt = ctx.now();
    const inputs = requireArray(await readObject(c, 'BatchInputPropertyCreate', ['inputs']), 'inputs', 'BatchInputPropertyCreate');
    checkBatchSize(inputs, MAX_PROPERTY_BATCH);
    const results: unknown[] = [];
    const errors: StandardError[] = [];
    for (const input of inputs) {
      try {
        results.push(serializeProperty(store.createProperty(def.name, input)));
      } catch (err) {
        if (!(err instanceof HubSpotApiError)) throw err;
        const name = isRecord(input) && typeof input.name === 'string' ? input.name : '';
        errors.push(standardError(err.category, err.message, { name: [name] }));
      }
    }
    return c.json(batchBody(startedAt, ctx.now(), results, errors), errors.length > 0 ? 207 : 201);
  });

  app.post(`${base}/batch/read`, async (c) => {
    const def = objectTypeParam(store, c);
    const startedAt = ctx.now();
    const body = await readObject(c, 'BatchReadInputPropertyName', ['inputs']);
    const inputs = requireArray(body, 'inputs', 'BatchReadInputPropertyName');
    checkBatchSize(inputs, MAX_PROPERTY_BATCH);
    const archived = body.archived === true;
    const results: unknown[] = [];
    const missing: string[] = [];
    for (const input of inputs) {
      if (!isRecord(input)) throw missingAttributes('PropertyName', ['name']);
      const name = requireString(input, 'name', 'PropertyName');
      const prop = store.properties.getIncludingArchived(def.name, name);
      if (prop && prop.archived === archived) results.push(serializeProperty(prop));
      else missing.push(name);
    }
    const errors =
      missing.length > 0
        ? [standardError('OBJECT_NOT_FOUND', `Could not find some properties for object type ${def.typeId}.`, { names: missing })]
        : [];
    return c.json(batchBody(startedAt, ctx.now(), results, errors), errors.length > 0 ? 207 : 200);
  });

  app.post(`${base}/batch/archive`, async (c) => {
    const def = objectTypeParam(store, c);
    const inputs = requireArray(await readObject(c, 'BatchInputPropertyName', ['inputs']), 'inputs', 'BatchInputPropertyName');
    checkBatchSize(inputs, MAX_PROPERTY_BATCH);
    const names = inputs.map((input) => {
      if (!isRecord(input)) throw missingAttributes('PropertyName', ['name']);
      return requireString(input, 'name', 'PropertyName');
    });
    for (const name of names) if (store.properties.get(def.name, name)) store.archiveProperty(def.name, name);
    return c.body(null, 204);
  });

  app.get(base, (c) => {
    const def = objectTypeParam(store, c);
    const wanted = c.req.query('properties')?.split(',').filter((p) => p !== '');
    const props = store.properties
      .list(def.name, queryBoolean(c, 'archived'))
      .filter((p) => !wanted || wanted.includes(p.name));
    return c.json({ results: props.map(serializeProperty) }, 200);
  });

  app.post(base, async (c) => {
    const def = objectTypeParam(store, c);
    return c.json(serializeProperty(store.createProperty(def.name, await readJson(c))), 201);
  });

  app.get(`${base}/:propertyName`, (c) => {
    const def = objectTypeParam(store, c);
    const name = c.req.param('propertyName');
    const prop = store.properties.getIncludingArchived(def.name, name);
    if (!prop || prop.archived !== queryBoolean(c, 'archived')) {
      throw new HubSpotApiError(404, 'OBJECT_NOT_FOUND', `Unable to find property ${name} for object type ${def.typeId}`);
    }
    return c.json(serializeProperty(prop), 200);
  });

  app.patch(`${base}/:propertyName`, async (c) => {
    const def = objectTypeParam(store, c);
    return c.json(serializeProperty(store.properties.update(def.name, c.req.param('propertyName'), await readJson(c))), 200);
  });

  app.delete(`${base}/:propertyName`, (c) => {
    const def = objectTypeParam(store, c);
    store.archiveProperty(def.name, c.req.param('propertyName'));
    return c.body(null, 204);
  });
}
