import type { CrmFieldNameMap } from '../../../domain/crm-field-names.js';
import { CrmValidationError, type AccountInput, type BatchUpsertResult, type CrmAdapter } from '../types.js';
import { hubspotCall, HubSpotRequestError, throwOnBatchErrors, type BatchErrorLike } from './errors.js';
import { fieldProperties } from './values.js';

/** HubSpot's cap on inputs per batch request. */
export const HUBSPOT_BATCH_LIMIT = 100;

interface CompanyBatchResponse {
  results: Array<{ id: string; _new?: boolean; objectWriteTraceId?: string; properties: Record<string, string | null> }>;
  errors?: BatchErrorLike[];
}

/** The slice of the generated companies batch API the backfill uses. */
export interface CompanyBatchApi {
  upsert(input: { inputs: Array<{ idProperty: string; id: string; objectWriteTraceId: string; properties: Record<string, string> }> }): Promise<CompanyBatchResponse>;
  read(input: { idProperty: string; inputs: Array<{ id: string }>; properties: string[]; propertiesWithHistory: string[] }): Promise<CompanyBatchResponse>;
}

/**
 * Batch methods for the backfill: one batch upsert of up to 100 companies by `stripe_customer_id`
 * (the same key the real-time path upserts by, so both find the same company). Bound into the
 * adapter by createHubSpotAdapter.
 */
export function hubspotBackfillMethods(deps: { companies: CompanyBatchApi; customerIdProperty: string; names: CrmFieldNameMap }): Pick<CrmAdapter, 'upsertAccountsBatch' | 'findAccountsBatch'> {
  const { companies, customerIdProperty, names } = deps;

  function properties(input: AccountInput): Record<string, string> {
    const props = fieldProperties(input.fields, names, ['customer_id']);
    if (input.name !== null) props.name = input.name;
    if (input.domain !== null) props.domain = input.domain;
    return props;
  }

  async function upsertChunk(inputs: readonly AccountInput[]): Promise<BatchUpsertResult[]> {
    const response = await hubspotCall(() =>
      companies.upsert({ inputs: inputs.map((i) => ({ idProperty: customerIdProperty, id: i.customerId, objectWriteTraceId: i.customerId, properties: properties(i) })) }),
    );
    throwOnBatchErrors('upserting companies', response.errors);
    return inputs.map((input, i): BatchUpsertResult => {
      // objectWriteTraceId is the only reliable link from a result to its input (see the adapter's upsert).
      const result = response.results.find((r) => r.objectWriteTraceId === input.customerId) ?? (response.results.length === inputs.length ? response.results[i] : undefined);
      if (!result) throw new HubSpotRequestError(`HubSpot answered a company batch upsert without a result for ${input.customerId}`, 200, null, null);
      return { customerId: input.customerId, ok: true, id: result.id, created: result._new === true };
    });
  }

  /**
   * HubSpot refuses a whole batch for one invalid input. Halving isolates the refused records, so each
   * gets its reason in the migration log and the others are written; it costs extra requests only when
   * something is refused.
   */
  async function upsertIsolating(inputs: readonly AccountInput[]): Promise<BatchUpsertResult[]> {
    try {
      return await upsertChunk(inputs);
    } catch (err) {
      if (!(err instanceof CrmValidationError)) throw err;
      if (inputs.length === 1) return [{ customerId: inputs[0]!.customerId, ok: false, reason: err.message }];
      const mid = Math.ceil(inputs.length / 2);
      return [...(await upsertIsolating(inputs.slice(0, mid))), ...(await upsertIsolating(inputs.slice(mid)))];
    }
  }

  return {
    async upsertAccountsBatch(inputs: AccountInput[]): Promise<BatchUpsertResult[]> {
      const out: BatchUpsertResult[] = [];
      // Two inputs for one unique value would make HubSpot refuse the whole batch.
      const distinct = [...new Map(inputs.map((i) => [i.customerId, i])).values()];
      for (let i = 0; i < distinct.length; i += HUBSPOT_BATCH_LIMIT) out.push(...(await upsertIsolating(distinct.slice(i, i + HUBSPOT_BATCH_LIMIT))));
      return out;
    },

    async findAccountsBatch(customerIds: string[]): Promise<Record<string, string>> {
      const found: Record<string, string> = {};
      for (let i = 0; i < customerIds.length; i += HUBSPOT_BATCH_LIMIT) {
        const chunk = customerIds.slice(i, i + HUBSPOT_BATCH_LIMIT);
        const response = await hubspotCall(() =>
          companies.read({ idProperty: customerIdProperty, inputs: chunk.map((id) => ({ id })), properties: [customerIdProperty], propertiesWithHistory: [] }),
        );
        throwOnBatchErrors('reading companies', response.errors, (e) => e.category === 'OBJECT_NOT_FOUND');
        for (const r of response.results) {
          const key = r.properties[customerIdProperty];
          if (typeof key === 'string' && key !== '') found[key] = r.id;
        }
      }
      return found;
    },
  };
}
