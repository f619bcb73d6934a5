import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateBudget } from '../../activities/rate-budget.js';
import { createRollups } from '../../activities/rollup.js';
import { openDatabase, type DatabaseHandle } from '../../db/connect.js';
import { migrateToLatest } from '../../db/migrator.js';
import type { CrmFieldValues } from '../../domain/crm-fields.js';

// The embedded database (what `npm start` uses without DATABASE_URL) has a single connection: a roll-up
// writer must not hold a transaction while its CRM request waits for a token from the request budget.
let handle: DatabaseHandle;
const fields = (mrr: number): CrmFieldValues => ({
  mrr, currency: 'USD', subscription_status: 'active', payment_method_status: 'valid', ltv: 0, failed_payment_count: 0, delinquent: false, customer_deleted: false, synced_at: 'x',
} as unknown as CrmFieldValues);

beforeAll(async () => {
  handle = await openDatabase({ embeddedDir: 'memory://rollup-writes' });
  await migrateToLatest(handle.db);
  const link = { accountId: 'acct', provider: 'hubspot', companyId: 'C1', contactId: null, dealIds: '{}', matchMethod: 'email', productIds: [], stripeStateAt: null, lastSyncedAt: new Date() };
  await handle.db.insertInto('crmLinks').values([
    { ...link, customerId: 'cus_a', accountFields: JSON.stringify(fields(10)) },
    { ...link, customerId: 'cus_b' },
  ]).execute();
}, 60_000);
afterAll(async () => {
  await handle?.close();
});

describe('roll-up writes on a one-connection database', () => {
  it('write the combined fields through a request budget kept in the same database, and write again when a member recorded meanwhile', async () => {
    const budget = createRateBudget({ db: handle.db, ratePerSecond: 100 });
    const rollups = createRollups({ db: handle.db, provider: 'hubspot' });
    const written: number[] = [];
    let first = true;
    const done = rollups.writeAccount('C1', { accountId: 'acct', customerId: 'cus_b', fields: fields(5) }, async () => undefined, async (combined) => {
      await budget.take('crm-requests:test');
      written.push(Number(combined.mrr));
      if (first) {
        first = false;
        // Another member records newer fields while this write is in flight.
        await handle.db.updateTable('crmLinks').set({ accountFields: JSON.stringify(fields(20)) }).where('customerId', '=', 'cus_a').execute();
      }
    });
    const outcome = await Promise.race([done.then(() => 'finished'), new Promise((resolve) => setTimeout(() => resolve('stuck'), 10_000))]);
    expect(outcome).toBe('finished');
    expect(written).toEqual([15, 25]);
  }, 30_000);
});
