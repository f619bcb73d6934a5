import { expect, inject } from 'vitest';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../scripts/local-stack.js';
import { workflowBundle } from './harness.js';
import { eventually } from './wait.js';

export type TestStack = LocalStack;

/** The local stack against this test run's Temporal dev server and database. */
export async function startTestStack(options: Omit<LocalStackOptions, 'temporalAddress' | 'databaseUrl'> = {}): Promise<TestStack> {
  return startLocalStack({
    temporalAddress: inject('temporalAddress'),
    databaseUrl: inject('databaseUrl'),
    workflowBundle: await workflowBundle(),
    ...options,
  });
}

/** Waits until every webhook this stack's API routed has been written to the CRM: nothing in flight. */
export async function eventsSettled(stack: TestStack, timeoutMs = 60_000): Promise<void> {
  await eventually(async () => {
    const pending = await stack.database.db.selectFrom('stripeEvents').select('eventId').where('accountId', '=', stack.accountId)
      .where('disposition', '=', 'routed').where('processedAt', 'is', null).execute();
    expect(pending).toEqual([]);
  }, timeoutMs);
}
