import type { Connection } from 'jsforce';
import type { CrmCandidate } from '../../../domain/identity.js';
import { normalizeDomain } from '../../../domain/identity.js';
import type { CrmAdapter } from '../types.js';
import { soqlString } from './records.js';

interface AccountRow {
  Id: string;
  Name: string | null;
  Website: string | null;
  [key: string]: unknown;
}

/**
 * Identity lookups for Salesforce: Accounts carrying the Stripe id or whose Website is the
 * customer's domain (one query), and the Accounts of Contacts with the customer's email (two).
 */
export function salesforceIdentityMethods(deps: {
  conn: Connection;
  customerKey: string;
  call: <T>(operation: string, fn: () => Promise<T>) => Promise<T>;
}): Pick<CrmAdapter, 'findAccountCandidates' | 'claimAccount'> {
  const { conn, customerKey, call } = deps;
  const select = `SELECT Id, Name, Website, ${customerKey} FROM Account`;
  const toCandidate = (row: AccountRow, emails: string[]): CrmCandidate => ({
    recordId: row.Id,
    stripeCustomerId: typeof row[customerKey] === 'string' && row[customerKey] ? (row[customerKey] as string) : null,
    emails,
    domain: normalizeDomain(row.Website),
    name: row.Name,
  });

  return {
    async findAccountCandidates({ customerId, email, domain }) {
      const byId = new Map<string, CrmCandidate>();
      const conditions = [`${customerKey} = ${soqlString(customerId)}`];
      if (domain) conditions.push(`Website LIKE ${soqlString(`%${domain}%`)}`);
      const accounts = await call('find accounts', async () => conn.query<AccountRow>(`${select} WHERE ${conditions.join(' OR ')} LIMIT 50`));
      // LIKE also matches longer domains (acme.io in notacme.io): keep exact domains only.
      for (const row of accounts.records) {
        if (row[customerKey] === customerId || normalizeDomain(row.Website) === domain) byId.set(row.Id, toCandidate(row, []));
      }
      if (email) {
        const contacts = await call('find contacts', async () =>
          conn.query<{ AccountId: string | null }>(`SELECT AccountId FROM Contact WHERE Email = ${soqlString(email)} AND AccountId != null LIMIT 10`),
        );
        const ids = [...new Set(contacts.records.map((c) => c.AccountId).filter((id): id is string => Boolean(id)))];
        if (ids.length > 0) {
          const owners = await call('read accounts', async () => conn.query<AccountRow>(`${select} WHERE Id IN (${ids.map(soqlString).join(', ')})`));
          for (const row of owners.records) {
            const known = byId.get(row.Id);
            byId.set(row.Id, known ? { ...known, emails: [email] } : toCandidate(row, [email]));
          }
        }
      }
      return [...byId.values()];
    },

    async claimAccount({ recordId, customerId }) {
      await call('claim account', async () => conn.sobject('Account').update({ Id: recordId, [customerKey]: customerId }));
    },
  };
}
