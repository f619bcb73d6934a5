import { loadConfig } from '../../config/index.js';
import { findTemporalCli, startTemporalDevServer } from '../../scripts/temporal-dev-server.js';

/**
 * A Temporal dev server of a test file's own, for tests that need server settings the run's shared
 * server (test/global-setup.ts) does not have, e.g. a low `limit.historyCount.suggestContinueAsNew`.
 */
export async function startDevServerWithDynamicConfig(dynamicConfig: Record<string, unknown>): Promise<{ address: string; stop(): Promise<void> }> {
  const cli = await findTemporalCli(loadConfig().temporal.cliPath, process.env.PATH ?? '');
  const server = await startTemporalDevServer({ cliPath: cli, dynamicConfig });
  return { address: server.address, stop: () => server.stop() };
}
