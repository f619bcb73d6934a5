import type { Kysely } from 'kysely';
import type Stripe from 'stripe';
import type { CrmAdapter, RequestGate } from '../activities/crm/types.js';
import { createRateBudget } from '../activities/rate-budget.js';
import type { Database } from '../db/database.js';
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
    ...(config.crm.subscriptionObject ? { subscriptionObject: config.crm.subscriptionObject } : {}),
  };
}

export function syncSettings(config: Config): SyncSettings {
  return {
    mode: config.crm.mode, mrr: { discounts: config.crm.mrrDiscounts }, debounceMs: config.sync.debounceMs, identity: config.identity, ownership: config.ownership,
    ...(config.crm.subscriptionObject ? { subscriptionObject: 'custom' as const } : {}),
  };
}

export interface ServiceClients {
  stripe: Stripe;
  crm: CrmAdapter;
}

/**
 * The clients the workers use. With `crmBudget`, every CRM request first takes a token from a
 * bucket shared through PostgreSQL by every worker on the same CRM task queue: the queue's
 * server-side rate limit counts activities, and one sync round may make several requests.
 */
export async function createServiceClients(
  endpoints: ServiceEndpoints,
  crmBudget?: { db: Kysely<Database>; taskQueue: string; ratePerSecond: number },
): Promise<ServiceClients> {
  let gate: RequestGate | undefined;
  if (crmBudget) {
    const budget = createRateBudget({ db: crmBudget.db, ratePerSecond: crmBudget.ratePerSecond });
    const name = `crm-requests:${crmBudget.taskQueue}`;
    gate = { acquire: () => budget.take(name) };
  }
  return {
    stripe: createStripeClient({ apiKey: endpoints.stripe.apiKey, ...(endpoints.stripe.baseUrl ? { baseUrl: endpoints.stripe.baseUrl } : {}) }),
    crm: await createCrmAdapter(endpoints.crm, gate),
  };
}
