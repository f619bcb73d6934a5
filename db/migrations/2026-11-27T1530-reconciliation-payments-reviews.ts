import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // A full run's charges and refunds (as payment snapshots), streamed from the account-wide lists so
  // every customer's payment fields are compared without a request per customer. Unlogged staging,
  // like the other reconciliation_stripe_* tables, deleted when the run ends.
  await sql`create unlogged table reconciliation_stripe_payments (
    run_id bigint not null, payment_id text not null, customer_id text not null, snapshot jsonb not null,
    primary key (run_id, payment_id))`.execute(db);
  await sql`create index reconciliation_stripe_payments_customer_idx on reconciliation_stripe_payments (run_id, customer_id)`.execute(db);

  // The review queue also holds reconciliation findings (orphans, unlinked customers, duplicates to
  // merge). `subject` is what a finding is about (a customer id, or a duplicate group's key), so a
  // later run finds the review already open instead of queueing it twice; a duplicate group has no
  // single customer, hence customer_id and customer become optional.
  await db.schema.alterTable('identity_reviews').addColumn('source', 'text', (c) => c.notNull().defaultTo('identity')).execute();
  await db.schema.alterTable('identity_reviews').addColumn('subject', 'text').execute();
  await db.schema.alterTable('identity_reviews').addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`)).execute();
  await db.schema.alterTable('identity_reviews').alterColumn('customer_id', (c) => c.dropNotNull()).execute();
  await db.schema.alterTable('identity_reviews').alterColumn('customer', (c) => c.dropNotNull()).execute();
  await sql`create unique index identity_reviews_open_subject on identity_reviews (account_id, kind, subject) where status = 'open' and subject is not null`.execute(db);
  await db.schema.createIndex('identity_reviews_subject_idx').on('identity_reviews').columns(['account_id', 'kind', 'subject', 'status']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('identity_reviews_subject_idx').execute();
  await db.schema.dropIndex('identity_reviews_open_subject').execute();
  await db.deleteFrom('identity_reviews').where('customer_id', 'is', null).execute();
  await db.schema.alterTable('identity_reviews').alterColumn('customer', (c) => c.setNotNull()).execute();
  await db.schema.alterTable('identity_reviews').alterColumn('customer_id', (c) => c.setNotNull()).execute();
  await db.schema.alterTable('identity_reviews').dropColumn('details').execute();
  await db.schema.alterTable('identity_reviews').dropColumn('subject').execute();
  await db.schema.alterTable('identity_reviews').dropColumn('source').execute();
  await db.schema.dropTable('reconciliation_stripe_payments').execute();
}
