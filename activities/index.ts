import type { Kysely } from 'kysely';
import type Stripe from 'stripe';
import type { Database } from '../db/database.js';
import type { SyncSettings } from '../domain/crm-plan.js';
import { createCatalogActivities } from './catalog.js';
import { createCrmActivities } from './crm.js';
import type { CrmAdapter } from './crm/types.js';
import { createDiagnosticsActivities } from './diagnostics.js';
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
}

/** Builds every activity from its dependencies; no module-level clients. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDiagnosticsActivities(deps),
    ...createStripeActivities(deps),
    ...createSyncRecordActivities({ db: deps.db, provider: deps.crm.provider, settings: deps.settings, crmTaskQueue: deps.crmTaskQueue }),
    ...createCrmActivities(deps),
    ...createCatalogActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
