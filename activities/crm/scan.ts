/**
 * Reading every CRM record that carries a Stripe customer id, page by page, for reconciliation.
 * Providers implement `CrmAdapter.scanAccounts` in their own folder (reconcile.ts).
 */

import type { CrmFieldName } from '../../domain/crm-field-names.js';

export interface ScanInput {
  /** Null for the first page; then the `next` of the previous page. */
  cursor: string | null;
  /** Records per request, capped by the provider (HubSpot 100, Salesforce 2000). */
  pageSize?: number;
  /** Instead of paging: the records of these Stripe customers (at most 100), in one request. */
  customerIds?: string[];
}

export interface ScannedRecord {
  /** The company/Account (B2B) or contact (B2C) id. */
  id: string;
  /** Its Stripe customer id; records without one are not returned. */
  customerId: string;
  /** Lower-cased email (contacts) or null. */
  email: string | null;
  /** Company domain or website, as stored. */
  domain: string | null;
  /** The Stripe fields by logical field name, as the CRM returns them (fields switched off are absent). */
  properties: Partial<Record<CrmFieldName, string | null>>;
}

export interface ScanPage {
  records: ScannedRecord[];
  /** Null after the last page. */
  next: string | null;
  /** Records read in this page, including those without a Stripe id. */
  read: number;
}
