import { readFile } from 'node:fs/promises';
import type { CrmAdapter, CrmProvider, RequestGate } from '../activities/crm/types.js';
import type { CrmFieldNameOverrides } from '../domain/crm-field-names.js';

export interface CrmConnection {
  provider: CrmProvider;
  mode: 'b2b' | 'b2c';
  hubspot?: { accessToken: string; baseUrl?: string };
  salesforce?: { instanceUrl: string; accessToken: string; apiVersion: string };
  fieldNameOverrides: CrmFieldNameOverrides;
  /** CRM_SUBSCRIPTION_OBJECT: the custom object subscriptions go to instead of deals / Opportunities. */
  subscriptionObject?: string;
}

export class CrmConfigurationError extends Error {
  override name = 'CrmConfigurationError';
}

/**
 * The one place a provider name becomes an adapter; each provider's code stays in its own folder.
 * `requestGate`, when given, is waited on before every request the adapter makes.
 */
export async function createCrmAdapter(connection: CrmConnection, requestGate?: RequestGate): Promise<CrmAdapter> {
  const gate = requestGate ? { requestGate } : {};
  const subscriptions = connection.subscriptionObject ? { subscriptionObject: connection.subscriptionObject } : {};
  switch (connection.provider) {
    case 'hubspot': {
      if (!connection.hubspot) throw new CrmConfigurationError('CRM_PROVIDER=hubspot needs HUBSPOT_ACCESS_TOKEN');
      const { createHubSpotAdapter } = await import('../activities/crm/hubspot/index.js');
      return createHubSpotAdapter({ ...connection.hubspot, mode: connection.mode, fieldNameOverrides: connection.fieldNameOverrides, ...subscriptions, ...gate });
    }
    case 'salesforce': {
      if (!connection.salesforce) throw new CrmConfigurationError('CRM_PROVIDER=salesforce needs SALESFORCE_INSTANCE_URL and SALESFORCE_ACCESS_TOKEN');
      const { createSalesforceAdapter } = await import('../activities/crm/salesforce/index.js');
      return createSalesforceAdapter({ ...connection.salesforce, mode: connection.mode, fieldNameOverrides: connection.fieldNameOverrides, ...subscriptions, ...gate });
    }
  }
}

/** Field-name overrides from the CRM_FIELD_MAPPING file, e.g. {"mrr": "stripe_monthly_revenue"}. */
export async function loadFieldNameOverrides(path: string | undefined): Promise<CrmFieldNameOverrides> {
  if (!path) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new CrmConfigurationError(`CRM_FIELD_MAPPING ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CrmConfigurationError(`CRM_FIELD_MAPPING ${path}: expected a JSON object of field → property name`);
  return parsed as CrmFieldNameOverrides;
}
