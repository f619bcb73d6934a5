import { inject } from 'vitest';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../scripts/local-stack.js';
import { workflowBundle } from './harness.js';

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
