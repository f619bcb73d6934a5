import { ApplicationFailure, ContinueAsNew, continueAsNew, defineQuery, log, patched, proxyActivities, proxyLocalActivities, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import type * as activityModule from '../activities/index.js';
import type { CompareResult, StripeTotals, VerifyResult } from '../activities/reconciliation.js';

type Activities = ReturnType<typeof activityModule.createActivities>;

export type ReconciliationKind = 'incremental' | 'full' | 'duplicates';

/** Input of a reconciliation run; schedules pass the first three, continue-as-new adds `carried`. */
export interface ReconciliationInput {
  /** incremental: customers with Stripe events since the last run; full: everything; duplicates: CRM records to merge. */
  kind: ReconciliationKind;
  /**
   * report: record discrepancies; repair: also resync drifted customers through their workflows and
   * put orphans, unlinked customers and duplicates in the review queue.
   */
  mode: 'report' | 'repair';
  /** Stripe account whose customers are reconciled (workflow ids embed it). */
  accountId: string;
  carried?: ReconciliationProgress;
}

export type ReconciliationPhase = 'start' | 'collect' | 'scan' | 'compare' | 'crm-only' | 'verify' | 'repair' | 'review' | 'done';

/** The streams a scan reads, concurrently: they are independent, and the CRM one is rate-limited. */
export type ScanStream = 'customers' | 'subscriptions' | 'charges' | 'crm';

export interface ReconciliationProgress {
  runId: string | null;
  phase: ReconciliationPhase;
  cursor: string | null;
  /** `charges` is absent from a run that began before payments were streamed (see `reconciliationWorkflow`). */
  scan: Record<Exclude<ScanStream, 'charges'>, { cursor: string | null; done: boolean }> & { charges?: { cursor: string | null; done: boolean } };
  since: number | null;
  startedAt: number;
  counts: {
    stripeCustomers: number;
    stripeSubscriptions: number;
    /** Charges read (each with its refunds). */
    stripeCharges?: number;
    stripeEvents: number;
    crmRecordsRead: number;
    crmRequests: number;
    compared: number;
    suspects: number;
    verified: number;
    skippedInFlight: number;
    found: Record<string, number>;
    repairRequested: number;
    repairFailed: number;
    /** Review queue (repair mode): opened, already open, dismissed before, and closed as no longer found. */
    reviews?: { queued: number; alreadyOpen: number; ignored: number; closed: number };
  };
  totals: { stripe: StripeTotals; crm: StripeTotals | null };
  /** Seconds spent per phase (workflow time), to see where a run goes. */
  phaseSeconds: Record<string, number>;
  /** When each scan stream finished, in seconds from the scan's start: the last one sets the scan's length. */
  streamSeconds?: Partial<Record<ScanStream, number>>;
  phaseStartedAt: number;
}

/** Where a run is, for the API and the Temporal UI. */
export const reconciliationProgressQuery = defineQuery<ReconciliationProgress>('reconciliationProgress');

const main = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['ReconciliationUnsupported'] },
});
const local = proxyLocalActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: { initialInterval: '500 ms', maximumInterval: '10 seconds' } });

function initialProgress(): ReconciliationProgress {
  return {
    runId: null, phase: 'start', cursor: null, since: null, startedAt: 0,
    scan: { customers: { cursor: null, done: false }, subscriptions: { cursor: null, done: false }, charges: { cursor: null, done: false }, crm: { cursor: null, done: false } },
    counts: { stripeCustomers: 0, stripeSubscriptions: 0, stripeCharges: 0, stripeEvents: 0, crmRecordsRead: 0, crmRequests: 0, compared: 0, suspects: 0, verified: 0, skippedInFlight: 0, found: {}, repairRequested: 0, repairFailed: 0 },
    totals: { stripe: { customers: 0, mrr: {} }, crm: null },
    phaseSeconds: {}, phaseStartedAt: 0,
  };
}

function addTotals(into: StripeTotals, add: StripeTotals): StripeTotals {
  const mrr = { ...into.mrr };
  for (const [currency, amount] of Object.entries(add.mrr)) mrr[currency] = Math.round(((mrr[currency] ?? 0) + amount) * 1000) / 1000;
  return { customers: into.customers + add.customers, mrr };
}

