import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activityModule from '../activities/index.js';
import type { SyncRoundInput } from '../activities/crm.js';
import type { CustomerEvent } from '../domain/customer-events.js';
import { dealFingerprint, forgetWrites, planCrmWrites, splitName, type CrmLinks, type LastWritten } from '../domain/crm-plan.js';
import { companyDomainOf, decideSharedField, DEFAULT_FIELD_OWNERSHIP, matchCustomer, reviewCandidates, type MatchMethod } from '../domain/identity.js';
import {
  applyCustomerEvent,
  applyFetchedCustomer,
  initialSyncState,
  isUrgent,
  markSynced,
  missingInformation,
  missingProductNames,
  type CustomerSyncState,
} from '../domain/customer-sync-state.js';
import { withProductName } from '../domain/crm-fields.js';
import { SEARCH_ATTRIBUTES } from '../domain/temporal-names.js';

type Activities = ReturnType<typeof activityModule.createActivities>;

/** Stripe events for this customer, compacted by the API. */
export const stripeEventSignal = defineSignal<[CustomerEvent]>('stripeEvent');
/** Admin retry: re-plan and write again after a dead letter (optionally naming it). */
export const adminRetrySignal = defineSignal<[{ deadLetterId?: string }]>('adminRetry');
/** Sync status for the API and the Temporal UI. */
export const syncStatusQuery = defineQuery<SyncStatus>('syncStatus');
/** Resync now (re-reading Stripe when `full`), returning once the CRM has been written. */
export const resyncUpdate = defineUpdate<SyncStatus, [{ full?: boolean }]>('resync');
/** A person resolved this customer's identity review: link to a record, create a new one, or leave it unlinked. */
export const reviewResolvedSignal = defineSignal<[ReviewResolution]>('reviewResolved');

/** A person links this customer to another CRM record, or unlinks it (`recordId: null`). Audited. */
export const relinkSignal = defineSignal<[{ recordId: string | null }]>('relink');

/**
 * `source: 'reconciliation'`: a review reconciliation queued (the customer had no CRM record), not the one
 * the workflow waits on. `source: 'backfill'`: a matcher review no workflow was waiting on (a backfill
 * queued it), sent with the workflow's start.
 */
export type ReviewResolution = { reviewId: string; source?: 'identity' | 'reconciliation' | 'backfill' } & ({ action: 'link'; recordId: string } | { action: 'create' } | { action: 'ignore' });

export type SyncStateName = 'pending' | 'synced' | 'retrying' | 'dead-lettered' | 'awaiting-review' | 'unlinked';

/** How this customer's CRM record was found (carried across continue-as-new). */
export interface IdentityState {
  method: MatchMethod | 'unlinked' | 'manual' | null;
  reviewId: string | null;
}

export interface SyncStatus {
  accountId: string;
  customerId: string;
  state: SyncStateName;
  links: CrmLinks;
  lastSyncAt: string | null;
  lastError: { message: string; type: string; deadLetterId: string | null; at: string } | null;
  identity: IdentityState;
  pendingEvents: number;
  pendingTimeline: number;
  eventsApplied: number;
}

/** Input of the per-customer workflow; everything after the ids is carried across continue-as-new. */
export interface CustomerSyncInput {
  accountId: string;
  customerId: string;
  carried?: {
    state: CustomerSyncState;
    links: CrmLinks;
    written: LastWritten;
    inbox: CustomerEvent[];
    lastSyncAt: string | null;
    lastError: SyncStatus['lastError'];
    eventsApplied: number;
    openDeadLetters: string[];
    identity: IdentityState;
    /** Backfill writes to this customer as last seen (see recordSyncResult); absent in runs from before it. */
    backfillSeq?: number;
  };
}

const crmProxy = (taskQueue: string) => proxyActivities<Activities>({
  taskQueue,
  startToCloseTimeout: '60 seconds',
  // Transient CRM failures retry with backoff for as long as it takes: later events wait behind
  // them, which keeps this customer's writes in order. Validation failures are non-retryable.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: ['CrmValidationError', 'CrmRecordNotFound'] },
});
const stripe = proxyActivities<Activities>({
  startToCloseTimeout: '60 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['StripeInvalidRequest'] },
});
const local = proxyLocalActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '500 ms', maximumInterval: '10 seconds' },
});

/**
 * Review decisions reach the workflow from any source and a create/ignore decision releases a record
 * linked meanwhile (an activity); histories from before it replay the old path.
 */
