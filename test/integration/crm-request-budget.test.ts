import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSalesforceConnection } from '../../activities/crm/salesforce/connection.js';
import type { RequestGate } from '../../activities/crm/types.js';
import type { DatabaseHandle } from '../../db/connect.js';
import { startHubSpotSandbox, type RunningHubSpotSandbox } from '../../sandboxes/hubspot/index.js';
import { SALESFORCE_API_VERSION, startSalesforceSandbox, type SalesforceSandbox } from '../../sandboxes/salesforce/index.js';
import type { RunningSandbox } from '../../sandboxes/shared/serve.js';
import { createServiceClients, syncSettings, type ServiceEndpoints } from '../../workers/services.js';
import { openTestDatabase, testConfig, uniqueTaskQueue } from '../support/harness.js';

// One sync round is one activity but several CRM requests, so the CRM task queue's server-side
// limit (activities/s) is not enough on its own: every request takes a token from a bucket that all
// workers on the queue share through PostgreSQL.
let database: DatabaseHandle;
let hubspot: RunningHubSpotSandbox;
let salesforce: RunningSandbox & { sandbox: SalesforceSandbox };

beforeAll(async () => {
  database = await openTestDatabase();
  hubspot = await startHubSpotSandbox({ rateLimit: { max: 100_000 }, searchRateLimit: { max: 100_000 } });
  salesforce = await startSalesforceSandbox({ bulk: { processingDelayMs: 50 } });
});

afterAll(async () => {
  await hubspot?.close();
  await salesforce?.close();
  await database?.close();
});

function endpoints(): ServiceEndpoints {
  return {
    stripe: { apiKey: 'sk_test_budget', webhookSecrets: [], accountId: 'acct_budget', mode: 'test' },
    crm: { provider: 'hubspot', mode: 'b2b', hubspot: { accessToken: 'token', baseUrl: hubspot.url }, fieldNameOverrides: {} },
    settings: syncSettings(testConfig()),
  };
}

describe('the shared CRM request budget', () => {
  it('holds two workers together to the configured requests per second', async () => {
    const taskQueue = uniqueTaskQueue('budget');
    const rate = 10;
    // Two workers' clients: separate adapters, one bucket (same database, same CRM queue).
    const [a, b] = await Promise.all([1, 2].map(() => createServiceClients(endpoints(), { db: database.db, taskQueue, ratePerSecond: rate })));
    await a!.crm.provision();
    const requests = 15;
    const started = Date.now();
    await Promise.all([a!, b!].flatMap((clients) => Array.from({ length: requests }, () => clients.crm.readAccount('cus_absent'))));
    const seconds = (Date.now() - started) / 1000;
    // 30 requests paced at 10/s (a burst of one): at least 2.9 s, however fast the machine.
    expect(seconds).toBeGreaterThanOrEqual((2 * requests - 1) / rate - 0.1);
  });

  it('makes every jsforce request wait for its token, Bulk API uploads included', async () => {
    let acquired = 0;
    const gate: RequestGate = { acquire: async () => void acquired++ };
    const conn = createSalesforceConnection({ instanceUrl: salesforce.url, accessToken: 'token', apiVersion: SALESFORCE_API_VERSION, requestTimeoutMs: 10_000, requestGate: gate });
    conn.bulk2.pollInterval = 25;
    conn.bulk2.pollTimeout = 30_000;
    const created = await conn.sobject('Account').create({ Name: 'Budgeted' });
    expect(created.success).toBe(true);
    expect(acquired).toBe(1);
    // The CSV is piped into the request's stream before the token arrives: nothing may be lost.
    const rows = Array.from({ length: 50 }, (_, i) => `Bulk ${i}`);
    const results = await conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'insert', input: `Name\n${rows.join('\n')}\n` });
    expect(results.successfulResults).toHaveLength(50);
    expect((await conn.query('SELECT COUNT() FROM Account')).totalSize).toBe(51);
    expect(acquired).toBeGreaterThan(4);
  });
});
