import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diagnosticsWorkflow } from '../../workflows/diagnostics.js';
import { startTestStack, type TestStack } from '../support/stack.js';

describe('workflow round trip (client → server → worker → activity → Postgres)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('runs a workflow whose activity reads the migrated database', async () => {
    const workflowId = `${stack.taskQueue}/diagnostics`;
    const result = await stack.client.workflow.execute(diagnosticsWorkflow, {
      taskQueue: stack.taskQueue,
      workflowId,
      workflowExecutionTimeout: '30 seconds',
    });
    expect(result.taskQueue).toBe(stack.taskQueue);
    expect(result.database.ok).toBe(true);
    expect(result.database.kind).toBe('postgres');
    expect(result.database.migrations).toBeGreaterThanOrEqual(2);

    const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = history.events?.find((e) => e.activityTaskScheduledEventAttributes);
    expect(scheduled?.activityTaskScheduledEventAttributes?.activityType?.name).toBe('checkDatabase');
  });
});
