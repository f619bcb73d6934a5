import { stripeClientFor } from '../sandboxes/stripe/index.js';

/**
 * The real-time benchmark's load: `rate` subscription changes per second through the stripe client, in a
 * process of its own (Stripe's customers are not our service: its CPU is reported apart). Reads
 * `{ stripeUrl, rate, total, subscriptions: [{ id, customer, item }] }` as JSON on stdin; writes
 * `{ started, failed, times: { <customer>: [ms, ...] }, cpuMs }` as one JSON line when every change has answered.
 */
interface DriverInput {
  stripeUrl: string;
  rate: number;
  total: number;
  subscriptions: Array<{ id: string; customer: string; item: string }>;
}

let raw = '';
for await (const chunk of process.stdin) raw += chunk;
const input = JSON.parse(raw) as DriverInput;
const driver = stripeClientFor(input.stripeUrl, 'sk_test_bench_driver', { maxNetworkRetries: 2 });
const times: Record<string, number[]> = {};
let failed = 0;
const inFlight: Array<Promise<void>> = [];
const started = Date.now();
for (let i = 0; i < input.total; i++) {
  const wait = started + (i * 1000) / input.rate - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const sub = input.subscriptions[i % input.subscriptions.length]!;
  // A quantity that differs from the last one each time round, so every change is a real change.
  const quantity = 1 + ((i / input.subscriptions.length) | 0) % 7 + (i % 3);
  (times[sub.customer] ??= []).push(Date.now());
  inFlight.push(driver.subscriptions.update(sub.id, { items: [{ id: sub.item, quantity }], proration_behavior: 'none' }).then(() => undefined, () => void failed++));
  if (inFlight.length > 256) await Promise.all(inFlight.splice(0, 128));
}
await Promise.all(inFlight);
const cpu = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ started, failed, times, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
