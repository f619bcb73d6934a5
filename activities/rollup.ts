import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/database.js';
import type { CrmFieldValues } from '../domain/crm-fields.js';
import { rollUpAccountFields, type RollupMember } from '../domain/rollup.js';
import type { CrmFields } from './crm/types.js';

/**
 * CRM records linked by several Stripe customers (see domain/rollup.ts). Whoever writes such a record
 * writes the roll-up of every member's latest fields, under a per-record lock held across the CRM
 * write, so two members syncing at once can never leave one member's numbers out.
 */
export interface CustomerKey {
  accountId: string;
  customerId: string;
}

/** The other customers linked to a record whose fields are known: the members a roll-up combines. */
export async function otherRollupMembers(db: Kysely<Database> | Transaction<Database>, provider: string, recordId: string, except: CustomerKey): Promise<RollupMember[]> {
  const rows = await db.selectFrom('crmLinks').select(['accountId', 'customerId', 'accountFields'])
    .where('provider', '=', provider).where('companyId', '=', recordId)
    .where((eb) => eb.not(eb.and([eb('accountId', '=', except.accountId), eb('customerId', '=', except.customerId)])))
    .where('accountFields', 'is not', null)
    .execute();
  return rows.map((r) => ({ customerId: `${r.accountId}/${r.customerId}`, fields: r.accountFields as unknown as CrmFieldValues }));
}

export function createRollups(deps: { db: Kysely<Database>; provider: string }) {
  const members = (db: Kysely<Database> | Transaction<Database>, recordId: string, except: CustomerKey) => otherRollupMembers(db, deps.provider, recordId, except);

  /** Serialises writers of one record until the transaction ends. */
  async function lock(trx: Transaction<Database>, recordId: string): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtext(${`rollup:${deps.provider}:${recordId}`}))`.execute(trx);
  }

  function combined(own: RollupMember | null, others: RollupMember[]): CrmFields {
    return rollUpAccountFields(own ? [own, ...others] : others).fields;
  }

  return {
    /** Other customers linked to the record (their keys), e.g. before releasing it. */
    async otherMembers(recordId: string, except: CustomerKey): Promise<CustomerKey[]> {
      const rows = await deps.db.selectFrom('crmLinks').select(['accountId', 'customerId'])
        .where('provider', '=', deps.provider).where('companyId', '=', recordId)
        .where((eb) => eb.not(eb.and([eb('accountId', '=', except.accountId), eb('customerId', '=', except.customerId)])))
        .execute();
      return rows;
    },

    /**
     * Writes the record's account fields: `writeOwn` when this customer is the record's only one,
     * else `writeRollup` with every member's combined fields. Returns whether it was a roll-up.
     */
    async writeAccount(recordId: string, own: CustomerKey & { fields: CrmFields }, writeOwn: () => Promise<void>, writeRollup: (fields: CrmFields) => Promise<void>): Promise<boolean> {
      if ((await members(deps.db, recordId, own)).length === 0) {
        await writeOwn();
        return false;
      }
      return deps.db.transaction().execute(async (trx) => {
        await lock(trx, recordId);
        const others = await members(trx, recordId, own);
        if (others.length === 0) await writeOwn();
        else await writeRollup(combined({ customerId: `${own.accountId}/${own.customerId}`, fields: own.fields as CrmFieldValues }, others));
        // Recorded before the lock is released, so the next writer of this record includes it.
        await trx.updateTable('crmLinks').set({ accountFields: JSON.stringify(own.fields) })
          .where('accountId', '=', own.accountId).where('customerId', '=', own.customerId).execute();
        return others.length > 0;
      });
    },

    /**
     * Rewrites a record from its remaining members (after one of them left it). Nothing is written
     * when no member with known fields remains.
     */
    async rewrite(recordId: string, leaving: CustomerKey, write: (fields: CrmFields) => Promise<void>): Promise<boolean> {
      return deps.db.transaction().execute(async (trx) => {
        await lock(trx, recordId);
        const others = await members(trx, recordId, leaving);
        if (others.length === 0) return false;
        await write(combined(null, others));
        return true;
      });
    },
  };
}
