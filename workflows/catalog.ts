import { condition, continueAsNew, defineSignal, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type * as activityModule from '../activities/index.js';

type Activities = ReturnType<typeof activityModule.createActivities>;

/** A product's name as of a Stripe event. */
export interface ProductChange {
  productId: string;
  name: string;
  /** Stripe `event.created` (seconds). */
  created: number;
  eventId: string;
}

export const productChangedSignal = defineSignal<[ProductChange]>('productChanged');

const { notifyProductSubscribers } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
  summary: 'Tell every customer on this product its new name',
});

/**
 * One per Stripe account (`stripe-catalog/<account>`): when a product is renamed, every customer
 * workflow whose subscriptions use it is told, so plan names in the CRM follow. Fan-out runs in a
 * heartbeating activity, so a popular product with thousands of customers never blocks the webhook.
 */
export async function catalogWorkflow(input: { accountId: string; pending?: ProductChange[] }): Promise<void> {
  const pending: ProductChange[] = [...(input.pending ?? [])];
  setHandler(productChangedSignal, (change) => void pending.push(change));
  for (;;) {
    await condition(() => pending.length > 0 || workflowInfo().continueAsNewSuggested);
    if (pending.length === 0) return continueAsNew<typeof catalogWorkflow>({ accountId: input.accountId });
    // Only the newest name per product matters.
    const latest = new Map<string, ProductChange>();
    for (const change of pending.splice(0)) {
      const held = latest.get(change.productId);
      if (!held || change.created >= held.created) latest.set(change.productId, change);
    }
    for (const change of latest.values()) await notifyProductSubscribers({ accountId: input.accountId, ...change });
  }
}

