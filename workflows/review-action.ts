import { ActivityFailure, ApplicationFailure, proxyActivities, proxyLocalActivities, setCurrentDetails } from '@temporalio/workflow';
import type * as activityModule from '../activities/index.js';

type Activities = ReturnType<typeof activityModule.createActivities>;

/** What a resolved reconciliation review asks of the CRM (started by `POST /reviews/:id/resolve`). */
export interface ReviewActionInput {
  reviewId: string;
  /**
   * Company/Account records to release: their Stripe customer id is cleared, so they stop claiming a
   * customer (an orphan whose customer does not exist, the extra records of a duplicate group). The
   * records and their history stay in the CRM.
   */
  releaseRecordIds: string[];
}

export interface ReviewActionResult {
  released: string[];
  /** Records already deleted or merged away in the CRM: nothing left to release. */
  gone: string[];
}

const local = proxyLocalActivities<Activities>({ startToCloseTimeout: '15 seconds', retry: { initialInterval: '500 ms', maximumInterval: '10 seconds' } });

/**
 * Carries out a review decision that touches CRM records no customer workflow owns. Its id is
 * `review-action/<account>/<review id>`, so resolving twice cannot release twice; each release is one
 * activity on the CRM task queue, under the rate limit every CRM write shares.
 */
export async function reviewActionWorkflow(input: ReviewActionInput): Promise<ReviewActionResult> {
  const settings = await local.getSyncSettings();
  const crm = proxyActivities<Activities>({
    taskQueue: settings.crmTaskQueue,
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: ['CrmValidationError', 'CrmRecordNotFound'] },
  });
  const result: ReviewActionResult = { released: [], gone: [] };
  for (const recordId of input.releaseRecordIds) {
    setCurrentDetails(`review ${input.reviewId}: releasing ${recordId} (${result.released.length + result.gone.length + 1}/${input.releaseRecordIds.length})`);
    try {
      await crm.crmClaimAccount.executeWithOptions({ summary: `Release CRM record ${recordId} (review ${input.reviewId})` }, [{ recordId, customerId: null }]);
      result.released.push(recordId);
    } catch (err) {
      if (!(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'CrmRecordNotFound')) throw err;
      result.gone.push(recordId);
    }
  }
  setCurrentDetails(`review ${input.reviewId}: released ${result.released.length}, already gone ${result.gone.length}`);
  return result;
}
