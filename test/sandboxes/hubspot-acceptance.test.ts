import type { Client } from '@hubspot/api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspotClientFor, startHubSpotSandbox, type RunningHubSpotSandbox } from '../../sandboxes/hubspot/index.js';

const TOTAL = 1_000;
const BATCH = 100;
/** HubSpot's 190 requests per 10 s, scaled to 19 per 1 s so the test spends seconds, not minutes, on back-off. */
const LIMIT = { max: 19, windowMs: 1_000 };

const customerId = (i: number): string => `cus_${String(i).padStart(4, '0')}`;

let running: RunningHubSpotSandbox;
let client: Client;
let retries = 0;

/**
 * Retries a call the way the sync service does on HubSpot's 429: wait for the window the answer names
 * in X-HubSpot-RateLimit-Interval-Milliseconds. (The client's own retry waits a fixed 10 s per attempt.)
 */
async function withRateLimitRetry<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const e = err as { code?: number; headers?: Record<string, string>; body?: { policyName?: string } };
      if (e.code !== 429 || e.body?.policyName !== 'TEN_SECONDLY_ROLLING' || attempt > 10) throw err;
      retries++;
      const interval = Number(e.headers?.['x-hubspot-ratelimit-interval-milliseconds'] ?? LIMIT.windowMs);
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  }
}

function batches(name: (i: number) => string): Array<Array<{ idProperty: string; id: string; properties: Record<string, string> }>> {
  return Array.from({ length: TOTAL / BATCH }, (_, b) =>
    Array.from({ length: BATCH }, (_, k) => {
      const i = b * BATCH + k;
      return { idProperty: 'stripe_customer_id', id: customerId(i), properties: { name: name(i), domain: `c${i}.example` } };
    }),
  );
}

const upsertAll = (inputs: ReturnType<typeof batches>) =>
  Promise.all(inputs.map((batch) => withRateLimitRetry(() => client.crm.companies.batchApi.upsert({ inputs: batch }))));

beforeAll(async () => {
  running = await startHubSpotSandbox({ rateLimit: LIMIT });
  client = hubspotClientFor(running.url, 'acceptance-token');
  await client.crm.properties.coreApi.create('companies', {
    name: 'stripe_customer_id',
    label: 'Stripe Customer ID',
    type: 'string' as never,
    fieldType: 'text' as never,
    groupName: 'companyinformation',
    hasUniqueValue: true,
  });
});

afterAll(async () => {
  await running.close();
});

describe('acceptance: 1,000 companies through the real HubSpot client under the rate limit', () => {
  it('upserts in batches of 100, retries every 429, and ends with each customer exactly once', async () => {
    // Every batch is delivered twice at once, as a redelivered sync would: 20 requests against 19 per second.
    const initial = batches((i) => `Customer ${i}`);
    const answers = await upsertAll([...initial, ...initial]);
    const flags = answers.flatMap((a) => a.results.map((r) => r._new));
    expect(flags).toHaveLength(2 * TOTAL);
    expect(flags.filter(Boolean)).toHaveLength(TOTAL);

    // A re-sync with changed values must update the same records, still under the limit.
    const renamed = await upsertAll(batches((i) => `Customer ${i} (renamed)`));
    expect(renamed.flatMap((a) => a.results).every((r) => !r._new)).toBe(true);

    const seen = new Map<string, string>();
    let after: string | undefined;
    do {
      const page = await withRateLimitRetry(() => client.crm.companies.basicApi.getPage(100, after, ['stripe_customer_id', 'name']));
      for (const r of page.results) {
        const id = r.properties.stripe_customer_id ?? '';
        expect(seen.has(id), `${id} listed twice`).toBe(false);
        seen.set(id, r.properties.name ?? '');
      }
      after = page.paging?.next?.after;
    } while (after !== undefined);
    expect(seen.size).toBe(TOTAL);
    for (let i = 0; i < TOTAL; i++) expect(seen.get(customerId(i))).toBe(`Customer ${i} (renamed)`);

    const state = (await (await fetch(`${running.url}/__sandbox/state`)).json()) as { objects: { companies: { live: number } } };
    expect(state.objects.companies.live).toBe(TOTAL);
    const requests = (await (await fetch(`${running.url}/__sandbox/requests`)).json()) as { rateLimited: { tenSecondly: number } };
    // The 429 path really ran: the sandbox refused requests and the client retried each of them.
    expect(requests.rateLimited.tenSecondly).toBeGreaterThan(0);
    expect(retries).toBe(requests.rateLimited.tenSecondly);
  });
});
