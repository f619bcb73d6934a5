import { sql, type Kysely } from 'kysely';

// Migrations take Kysely<any> so they stay frozen in time as the Database interface evolves.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('stripe_events')
    .addColumn('event_id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'text')
    .addColumn('livemode', 'boolean', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('processed_at', 'timestamptz')
    .addColumn('deliveries', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('disposition', 'text', (c) => c.notNull())
    .addColumn('workflow_id', 'text')
    .execute();
  await db.schema.createIndex('stripe_events_customer_idx').on('stripe_events').columns(['account_id', 'customer_id', 'created_at']).execute();
  await db.schema.createIndex('stripe_events_received_idx').on('stripe_events').column('received_at').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('stripe_events').execute();
}
