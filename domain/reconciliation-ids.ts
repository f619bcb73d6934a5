/**
 * Names of the reconciliation schedules and their runs, shared by the workers (which create the
 * schedules) and the API (which pauses, resumes and triggers them). Pure constants.
 */
export const RECONCILIATION_KINDS = ['incremental', 'full', 'duplicates'] as const;
export type ReconciliationKindName = (typeof RECONCILIATION_KINDS)[number];

export function isReconciliationKind(value: string): value is ReconciliationKindName {
  return (RECONCILIATION_KINDS as readonly string[]).includes(value);
}

/** One schedule per kind and Stripe account, e.g. `reconciliation-full/acct_123`. */
export function reconciliationScheduleId(accountId: string, kind: ReconciliationKindName): string {
  return `reconciliation-${kind}/${accountId}`;
}

/** Scheduled runs get this id plus the schedule's timestamp; manual runs add their own suffix. */
export function reconciliationWorkflowId(accountId: string, kind: ReconciliationKindName): string {
  return `reconciliation-${kind}/${accountId}`;
}
