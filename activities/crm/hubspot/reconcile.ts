import type { CrmFieldName, CrmFieldNameMap } from '../../../domain/crm-field-names.js';
import type { ScanInput, ScanPage, ScannedRecord } from '../scan.js';
import type { RequestGate } from '../types.js';
import { createHubSpotClient } from './client.js';
import { hubspotCall, throwOnBatchErrors } from './errors.js';

export interface HubSpotScanOptions {
  accessToken: string;
  baseUrl?: string | undefined;
  requestGate?: RequestGate | undefined;
  names: CrmFieldNameMap;
  customerIdProperty: string;
  mode: 'b2b' | 'b2c';
}

/** HubSpot's cap on `limit` for the objects list endpoint and on inputs per batch read. */
const LIST_LIMIT = 100;

/**
 * Pages through every company (B2B) or contact (B2C) with the objects list endpoint and its `after`
 * cursor. Not search: search stops at 10,000 results, and a portal may hold far more records. The
 * list cannot filter, so records without a Stripe id are skipped here (they still cost their page).
 * With `customerIds`, one batch read by the unique Stripe id property instead.
 */
export function createHubSpotScanner(options: HubSpotScanOptions): (input: ScanInput) => Promise<ScanPage> {
  const client = createHubSpotClient(options);
  // Touched now for the reason the adapter gives: retry decorators bind when an API group is first used.
  const basic = options.mode === 'b2b' ? client.crm.companies.basicApi : client.crm.contacts.basicApi;
  const batch = options.mode === 'b2b' ? client.crm.companies.batchApi : client.crm.contacts.batchApi;
  const fields = (Object.entries(options.names) as Array<[CrmFieldName, string | undefined]>).filter((e): e is [CrmFieldName, string] => e[1] !== undefined);
  const shared = options.mode === 'b2b' ? ['name', 'domain'] : ['email'];
  const wanted = [...new Set([...shared, ...fields.map(([, name]) => name)])];

  const toRecord = (r: { id: string; properties: Record<string, string | null> }): ScannedRecord | null => {
    const customerId = r.properties[options.customerIdProperty];
    if (!customerId) return null;
    return {
      id: r.id,
      customerId,
      email: options.mode === 'b2c' ? (r.properties.email?.toLowerCase() ?? null) : null,
      domain: options.mode === 'b2b' ? (r.properties.domain ?? null) : null,
      properties: Object.fromEntries(fields.map(([field, name]) => [field, r.properties[name] ?? null])),
    };
  };

  return async ({ cursor, pageSize, customerIds }) => {
    if (customerIds) {
      if (customerIds.length === 0) return { records: [], next: null, read: 0 };
      const response = await hubspotCall(() => batch.read({
        idProperty: options.customerIdProperty, inputs: customerIds.slice(0, LIST_LIMIT).map((id) => ({ id })), properties: wanted, propertiesWithHistory: [],
      }));
      // Absent customers are what the caller asks about, not an error.
      throwOnBatchErrors('reading records by Stripe id', (response as { errors?: Parameters<typeof throwOnBatchErrors>[1] }).errors, (e) => e.category === 'OBJECT_NOT_FOUND');
      const records = response.results.map(toRecord).filter((r): r is ScannedRecord => r !== null);
      return { records, next: null, read: response.results.length };
    }
    const limit = Math.min(pageSize ?? LIST_LIMIT, LIST_LIMIT);
    const page = await hubspotCall(() => basic.getPage(limit, cursor ?? undefined, wanted, undefined, undefined, false));
    const records = page.results.map(toRecord).filter((r): r is ScannedRecord => r !== null);
    return { records, next: page.paging?.next?.after ?? null, read: page.results.length };
  };
}
