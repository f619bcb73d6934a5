import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // Pages read from Stripe and not yet fully written to the CRM. Reads and writes are separate
  // activities (each on its own limit), so the prepared writes wait here rather than in workflow history;
  // a row goes once its last write step is recorded.
  await db.schema
    .createTable('backfill_batches')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('run_id', 'text', (c) => c.notNull().references('backfill_runs.id').onDelete('cascade'))
    .addColumn('stream', 'text', (c) => c.notNull())
    .addColumn('records', 'jsonb', (c) => c.notNull())
    // Results of finished steps a later step needs (the account ids contacts are associated with).
    .addColumn('results', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('backfill_batches_run_idx').on('backfill_batches').column('run_id').execute();

  // Shared token buckets (one row per limited resource, e.g. Stripe reads of an account): every worker
  // reserves its requests here, so a configured rate holds across all of them.
  await db.schema
    .createTable('rate_budgets')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('tokens', 'double precision', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();

  // How many backfill writes reached this customer's CRM records. A customer workflow compares it with
  // the count it last saw: a backfill write since then means the CRM may no longer hold what the
  // workflow last wrote, so the workflow writes everything again.
  await db.schema.alterTable('crm_links').addColumn('backfill_seq', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('crm_links').dropColumn('backfill_seq').execute();
  await db.schema.dropTable('rate_budgets').execute();
  await db.schema.dropTable('backfill_batches').execute();
}
