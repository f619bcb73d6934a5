import type { Context, MiddlewareHandler } from 'hono';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Sessions } from './auth.js';
import type { BulkIngest } from './bulk.js';
import { SalesforceError, externalIdFieldNotFound, invalidSession, jsonParserError, notFound } from './errors.js';
import { normalizeId } from './ids.js';
import { isPlainObject, jsonValues, parseJsonBody } from './input.js';
import type { ApiUsage } from './limits.js';
import { attributes, parseBatchSize, type QueryEngine } from './query.js';
import { describeGlobalEntry, describeObject, type FieldDef, type FieldValue, type ObjectDef, type Schema } from './schema.js';
import type { RecordStore, Row, Values } from './store.js';
import { fromJson } from './values.js';

export type ApiEnv = { Variables: { version: string } };

/** sObject Collections accept at most 200 records per call. */
export const MAX_COLLECTION_RECORDS = 200;
/** Collection retrieve accepts up to 2,000 ids. */
const MAX_RETRIEVE_IDS = 2000;

const ROLLED_BACK = {
  statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
  message: 'Record rolled back because not all records were valid and the request was using AllOrNone header',
  fields: [] as string[],
};

export interface DataApiDeps {
  schema: Schema;
  store: RecordStore;
  queries: QueryEngine;
  bulk: BulkIngest;
  usage: ApiUsage;
}

/**
 * Authenticates and meters every data API call. Mounted ahead of fault injection so that injected latency
 * counts as time in flight, as a slow Salesforce request would.
 */
export function meterMiddleware(sessions: Sessions, usage: ApiUsage): MiddlewareHandler {
  return async (c, next) => {
    const token = /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    if (!token || !sessions.isValid(token)) return sfError(c, invalidSession());
    const refused = usage.admit(Date.now());
    if (refused) return sfError(c, refused);
    try {
      await next();
    } finally {
      usage.finish();
    }
    c.header('Sforce-Limit-Info', usage.header());
  };
}

export function sfError(c: Context, err: SalesforceError): Response {
  return c.json(err.toBody(), err.status as ContentfulStatusCode);
}

async function readJson(c: Context): Promise<{ body: unknown; raw: string }> {
  const raw = await c.req.text();
  return { body: parseJsonBody(raw), raw };
}

/** A record as the REST API prints it: attributes first, then fields in describe order. */
export function formatRow(obj: ObjectDef, row: Row, version: string, fields: FieldDef[] = obj.fields): Record<string, unknown> {
  const out: Record<string, unknown> = { attributes: attributes(obj, row, version) };
  for (const f of fields) out[f.name] = row[f.name] ?? null;
  return out;
}

const recordUrl = (version: string, obj: ObjectDef, row: Row) => `/services/data/v${version}/sobjects/${obj.name}/${String(row.Id)}`;

/**
 * The REST data API under `/services/data/vXX.X`: sObject CRUD and upsert, collections, SOQL, describe,
 * limits and Bulk API 2.0 ingest. `meterMiddleware` guards it.
 */
