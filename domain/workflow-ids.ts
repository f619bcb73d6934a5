/**
 * Workflow ids are business keys an engineer can type into the Temporal UI's search box.
 * One helper builds each kind, so the API, the workers and tests agree.
 */
export function customerWorkflowId(accountId: string, customerId: string): string {
  return `stripe-customer/${accountId}/${customerId}`;
}

export function catalogWorkflowId(accountId: string): string {
  return `stripe-catalog/${accountId}`;
}

export function parseCustomerWorkflowId(workflowId: string): { accountId: string; customerId: string } | null {
  const match = /^stripe-customer\/([^/]+)\/([^/]+)$/.exec(workflowId);
  return match ? { accountId: match[1]!, customerId: match[2]! } : null;
}

/** The workflow carrying out one review's decision on CRM records (at most one per review). */
export function reviewActionWorkflowId(accountId: string, reviewId: string): string {
  return `review-action/${accountId}/${reviewId}`;
}
