import { ApplicationFailure, Context } from '@temporalio/activity';
import { CrmNotFoundError, CrmRateLimitError, CrmValidationError, type AccountInput, type ContactInput, type CrmAdapter, type DealsInput, type TimelineInput } from './crm/types.js';

/**
 * CRM activities: one adapter call each, run on the CRM task queue whose rate limit bounds all
 * workers together. Errors are translated into Temporal's retry language here, once.
 */
export function createCrmActivities(deps: { crm: CrmAdapter }) {
  async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      // Give up promptly when cancelled (a worker shutting down), so the attempt is retried elsewhere
      // at once instead of after the timeout. The request may still land: every call is idempotent.
      return await Promise.race([fn(), Context.current().cancelled]);
    } catch (err) {
      if (err instanceof CrmRateLimitError) {
        // Retry after the delay the CRM stated, not the generic backoff.
        throw ApplicationFailure.create({ type: 'CrmRateLimited', message: `${operation}: ${err.message}`, nextRetryDelay: err.retryAfterMs });
      }
      if (err instanceof CrmNotFoundError) {
        // The linked record was deleted or merged in the CRM: the workflow drops the link and relinks.
        throw ApplicationFailure.create({ type: 'CrmRecordNotFound', message: `${operation}: ${err.message}`, nonRetryable: true });
      }
      if (err instanceof CrmValidationError) {
        throw ApplicationFailure.create({ type: 'CrmValidationError', message: `${operation}: ${err.message}`, nonRetryable: true, details: err.details === undefined ? [] : [err.details] });
      }
      throw err;
    }
  }
  return {
    crmUpsertAccount: (input: AccountInput) => call('upsert account', () => deps.crm.upsertAccount(input)),
    crmUpsertContact: (input: ContactInput) => call('upsert contact', () => deps.crm.upsertContact(input)),
    crmUpsertDeals: (input: DealsInput) => call('upsert deals', () => deps.crm.upsertDeals(input)),
    crmWriteTimeline: (input: TimelineInput) => call('write timeline', () => deps.crm.writeTimeline(input)),
    crmFindAccountCandidates: (input: { customerId: string; email: string | null; domain: string | null }) =>
      call('find candidate records', () => deps.crm.findAccountCandidates(input)),
    crmReadAccount: (input: { customerId: string }) => call('read record', () => deps.crm.readAccount(input.customerId)),
    crmClaimAccount: (input: { recordId: string; customerId: string | null }) => call('claim record', () => deps.crm.claimAccount(input)),
  };
}
