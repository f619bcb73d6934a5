import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities/index.js';

const { checkDatabase } = proxyActivities<ReturnType<typeof activities.createActivities>>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 2 },
  summary: 'Check the database from a worker',
});

export interface DiagnosticsResult {
  taskQueue: string;
  database: { ok: boolean; kind: string; migrations: number };
}

/**
 * Proves the whole path a webhook takes works: the client reached the server, a worker picked up
 * the workflow task and ran an activity that talks to the database. Used by `GET /health?deep=true`.
 */
export async function diagnosticsWorkflow(): Promise<DiagnosticsResult> {
  const database = await checkDatabase();
  return { taskQueue: workflowInfo().taskQueue, database };
}
