import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openDatabase, pingDatabase, type DatabaseHandle } from '../../db/connect.js';
import { migrateToLatest } from '../../db/migrator.js';
import { openTestDatabase } from '../support/harness.js';

async function exercise(handle: DatabaseHandle) {
  await migrateToLatest(handle.db);
  // A second run is a no-op: migrations are recorded.
  expect(await migrateToLatest(handle.db)).toEqual([]);
  await pingDatabase(handle.db);

  const eventId = `evt_${Math.random().toString(36).slice(2)}`;
  await handle.db.insertInto('stripeEvents').values({
    eventId, type: 'customer.created', createdAt: new Date('2026-01-02T03:04:05Z'), accountId: 'acct_1',
    customerId: 'cus_1', livemode: false, receivedAt: new Date(), disposition: 'routed', workflowId: null, processedAt: null,
  }).execute();
  const row = await handle.db.selectFrom('stripeEvents').selectAll().where('eventId', '=', eventId).executeTakeFirstOrThrow();
  expect(row.createdAt).toEqual(new Date('2026-01-02T03:04:05Z'));
  expect(row.deliveries).toBe(1);

  // Transactions roll back as a whole.
  await expect(
    handle.db.transaction().execute(async (trx) => {
      await trx.updateTable('stripeEvents').set({ disposition: 'changed' }).where('eventId', '=', eventId).execute();
      throw new Error('abort');
    }),
  ).rejects.toThrow('abort');
  const after = await handle.db.selectFrom('stripeEvents').select('disposition').where('eventId', '=', eventId).executeTakeFirstOrThrow();
  expect(after.disposition).toBe('routed');

  const updated = await handle.db.updateTable('stripeEvents').set({ deliveries: sql`deliveries + 1` }).where('eventId', '=', eventId).executeTakeFirst();
  expect(updated.numUpdatedRows).toBe(1n);
}

describe('database', () => {
  it('migrates and round-trips rows on the real PostgreSQL server', async () => {
    const handle = await openTestDatabase();
    try {
      expect(handle.kind).toBe('postgres');
      await exercise(handle);
    } finally {
      await handle.close();
    }
  });

  it('migrates and round-trips rows on the embedded PostgreSQL, persisted across reopen', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'crm-sync-pglite-'));
    try {
      const first = await openDatabase({ embeddedDir: path.join(dir, 'pglite') });
      expect(first.kind).toBe('embedded');
      await exercise(first);
      // Concurrent queries share the single embedded connection without interleaving transactions.
      await Promise.all(Array.from({ length: 20 }, () => pingDatabase(first.db)));
      await first.close();

      const reopened = await openDatabase({ embeddedDir: path.join(dir, 'pglite') });
      const { count } = await reopened.db.selectFrom('stripeEvents').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
      expect(Number(count)).toBe(1);
      await reopened.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
