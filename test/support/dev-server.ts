import { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../config/index.js';
import { ALL_SEARCH_ATTRIBUTES } from '../../domain/temporal-names.js';
import { findTemporalCli } from '../../scripts/temporal-dev-server.js';

/**
 * A Temporal dev server of a test file's own, for tests that need server settings the run's shared
 * server (test/global-setup.ts) does not have, e.g. a low `limit.historyCount.suggestContinueAsNew`.
 * scripts/temporal-dev-server.ts does not take extra arguments, so this starts it the same way
 * (the project's search attributes registered, in memory, no UI) plus `--dynamic-config-value`s.
 */
export async function startDevServerWithDynamicConfig(dynamicConfig: Record<string, unknown>): Promise<{ address: string; stop(): Promise<void> }> {
  const cli = await findTemporalCli(loadConfig().temporal.cliPath, process.env.PATH ?? '');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: cli ? { type: 'existing-path', path: cli } : { type: 'cached-download' },
      ip: '127.0.0.1',
      ui: false,
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      extraArgs: ['--log-level', 'error', ...Object.entries(dynamicConfig).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`])],
    },
  });
  return { address: env.address, stop: () => env.teardown() };
}
