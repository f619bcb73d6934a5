import { hubspotCall, HubSpotRequestError, throwOnBatchErrors, type BatchErrorLike } from './errors.js';

/**
 * The batch calls the real-time adapter and the backfill both make, one request each (callers split
 * their inputs at HubSpot's 100 per request).
 */
/** HubSpot's cap on inputs per batch request (objects and properties; associations allow more). */
export const HUBSPOT_BATCH_LIMIT = 100;

export interface BatchWriteResponse {
  results: Array<{ id: string; _new?: boolean; objectWriteTraceId?: string; properties: Record<string, string | null> }>;
  errors?: BatchErrorLike[];
}
export interface UpsertApi {
  upsert(input: { inputs: Array<{ idProperty: string; id: string; objectWriteTraceId: string; properties: Record<string, string> }> }): Promise<BatchWriteResponse>;
}
export interface HubSpotAssociationApi {
  createDefault(from: string, to: string, input: { inputs: Array<{ _from: { id: string }; to: { id: string } }> }): Promise<{ errors?: BatchErrorLike[] }>;
}

/** The result for `key` in a batch answer: by objectWriteTraceId, the one link HubSpot echoes for every input. */
export function resultFor(response: BatchWriteResponse, key: string, index: number, size: number): BatchWriteResponse['results'][number] | undefined {
  // The id property is not echoed for records that already existed; by position only when every input has its result.
  return response.results.find((r) => r.objectWriteTraceId === key) ?? (response.results.length === size ? response.results[index] : undefined);
}

/** Upserts rows by `idProperty` in one request; results in row order. */
export async function batchUpsert(api: UpsertApi, what: string, idProperty: string, rows: ReadonlyArray<{ key: string; properties: Record<string, string> }>): Promise<Array<{ key: string; id: string; created: boolean }>> {
  const response = await hubspotCall(() =>
    api.upsert({ inputs: rows.map((row) => ({ idProperty, id: row.key, objectWriteTraceId: row.key, properties: row.properties })) }),
  );
  throwOnBatchErrors(`upserting ${what}`, response.errors);
  return rows.map((row, i) => {
    const result = resultFor(response, row.key, i, rows.length);
    if (!result) throw new HubSpotRequestError(`HubSpot answered an upsert of ${what} without a result for ${row.key}`, 200, null, null);
    return { key: row.key, id: result.id, created: result._new === true };
  });
}

/** Default (unlabelled) associations in one request; HubSpot makes the first company of a contact or deal its primary. */
export async function associateDefaults(api: HubSpotAssociationApi, from: string, to: string, pairs: ReadonlyArray<{ from: string; to: string }>): Promise<void> {
  if (pairs.length === 0) return;
  const response = await hubspotCall(() =>
    // The client's model names `from` `_from` (a reserved word in Python, its generator's template) and serializes it back.
    api.createDefault(from, to, { inputs: pairs.map((p) => ({ _from: { id: p.from }, to: { id: p.to } })) }),
  );
  throwOnBatchErrors(`associating ${from} with ${to}`, response.errors);
}