export function createDataApi(deps: DataApiDeps): Hono<ApiEnv> {
  const { schema, store, queries, bulk, usage } = deps;
  const api = new Hono<ApiEnv>();

  api.use('*', async (c, next) => {
    c.set('version', /^\/services\/data\/v(\d+\.\d+)/.exec(c.req.path)?.[1] ?? '62.0');
    await next();
  });

  const objectOr404 = (name: string): ObjectDef => {
    const obj = schema.get(name);
    if (!obj) throw notFound();
    return obj;
  };

  /** The record an id in a URL names, with Salesforce's 404 flavours. */
  const recordOr404 = (obj: ObjectDef, rawId: string): Row => {
    const id = normalizeId(rawId);
    if (!id) throw externalIdFieldNotFound(rawId);
    const row = store.get(obj, id);
    if (!row) throw notFound();
    if (row.IsDeleted === true) throw new SalesforceError('ENTITY_IS_DELETED', 'entity is deleted', { status: 404, fields: [] });
    return row;
  };

  const externalIdField = (obj: ObjectDef, name: string): FieldDef => {
    const field = obj.fieldsByLower.get(name.toLowerCase());
    if (!field || !(field.externalId || field.type === 'id')) throw externalIdFieldNotFound(name);
    return field;
  };

  const multipleChoices = (c: Context<ApiEnv>, obj: ObjectDef, rows: Row[]) =>
    c.json(rows.map((r) => recordUrl(c.get('version'), obj, r)), 300);

  // --- resources, describe, limits ------------------------------------------------------------------

  api.get('/', (c) => {
    const base = `/services/data/v${c.get('version')}`;
    return c.json({
      sobjects: `${base}/sobjects`,
      query: `${base}/query`,
      queryAll: `${base}/queryAll`,
      composite: `${base}/composite`,
      limits: `${base}/limits`,
      jobs: `${base}/jobs`,
      identity: `${new URL(c.req.url).origin}/id/${store.user.organizationId}/${store.user.id}`,
    });
  });

  api.get('/limits', (c) => {
    let records = 0;
    for (const obj of schema.objects()) records += store.count(obj).live;
    return c.json(usage.limits(records));
  });

  api.get('/sobjects', (c) =>
    c.json({ encoding: 'UTF-8', maxBatchSize: MAX_COLLECTION_RECORDS, sobjects: schema.objects().map((o) => describeGlobalEntry(o, c.get('version'))) }),
  );

  api.get('/sobjects/:object/describe', (c) => c.json(describeObject(schema, objectOr404(c.req.param('object')), c.get('version'))));

  api.get('/sobjects/:object', (c) => {
    const obj = objectOr404(c.req.param('object'));
    return c.json({ objectDescribe: describeGlobalEntry(obj, c.get('version')), recentItems: [] });
  });

  // --- single-record CRUD ---------------------------------------------------------------------------

  api.post('/sobjects/:object', async (c) => {
    const obj = objectOr404(c.req.param('object'));
    const { body, raw } = await readJson(c);
    if (!isPlainObject(body)) throw jsonParserError(`Cannot deserialize instance of ${obj.name} from START_ARRAY value [ or request may be missing a required field at [line:1, column:1]`);
    const values = jsonValues(schema, obj, body, raw);
    if ([...values.keys()].some((f) => f.type === 'id')) throw new SalesforceError('INVALID_FIELD', 'cannot specify Id in an insert call', { fields: [] });
    const row = store.insert(obj, values);
    return c.json({ id: row.Id, success: true, errors: [] }, 201);
  });

  api.get('/sobjects/:object/:id', (c) => {
    const obj = objectOr404(c.req.param('object'));
    const row = recordOr404(obj, c.req.param('id'));
    return c.json(formatRow(obj, row, c.get('version'), selectedFields(obj, c.req.query('fields'))));
  });

  api.patch('/sobjects/:object/:id', async (c) => {
    const obj = objectOr404(c.req.param('object'));
    const row = recordOr404(obj, c.req.param('id'));
    const { body, raw } = await readJson(c);
    if (!isPlainObject(body)) throw jsonParserError(`Cannot deserialize instance of ${obj.name} from START_ARRAY value [ or request may be missing a required field at [line:1, column:1]`);
    store.update(obj, row.Id as string, jsonValues(schema, obj, body, raw));
    return c.body(null, 204);
  });

  api.delete('/sobjects/:object/:id', (c) => {
    const obj = objectOr404(c.req.param('object'));
    const row = recordOr404(obj, c.req.param('id'));
    store.delete(obj, row.Id as string);
    return c.body(null, 204);
  });

  // --- by external id -------------------------------------------------------------------------------

  const matchExternal = (obj: ObjectDef, fieldName: string, rawValue: string): { field: FieldDef; value: FieldValue; rows: Row[] } => {
    const field = externalIdField(obj, fieldName);
    const value = fromJson(field, rawValue, () => ({ line: 1, column: 1 }));
    return { field, value, rows: store.findBy(obj, field, value) };
  };

  api.get('/sobjects/:object/:field/:value', (c) => {
    const obj = objectOr404(c.req.param('object'));
    const { rows } = matchExternal(obj, c.req.param('field'), c.req.param('value'));
    const first = rows[0];
    if (!first) throw notFound();
    if (rows.length > 1) return multipleChoices(c, obj, rows);
    return c.json(formatRow(obj, first, c.get('version'), selectedFields(obj, c.req.query('fields'))));
  });

  api.delete('/sobjects/:object/:field/:value', (c) => {
    const obj = objectOr404(c.req.param('object'));
    const { rows } = matchExternal(obj, c.req.param('field'), c.req.param('value'));
    const first = rows[0];
    if (!first) throw notFound();
    if (rows.length > 1) return multipleChoices(c, obj, rows);
    store.delete(obj, first.Id as string);
    return c.body(null, 204);
  });

  api.patch('/sobjects/:object/:field/:value', async (c) => {
    const obj = objectOr404(c.req.param('object'));
    const { field, value, rows } = matchExternal(obj, c.req.param('field'), c.req.param('value'));
    const { body, raw } = await readJson(c);
    if (!isPlainObject(body)) throw jsonParserError(`Cannot deserialize instance of ${obj.name} from START_ARRAY value [ or request may be missing a required field at [line:1, column:1]`);
    const values = jsonValues(schema, obj, body, raw);
    if (values.has(field) && values.get(field) !== value && field.type !== 'id') {
      throw new SalesforceError('INVALID_FIELD', `The external ID field ${field.name} in the request body must match the value in the URL`, { fields: [field.name] });
    }
    if (rows.length > 1) return multipleChoices(c, obj, rows);
    const existing = rows[0];
    if (existing) {
      const row = store.update(obj, existing.Id as string, values);
      return c.json({ id: row.Id, success: true, errors: [], created: false }, 200);
    }
    if (field.type === 'id') throw notFound();
    values.set(field, value);
    const row = store.insert(obj, values);
    return c.json({ id: row.Id, success: true, errors: [], created: true }, 201);
  });

  // --- sObject collections --------------------------------------------------------------------------

  /**
   * Runs one collection call. Every record is attempted so each failure gets its own error; with
   * allOrNone, any failure undoes the whole call and the would-be successes report the rollback.
   */
  const runCollection = (allOrNone: boolean, ops: Array<{ id?: string; run: () => Record<string, unknown> }>): Array<Record<string, unknown>> => {
    store.begin();
    let outcomes: Array<{ result: Record<string, unknown> } | { error: SalesforceError }>;
    try {
      outcomes = ops.map((op) => {
        try {
          return { result: op.run() };
        } catch (err) {
          if (err instanceof SalesforceError) return { error: err };
          throw err;
        }
      });
    } catch (err) {
      store.rollback();
      throw err;
    }
    const anyFailed = outcomes.some((o) => 'error' in o);
    if (allOrNone && anyFailed) store.rollback();
    else store.commit();
    return outcomes.map((o, i) => {
      const id = ops[i]?.id;
      const idPart = id ? { id } : {};
      if ('error' in o) return { ...idPart, success: false, errors: [o.error.toCollectionError()] };
      if (allOrNone && anyFailed) return { ...idPart, success: false, errors: [ROLLED_BACK] };
      return o.result;
    });
  };

  /** The shared top of every collection body: `{ allOrNone, records: [...] }` with at most 200 records. */
  const readCollection = async (c: Context<ApiEnv>) => {
    const { body, raw } = await readJson(c);
    if (!isPlainObject(body) || !Array.isArray(body.records)) {
      throw jsonParserError('Cannot deserialize instance of list from a missing "records" property or request may be missing a required field at [line:1, column:1]');
    }
    if (body.records.length > MAX_COLLECTION_RECORDS) {
      throw new SalesforceError('EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${MAX_COLLECTION_RECORDS} records into this call`);
    }
    const allOrNone = body.allOrNone === true;
    const records = body.records.map((r, i) => {
      if (!isPlainObject(r)) throw jsonParserError(`Cannot deserialize instance of SObject from a non-object value at records[${i}]`);
      const type = isPlainObject(r.attributes) && typeof r.attributes.type === 'string' ? r.attributes.type : undefined;
      if (!type) throw new SalesforceError('INVALID_TYPE', 'When the collection API is used, each record must specify its type in attributes');
      const obj = schema.get(type);
      if (!obj) {
        throw new SalesforceError(
          'INVALID_TYPE',
          `sObject type '${type}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
        );
      }
      return { obj, record: r, values: jsonValues(schema, obj, r, raw) };
    });
    return { allOrNone, records };
  };

  api.post('/composite/sobjects', async (c) => {
    const { allOrNone, records } = await readCollection(c);
    return c.json(
      runCollection(
        allOrNone,
        records.map(({ obj, values }) => ({
          run: () => {
            if ([...values.keys()].some((f) => f.type === 'id')) throw new SalesforceError('INVALID_FIELD', 'cannot specify Id in an insert call', { fields: [] });
            return { id: store.insert(obj, values).Id, success: true, errors: [] };
          },
        })),
      ),
    );
  });

  api.patch('/composite/sobjects', async (c) => {
    const { allOrNone, records } = await readCollection(c);
    return c.json(
      runCollection(
        allOrNone,
        records.map(({ obj, values }) => {
          const idField = obj.fieldsByLower.get('id') as FieldDef;
          const rawId = values.get(idField);
          const id = typeof rawId === 'string' ? rawId : undefined;
          const canonical = id ? normalizeId(id) : undefined;
          return {
            ...(id ? { id: canonical ?? id } : {}),
            run: () => {
              if (!id) throw new SalesforceError('MISSING_ARGUMENT', 'Id not specified in an update call', { fields: [] });
              if (!canonical || canonical.slice(0, 3) !== obj.keyPrefix) throw new SalesforceError('MALFORMED_ID', `${obj.label} ID: id value of incorrect type: ${id}`, { fields: ['Id'] });
              return { id: store.update(obj, canonical, values).Id, success: true, errors: [] };
            },
          };
        }),
      ),
    );
  });

  api.delete('/composite/sobjects', (c) => {
    const ids = (c.req.query('ids') ?? '').split(',').filter((s) => s !== '');
    if (ids.length === 0) throw new SalesforceError('MISSING_ARGUMENT', 'ids parameter is required');
    if (ids.length > MAX_COLLECTION_RECORDS) {
      throw new SalesforceError('EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${MAX_COLLECTION_RECORDS} records into this call`);
    }
    const allOrNone = c.req.query('allOrNone') === 'true';
    return c.json(
      runCollection(
        allOrNone,
        ids.map((raw) => {
          const id = normalizeId(raw);
          return {
            id: id ?? raw,
            run: () => {
              const found = id ? store.getById(id) : undefined;
              if (!id) throw new SalesforceError('MALFORMED_ID', `malformed id ${raw}`, { fields: [] });
              if (!found) throw new SalesforceError('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', { fields: [] });
              store.delete(found.obj, id);
              return { id, success: true, errors: [] };
            },
          };
        }),
      ),
    );
  });

  api.patch('/composite/sobjects/:object/:field', async (c) => {
    const obj = objectOr404(c.req.param('object'));
    const field = obj.fieldsByLower.get(c.req.param('field').toLowerCase());
    if (!field || !field.externalId) {
      throw new SalesforceError('INVALID_FIELD', `Provided external ID field does not exist or is not accessible: ${c.req.param('field')}`);
    }
    const { allOrNone, records } = await readCollection(c);
    // Upserting the same external id twice in one call fails both records rather than picking one.
    const keyOf = (v: FieldValue | undefined) => (v === undefined || v === null ? undefined : field.caseSensitive ? String(v) : String(v).toLowerCase());
    const counts = new Map<string, number>();
    for (const r of records) {
      const v = r.values.get(field);
      const key = keyOf(v === undefined || (v !== null && typeof v === 'object') ? undefined : v);
      if (key !== undefined) counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return c.json(
      runCollection(
        allOrNone,
        records.map(({ obj: recordObj, values }) => ({
          run: () => {
            if (recordObj !== obj) {
              throw new SalesforceError('INVALID_TYPE', `Record type ${recordObj.name} does not match the ${obj.name} named in the URI`, { fields: [] });
            }
            const raw = values.get(field);
            const value = raw === undefined || (raw !== null && typeof raw === 'object') ? null : raw;
            if (value === null) throw new SalesforceError('MISSING_ARGUMENT', `${field.name} not specified`, { fields: [] });
            if ((counts.get(keyOf(value) ?? '') ?? 0) > 1) {
              throw new SalesforceError('DUPLICATE_EXTERNAL_ID', `Duplicate external id specified: ${String(value)}`, { fields: [field.name] });
            }
            return upsertOne(store, obj, field, value, values);
          },
        })),
      ),
    );
  });

  const retrieveMany = (c: Context<ApiEnv>, obj: ObjectDef, ids: unknown, fields: unknown) => {
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((i) => typeof i === 'string')) throw new SalesforceError('MISSING_ARGUMENT', 'ids is required');
    if (ids.length > MAX_RETRIEVE_IDS) throw new SalesforceError('EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${MAX_RETRIEVE_IDS} records into this call`);
    if (!Array.isArray(fields) || fields.length === 0) throw new SalesforceError('MISSING_ARGUMENT', 'fields is required');
    const selected = selectedFields(obj, fields.join(','));
    return c.json(
      (ids as string[]).map((raw) => {
        const row = store.get(obj, raw);
        return row && row.IsDeleted !== true ? formatRow(obj, row, c.get('version'), selected) : null;
      }),
    );
  };

  api.post('/composite/sobjects/:object', async (c) => {
    const obj = objectOr404(c.req.param('object'));
    const { body } = await readJson(c);
    if (!isPlainObject(body)) throw jsonParserError('Cannot deserialize request: expected an object with ids and fields');
    return retrieveMany(c, obj, body.ids, body.fields);
  });

  api.get('/composite/sobjects/:object', (c) => {
    const obj = objectOr404(c.req.param('object'));
    const split = (s: string | undefined) => (s ? s.split(',').filter((x) => x !== '') : undefined);
    return retrieveMany(c, obj, split(c.req.query('ids')), split(c.req.query('fields')));
  });

  // --- SOQL -----------------------------------------------------------------------------------------

  const runQuery = (c: Context<ApiEnv>, includeDeleted: boolean) => {
    const q = c.req.query('q');
    if (!q) throw new SalesforceError('MALFORMED_QUERY', 'A query string has to be specified');
    return c.json(queries.run(q, { includeDeleted, batchSize: parseBatchSize(c.req.header('sforce-query-options')), version: c.get('version') }));
  };
  const nextPage = (c: Context<ApiEnv>) => c.json(queries.more(c.req.param('locator') ?? '', c.get('version')));
  for (const resource of ['query', 'queryAll'] as const) {
    const includeDeleted = resource === 'queryAll';
    api.get(`/${resource}`, (c) => runQuery(c, includeDeleted));
    api.get(`/${resource}/`, (c) => runQuery(c, includeDeleted));
    api.get(`/${resource}/:locator`, nextPage);
  }

  // --- Bulk API 2.0 ingest --------------------------------------------------------------------------

  api.post('/jobs/ingest', async (c) => {
    const { body } = await readJson(c);
    return c.json(bulk.create(body, c.get('version')));
  });
  api.get('/jobs/ingest', (c) => c.json(bulk.list()));
  api.get('/jobs/ingest/:id', (c) => c.json(bulk.getInfo(c.req.param('id'))));
  api.patch('/jobs/ingest/:id', async (c) => {
    const { body } = await readJson(c);
    return c.json(bulk.patch(c.req.param('id'), body));
  });
  api.delete('/jobs/ingest/:id', (c) => {
    bulk.delete(c.req.param('id'));
    return c.body(null, 204);
  });
  api.put('/jobs/ingest/:id/batches', async (c) => {
    bulk.upload(c.req.param('id'), c.req.header('content-type'), await c.req.text());
    return c.body(null, 201);
  });
  const results = { successfulResults: 'successful', failedResults: 'failed', unprocessedrecords: 'unprocessed' } as const;
  for (const [path, kind] of Object.entries(results)) {
    const handler = (c: Context<ApiEnv>) => c.body(bulk.results(c.req.param('id') ?? '', kind), 200, { 'Content-Type': 'text/csv' });
    api.get(`/jobs/ingest/:id/${path}`, handler);
    api.get(`/jobs/ingest/:id/${path}/`, handler);
  }

  return api;
}

/** `?fields=a,b` on retrieve: the named fields (Id always included), or every field. */
function selectedFields(obj: ObjectDef, list: string | undefined): FieldDef[] {
  if (list === undefined) return obj.fields;
  const out: FieldDef[] = [];
  const idField = obj.fieldsByLower.get('id');
  if (idField) out.push(idField);
  for (const name of list.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const f = obj.fieldsByLower.get(name.toLowerCase());
    if (!f) {
      throw new SalesforceError(
        'INVALID_FIELD',
        `No such column '${name}' on entity '${obj.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
      );
    }
    if (!out.includes(f)) out.push(f);
  }
  return out;
}

/** Create-or-update by external id, as one record of a collection upsert. */
function upsertOne(store: RecordStore, obj: ObjectDef, field: FieldDef, value: FieldValue, values: Values): Record<string, unknown> {
  const matches = store.findBy(obj, field, value);
  if (matches.length > 1) {
    throw new SalesforceError(
      'DUPLICATE_EXTERNAL_ID',
      `${field.label}: more than one record found for external id field: [${matches.map((m) => String(m.Id)).join(', ')}]`,
      { fields: [field.name] },
    );
  }
  const existing = matches[0];
  if (existing) return { id: store.update(obj, existing.Id as string, values).Id, success: true, errors: [], created: false };
  return { id: store.insert(obj, values).Id, success: true, errors: [], created: true };
}

