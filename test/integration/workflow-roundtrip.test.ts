import type { Client, Connection } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../db/connect.js';
import { createWorkers } from '../../workers/create-workers.js';
import { diagnosticsWorkflow } from '../../workflows/diagnostics.js';
import { connectClient, connectNative, openTestDatabase, testConfig, uniqueTaskQueue, workflowBundle } from '../support/harness.js';

describe('workflow round trip (client → server → worker → activity → Postgres)', () => {
  let client: Client;
  let connection: Connection;
  let native: NativeConnection;
  let database: DatabaseHandle;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = uniqueTaskQueue('roundtrip');

  beforeAll(async () => {
    ({ client, connection } = await connectClient());
    native = await connectNative();
    database = await openTestDatabase();
    [worker] = (await createWorkers({
      config: testConfig(),
      connection: native,
      db: database.db,
      databaseKind: database.kind,
      workflowBundle: await workflowBundle(),
      taskQueue,
    })) as [Worker];
    running = worker.run();
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await native?.close();
    await connection?.close();
    await database?.close();
  });

  it('runs a workflow whose activity reads the migrated database', async () => {
    const result = await client.workflow.execute(diagnosticsWorkflow, {
      taskQueue,
      workflowId: `${taskQueue}/diagnostics`,
      workflowExecutionTimeout: '30 seconds',
    });
    expect(result.taskQueue).toBe(taskQueue);
    expect(result.database.ok).toBe(true);
    expect(result.database.kind).toBe('postgres');
    expect(result.database.migrations).toBeGreaterThanOrEqual(1);

    const history = await client.workflow.getHandle(`${taskQueue}/diagnostics`).fetchHistory();
    const scheduled = history.events?.find((e) => e.activityTaskScheduledEventAttributes);
    expect(scheduled?.activityTaskScheduledEventAttributes?.activityType?.name).toBe('checkDatabase');
  });
});
