import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // A backfill run's identity index: the CRM's companies/Accounts and the emails of their contacts, read
  // once with the list APIs at the start of a run, so each page of customers is matched with one query
  // here instead of CRM searches per customer. Staging like backfill_batches: unlogged, deleted when the
  // run ends (and with it).
  await sql`create unlogged table backfill_identity_accounts (
    run_id text not null references backfill_runs (id) on delete cascade,
    record_id text not null,
    name text,
    domain text,
    stripe_customer_id text,
    claimed_by text,
    primary key (run_id, record_id))`.execute(db);
  await sql`create index backfill_identity_accounts_stripe_idx on backfill_identity_accounts (run_id, stripe_customer_id) where stripe_customer_id is not null`.execute(db);
  await sql`create index backfill_identity_accounts_domain_idx on backfill_identity_accounts (run_id, domain) where domain is not null`.execute(db);
  await sql`create unlogged table backfill_identity_contacts (
    run_id text not null references backfill_runs (id) on delete cascade,
    contact_id text not null,
    account_id text not null,
    email text not null,
    primary key (run_id, contact_id, account_id))`.execute(db);
  await sql`create index backfill_identity_contacts_email_idx on backfill_identity_contacts (run_id, email)`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('backfill_identity_contacts').execute();
  await db.schema.dropTable('backfill_identity_accounts').execute();
}
