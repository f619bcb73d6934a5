import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { openDatabase, type DatabaseHandle } from '../../db/connect.js';
import { connectClient, openTestDatabase } from '../support/harness.js';
import { startTestStack } from '../support/stack.js';

const noStripe = { secrets: [], primaryAccountId: 'acct_test', mode: 'test' as const, client: null };

describe('GET /health', () => {
  let client: Client;
  let connection: Connection;
  let database: DatabaseHandle;

  beforeAll(async () => {
    ({ client, connection } = await connectClient());
    database = await openTestDatabase();
  });
  afterAll(async () => {
    await connection.close();
    await database.close();
  });

  it('answers 200 when Temporal and the database both answer', async () => {
    const app = createApp({ temporal: client, temporalAddress: 'test', db: database.db, databaseKind: database.kind, stripe: noStripe });
    const res = await app.request('/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', temporal: { status: 'ok' }, database: { status: 'ok', kind: 'postgres' } });
  });

  it('answers 503 naming the database when it is down', async () => {
    // Nothing listens on port 1: the same refusal a stopped PostgreSQL gives.
    const closed = await openDatabase({ url: 'postgres://postgres@127.0.0.1:1/nowhere' });
    const app = createApp({ temporal: client, temporalAddress: 'test', db: closed.db, databaseKind: closed.kind, stripe: noStripe });
    const res = await app.request('/health');
    expect(res.status).toBe(503);
    const body = (await res.json()) as { down: string[]; temporal: { status: string }; database: { status: string; error: string } };
    expect(body.down).toEqual(['database']);
    expect(body.temporal.status).toBe('ok');
    expect(body.database.error).toMatch(/ECONNREFUSED/);
    await closed.close();
  });

  it('answers 503 naming Temporal when the server is unreachable', async () => {
    const unreachable = Connection.lazy({ address: '127.0.0.1:1', connectTimeout: '500 ms' });
    const app = createApp({
      temporal: new Client({ connection: unreachable }), temporalAddress: '127.0.0.1:1', db: database.db, databaseKind: database.kind, stripe: noStripe,
    });
    const res = await app.request('/health');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'down', down: ['temporal'], database: { status: 'ok' } });
  });

  it('with ?deep=true runs a workflow through a polling worker', async () => {
    const stack = await startTestStack();
    try {
      const res = await createApp(stack.appDeps).request('/health?deep=true');
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ worker: { status: 'ok' } });
    } finally {
      await stack.close();
    }
  });
});
