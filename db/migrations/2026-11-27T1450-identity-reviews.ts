import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // The human review queue: a Stripe customer the matcher would not link on its own, with the candidates and scores.
  await db.schema
    .createTable('identity_reviews')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('customer', 'jsonb', (c) => c.notNull())
    .addColumn('candidates', 'jsonb', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('open'))
    .addColumn('resolution', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('resolved_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('identity_reviews_status_idx').on('identity_reviews').columns(['status', 'kind', 'created_at']).execute();
  // Every change of a customer's CRM record by a person (link, relink, unlink), with before and after.
  await db.schema
    .createTable('link_audit')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('from_record_id', 'text')
    .addColumn('to_record_id', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('link_audit_customer_idx').on('link_audit').columns(['account_id', 'customer_id', 'created_at']).execute();
  // At most one open review per customer: a workflow that asks again finds the open one.
  await sql`create unique index identity_reviews_open_customer on identity_reviews (account_id, customer_id, kind) where status = 'open'`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('link_audit').execute();
  await db.schema.dropTable('identity_reviews').execute();
}
