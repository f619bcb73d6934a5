import { startHubSpotSandbox, type HubSpotSandboxOptions, type RunningHubSpotSandbox } from './hubspot/index.js';
import { startSalesforceSandbox, type SalesforceSandboxOptions } from './salesforce/index.js';
import type { RunningSandbox } from './shared/serve.js';
import { startStripeSandbox, type StripeSandboxOptions } from './stripe/index.js';

export interface SandboxPorts {
  stripe: number;
  hubspot: number;
  salesforce: number;
}

export interface RunningSandboxes {
  stripe: Awaited<ReturnType<typeof startStripeSandbox>>;
  hubspot: RunningHubSpotSandbox;
  salesforce: Awaited<ReturnType<typeof startSalesforceSandbox>>;
  close(): Promise<void>;
}

/** Starts all three sandboxes; port 0 picks free ports (tests), the CLI and the demo pass 12111–12113. */
export interface SandboxOptions {
  stripe?: StripeSandboxOptions;
  hubspot?: HubSpotSandboxOptions;
  salesforce?: SalesforceSandboxOptions;
}

export async function startSandboxes(ports: SandboxPorts, options: SandboxOptions = {}): Promise<RunningSandboxes> {
  const started: RunningSandbox[] = [];
  try {
    const stripe = await startStripeSandbox({ ...options.stripe, port: ports.stripe });
    started.push(stripe);
    const hubspot = await startHubSpotSandbox({ ...options.hubspot, port: ports.hubspot });
    started.push(hubspot);
    const salesforce = await startSalesforceSandbox({ ...options.salesforce, port: ports.salesforce });
    started.push(salesforce);
    return { stripe, hubspot, salesforce, close: async () => void (await Promise.all(started.map((s) => s.close()))) };
  } catch (err) {
    await Promise.all(started.map((s) => s.close()));
    throw err;
  }
}