/**
 * One reconciliation run (`reconciliation-<kind>/<account>` plus the schedule's timestamp). Stripe is
 * read in pages on the main queue; the CRM one page per activity on the CRM queue, so the scan shares
 * the CRM's rate limit with real-time writes instead of starving them. Suspects from the streaming
 * comparison are re-checked customer by customer before anything is reported, which is what keeps
 * false positives out. Long runs continue as new, carrying only cursors and counters.
 */
export async function reconciliationWorkflow(input: ReconciliationInput): Promise<ReconciliationProgress> {
  const p: ReconciliationProgress = input.carried ?? initialProgress();
  setHandler(reconciliationProgressQuery, () => p);
  // Runs already going when the payments stream and the review queue arrived replay without them.
  // A run continued as new from such a run streams charges too if it is still scanning; one past
  // its scan compares without payment history (the verify step still reads it per suspect).
  const current = patched('reconciliation-payments-and-reviews');
  if (!current) delete p.scan.charges;
  else if (!p.scan.charges && (p.phase === 'start' || p.phase === 'scan')) p.scan.charges = { cursor: null, done: false };
  const withPayments = p.scan.charges !== undefined;
  const reviews = current && input.mode === 'repair';
  const settings = await local.getSyncSettings();
  const crm = proxyActivities<Activities>({
    taskQueue: settings.crmTaskQueue,
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: ['ReconciliationUnsupported', 'CrmValidationError'] },
  });
  const show = () => setCurrentDetails(`**${input.kind}** run ${p.runId ?? '…'} (${input.mode}) · phase ${p.phase} · ${p.counts.compared} compared · ${p.counts.verified} verified · found ${JSON.stringify(p.counts.found)}`);
  let lastSaved = 0;
  const save = async (force = false) => {
    show();
    // Every few slices, not every one: progress in Postgres is for people, and each save is a history event.
    if (p.runId && (force || ++lastSaved % 10 === 0)) await local.reconcileSaveProgress({ runId: p.runId, summary: p });
  };

  try {
    if (p.phase === 'start') {
      const run = await local.reconcileStartRun({ accountId: input.accountId, kind: input.kind, mode: input.mode, workflowId: workflowInfo().workflowId });
      p.runId = run.runId;
      p.since = run.since;
      p.startedAt = run.startedAt;
      p.phase = input.kind === 'incremental' ? 'collect' : 'scan';
      p.phaseStartedAt = Date.now();
      // The duplicate scan reads the CRM only.
      if (input.kind === 'duplicates') {
        p.scan.customers.done = p.scan.subscriptions.done = true;
        if (p.scan.charges) p.scan.charges.done = true;
      }
      await save(true);
    }
    const runId = p.runId!;
    const next = (phase: ReconciliationPhase) => {
      p.phaseSeconds[p.phase] = Math.round((Date.now() - p.phaseStartedAt) / 100) / 10;
      p.phaseStartedAt = Date.now();
      p.phase = phase;
      p.cursor = null;
    };
    while (p.phase !== 'done') {
      if (workflowInfo().continueAsNewSuggested) {
        await save(true);
        return await continueAsNew<typeof reconciliationWorkflow>({ ...input, carried: p });
      }
      switch (p.phase) {
        case 'collect': {
          const r = await main.reconcileCollectActive({ runId, accountId: input.accountId, since: p.since ?? 0, cursor: p.cursor });
          p.counts.stripeEvents += r.read;
          p.cursor = r.next;
          if (r.next === null) next('verify');
          break;
        }
        case 'scan': {
          // Stripe pages on the main queue and CRM pages on the CRM queue run side by side, so a run
          // takes about as long as its slowest stream (usually the rate-limited CRM), not their sum.
          const stream = async (name: ScanStream) => {
            const state = p.scan[name];
            while (state && !state.done && !workflowInfo().continueAsNewSuggested) {
              if (name === 'crm') {
                const r = await crm.reconcileScanCrm({ runId, cursor: state.cursor });
                p.counts.crmRecordsRead += r.read;
                p.counts.crmRequests += r.requests;
                state.cursor = r.next;
              } else {
                const r = await main.reconcileScanStripe({ runId, accountId: input.accountId, object: name, cursor: state.cursor });
                if (name === 'customers') p.counts.stripeCustomers += r.read;
                else if (name === 'subscriptions') p.counts.stripeSubscriptions += r.read;
                else p.counts.stripeCharges = (p.counts.stripeCharges ?? 0) + r.read;
                state.cursor = r.next;
              }
              state.done = state.cursor === null;
              if (state.done) (p.streamSeconds ??= {})[name] = Math.round((Date.now() - p.phaseStartedAt) / 100) / 10;
              await save();
            }
          };
          await Promise.all([stream('customers'), stream('subscriptions'), ...(p.scan.charges ? [stream('charges')] : []), stream('crm')]);
          if (p.scan.customers.done && p.scan.subscriptions.done && (p.scan.charges?.done ?? true) && p.scan.crm.done) next(input.kind === 'full' ? 'compare' : 'crm-only');
          break;
        }
        case 'compare': {
          const r: CompareResult = await main.reconcileCompare({ runId, accountId: input.accountId, after: p.cursor, ...(withPayments ? {} : { payments: false }) });
          p.counts.compared += r.compared;
          p.counts.suspects += r.suspects;
          p.totals.stripe = addTotals(p.totals.stripe, r.totals);
          p.cursor = r.next;
          if (r.next === null) next('crm-only');
          break;
        }
        case 'crm-only': {
          const r = await main.reconcileCrmOnly({ runId, accountId: input.accountId, kind: input.kind });
          p.counts.found.orphan = (p.counts.found.orphan ?? 0) + r.orphans;
          if (r.drifts) p.counts.found.drift = (p.counts.found.drift ?? 0) + r.drifts;
          p.counts.found.duplicate = (p.counts.found.duplicate ?? 0) + r.duplicates;
          p.totals.crm = r.crm;
          next(input.kind === 'full' ? 'verify' : reviews ? 'review' : 'done');
          break;
        }
        case 'verify': {
          const r: VerifyResult = await crm.reconcileVerify({ runId, accountId: input.accountId, after: p.cursor, startedAt: p.startedAt });
          p.counts.verified += r.verified;
          p.counts.skippedInFlight += r.skippedInFlight;
          for (const [kind, n] of Object.entries(r.found)) p.counts.found[kind] = (p.counts.found[kind] ?? 0) + n;
          p.cursor = r.next;
          if (r.next === null) next(input.mode === 'repair' ? 'repair' : 'done');
          break;
        }
        case 'repair': {
          const r = await main.reconcileRepair({ runId, accountId: input.accountId, after: p.cursor });
          p.counts.repairRequested += r.requested;
          p.counts.repairFailed += r.failed;
          p.cursor = r.next;
          if (r.next === null) next(reviews ? 'review' : 'done');
          break;
        }
        case 'review': {
          // One CRM search at most per call (an unlinked customer's candidates), on the CRM queue's rate limit.
          const r = await crm.reconcileQueueReviews({ runId, accountId: input.accountId, after: p.cursor });
          const counts = (p.counts.reviews ??= { queued: 0, alreadyOpen: 0, ignored: 0, closed: 0 });
          counts.queued += r.queued;
          counts.alreadyOpen += r.alreadyOpen;
          counts.ignored += r.ignored;
          p.cursor = r.next;
          if (r.next === null) {
            // Only a run that looks at everything of a kind can tell that a finding is gone.
            const kinds = input.kind === 'full' ? (['unlinked', 'orphan', 'duplicate-merge'] as const) : input.kind === 'duplicates' ? (['duplicate-merge'] as const) : [];
            counts.closed += (await local.reconcileCloseStaleReviews({ runId, accountId: input.accountId, kinds: [...kinds] })).closed;
            next('done');
          }
          break;
        }
        default:
          throw ApplicationFailure.nonRetryable(`unexpected phase ${p.phase}`, 'ReconciliationState');
      }
      await save();
    }
    await local.reconcileFinish({ runId, status: 'completed', summary: p });
    show();
    return p;
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    log.error('reconciliation failed', { runId: p.runId, phase: p.phase, error: err instanceof Error ? err.message : String(err) });
    if (p.runId) await local.reconcileFinish({ runId: p.runId, status: 'failed', summary: p, error: err instanceof Error ? err.message : String(err) });
    throw err;
  }
}
