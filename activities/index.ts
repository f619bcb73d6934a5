import type { Kysely } from 'kysely';
import type Stripe from 'stripe';
import type { Database } from '../db/database.js';
import type { SyncSettings } from '../domain/crm-plan.js';
import { createBackfillActivities } from './backfill.js';
import { createCatalogActivities } from './catalog.js';
import { createCrmActivities } from './crm.js';
import { createIdentityActivities } from './identity.js';
import type { CrmAdapter } from './crm/types.js';
import { createDiagnosticsActivities } from './diagnostics.js';
import { createReconciliationActivities } from './reconciliation.js';
import { createStripeActivities } from './stripe.js';
import { createSyncRecordActivities } from './sync-records.js';

export interface ActivityDeps {
  db: Kysely<Database>;
  databaseKind: string;
  stripe: Stripe;
  primaryAccountId: string;
  crm: CrmAdapter;
  settings: SyncSettings;
  /** The queue the CRM worker polls; workflows send CRM activities there. */
  crmTaskQueue: string;
  /** The queue of the backfill's CRM batch writes (default: the CRM queue). */
  backfillWriteTaskQueue?: string;
  /** CRM_RATE_LIMIT_PER_SECOND, for the backfill's estimates (default: the config default, 19). */
  crmRateLimitPerSecond?: number;
  /** SALESFORCE_BULK_THRESHOLD (default 10,000). */
  salesforceBulkThreshold?: number;
  /** STRIPE_READ_RATE_LIMIT_PER_SECOND: the backfill's shared Stripe read budget (default 20). */
  stripeReadRateLimitPerSecond?: number;
}

/** Builds every activity from its dependencies; no module-level clients. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDiagnosticsActivities(deps),
    ...createStripeActivities(deps),
    ...createSyncRecordActivities({ db: deps.db, provider: deps.crm.provider, settings: deps.settings, crmTaskQueue: deps.crmTaskQueue }),
    ...createCrmActivities(deps),
    ...createIdentityActivities(deps),
    ...createCatalogActivities(deps),
    ...createReconciliationActivities(deps),
    ...createBackfillActivities({
      ...deps, crmRateLimitPerSecond: deps.crmRateLimitPerSecond ?? 19, salesforceBulkThreshold: deps.salesforceBulkThreshold ?? 10_000,
      stripeReadRateLimitPerSecond: deps.stripeReadRateLimitPerSecond ?? 20,
    }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
