import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { CrmLinks } from '../domain/crm-plan.js';
import type { TimelineEntry } from '../domain/customer-events.js';
import type { FieldOwner } from '../domain/identity.js';
import { CrmNotFoundError, CrmRateLimitError, CrmValidationError, type AccountInput, type ContactInput, type CrmAdapter, type CrmFields, type DealInput, type StageConflict } from './crm/types.js';
import { createIdentityActivities } from './identity.js';
import { createRollups, type CustomerKey } from './rollup.js';
import { recordSyncResult, type RecordSyncResultInput } from './sync-records.js';

/**
 * Everything one sync round writes for a customer. The records others attach to (account, then
 * contact) come first when they do not exist yet; everything else goes out together.
 */
export interface SyncRoundInput {
  customerId: string;
  links: CrmLinks;
  account: Omit<AccountInput, 'customerId' | 'recordId'> | null;
  contact: Omit<ContactInput, 'customerId' | 'accountId' | 'recordId'> | null;
  deals: Array<Omit<DealInput, 'recordId'>>;
  /** Who decides an existing deal's stage (FIELD_OWNERSHIP `deal_stage`). */
  stageOwner?: FieldOwner;
  timeline: TimelineEntry[];
  /** The last round found another customer on the account's record (a roll-up record, see activities/rollup.ts). */
  sharedRecord?: boolean;
  /** The round's bookkeeping, recorded once every write has landed (the links are filled in here). */
  record: Omit<RecordSyncResultInput, 'links'>;
}

export interface SyncRoundResult {
  links: CrmLinks;
  timelineKeys: string[];
  /** The catalog's current names of the customer's products (see recordSyncResult). */
  productNames: Record<string, string>;
  /** Backfill writes to the customer so far, and whether one came since the workflow last looked (see recordSyncResult). */
  backfillSeq: number;
  rewrite: boolean;
  /** Another customer shares the account's record (see SyncRoundInput.sharedRecord). */
  sharedRecord: boolean;
}

/** A CRM rate-limit answer as Temporal's retry: after the delay the CRM stated, not the generic backoff. Other errors pass through. */
export function crmRateLimitRetry(operation: string, err: unknown): unknown {
  if (err instanceof CrmRateLimitError) return ApplicationFailure.create({ type: 'CrmRateLimited', message: `${operation}: ${err.message}`, nextRetryDelay: err.retryAfterMs });
  return err;
}

/**
 * CRM activities, run on the CRM task queue whose rate limit bounds all workers together (and each
 * request also takes a token from the shared request budget, see workers/services.ts). Errors are
 * translated into Temporal's retry language here, once.
 */
