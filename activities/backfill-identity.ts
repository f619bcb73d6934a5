import { ApplicationFailure, Context } from '@temporalio/activity';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/database.js';
import {
  candidatesFromIndex,
  claimsRecord,
  decideIdentities,
  IDENTITY_HOLD,
  indexLookupOf,
  isIdentityHold,
  type IdentityResolution,
  type IndexMatchRow,
} from '../domain/backfill-identity.js';
import { normalizeDomain, normalizeEmail, reviewCandidates, type IdentityCustomer, type IdentityOptions, type MatchMethod } from '../domain/identity.js';
import { CrmRateLimitError, CrmValidationError, type CrmBackfillWriter, type CrmProvider, type IdentityIndexAccount, type IdentityIndexContact } from './crm/types.js';
import { crmRateLimitRetry } from './crm.js';
import { createIdentityActivities } from './identity.js';

export interface BackfillIndexInput {
  runId: string;
  /** Companies/Accounts first, then contacts. */
  object: 'accounts' | 'contacts';
  /** Where the previous call stopped (null: the first page). */
  cursor: string | null;
}

export interface BackfillIndexResult {
  /** Null once the object's last page is in the index. */
  next: string | null;
  /** Rows added and CRM requests made by this call. */
  rows: number;
  requests: number;
}

/** How a customer's company is written (B2B, a run with an identity index). */
export type AccountIdentity =
  /** Write the Stripe fields on this record by its id, stamping the Stripe id; name/domain only where it has none. */
  | { kind: 'link'; recordId: string; method: MatchMethod; recordName: string | null; recordDomain: string | null }
  /** Upsert by the Stripe id, flagged needs_enrichment: nothing matched. */
  | { kind: 'create' }
  /** Linked before this run (crm_links): upsert by the Stripe id, name/domain only where the record has none. */
  | { kind: 'known'; recordName: string | null; recordDomain: string | null }
  /** Not written: a review, or a policy or decision that leaves it unlinked. */
  | { kind: 'hold'; reason: string };

/** One call reads pages for at most this long, then hands its cursor back (the workflow's history stays small per page). */
const INDEX_SLICE_MS = 60_000;
/** Rows per insert statement (well inside PostgreSQL's 65,535 parameters). */
const INSERT_CHUNK = 1_000;
/** A claim lost to a concurrent step makes the customer decide again; this many times at most per step. */
const MAX_CLAIM_ROUNDS = 10;

/**
 * The backfill's identity resolution (B2B): an index of the CRM's companies/Accounts and contacts,
 * read once per run with the list APIs, and the real-time path's matcher run against it for a page of
 * customers with one query. Records the run links are claimed in the index first, so no two customers
 * (in one step or in steps running side by side) take the same record.
 */
