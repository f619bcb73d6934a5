import { ConfigError, loadConfig } from '../config/index.js';
import { startSandboxes } from './start-all.js';

// `npm run sandboxes`: all three sandboxes in the foreground until Ctrl-C. Ports from
// SANDBOX_STRIPE_PORT / SANDBOX_HUBSPOT_PORT / SANDBOX_SALESFORCE_PORT (12111–12113).
let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
const { stripePort, hubspotPort, salesforcePort } = config.sandboxes;
const sandboxes = await startSandboxes({ stripe: stripePort, hubspot: hubspotPort, salesforce: salesforcePort });
console.log('sandboxes running (state in memory; POST /__sandbox/reset to clear):');
console.log(`  Stripe      ${sandboxes.stripe.url}   any key starting sk_test_`);
console.log(`  HubSpot     ${sandboxes.hubspot.url}   any bearer token`);
console.log(`  Salesforce  ${sandboxes.salesforce.url}   any bearer token, REST under /services/data/v62.0`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void sandboxes.close().then(() => process.exit(0));
  });
}
