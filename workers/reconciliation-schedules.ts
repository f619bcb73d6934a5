import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsAction, type ScheduleSpec } from '@temporalio/client';
import type { Config } from '../config/index.js';
import { RECONCILIATION_KINDS, reconciliationScheduleId, reconciliationWorkflowId, type ReconciliationKindName } from '../domain/reconciliation-ids.js';
import { TASK_QUEUES } from '../domain/temporal-names.js';
import type { ReconciliationInput } from '../workflows/reconciliation.js';

export interface ReconciliationScheduleOptions {
  accountId: string;
  /** Where the runs execute; default the main queue. */
  taskQueue?: string;
}

function specFor(kind: ReconciliationKindName, r: Config['reconciliation']): ScheduleSpec {
  const at = kind === 'incremental' ? { ...r.daily } : kind === 'full' ? r.weekly : r.duplicates;
  const calendar = 'day' in at ? { hour: at.hour, minute: at.minute, dayOfWeek: at.day } : { hour: at.hour, minute: at.minute };
  return { calendars: [calendar], timezone: r.timezone };
}

/**
 * Creates the reconciliation schedules, or brings existing ones to the configured times and mode,
 * so every start (API, worker, `npm start`) converges on the same three schedules. Schedule ids are
 * unique per namespace, so replicas starting together cannot make two: one create wins, the others
 * get ScheduleAlreadyRunning and update it to the same configuration. An update keeps the
 * schedule's paused state: pausing through the API survives a deploy. Returns the schedule ids.
 */
export async function ensureReconciliationSchedules(client: Client, config: Config, options: ReconciliationScheduleOptions): Promise<string[]> {
  if (!config.reconciliation.schedules) return [];
  const ids: string[] = [];
  for (const kind of RECONCILIATION_KINDS) {
    const scheduleId = reconciliationScheduleId(options.accountId, kind);
    // In repair mode the duplicate scan queues its groups for merge review, as the other runs queue theirs.
    const args: [ReconciliationInput] = [{ kind, mode: config.reconciliation.mode, accountId: options.accountId }];
    const action: ScheduleOptionsAction = {
      type: 'startWorkflow',
      workflowType: 'reconciliationWorkflow',
      workflowId: reconciliationWorkflowId(options.accountId, kind),
      taskQueue: options.taskQueue ?? TASK_QUEUES.main,
      args,
    };
    const spec = specFor(kind, config.reconciliation);
    // A run still going when the next is due is left to finish; the next one is skipped, not queued.
    const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' } as const;
    try {
      await client.schedule.create({ scheduleId, spec, action, policies });
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec, action, policies: { ...previous.policies, ...policies } }));
    }
    ids.push(scheduleId);
  }
  return ids;
}