const REVIEW_DECISIONS_PATCH = 'review-decisions-release-record';

/** Events that open a burst (a checkout, a renewal): wait briefly so the burst becomes one write. */
const BURST_OPENERS = new Set(['customer.created', 'customer.subscription.created', 'checkout.session.completed', 'invoice.created']);

export async function customerSyncWorkflow(input: CustomerSyncInput): Promise<void> {
  const { accountId, customerId } = input;
  const carried = input.carried;
  let state = carried?.state ?? initialSyncState(accountId, customerId);
  let links: CrmLinks = carried?.links ?? { accountId: null, contactId: null, dealIds: {} };
  let written: LastWritten = carried?.written ?? { fields: null, contactEmail: null, deals: {} };
  const inbox: CustomerEvent[] = [...(carried?.inbox ?? [])];
  let lastSyncAt = carried?.lastSyncAt ?? null;
  let lastError = carried?.lastError ?? null;
  let eventsApplied = carried?.eventsApplied ?? 0;
  // Dead letters this workflow recorded and has not yet written through; all resolve on the next success.
  let openDeadLetters: string[] = carried?.openDeadLetters ?? [];
  let attempted: Array<{ operation: string; input: unknown }> = [];
  let identity: IdentityState = carried?.identity ?? { method: null, reviewId: null };
  let reviewResolution: ReviewResolution | null = null;
  // A reconciliation review about this customer, resolved while the workflow was not waiting on one.
  let decided: ReviewResolution | null = null;
  let relinkTo: { recordId: string | null } | null = null;
  // A continued run that carried nothing unwritten is as synced as the run before it.
  let syncState: SyncStateName = lastError ? 'dead-lettered' : carried && !carried.state.dirty && inbox.length === 0 ? 'synced' : 'pending';
  let retryRequested = false;
  let resyncRequested: 'none' | 'quick' | 'full' = 'none';
  let roundsCompleted = 0;
  let roundsRequested = 0;
  let fullFetchNeeded = !carried;
  // Whether another Stripe customer shares our CRM record (learnt from each round; unknown at first).
  let sharedRecord = true;

  const status = (): SyncStatus => ({
    accountId, customerId, state: syncState, links, lastSyncAt, lastError, identity,
    pendingEvents: inbox.length, pendingTimeline: state.pendingTimeline.length, eventsApplied,
  });

  setHandler(stripeEventSignal, (event) => {
    inbox.push(event);
  });
  setHandler(adminRetrySignal, ({ deadLetterId }) => {
    retryRequested = true;
    if (deadLetterId && !openDeadLetters.includes(deadLetterId)) openDeadLetters = [...openDeadLetters, deadLetterId];
  });
  setHandler(syncStatusQuery, status);
  setHandler(relinkSignal, (request) => {
    relinkTo = request;
  });
  setHandler(reviewResolvedSignal, (resolution) => {
    // Waiting on the matcher's review, any decision about this customer answers it.
    if (resolution.reviewId === identity.reviewId || syncState === 'awaiting-review') reviewResolution = resolution;
    // Runs from before the patch acted only on reconciliation and backfill decisions (replayed as they ran).
    else if (resolution.source === 'reconciliation' || resolution.source === 'backfill' || (resolution.source !== undefined && patched(REVIEW_DECISIONS_PATCH))) decided = resolution;
  });
  setHandler(resyncUpdate, async ({ full }) => {
    resyncRequested = full || resyncRequested === 'full' ? 'full' : 'quick';
    const target = ++roundsRequested;
    await condition(() => roundsCompleted >= target);
    return status();
  });

  // A function, so TypeScript does not narrow the handler-set flag to its initial value.
  const takeResyncRequest = () => {
    const requested = resyncRequested;
    resyncRequested = 'none';
    return requested;
  };

  const settings = await local.getSyncSettings({ accountId, customerId });
  // Backfill writes to this customer as last seen: read before the first write, then at every record.
  let backfillSeq = carried?.backfillSeq ?? settings.backfillSeq ?? 0;
  const crm = crmProxy(settings.crmTaskQueue);
  const ownership = settings.ownership ?? DEFAULT_FIELD_OWNERSHIP;
  // Search attributes are upserted only when they change: each upsert is a history event and a
  // visibility write, and most rounds leave them as they were.
  let visible = '';
  const updateVisibility = () => {
    const crmRecordId = links.accountId ?? links.contactId;
    const now = `${syncState}|${crmRecordId ?? ''}`;
    if (now !== visible) {
      visible = now;
      upsertSearchAttributes([
        { key: SEARCH_ATTRIBUTES.stripeCustomerId, value: customerId },
        { key: SEARCH_ATTRIBUTES.stripeAccountId, value: accountId },
        { key: SEARCH_ATTRIBUTES.syncState, value: syncState },
        ...(crmRecordId ? [{ key: SEARCH_ATTRIBUTES.crmRecordId, value: crmRecordId }] : []),
      ]);
    }
    setCurrentDetails(
      [
        `**${syncState}** · ${eventsApplied} events applied`,
        `CRM: ${links.accountId ? `account ${links.accountId}` : 'no account'} · ${links.contactId ? `contact ${links.contactId}` : 'no contact'} · ${Object.keys(links.dealIds).length} deals`,
        lastSyncAt ? `last sync ${lastSyncAt}` : 'not synced yet',
        lastError ? `last error (${lastError.type}): ${lastError.message}` : '',
      ].filter(Boolean).join('\n'),
    );
  };
  updateVisibility();

  for (;;) {
    await condition(() => inbox.length > 0 || relinkTo !== null || decided !== null || retryRequested || resyncRequested !== 'none' || (state.dirty && syncState !== 'dead-lettered') || workflowInfo().continueAsNewSuggested);
    // Continue as new between rounds: everything applied has been written (or dead-lettered) and no
    // resync is waiting. Events still in the inbox travel in the new run's input.
    if (workflowInfo().continueAsNewSuggested && (!state.dirty || syncState === 'dead-lettered') && resyncRequested === 'none' && decided === null) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof customerSyncWorkflow>({
        accountId, customerId,
        carried: { state, links, written, inbox, lastSyncAt, lastError, eventsApplied, openDeadLetters, identity, backfillSeq },
      });
    }

    if (settings.debounceMs > 0 && inbox.some((e) => BURST_OPENERS.has(e.type)) && !inbox.some(isUrgent)) {
      await condition(() => inbox.some(isUrgent), settings.debounceMs);
    }

    const round = roundsRequested;
    // While a round runs the status says so: a query must not report `synced` for work in flight.
    if (syncState === 'synced' || syncState === 'unlinked') syncState = 'pending';
    const full = takeResyncRequest() === 'full';
    if (retryRequested) {
      retryRequested = false;
      syncState = 'pending';
    }
    // A workflow that starts on anything but customer.created is an existing customer: read its whole state once.
    if (fullFetchNeeded && inbox[0]?.type === 'customer.created') fullFetchNeeded = false;
    for (const event of inbox.splice(0)) {
      const result = applyCustomerEvent(state, event, settings.mrr);
      state = result.state;
      if (result.outcome !== 'duplicate') eventsApplied++;
    }

    try {
      const reasons = missingInformation(state);
      // A full resync also forgets what was last written, so every field is written again: it
      // repairs a CRM value someone changed by hand, which comparing with our own last write cannot see.
      if (full) written = forgetWrites(written);
      if (full || fullFetchNeeded || reasons.length > 0) {
        const fetched = await stripe.fetchStripeCustomer.executeWithOptions(
          { summary: full || fullFetchNeeded ? 'Read the customer\'s full state from Stripe' : `Refetch from Stripe: ${reasons.join('; ')}` },
          [{ accountId, customerId, includePayments: full || fullFetchNeeded }],
        );
        state = applyFetchedCustomer(state, fetched.customer, settings.mrr);
        if (fetched.payments) state = { ...state, billing: { ...state.billing, payments: fetched.payments } };
        fullFetchNeeded = false;
      }
      const productIds = missingProductNames(state);
      if (productIds.length > 0) {
        const names = await local.lookupProductNames({ accountId, productIds });
        let billing = state.billing;
        for (const [id, name] of Object.entries(names)) billing = withProductName(billing, id, name);
        state = { ...state, billing };
      }

      try {
        if (decided !== null) await applyDecision(decided);
        if (relinkTo !== null) await applyRelink(relinkTo.recordId);
        if (settings.mode === 'b2b' && !links.accountId && identity.method === null) await resolveIdentity();
        if (identity.method !== 'unlinked') await writeToCrm();
        else await recordRound();
      } catch (err) {
        if (!(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'CrmRecordNotFound')) throw err;
        // Someone deleted or merged our record in the CRM: forget the links and write afresh (upserts find or recreate it).
        log.info('CRM record gone; relinking', { customerId, links });
        links = { accountId: null, contactId: null, dealIds: {} };
        written = { fields: null, contactEmail: null, deals: {} };
        identity = { method: null, reviewId: null };
        if (settings.mode === 'b2b') await resolveIdentity();
        if (identity.method !== 'unlinked') await writeToCrm();
      }
      syncState = identity.method === 'unlinked' ? 'unlinked' : 'synced';
      lastError = null;
    } catch (err) {
      if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure) || !err.cause.nonRetryable) throw err;
      // A permanent failure: record it where an operator sees it, and keep serving later events.
      const failure = err.cause;
      const { id } = await local.recordDeadLetter({
        accountId, customerId, workflowId: workflowInfo().workflowId,
        operation: 'crm-sync', errorType: failure.type ?? 'ApplicationFailure', reason: failure.message,
        // What was being written when it failed: enough to see the bad value without opening the workflow.
        payload: { attempted, links, details: failure.details ?? null },
        eventIds: state.unsyncedEventIds,
      });
      lastError = { message: failure.message, type: failure.type ?? 'ApplicationFailure', deadLetterId: id, at: new Date().toISOString() };
      openDeadLetters = [...openDeadLetters, id];
      syncState = 'dead-lettered';
      log.warn('CRM write dead-lettered', { customerId, deadLetterId: id, type: failure.type });
    }
    roundsCompleted = Math.max(roundsCompleted, round);
    updateVisibility();
  }

  async function writeToCrm(): Promise<void> {
    attempted = [];
    const now = Math.floor(Date.now() / 1000);
    const plan = planCrmWrites(state, links, written, settings, now);
    const customer = state.billing.customer;
    const shared = await sharedAccountFields(customer.name, companyDomainOf(customer.email));
    const writeAccount = plan.writeAccount || (settings.mode === 'b2b' && (shared.name !== null || shared.domain !== null));
    const writeContact = plan.writeContact && customer.email !== null;
    if (!writeAccount && !writeContact && plan.deals.length === 0 && plan.timeline.length === 0) {
      written = { ...written, fields: plan.fields };
      await recordRound();
      return;
    }
    const input: SyncRoundInput = {
      customerId,
      links,
      // A record created because nothing matched carries only what Stripe knows: flag it for enrichment, once.
      account: writeAccount ? { name: shared.name, domain: shared.domain, fields: !links.accountId && identity.method === 'created' ? { ...plan.fields, needs_enrichment: true } : plan.fields } : null,
      contact: writeContact ? { email: customer.email!, previousEmail: written.contactEmail, emailOwner: ownership.email, ...splitName(customer.name), fields: settings.mode === 'b2c' ? plan.fields : {} } : null,
      deals: plan.deals,
      stageOwner: ownership.deal_stage,
      timeline: plan.timeline,
      record: roundRecord(),
      sharedRecord,
    };
    attempted.push({ operation: 'crmSyncRound', input });
    const result = await crm.crmSyncRound.executeWithOptions({ summary: roundSummary(input, plan.changedFields) }, [input]);
    links = result.links;
    if (input.account) written = { ...written, ...(shared.name !== null ? { name: shared.name } : {}), ...(shared.domain !== null ? { domain: shared.domain } : {}) };
    written = {
      ...written,
      deals: { ...written.deals, ...Object.fromEntries(plan.deals.map((d) => [d.subscriptionId, dealFingerprint(d)])) },
      stages: { ...written.stages, ...Object.fromEntries(plan.deals.map((d) => [d.subscriptionId, d.stage])) },
      fields: plan.fields,
      contactEmail: customer.email ?? written.contactEmail,
    };
    sharedRecord = result.sharedRecord;
    roundRecorded(result.timelineKeys, result);
  }

  /** What a round records in Postgres: links, processed events, resolved dead letters. */
  function roundRecord(): SyncRoundInput['record'] {
    return {
      accountId, customerId,
      stripeStateAt: state.stripeStateAt,
      eventIds: state.unsyncedEventIds,
      oldestReceivedAtMs: state.oldestUnsyncedReceivedAtMs,
      productIds: [...new Set(Object.values(state.billing.subscriptions).flatMap((s) => s.items.map((i) => i.price.productId).filter((p): p is string => p !== null)))],
      resolvedDeadLetterIds: openDeadLetters,
      matchMethod: identity.method,
      knownBackfillSeq: backfillSeq,
    };
  }

  /** Bookkeeping of a round that wrote nothing to the CRM (one local activity). */
  async function recordRound(): Promise<void> {
    const recorded = await local.recordSyncResult({ ...roundRecord(), links });
    roundRecorded([], recorded);
  }

  function roundRecorded(timelineKeys: string[], recorded: { productNames: Record<string, string>; backfillSeq?: number; rewrite?: boolean }): void {
    const { productNames } = recorded;
    state = markSynced(state, timelineKeys);
    // A backfill wrote this customer's records since this workflow last looked. Its write may have landed
    // after this round's (older Stripe state over newer), and what `written` says is in the CRM may not
    // be: write everything again.
    if (recorded.rewrite) {
      written = forgetWrites(written);
      state = { ...state, dirty: true };
    }
    if (recorded.backfillSeq !== undefined) backfillSeq = recorded.backfillSeq;
    // A product renamed before the catalog knew this customer used it: take the name and write again.
    let billing = state.billing;
    for (const [id, name] of Object.entries(productNames)) billing = withProductName(billing, id, name);
    if (billing !== state.billing) state = { ...state, billing, dirty: true };
    openDeadLetters = [];
    lastSyncAt = new Date().toISOString();
  }

  /**
   * Company name and domain are shared fields: on a new record they are written; on an existing one
   * only when empty in the CRM or still what we last wrote, so a person's edit survives. The CRM is
   * read only when one of them would change. Every disagreement is logged.
   */
  async function sharedAccountFields(name: string | null, domain: string | null): Promise<{ name: string | null; domain: string | null }> {
    if (settings.mode !== 'b2b') return { name: null, domain: null };
    if (!links.accountId) return { name, domain };
    const lastName = written.name ?? null;
    const lastDomain = written.domain ?? null;
    if ((name ?? null) === lastName && (domain ?? null) === lastDomain) return { name: null, domain: null };
    const record = await crm.crmReadAccount.executeWithOptions({ summary: 'Read the CRM\'s company name and domain (ownership check)' }, [{ customerId }]);
    const crmName = record?.properties.name ?? null;
    const crmDomain = record?.properties.domain ?? null;
    const byName = decideSharedField(name, crmName, lastName, ownership.name);
    const byDomain = decideSharedField(domain, crmDomain, lastDomain, ownership.domain);
    const conflicts = [
      ...(byName.conflict ? [{ field: 'name', stripeValue: name, crmValue: crmName, ...byName.conflict }] : []),
      ...(byDomain.conflict ? [{ field: 'domain', stripeValue: domain, crmValue: crmDomain, ...byDomain.conflict }] : []),
    ];
    if (conflicts.length > 0) {
      await local.recordFieldConflicts({ accountId, customerId, provider: settings.provider, recordId: record?.id ?? links.accountId, conflicts });
    }
    // What the CRM already shows counts as written, so an unchanged value is not read again next time.
    written = { ...written, name: byName.write ? lastName : name, domain: byDomain.write ? lastDomain : domain };
    return { name: byName.write ? name : null, domain: byDomain.write ? domain : null };
  }

  /**
   * A reconciliation review resolved for this customer (it had no CRM record): link it to a record,
   * create one, or leave it unlinked (`ignore`) so later events do not create one either.
   */
  async function applyDecision(decision: ReviewResolution): Promise<void> {
    decided = null;
    if (decision.action === 'link') {
      await applyRelink(decision.recordId);
      // A matcher's review answered, as when the workflow waits on it (counted by method 'review').
      if (decision.source !== 'reconciliation') identity = { method: 'review', reviewId: decision.reviewId };
      return;
    }
    if (patched(REVIEW_DECISIONS_PATCH)) {
      // A record linked since the review was queued is released (its Stripe id cleared, audited), so neither a
      // new record nor "leave unlinked" finds our id on it.
      if (links.accountId) await applyRelink(null);
      identity = { method: decision.action === 'create' ? 'created' : 'unlinked', reviewId: decision.reviewId };
      state = { ...state, dirty: true };
      return;
    }
    // Runs from before the patch dropped the link without releasing the record, as they are replayed.
    const from = links.accountId;
    links = { ...links, accountId: null };
    written = { fields: null, contactEmail: written.contactEmail, deals: written.deals };
    identity = { method: decision.action === 'create' ? 'created' : 'unlinked', reviewId: decision.reviewId };
    state = { ...state, dirty: true };
    if (from) await local.recordLinkChange({ accountId, customerId, provider: settings.provider, fromRecordId: from, toRecordId: null, reason: 'unlink' });
  }

  /** A person's link, relink or unlink: release the old record, claim the new one, rewrite everything, audit it. */
  async function applyRelink(recordId: string | null): Promise<void> {
    relinkTo = null;
    const from = links.accountId;
    if (from === recordId) return;
    if (from) await crm.crmClaimAccount.executeWithOptions({ summary: `Release CRM record ${from}` }, [{ recordId: from, customerId: null, self: { accountId, customerId } }]);
    if (recordId) {
      await crm.crmClaimAccount.executeWithOptions({ summary: `Link CRM record ${recordId} (manual)` }, [{ recordId, customerId, self: { accountId, customerId } }]);
      links = { ...links, accountId: recordId };
      identity = { method: 'manual', reviewId: null };
    } else {
      links = { ...links, accountId: null };
      identity = { method: 'unlinked', reviewId: null };
    }
    // The new record gets every field, not just what changed since the old one was written.
    written = { fields: null, contactEmail: written.contactEmail, deals: written.deals };
    state = { ...state, dirty: true };
    await local.recordLinkChange({ accountId, customerId, provider: settings.provider, fromRecordId: from, toRecordId: recordId, reason: !from ? 'link' : recordId ? 'relink' : 'unlink' });
  }

  /**
   * Finds the customer's existing CRM record before the first write (B2B), by the hierarchy in
   * domain/identity.ts. An ambiguous match waits here for a person: the workflow shows
   * `awaiting-review` in the Temporal UI and resumes the moment the review is resolved.
   */
  async function resolveIdentity(): Promise<void> {
    const customer = state.billing.customer;
    const candidates = await crm.crmFindAccountCandidates.executeWithOptions(
      { summary: 'Find CRM records that may be this customer (Stripe id, email, domain)' },
      [{ customerId, email: customer.email, domain: companyDomainOf(customer.email) }],
    );
    const decision = matchCustomer({ id: customerId, email: customer.email, name: customer.name }, candidates, settings.identity);
    switch (decision.kind) {
      case 'link':
        await link(decision.recordId, decision.method);
        return;
      case 'create':
        identity = { method: 'created', reviewId: null };
        return;
      case 'unlinked':
        identity = { method: 'unlinked', reviewId: null };
        return;
      case 'review': {
        const { id } = await local.recordIdentityReview({
          accountId, customerId, provider: settings.provider, reason: decision.reason,
          customer: { id: customerId, email: customer.email, name: customer.name },
          candidates: reviewCandidates(decision.candidates, candidates),
        });
        identity = { method: null, reviewId: id };
        syncState = 'awaiting-review';
        updateVisibility();
        await condition(() => reviewResolution !== null);
        const resolution = reviewResolution!;
        reviewResolution = null;
        if (resolution.action === 'link') await link(resolution.recordId, 'review');
        else identity = { method: resolution.action === 'create' ? 'created' : 'unlinked', reviewId: id };
        return;
      }
    }
  }

  async function link(recordId: string, method: MatchMethod): Promise<void> {
    // Records found by email, domain or a person carry no Stripe id yet: stamp it, so upserts by it land there.
    if (method !== 'external-id') {
      await crm.crmClaimAccount.executeWithOptions({ summary: `Link CRM record ${recordId} (${method})` }, [{ recordId, customerId, self: { accountId, customerId } }]);
    }
    links = { ...links, accountId: recordId };
    identity = { method, reviewId: identity.reviewId };
  }
}

/** The round's activity summary in the Temporal UI: which records, which fields, which activities. */
function roundSummary(input: SyncRoundInput, changedFields: string[]): string {
  const parts: string[] = [];
  if (input.account) parts.push(input.links.accountId ? `update account ${input.links.accountId}${changedFields.length > 0 ? ` (${changedFields.join(', ')})` : ''}` : 'upsert account');
  if (input.contact) parts.push(input.links.contactId ? `update contact ${input.links.contactId}` : 'upsert contact');
  if (input.deals.length > 0) parts.push(`${input.deals.length} deal(s): ${input.deals.map((d) => `${d.subscriptionId} ${d.status}`).join(', ')}`);
  if (input.timeline.length > 0) parts.push(`${input.timeline.length} timeline activit${input.timeline.length === 1 ? 'y' : 'ies'}: ${input.timeline.map((e) => e.kind).join(', ')}`);
  return `Sync round: ${parts.join(' · ')}`;
}
