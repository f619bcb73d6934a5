import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Names shared by the API, the workers and workflow code. Pure constants: workflow code imports
 * this module, so nothing here may do I/O.
 */
export const TASK_QUEUES = {
  /** Workflows and Stripe/database activities. */
  main: 'stripe-crm-sync',
} as const;

/** CRM calls only, one queue per provider, so a server-side rate limit on it bounds every worker together. */
export function crmTaskQueue(provider: string): string {
  return `stripe-crm-sync-crm-${provider}`;
}

/**
 * The backfill's CRM batch writes. Every CRM request, on either queue, takes a token from the shared
 * request budget; a server-side task-queue limit set exactly at the CRM's rate delivers less than that rate
 * (the server splits it over the queue's partitions), so the backfill's writes get a queue of their own
 * whose limit is only a backstop.
 */
export function backfillWriteTaskQueue(crmQueue: string): string {
  return `${crmQueue}-backfill`;
}

/**
 * Custom search attributes, registered on the dev server at start and documented for real
 * clusters. No personal data: ids and states only.
 */
export const SEARCH_ATTRIBUTES = {
  stripeCustomerId: defineSearchAttributeKey('StripeCustomerId', SearchAttributeType.KEYWORD),
  stripeAccountId: defineSearchAttributeKey('StripeAccountId', SearchAttributeType.KEYWORD),
  crmRecordId: defineSearchAttributeKey('CrmRecordId', SearchAttributeType.KEYWORD),
  syncState: defineSearchAttributeKey('SyncState', SearchAttributeType.KEYWORD),
} as const;

export const ALL_SEARCH_ATTRIBUTES = Object.values(SEARCH_ATTRIBUTES);
