import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/database.js';
import type { CrmFieldValues } from '../domain/crm-fields.js';
import { rollUpAccountFields, type RollupMember } from '../domain/rollup.js';
import type { CrmFields } from './crm/types.js';

/**
 * CRM records linked by several Stripe customers (see domain/rollup.ts). Whoever writes such a record
 * writes the roll-up of every member's latest fields. No transaction stays open across the CRM write
 * (each CRM request takes a token from the request budget, which needs a database connection of its
 * own: with the embedded database there is just one): a writer records its fields and reads the others'
 * under a short per-record lock, writes, then reads the others again and writes once more if one of them
 * recorded newer fields meanwhile. So whichever write lands last, its writer has seen every member's latest.
 */
export interface CustomerKey {
  accountId: string;
  customerId: string;
}

/** The links of other customers to a record. */
function otherLinks(db: Kysely<Database> | Transaction<Database>, provider: string, recordId: string, except: CustomerKey) {
  return db.selectFrom('crmLinks')
    .where('provider', '=', provider).where('companyId', '=', recordId)
    .where((eb) => eb.not(eb.and([eb('accountId', '=', except.accountId), eb('customerId', '=', except.customerId)])));
}

/** The other customers linked to a record whose fields are known: the members a roll-up combines. */
async function otherRollupMembers(db: Kysely<Database> | Transaction<Database>, provider: string, recordId: string, except: CustomerKey): Promise<RollupMember[]> {
  const rows = await otherLinks(db, provider, recordId, except).select(['accountId', 'customerId', 'accountFields']).where('accountFields', 'is not', null).execute();
  return rows.map((r) => ({ customerId: `${r.accountId}/${r.customerId}`, fields: r.accountFields as unknown as CrmFieldValues }));
}

/**
 * The other members of a record with known fields, as a subquery: a record is a roll-up when one exists.
 * Asked every round (inside the round's one statement, see recordSyncResult), so no field payloads.
 */
export function rollupMembersOf(db: Kysely<Database>, provider: string, recordId: string, except: CustomerKey) {
  return otherLinks(db, provider, recordId, except).select('customerId').where('accountFields', 'is not', null);
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

  /** Bounds the rewrites of one write when members keep recording (each round sees a newer state). */
  const MAX_ROLLUP_WRITES = 5;

  /**
   * Writes what `seen` combines, then again while the members changed during the write (one recorded newer
   * fields, joined, or left: a member gone meanwhile must not stay in the record's sums). Still changing
   * after MAX_ROLLUP_WRITES writes, it fails, and the activity's retry writes again later.
   */
  async function writeUntilSettled(recordId: string, except: CustomerKey, seen: RollupMember[], write: (seen: RollupMember[]) => Promise<void>): Promise<void> {
    const key = (ms: RollupMember[]) => JSON.stringify([...ms].sort((a, b) => a.customerId.localeCompare(b.customerId)));
    for (let round = 0; round < MAX_ROLLUP_WRITES; round++) {
      await write(seen);
      const now = await members(deps.db, recordId, except);
      if (key(now) === key(seen)) return;
      seen = now;
    }
    throw new Error(`roll-up record ${recordId}: its members kept changing over ${MAX_ROLLUP_WRITES} writes`);
  }

  return {
    /** Other customers linked to the record (their keys), e.g. before releasing it. */
    async otherMembers(recordId: string, except: CustomerKey): Promise<CustomerKey[]> {
      return otherLinks(deps.db, deps.provider, recordId, except).select(['accountId', 'customerId']).execute();
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
      const self: RollupMember = { customerId: `${own.accountId}/${own.customerId}`, fields: own.fields as CrmFieldValues };
      // Recorded first, so a member writing at the same time includes it.
      const others = await deps.db.transaction().execute(async (trx) => {
        await lock(trx, recordId);
        await trx.updateTable('crmLinks').set({ accountFields: JSON.stringify(own.fields) })
          .where('accountId', '=', own.accountId).where('customerId', '=', own.customerId).execute();
        return members(trx, recordId, own);
      });
      if (others.length === 0) {
        await writeOwn();
        return false;
      }
      await writeUntilSettled(recordId, own, others, (seen) => writeRollup(combined(self, seen)));
      return true;
    },

    /**
     * Rewrites a record from its remaining members (after one of them left it). Nothing is written
     * when no member with known fields remains.
     */
    async rewrite(recordId: string, leaving: CustomerKey, write: (fields: CrmFields) => Promise<void>): Promise<boolean> {
      const others = await members(deps.db, recordId, leaving);
      if (others.length === 0) return false;
      // Nothing to write once no member with known fields remains.
      await writeUntilSettled(recordId, leaving, others, async (seen) => (seen.length > 0 ? write(combined(null, seen)) : undefined));
      return true;
    },
  };
}
