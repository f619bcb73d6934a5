import { parseArgs } from 'node:util';
import { STRIPE_SANDBOX_PORT, startStripeSandbox } from './index.js';

/**
 * Runs the Stripe sandbox on its own:
 *   node --import tsx sandboxes/stripe/main.ts [--port 12111] [--customers 1000] [--rate-limit 100]
 * Point any Stripe client at it with host 127.0.0.1, the port, protocol http and a `sk_test_` key.
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: String(STRIPE_SANDBOX_PORT) },
    customers: { type: 'string', default: '0' },
    'rate-limit': { type: 'string', default: '100' },
  },
});

const running = await startStripeSandbox({
  port: Number(values.port),
  rateLimit: { requestsPerSecond: Number(values['rate-limit']) },
});
const customers = Number(values.customers);
if (customers > 0) {
  const result = running.sandbox.seed({ customers });
  console.log(`seeded ${result.customers} customers with subscriptions and invoices in ${result.durationMs} ms`);
}
console.log(`stripe sandbox listening on ${running.url} (inspect: ${running.url}/__sandbox/state)`);

const stop = () => {
  void running.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
