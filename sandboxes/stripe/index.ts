import Stripe from 'stripe';
import { listen, type RunningSandbox } from '../shared/serve.js';
import { createStripeSandbox, type StripeSandbox, type StripeSandboxOptions } from './app.js';

export { createStripeSandbox } from './app.js';
export type { StripeSandbox, StripeSandboxOptions } from './app.js';
export type { SeedOptions, SeedResult, SeedStatus } from './seed.js';
export type { BillingSettings } from './state.js';
export { API_VERSION, DEFAULT_BILLING_SETTINGS } from './state.js';
export type { Delivery, DeliveryAttempt, WebhookSettings } from './webhooks.js';
export { DEFAULT_WEBHOOK_SETTINGS, signPayload } from './webhooks.js';

/** The port the sandboxes CLI serves the Stripe sandbox on. */
export const STRIPE_SANDBOX_PORT = 12111;

export type RunningStripeSandbox = RunningSandbox & { sandbox: StripeSandbox };

/** Creates a sandbox and serves it on 127.0.0.1 (`port: 0`, the default, picks a free port). */
export async function startStripeSandbox(options: StripeSandboxOptions & { port?: number; host?: string } = {}): Promise<RunningStripeSandbox> {
  const { port = 0, host, ...rest } = options;
  const sandbox = createStripeSandbox(rest);
  const running = await listen(sandbox.app as unknown as Parameters<typeof listen>[0], port, host);
  return {
    ...running,
    sandbox,
    close: async () => {
      sandbox.close();
      await running.close();
    },
  };
}

/**
 * The real stripe client pointed at a sandbox URL. Retries default to 2, like stripe-node's own default
 * in production code paths; pass 0 to see rate limits and faults as errors.
 */
export function stripeClientFor(url: string, apiKey = 'sk_test_sandbox', options: { maxNetworkRetries?: number; timeoutMs?: number } = {}): Stripe {
  const u = new URL(url);
  return new Stripe(apiKey, {
    host: u.hostname,
    port: u.port || (u.protocol === 'https:' ? 443 : 80),
    protocol: u.protocol === 'https:' ? 'https' : 'http',
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
    timeout: options.timeoutMs ?? 30_000,
    telemetry: false,
  });
}
export { startWebhookReceiver, WaitTimeout } from './receiver.js';
export type { ReceivedWebhook, WebhookReceiver } from './receiver.js';
