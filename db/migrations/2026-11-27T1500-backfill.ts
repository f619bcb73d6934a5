import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // One row per backfill run: its filters, state and, once finished, its summary.
  await db.schema
    .createTable('backfill_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    // 'running' | 'paused' | 'completed' | 'canceled' | 'failed'
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('dry_run', 'boolean', (c) => c.notNull())
    .addColumn('filters', 'jsonb', (c) => c.notNull())
    .addColumn('summary', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .execute();

  // The migration log: every Stripe record's latest outcome in a run, with the reason when skipped or failed.
  await db.schema
    .createTable('backfill_records')
    .addColumn('run_id', 'text', (c) => c.notNull().references('backfill_runs.id').onDelete('cascade'))
    .addColumn('object_type', 'text', (c) => c.notNull())
    .addColumn('stripe_id', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'text', (c) => c.notNull())
    // 'created' | 'matched' | 'updated' | 'skipped' | 'failed'
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('crm_record_id', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('backfill_records_pk', ['run_id', 'object_type', 'stripe_id'])
    .execute();
  await db.schema.createIndex('backfill_records_outcome_idx').on('backfill_records').columns(['run_id', 'outcome', 'stripe_id']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('backfill_records').execute();
  await db.schema.dropTable('backfill_runs').execute();
}
