// The worker loads this file as its workflow bundle entry: every workflow is exported from here.
export { diagnosticsWorkflow } from './diagnostics.js';
export { customerSyncWorkflow } from './customer-sync.js';
export { catalogWorkflow } from './catalog.js';
export { backfillWorkflow } from './backfill.js';
export { reconciliationWorkflow } from './reconciliation.js';
export { reviewActionWorkflow } from './review-action.js';
