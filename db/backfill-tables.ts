import type { ColumnType, Generated, Selectable } from 'kysely';

/** Same conventions as db/database.ts: timestamps as Date, jsonb written as a JSON string. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export type BackfillStatus = 'running' | 'paused' | 'completed' | 'canceled' | 'failed';
export type BackfillOutcome = 'created' | 'matched' | 'updated' | 'skipped' | 'failed';

export interface BackfillRunTable {
  id: string;
  accountId: string;
  provider: string;
  workflowId: string;
  status: BackfillStatus;
  dryRun: boolean;
  filters: Json<unknown>;
  summary: Json<unknown> | null;
  createdAt: Generated<Date>;
  updatedAt: Generated<Date>;
  finishedAt: Timestamp | null;
}

export interface BackfillRecordTable {
  runId: string;
  /** 'customer' for now; the key leaves room for subscriptions and payments. */
  objectType: string;
  stripeId: string;
  customerId: string;
  outcome: BackfillOutcome;
  reason: string | null;
  crmRecordId: string | null;
  attempts: Generated<number>;
  updatedAt: Generated<Date>;
}

export type BackfillRun = Selectable<BackfillRunTable>;
export type BackfillRecord = Selectable<BackfillRecordTable>;
