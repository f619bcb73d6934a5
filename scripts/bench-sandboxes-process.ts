import { startSandboxes, type SandboxOptions } from '../sandboxes/start-all.js';
import { startCrmSeedServer } from './bench-crm-seed.js';

/**
 * The three sandboxes in a process of their own, for benchmarks: in the benchmark's process they would
 * share its one JavaScript thread with the workers, and the figures would measure the sandboxes. Options
 * come as JSON in argv[2]; the URLs go to stdout as one JSON line; SIGTERM stops them. `crmSeed` is the
 * benchmarks' endpoint that writes existing CRM records straight into the stores (scripts/bench-crm-seed.ts).
 */
const options = JSON.parse(process.argv[2] ?? '{}') as SandboxOptions;
const sandboxes = await startSandboxes({ stripe: 0, hubspot: 0, salesforce: 0 }, options);
const crmSeed = await startCrmSeedServer(sandboxes);
console.log(JSON.stringify({ stripe: sandboxes.stripe.url, hubspot: sandboxes.hubspot.url, salesforce: sandboxes.salesforce.url, crmSeed: crmSeed.url }));
process.once('SIGTERM', () => void Promise.all([crmSeed.close(), sandboxes.close()]).then(() => process.exit(0)));