export function createCrmActivities(deps: { crm: CrmAdapter; db: Kysely<Database> }) {
  const rollups = createRollups({ db: deps.db, provider: deps.crm.provider });
  const conflicts = createIdentityActivities({ db: deps.db });
  async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      // Give up promptly when cancelled (a worker shutting down), so the attempt is retried elsewhere
      // at once instead of after the timeout. The request may still land: every call is idempotent.
      return await Promise.race([fn(), Context.current().cancelled]);
    } catch (err) {
      if (err instanceof CrmRateLimitError) throw crmRateLimitRetry(operation, err);
      if (err instanceof CrmNotFoundError) {
        // The linked record was deleted or merged in the CRM: the workflow drops the link and relinks.
        throw ApplicationFailure.create({ type: 'CrmRecordNotFound', message: `${operation}: ${err.message}`, nonRetryable: true });
      }
      if (err instanceof CrmValidationError) {
        throw ApplicationFailure.create({ type: 'CrmValidationError', message: `${operation}: ${err.message}`, nonRetryable: true, details: err.details === undefined ? [] : [err.details] });
      }
      throw err;
    }
  }
  return {
    /**
     * One activity per sync round: the CRM writes and the round's bookkeeping in Postgres. A round is
     * one task and three history events instead of one per record plus a marker, which is most of
     * what a Stripe event costs Temporal. Every write is an upsert by a Stripe key, so a retried
     * round rewrites the same records.
     */
    async crmSyncRound(input: SyncRoundInput): Promise<SyncRoundResult> {
      const { customerId } = input;
      let links = input.links;
      const self = { accountId: input.record.accountId, customerId };
      let rolledUp = false;
      const upsertAccount = (recordId: string | null, fields: CrmFields) =>
        call('upsert account', () => deps.crm.upsertAccount({ customerId, ...input.account!, fields, recordId }));
      const writeRollup = (recordId: string) => (fields: CrmFields) => call('update roll-up account', () => deps.crm.updateAccountFields(recordId, fields));
      const account = async () => {
        const recordId = links.accountId;
        if (recordId && !input.sharedRecord) {
          // The record had no other customer at our last round: no lookup (a newcomer is caught after the write).
          await upsertAccount(recordId, input.account!.fields);
        } else if (recordId) {
          rolledUp = await rollups.writeAccount(recordId, { ...self, fields: input.account!.fields }, async () => void (await upsertAccount(recordId, input.account!.fields)), writeRollup(recordId));
        } else {
          links = { ...links, accountId: (await upsertAccount(null, input.account!.fields)).id };
        }
      };
      const contact = async () => {
        const result = await call('upsert contact', () => deps.crm.upsertContact({ customerId, ...input.contact!, accountId: links.accountId, recordId: links.contactId }));
        if (result.emailConflict) {
          // The email is shared with the people using the CRM: every disagreement is logged, whoever won.
          await conflicts.recordFieldConflicts({
            ...self, provider: deps.crm.provider, recordId: result.id,
            conflicts: [{ field: 'email', stripeValue: input.contact!.email, ...result.emailConflict }],
          });
        }
        links = { ...links, contactId: result.id };
      };
      const together: Array<() => Promise<void>> = [];
      // A new account or contact must exist before anything is associated with it.
      if (input.account) {
        if (links.accountId) together.push(account);
        else await account();
      }
      if (input.contact) {
        if (links.contactId) together.push(contact);
        else await contact();
      }
      let timelineKeys: string[] = [];
      if (input.deals.length > 0) {
        together.push(async () => {
          const stageConflicts: StageConflict[] = [];
          const dealIds = await call('upsert deals', () => deps.crm.upsertDeals({
            customerId, accountId: links.accountId, contactId: links.contactId,
            deals: input.deals.map((d) => ({ ...d, recordId: links.dealIds[d.subscriptionId] ?? null })),
            ...(input.stageOwner ? { stageOwner: input.stageOwner } : {}),
            onStageConflict: (c) => stageConflicts.push(c),
          }));
          links = { ...links, dealIds: { ...links.dealIds, ...dealIds } };
          // Every disagreement over a deal's stage is logged, whoever won.
          await conflicts.recordFieldConflicts({
            ...self, provider: deps.crm.provider,
            conflicts: stageConflicts.map(({ subscriptionId: _, ...c }) => ({ field: 'deal_stage', ...c })),
          });
        });
      }
      if (input.timeline.length > 0) {
        together.push(async () => {
          timelineKeys = (await call('write timeline', () => deps.crm.writeTimeline({ customerId, accountId: links.accountId, contactId: links.contactId, entries: input.timeline }))).keys;
        });
      }
      await Promise.all(together.map((write) => write()));
      const recorded = await recordSyncResult({ db: deps.db, provider: deps.crm.provider }, {
        ...input.record, links, ...(input.account ? { accountFields: input.account.fields } : {}),
      });
      // Another customer joined this record while we wrote our own fields: write the roll-up now.
      if (input.account && !rolledUp && recorded.sharedRecord && links.accountId) {
        const recordId = links.accountId;
        await rollups.writeAccount(recordId, { ...self, fields: input.account.fields }, async () => undefined, writeRollup(recordId));
      }
      return { links, timelineKeys, ...recorded };
    },
    crmFindAccountCandidates: (input: { customerId: string; email: string | null; domain: string | null }) =>
      call('find candidate records', () => deps.crm.findAccountCandidates(input)),
    crmReadAccount: (input: { customerId: string }) => call('read record', () => deps.crm.readAccount(input.customerId)),
    /**
     * Stamps the Stripe id on a record this customer is linked to, or releases it (`customerId:
     * null`). A roll-up record keeps the id of a customer still linked to it: a second customer does
     * not take it over, and one leaving hands it to one who stays and rewrites the record without it.
     */
    async crmClaimAccount(input: { recordId: string; customerId: string | null; self?: CustomerKey }): Promise<void> {
      const others = input.self ? await rollups.otherMembers(input.recordId, input.self) : [];
      if (input.customerId !== null) {
        if (others.length === 0) await call('claim record', () => deps.crm.claimAccount({ recordId: input.recordId, customerId: input.customerId }));
        return;
      }
      if (others.length === 0) {
        await call('release record', () => deps.crm.claimAccount({ recordId: input.recordId, customerId: null }));
        return;
      }
      await call('hand the record to a remaining customer', () => deps.crm.claimAccount({ recordId: input.recordId, customerId: others[0]!.customerId }));
      await rollups.rewrite(input.recordId, input.self!, (fields) => call('rewrite roll-up account', () => deps.crm.updateAccountFields(input.recordId, fields)));
    },
  };
}
