import type Stripe from 'stripe';
import type { CrmAdapter } from '../activities/crm/types.js';
import { createCrmAdapter, loadFieldNameOverrides, type CrmConnection } from '../clients/crm.js';
import { createStripeClient } from '../clients/stripe.js';
import type { Config } from '../config/index.js';
import type { SyncSettings } from '../domain/crm-plan.js';

/**
 * Where Stripe and the CRM are: from config in production, or the sandboxes in the demo. The
 * workers and the API receive these, never the raw config.
 */
export interface ServiceEndpoints {
  stripe: { apiKey: string; baseUrl?: string; webhookSecrets: Array<{ secret: string; accountId?: string }>; accountId: string; mode: 'live' | 'test' };
  crm: CrmConnection;
  settings: SyncSettings;
}

export async function endpointsFromConfig(config: Config): Promise<ServiceEndpoints> {
  if (!config.stripe.apiKey) throw new Error('STRIPE_API_KEY is not set (start without credentials to run the demo on the sandboxes: npm start)');
  return {
    stripe: {
      apiKey: config.stripe.apiKey,
      ...(config.stripe.apiBaseUrl ? { baseUrl: config.stripe.apiBaseUrl } : {}),
      webhookSecrets: config.stripe.webhookSecrets,
      accountId: config.stripe.accountId,
      mode: config.stripe.mode,
    },
    crm: await crmConnectionFromConfig(config),
    settings: syncSettings(config),
  };
}

/** The CRM the configuration names (used by the workers and by `npm run setup`). */
export async function crmConnectionFromConfig(config: Config): Promise<CrmConnection> {
  const { hubspot, salesforce } = config.crm;
  return {
    provider: config.crm.provider,
    mode: config.crm.mode,
    ...(hubspot.accessToken ? { hubspot: { accessToken: hubspot.accessToken, ...(hubspot.baseUrl ? { baseUrl: hubspot.baseUrl } : {}) } } : {}),
    ...(salesforce.accessToken && salesforce.instanceUrl
      ? { salesforce: { instanceUrl: salesforce.instanceUrl, accessToken: salesforce.accessToken, apiVersion: salesforce.apiVersion } }
      : {}),
    fieldNameOverrides: await loadFieldNameOverrides(config.crm.fieldMappingPath),
  };
}

export function syncSettings(config: Config): SyncSettings {
  return { mode: config.crm.mode, mrr: { discounts: config.crm.mrrDiscounts }, debounceMs: config.sync.debounceMs, identity: config.identity };
}

export interface ServiceClients {
  stripe: Stripe;
  crm: CrmAdapter;
}

export async function createServiceClients(endpoints: ServiceEndpoints): Promise<ServiceClients> {
  return {
    stripe: createStripeClient({ apiKey: endpoints.stripe.apiKey, ...(endpoints.stripe.baseUrl ? { baseUrl: endpoints.stripe.baseUrl } : {}) }),
    crm: await createCrmAdapter(endpoints.crm),
  };
}
