import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // One row per reconciliation run: its summary (counts, totals per side) and live progress.
  await db.schema
    .createTable('reconciliation_runs')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('mode', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('running'))
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    .addColumn('since', 'timestamptz')
    .addColumn('summary', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('error', 'text')
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('reconciliation_runs_kind_idx').on('reconciliation_runs').columns(['account_id', 'kind', 'status', 'started_at']).execute();
  // A retried start activity must not open a second run for the same workflow execution.
  await db.schema.createIndex('reconciliation_runs_workflow_idx').on('reconciliation_runs').column('workflow_id').unique().execute();

  // One row per discrepancy found; `fields` holds field → { expected, actual } for drift.
  await db.schema
    .createTable('reconciliation_discrepancies')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('run_id', 'bigint', (c) => c.notNull().references('reconciliation_runs.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'text')
    .addColumn('crm_record_id', 'text')
    .addColumn('fields', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('reconciliation_discrepancies_run_idx').on('reconciliation_discrepancies').columns(['run_id', 'kind', 'status', 'id']).execute();

  // Staging for a run's streamed sides, so memory stays flat: Postgres joins them, and a run's rows
  // are deleted when it finishes. Unlogged: they are rebuilt by rerunning, never needed after a crash.
  await sql`create unlogged table reconciliation_stripe_customers (
    run_id bigint not null, customer_id text not null, snapshot jsonb not null,
    primary key (run_id, customer_id))`.execute(db);
  await sql`create unlogged table reconciliation_stripe_subscriptions (
    run_id bigint not null, subscription_id text not null, customer_id text not null, snapshot jsonb not null,
    primary key (run_id, subscription_id))`.execute(db);
  await sql`create index reconciliation_stripe_subscriptions_customer_idx on reconciliation_stripe_subscriptions (run_id, customer_id)`.execute(db);
  await sql`create unlogged table reconciliation_crm_records (
    run_id bigint not null, record_id text not null, customer_id text, email text, domain text, properties jsonb not null,
    primary key (run_id, record_id))`.execute(db);
  await sql`create index reconciliation_crm_records_customer_idx on reconciliation_crm_records (run_id, customer_id)`.execute(db);
  // Customers to check one by one: the incremental run's active customers, the full run's suspects.
  await sql`create unlogged table reconciliation_candidates (
    run_id bigint not null, customer_id text not null, primary key (run_id, customer_id))`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['reconciliation_candidates', 'reconciliation_crm_records', 'reconciliation_stripe_subscriptions', 'reconciliation_stripe_customers', 'reconciliation_discrepancies', 'reconciliation_runs']) {
    await db.schema.dropTable(table).execute();
  }
}
