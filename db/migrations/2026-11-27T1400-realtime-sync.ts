import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // Cross-reference: one row per Stripe customer (the id never changes), pointing at its CRM records.
  await db.schema
    .createTable('crm_links')
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('company_id', 'text')
    .addColumn('contact_id', 'text')
    .addColumn('deal_ids', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('match_method', 'text', (c) => c.notNull())
    .addColumn('product_ids', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    // Age of the newest Stripe state written to the CRM (event.created), so no older writer overwrites it.
    .addColumn('stripe_state_at', 'timestamptz')
    .addColumn('last_synced_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('crm_links_pk', ['account_id', 'customer_id'])
    .execute();
  await db.schema.createIndex('crm_links_company_idx').on('crm_links').columns(['provider', 'company_id']).execute();
  await db.schema.createIndex('crm_links_products_idx').on('crm_links').using('gin').column('product_ids').execute();

  // Permanent failures: the payload and reason, visible and retryable through the API.
  await db.schema
    .createTable('dead_letters')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'text')
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    .addColumn('operation', 'text', (c) => c.notNull())
    .addColumn('error_type', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('event_ids', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('open'))
    .addColumn('retry_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('dead_letters_status_idx').on('dead_letters').columns(['status', 'created_at']).execute();

  // Refund and dispute objects name a charge, not a customer: this maps one to the other.
  await db.schema
    .createTable('stripe_charge_owners')
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('charge_id', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('stripe_charge_owners_pk', ['account_id', 'charge_id'])
    .execute();

  // Plan names for the CRM, kept current by product.* events.
  await db.schema
    .createTable('stripe_products')
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('product_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('active', 'boolean', (c) => c.notNull())
    .addColumn('state_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('stripe_products_pk', ['account_id', 'product_id'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['stripe_products', 'stripe_charge_owners', 'dead_letters', 'crm_links']) {
    await db.schema.dropTable(table).execute();
  }
}
