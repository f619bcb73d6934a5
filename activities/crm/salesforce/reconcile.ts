import type { Connection } from 'jsforce';
import type { CrmFieldName, CrmFieldNameMap } from '../../../domain/crm-field-names.js';
import type { ScanInput, ScanPage, ScannedRecord } from '../scan.js';

export interface SalesforceScanOptions {
  conn: Connection;
  names: CrmFieldNameMap;
  customerKey: string;
  mode: 'b2b' | 'b2c';
  /** Turns a jsforce failure into the adapter's CRM errors (rate limit, validation, ...). */
  translate: (err: unknown) => unknown;
}

function stringOrNull(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : String(value);
}

function soqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

type Row = { Id: string } & Record<string, unknown>;
interface QueryResult { records: Row[]; nextRecordsUrl?: string; done: boolean }

/**
 * One SOQL query over the Accounts (B2B) or Contacts (B2C) that carry a Stripe id, then queryMore
 * with the `nextRecordsUrl` as the cursor; Salesforce keeps the query's locator open between pages.
 * `Sforce-Query-Options: batchSize` sets the page size (200 to 2000).
 */
export function createSalesforceScanner(options: SalesforceScanOptions): (input: ScanInput) => Promise<ScanPage> {
  const object = options.mode === 'b2b' ? 'Account' : 'Contact';
  const fields = (Object.entries(options.names) as Array<[CrmFieldName, string | undefined]>).filter((e): e is [CrmFieldName, string] => e[1] !== undefined);
  const shared = options.mode === 'b2b' ? ['Website'] : ['Email'];
  const select = `SELECT ${[...new Set(['Id', ...shared, ...fields.map(([, name]) => name)])].join(', ')} FROM ${object}`;

  const toRecord = (row: Row): ScannedRecord | null => {
    const customerId = stringOrNull(row[options.customerKey]);
    if (!customerId) return null;
    return {
      id: row.Id,
      customerId,
      email: options.mode === 'b2c' ? (stringOrNull(row.Email)?.toLowerCase() ?? null) : null,
      domain: options.mode === 'b2b' ? stringOrNull(row.Website) : null,
      properties: Object.fromEntries(fields.map(([field, name]) => [field, stringOrNull(row[name])])),
    };
  };

  return async ({ cursor, pageSize, customerIds }) => {
    const batchSize = Math.max(200, Math.min(pageSize ?? 2000, 2000));
    const soql = customerIds
      ? `${select} WHERE ${options.customerKey} IN (${customerIds.slice(0, 100).map(soqlString).join(', ')}) ORDER BY Id`
      : `${select} WHERE ${options.customerKey} != null ORDER BY Id`;
    if (customerIds?.length === 0) return { records: [], next: null, read: 0 };
    let result: QueryResult;
    try {
      const url = cursor ?? `/services/data/v${options.conn.version}/query?q=${encodeURIComponent(soql)}`;
      result = await options.conn.request<QueryResult>({ method: 'GET', url, headers: { 'Sforce-Query-Options': `batchSize=${batchSize}` } });
    } catch (err) {
      throw options.translate(err);
    }
    const records = result.records.map(toRecord).filter((r): r is ScannedRecord => r !== null);
    return { records, next: result.done ? null : (result.nextRecordsUrl ?? null), read: result.records.length };
  };
}