export function createBackfillIdentity(deps: { db: Kysely<Database>; provider: CrmProvider; writer: () => CrmBackfillWriter }) {
  const reviews = createIdentityActivities({ db: deps.db });

  async function crmCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof CrmRateLimitError) throw crmRateLimitRetry(what, err);
      // The CRM refuses the listing itself (a permission, a field it lacks): the run stops with the reason.
      if (err instanceof CrmValidationError) throw ApplicationFailure.create({ type: 'BackfillIndexRefused', message: `${what}: ${err.message}`, nonRetryable: true });
      throw err;
    }
  }

  // A page read twice (a retried attempt) inserts nothing new.
  async function storeAccounts(runId: string, page: readonly IdentityIndexAccount[]): Promise<number> {
    const rows = page.map((r) => ({ runId, recordId: r.recordId, name: r.name, domain: normalizeDomain(r.domain), stripeCustomerId: r.stripeCustomerId, claimedBy: null }));
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      await deps.db.insertInto('backfillIdentityAccounts').values(rows.slice(i, i + INSERT_CHUNK)).onConflict((oc) => oc.columns(['runId', 'recordId']).doNothing()).execute();
    }
    return rows.length;
  }

  async function storeContacts(runId: string, page: readonly IdentityIndexContact[]): Promise<number> {
    const rows = page.flatMap((r) => {
      const email = normalizeEmail(r.email, false);
      return email ? r.accountIds.map((accountId) => ({ runId, contactId: r.contactId, accountId, email })) : [];
    });
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      await deps.db.insertInto('backfillIdentityContacts').values(rows.slice(i, i + INSERT_CHUNK)).onConflict((oc) => oc.columns(['runId', 'contactId', 'accountId']).doNothing()).execute();
    }
    return rows.length;
  }

  /** Index rows for these customers' lookups, with whom crm_links ties each record to: one query. */
  async function indexRows(runId: string, customers: readonly IdentityCustomer[]): Promise<IndexMatchRow[]> {
    const lookups = customers.map(indexLookupOf);
    const ids = lookups.map((l) => l.customerId);
    const domains = [...new Set(lookups.map((l) => l.domain).filter((d): d is string => d !== null))];
    const emails = [...new Set(lookups.map((l) => l.email).filter((e): e is string => e !== null))];
    if (ids.length === 0) return [];
    const linked = sql<string | null>`(select l.customer_id from crm_links l where l.provider = ${deps.provider} and l.company_id = a.record_id order by l.customer_id limit 1)`;
    const accounts = deps.db.selectFrom('backfillIdentityAccounts as a')
      .select(['a.recordId', 'a.name', 'a.domain', 'a.stripeCustomerId', 'a.claimedBy', linked.as('linkedTo'), sql<string | null>`null::text`.as('email')])
      .where('a.runId', '=', runId)
      .where((eb) => eb.or([eb('a.stripeCustomerId', 'in', ids), ...(domains.length > 0 ? [eb('a.domain', 'in', domains)] : [])]));
    const query = emails.length === 0 ? accounts : accounts.unionAll(
      deps.db.selectFrom('backfillIdentityContacts as k')
        .innerJoin('backfillIdentityAccounts as a', (j) => j.onRef('a.runId', '=', 'k.runId').onRef('a.recordId', '=', 'k.accountId'))
        .select(['a.recordId', 'a.name', 'a.domain', 'a.stripeCustomerId', 'a.claimedBy', linked.as('linkedTo'), 'k.email'])
        .where('k.runId', '=', runId).where('k.email', 'in', emails),
    );
    return query.execute();
  }

  /** Claims records for customers; returns the record ids now claimed by the customer that asked. */
  async function claim(runId: string, claims: ReadonlyArray<{ recordId: string; customerId: string }>): Promise<Set<string>> {
    if (claims.length === 0) return new Set();
    const values = sql.join(claims.map((c) => sql`(${c.recordId}, ${c.customerId})`));
    const { rows } = await sql<{ recordId: string; claimedBy: string }>`
      update backfill_identity_accounts a set claimed_by = v.customer_id
      from (values ${values}) as v (record_id, customer_id)
      where a.run_id = ${runId} and a.record_id = v.record_id and (a.claimed_by is null or a.claimed_by = v.customer_id)
      returning a.record_id, a.claimed_by`.execute(deps.db);
    const asked = new Map(claims.map((c) => [c.recordId, c.customerId]));
    return new Set(rows.filter((r) => asked.get(r.recordId) === r.claimedBy).map((r) => r.recordId));
  }

  return {
    /** Which of these emails the run's index holds (contacts the CRM had when the run began): one query. */
    async existingEmails(runId: string, emails: readonly string[]): Promise<Set<string>> {
      const normalised = [...new Set(emails.map((e) => normalizeEmail(e, false)).filter((e): e is string => e !== null))];
      if (normalised.length === 0) return new Set();
      const rows = await deps.db.selectFrom('backfillIdentityContacts').select('email').distinct()
        .where('runId', '=', runId).where('email', 'in', normalised).execute();
      return new Set(rows.map((r) => r.email));
    },

    activities: {
      /**
       * Reads pages of the CRM's companies/Accounts or contacts into the run's identity index for up to a
       * minute (less when its worker shuts down) and returns where it stopped. Each page is recorded before
       * its cursor is heartbeated, so a retried attempt resumes after the last page recorded (a page read
       * twice adds nothing).
       */
      async backfillIndexIdentity(input: BackfillIndexInput): Promise<BackfillIndexResult> {
        const ctx = Context.current();
        const w = deps.writer();
        const resumed = ctx.info.heartbeatDetails as (BackfillIndexResult & { done: boolean }) | undefined;
        if (resumed?.done) return { next: resumed.next, rows: resumed.rows, requests: resumed.requests };
        let cursor = resumed ? resumed.next : input.cursor;
        let rows = resumed?.rows ?? 0;
        let requests = resumed?.requests ?? 0;
        const startedAt = Date.now();
        do {
          const at = cursor;
          if (input.object === 'accounts') {
            const page = await crmCall('identity index: companies', () => w.listAccountsForIdentity(at));
            rows += await storeAccounts(input.runId, page.rows);
            cursor = page.next;
          } else {
            const page = await crmCall('identity index: contacts', () => w.listContactsForIdentity(at));
            rows += await storeContacts(input.runId, page.rows);
            cursor = page.next;
          }
          requests++;
          ctx.heartbeat({ next: cursor, rows, requests, done: cursor === null });
          // A worker shutting down (a deploy) cancels its activities when its grace time is up: the slice ends
          // at the page in hand and returns its cursor, rather than holding the shutdown up for the rest of the
          // minute or being killed mid-slice (a retry resumes from the last heartbeat sent; the workers send them
          // within 5 s, see maxHeartbeatThrottleInterval in workers/create-workers.ts).
        } while (cursor !== null && Date.now() - startedAt < INDEX_SLICE_MS && ctx.cancellationDetails?.workerShutdown !== true);
        return { next: cursor, rows, requests };
      },
    },

    /**
     * The identity of each customer whose company the accounts step would write and that has no company
     * link yet: the real-time path's decision against the index. Links are claimed before they are
     * returned; a review is recorded (or, in a dry run, only named).
     */
    async resolve(input: { runId: string; accountId: string; dryRun: boolean; options: IdentityOptions }, customers: readonly IdentityCustomer[]): Promise<Map<string, AccountIdentity>> {
      const out = new Map<string, AccountIdentity>();
      let pending = [...customers];
      for (let round = 0; pending.length > 0; round++) {
        if (round === MAX_CLAIM_ROUNDS) throw new Error(`identity: ${pending.length} customer(s) kept losing their records to other steps' claims`);
        const rows = await indexRows(input.runId, pending);
        const resolutions = decideIdentities(pending, new Map(pending.map((c) => [c.id, candidatesFromIndex(c, rows)])), input.options);
        const won = await claim(input.runId, resolutions.flatMap((r) => (claimsRecord(r.decision) ? [{ recordId: r.decision.recordId, customerId: r.customer.id }] : [])));
        // A record a step running alongside claimed first: those customers decide again, seeing it taken.
        const lost = resolutions.filter((r) => claimsRecord(r.decision) && !won.has(r.decision.recordId));
        for (const r of resolutions) if (!lost.includes(r)) out.set(r.customer.id, await outcomeOf(input, r));
        pending = lost.map((r) => r.customer);
      }
      return out;
    },

    /**
     * Customers whose company is held for identity reasons: by this run (or the run it retries), or by a
     * review still open. Their contacts, deals and activities are skipped with the reason.
     */
    async holds(input: { runId: string; accountId: string; retryOf?: string }, customerIds: readonly string[]): Promise<Map<string, string>> {
      const ids = [...new Set(customerIds)];
      const held = new Map<string, string>();
      if (ids.length === 0) return held;
      // A customer's own log row is keyed by its id (the primary key's run, type, Stripe id).
      const logged = await deps.db.selectFrom('backfillRecords').select(['customerId', 'reason'])
        .where('runId', 'in', input.retryOf ? [input.runId, input.retryOf] : [input.runId])
        .where('objectType', '=', 'customer').where('stripeId', 'in', ids).where('outcome', '=', 'skipped').execute();
      for (const r of logged) if (isIdentityHold(r.reason)) held.set(r.customerId, r.reason!);
      const open = await deps.db.selectFrom('identityReviews').select(['id', 'customerId', 'reason'])
        .where('accountId', '=', input.accountId).where('kind', '=', 'match').where('status', '=', 'open').where('customerId', 'in', ids).execute();
      for (const r of open) if (!held.has(r.customerId!)) held.set(r.customerId!, IDENTITY_HOLD.review(String(r.id), r.reason));
      return held;
    },

    /** Name and domain of records customers are linked to already, as the index read them (records it has). */
    async known(runId: string, recordIds: readonly string[]): Promise<Map<string, { name: string | null; domain: string | null }>> {
      const ids = [...new Set(recordIds)];
      if (ids.length === 0) return new Map();
      const rows = await deps.db.selectFrom('backfillIdentityAccounts').select(['recordId', 'name', 'domain']).where('runId', '=', runId).where('recordId', 'in', ids).execute();
      return new Map(rows.map((r) => [r.recordId, { name: r.name, domain: r.domain }]));
    },

    /** The run's index goes when the run ends. */
    async clear(trx: Transaction<Database>, runId: string): Promise<void> {
      await trx.deleteFrom('backfillIdentityContacts').where('runId', '=', runId).execute();
      await trx.deleteFrom('backfillIdentityAccounts').where('runId', '=', runId).execute();
    },
  };

  async function outcomeOf(input: { runId: string; accountId: string; dryRun: boolean }, r: IdentityResolution): Promise<AccountIdentity> {
    const d = r.decision;
    switch (d.kind) {
      case 'link': {
        const record = r.candidates.find((c) => c.recordId === d.recordId);
        return { kind: 'link', recordId: d.recordId, method: d.method, recordName: record?.name ?? null, recordDomain: record?.domain ?? null };
      }
      case 'create':
        return { kind: 'create' };
      case 'unlinked':
        return { kind: 'hold', reason: IDENTITY_HOLD.unlinkedPolicy };
      case 'review': {
        if (input.dryRun) return { kind: 'hold', reason: IDENTITY_HOLD.dryRunReview(d.reason) };
        // The customer workflow's review, from the same activity: one open review per customer.
        const { id } = await reviews.recordIdentityReview({
          accountId: input.accountId, customerId: r.customer.id, provider: deps.provider, reason: d.reason, source: 'backfill',
          customer: { id: r.customer.id, email: r.customer.email, name: r.customer.name },
          candidates: reviewCandidates(d.candidates, r.candidates),
        });
        return { kind: 'hold', reason: IDENTITY_HOLD.review(id, d.reason) };
      }
    }
  }
}
