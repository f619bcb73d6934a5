import { type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // Each customer's latest account fields, so a CRM record linked by several Stripe customers can be
  // written as their roll-up by whichever of them syncs (crm_links_company_idx finds them).
  await db.schema.alterTable('crm_links').addColumn('account_fields', 'jsonb').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('crm_links').dropColumn('account_fields').execute();
}
