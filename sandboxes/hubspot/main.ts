import { HUBSPOT_SANDBOX_PORT, startHubSpotSandbox } from './index.js';

/**
 * Runs the HubSpot sandbox alone: `node --import tsx sandboxes/hubspot/main.ts [--port 12112]`. The project's
 * sandboxes CLI starts it with the other sandboxes; this entry point is for poking at it by hand.
 */
function portFromArgs(argv: readonly string[]): number {
  const i = argv.indexOf('--port');
  if (i < 0) return HUBSPOT_SANDBOX_PORT;
  const port = Number(argv[i + 1]);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`--port needs a port number, got ${argv[i + 1] ?? 'nothing'}`);
  return port;
}

const running = await startHubSpotSandbox({ port: portFromArgs(process.argv.slice(2)) });
console.log(`HubSpot sandbox listening on ${running.url} (inspection under ${running.url}/__sandbox)`);

const stop = (): void => {
  void running.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
