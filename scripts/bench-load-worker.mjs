// Load generator for the ingest measurement, run in a worker thread so the sending side does not
// share the API's event loop (Stripe's senders are other machines). Plain JS: workers load it directly.
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

const { url, secret, customers, seconds, concurrency, apiVersion, maxRate } = workerData;
// Signed before the clock starts, as Stripe signs on its own machines: the timed part is what our API does.
const signed = Array.from({ length: Math.ceil(seconds * maxRate) }, (_, i) => {
  const customer = customers[i % customers.length];
  const payload = JSON.stringify({
    id: `evt_bench_${i}_${randomBytes(4).toString('hex')}`, object: 'event', type: 'customer.updated', created: Math.floor(Date.now() / 1000),
    livemode: false, api_version: apiVersion, data: { object: { ...customer, metadata: { bench: String(i) } }, previous_attributes: { metadata: {} } },
  });
  const t = Math.floor(Date.now() / 1000);
  return { payload, signature: `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${payload}`).digest('hex')}` };
});
// Node's http module on keep-alive connections: `fetch` would cost the shared cores several times more per request.
const agent = new http.Agent({ keepAlive: true, timeout: 30_000 });
function post(payload, signature) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'stripe-signature': signature } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end(payload);
  });
}
// Signed: tell the benchmark, and start the clock when it says go (signing is not the API's cost).
parentPort.postMessage('ready');
await new Promise((resolve) => parentPort.once('message', resolve));
const deadline = Date.now() + seconds * 1000;
let accepted = 0;
let rejected = 0;
let next = 0;
async function lane() {
  while (Date.now() < deadline && next < signed.length) {
    const { payload, signature } = signed[next++];
    const status = await post(payload, signature);
    if (status >= 200 && status < 300) accepted++;
    else rejected++;
  }
}
const started = Date.now();
await Promise.all(Array.from({ length: concurrency }, lane));
parentPort.postMessage({ accepted, rejected, seconds: (Date.now() - started) / 1000 });
agent.destroy();
