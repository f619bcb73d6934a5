import type { Hono } from 'hono';
import type { FaultInjector } from '../shared/faults.js';
import type { BulkIngest } from './bulk.js';
import { SchemaDefinitionError } from './errors.js';
import { isPlainObject } from './input.js';
import type { ApiUsage } from './limits.js';
import type { QueryEngine } from './query.js';
import type { describeObject } from './schema.js';
import { describeField, type CustomFieldSpec, type CustomObjectSpec, type Schema } from './schema.js';
import type { RecordStore } from './store.js';

export interface InspectionDeps {
  schema: Schema;
  store: RecordStore;
  queries: QueryEngine;
  bulk: BulkIngest;
  usage: ApiUsage;
  faults: FaultInjector;
  addField(objectName: string, spec: CustomFieldSpec): ReturnType<typeof describeField>;
  addObject(spec: CustomObjectSpec): ReturnType<typeof describeObject>;
}

const asNumberOrNull = (v: unknown): number | null | undefined =>
  v === null ? null : typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;

/**
 * Sandbox-only routes under /__sandbox: state and record dumps for assertions, schema setup as an admin
 * would do it, and the API-limit knobs. Errors use the house `{ error: { code, message } }` shape.
 */
export function mountSalesforceInspection(app: Hono, deps: InspectionDeps): void {
  const { schema, store, queries, bulk, usage, faults } = deps;

  app.get('/__sandbox/state', (c) => {
    const objects: Record<string, { records: number; deleted: number }> = {};
    for (const obj of schema.objects()) {
      const n = store.count(obj);
      objects[obj.name] = { records: n.live, deleted: n.deleted };
    }
    return c.json({
      objects,
      apiUsage: {
        used: usage.used,
        max: usage.max,
        remaining: Math.max(0, usage.max - usage.used),
        maxRequestsPerSecond: usage.maxRequestsPerSecond ?? null,
        maxConcurrentRequests: usage.maxConcurrentRequests ?? null,
      },
      bulkJobs: bulk.counts(),
      openQueryCursors: queries.openCursors(),
      faultsInjected: faults.injected,
    });
  });

  app.get('/__sandbox/records/:object', (c) => {
    const obj = schema.get(c.req.param('object'));
    if (!obj) return c.json({ error: { code: 'NOT_FOUND', message: `No object named ${c.req.param('object')}` } }, 404);
    return c.json({ object: obj.name, records: store.rows(obj, c.req.query('includeDeleted') === 'true') });
  });

  app.get('/__sandbox/schema', (c) =>
    c.json({
      objects: schema.objects().map((o) => ({ name: o.name, keyPrefix: o.keyPrefix, custom: o.custom, fields: o.fields.map(describeField) })),
    }),
  );

  app.post('/__sandbox/schema/objects', async (c) => {
    const body = (await c.req.json()) as CustomObjectSpec;
    return c.json(deps.addObject(body), 201);
  });

  app.post('/__sandbox/schema/:object/fields', async (c) => {
    const body: unknown = await c.req.json();
    const specs = isPlainObject(body) && Array.isArray(body.fields) ? (body.fields as CustomFieldSpec[]) : [body as CustomFieldSpec];
    const added = specs.map((spec) => deps.addField(c.req.param('object'), spec));
    return c.json({ fields: added }, 201);
  });

  app.get('/__sandbox/limits', (c) =>
    c.json({ dailyApiRequests: usage.max, used: usage.used, maxRequestsPerSecond: usage.maxRequestsPerSecond ?? null, maxConcurrentRequests: usage.maxConcurrentRequests ?? null }),
  );

  app.patch('/__sandbox/limits', async (c) => {
    const body: unknown = await c.req.json();
    if (!isPlainObject(body)) throw new SchemaDefinitionError('INVALID_BODY', 'Expected a JSON object');
    const patch = {
      dailyApiRequests: asNumberOrNull(body.dailyApiRequests),
      used: asNumberOrNull(body.used),
      maxRequestsPerSecond: asNumberOrNull(body.maxRequestsPerSecond),
      maxConcurrentRequests: asNumberOrNull(body.maxConcurrentRequests),
    };
    for (const [key, value] of Object.entries(patch)) {
      if (key in body && value === undefined) throw new SchemaDefinitionError('INVALID_BODY', `${key} must be a non-negative number or null`);
    }
    usage.configure({
      ...(typeof patch.dailyApiRequests === 'number' ? { dailyApiRequests: patch.dailyApiRequests } : {}),
      ...(typeof patch.used === 'number' ? { used: patch.used } : {}),
      ...(patch.maxRequestsPerSecond !== undefined ? { maxRequestsPerSecond: patch.maxRequestsPerSecond } : {}),
      ...(patch.maxConcurrentRequests !== undefined ? { maxConcurrentRequests: patch.maxConcurrentRequests } : {}),
    });
    return c.json({ dailyApiRequests: usage.max, used: usage.used, maxRequestsPerSecond: usage.maxRequestsPerSecond ?? null, maxConcurrentRequests: usage.maxConcurrentRequests ?? null });
  });
}
