import {
  ApplicationFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activityModule from '../activities/index.js';
import type { BackfillPageResult } from '../activities/backfill.js';
import {
  addCounts,
  emptyCounts,
  estimateRunSeconds,
  newSegment,
  progressFraction,
  rateAndEta,
  remainingSpan,
  splitSegment,
  STRIPE_EPOCH,
  type BackfillObject,
  type BackfillSegment,
  type OutcomeCounts,
} from '../domain/backfill.js';

type Activities = ReturnType<typeof activityModule.createActivities>;

export const pauseBackfillSignal = defineSignal('pauseBackfill');
export const resumeBackfillSignal = defineSignal('resumeBackfill');
export const cancelBackfillSignal = defineSignal('cancelBackfill');
export const backfillProgressQuery = defineQuery<BackfillProgress>('backfillProgress');

export interface BackfillFilters {
  /** Unix seconds, inclusive; default: the beginning of Stripe. */
  createdFrom?: number;
  /** Unix seconds, exclusive; default: when the run started. */
  createdTo?: number;
  objects: BackfillObject[];
}

/** Input of the backfill workflow (`backfill/<account>/<run id>`); `carried` crosses continue-as-new. */
export interface BackfillInput {
  runId: string;
  accountId: string;
  dryRun: boolean;
  filters: BackfillFilters;
  /** Retry run: re-process the failed records of this run. */
  retryOf?: string;
  /** Pages in flight at once (each a chain over its own created-time slice). Default 8. */
  concurrency?: number;
  /** Pages per workflow run before continuing as new (default 1000); tests lower it. */
  pagesPerRun?: number;
  carried?: {
    segments: BackfillSegment[];
    totalSpan: number;
    counts: OutcomeCounts;
    processed: number;
    stripeReads: number;
    activeMs: number;
    paused: boolean;
    cancelled: boolean;
  };
}

export interface BackfillProgress {
  runId: string;
  status: 'running' | 'paused' | 'cancelling' | 'completed' | 'canceled';
  dryRun: boolean;
  processed: number;
  counts: OutcomeCounts;
  stripeReads: number;
  fraction: number;
  activeSeconds: number;
  rate: number;
  etaSeconds: number | null;
  estimatedTotal: number | null;
  /** Dry run: how long the real run would take at the configured CRM rate. */
  estimatedRunSeconds: number | null;
  segments: number;
  inFlight: number;
}

const local = proxyLocalActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: { initialInterval: '500 ms', maximumInterval: '10 seconds' } });

/** A run continues as new after this many pages even if Temporal has not suggested it yet. */
const PAGES_PER_RUN = 1000;
/** Pages per Salesforce bulk job (2,000 records): few jobs, each still quick to redo. */
const BULK_PAGES = 20;

/**
 * The historical backfill: reads every Stripe customer in the created range, page by page, in up to
 * `concurrency` parallel chains over slices of the range (split further as chains finish), and writes
 * each page to the CRM in one batch activity on the rate-limited CRM queue. History stays bounded by
 * continue-as-new; every record's outcome is in the migration log (backfill_records).
 */
export async function backfillWorkflow(input: BackfillInput): Promise<BackfillProgress> {
  const settings = await local.getBackfillSettings();
  if (settings.mode !== 'b2b') {
    await local.backfillSetStatus({ runId: input.runId, status: 'failed', summary: { error: 'backfill writes companies / Accounts: SYNC_MODE=b2c is not supported yet' } });
    throw ApplicationFailure.create({ type: 'BackfillUnsupported', message: 'SYNC_MODE=b2c is not supported by the backfill yet', nonRetryable: true });
  }
  const page = proxyActivities<Activities>({
    taskQueue: settings.crmTaskQueue,
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '2 minutes',
    // Transient failures and rate limits retry for as long as it takes: a page is never dropped.
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['StripeInvalidRequest', 'BackfillUnsupported'] },
  }).backfillPage;

  const concurrency = Math.max(1, input.concurrency ?? 8);
  const startedAt = Date.now();
  const createdTo = input.filters.createdTo ?? Math.floor(startedAt / 1000) + 1;
  const createdFrom = input.filters.createdFrom ?? STRIPE_EPOCH;
  const carried = input.carried;
  // A retry run reads the failed records by id: one chain, no time slices.
  let segments: BackfillSegment[] = carried?.segments ?? [input.retryOf ? newSegment(0, 0) : newSegment(createdFrom, createdTo)];
  const totalSpan = carried?.totalSpan ?? Math.max(1, createdTo - createdFrom);
  let counts = carried?.counts ?? emptyCounts();
  let processed = carried?.processed ?? 0;
  let stripeReads = carried?.stripeReads ?? 0;
  let activeMs = carried?.activeMs ?? 0;
  let activeSince: number | null = Date.now();
  let paused = carried?.paused ?? false;
  let cancelled = carried?.cancelled ?? false;
  let pagesThisRun = 0;
  let rolledOver = false;
  if (paused) activeSince = null;
  const includeSubscriptions = input.filters.objects.includes('subscriptions');
  const busy = new Map<BackfillSegment, Promise<void>>();

  const activeSeconds = () => (activeMs + (activeSince !== null ? Date.now() - activeSince : 0)) / 1000;
  const progress = (final?: 'completed' | 'canceled'): BackfillProgress => {
    const fraction = input.retryOf ? (segments.every((s) => s.done) ? 1 : 0) : progressFraction(segments, totalSpan);
    const eta = rateAndEta(processed, activeSeconds(), fraction);
    return {
      runId: input.runId,
      status: final ?? (cancelled ? 'cancelling' : paused ? 'paused' : 'running'),
      dryRun: input.dryRun, processed, counts, stripeReads, fraction, activeSeconds: activeSeconds(),
      rate: eta.rate, etaSeconds: eta.etaSeconds, estimatedTotal: eta.estimatedTotal,
      estimatedRunSeconds: input.dryRun && eta.estimatedTotal !== null ? estimateRunSeconds(eta.estimatedTotal, settings.crmRateLimitPerSecond, settings.pageSize) : null,
      segments: segments.filter((s) => !s.done).length,
      inFlight: busy.size,
    };
  };

  setHandler(backfillProgressQuery, () => progress());
  setHandler(pauseBackfillSignal, () => {
    if (paused) return;
    paused = true;
    if (activeSince !== null) activeMs += Date.now() - activeSince;
    activeSince = null;
  });
  setHandler(resumeBackfillSignal, () => {
    if (!paused) return;
    paused = false;
    activeSince = Date.now();
  });
  setHandler(cancelBackfillSignal, () => {
    cancelled = true;
  });

  // A run larger than the threshold (by what it has written, or by its estimated size) writes in bulk jobs.
  const useBulk = () => {
    if (settings.bulkThreshold <= 0 || input.dryRun || input.retryOf) return false;
    const estimate = progress().estimatedTotal ?? 0;
    return processed >= settings.bulkThreshold || estimate >= settings.bulkThreshold;
  };

  const start = (segment: BackfillSegment) => {
    const run = page({
      runId: input.runId, accountId: input.accountId, dryRun: input.dryRun, includeSubscriptions,
      segment: { from: segment.from, to: segment.to, cursor: segment.cursor },
      ...(input.retryOf ? { retryOf: input.retryOf } : {}),
      ...(useBulk() ? { bulkPages: BULK_PAGES } : {}),
    }).then((result: BackfillPageResult) => {
      busy.delete(segment);
      segment.cursor = result.nextCursor;
      if (result.cursorCreated !== null) segment.cursorCreated = result.cursorCreated;
      segment.done = !result.hasMore;
      counts = addCounts(counts, result.counts);
      processed += result.records;
      stripeReads += result.stripeReads;
      pagesThisRun++;
    });
    busy.set(segment, run);
  };

  let lastStatus: 'running' | 'paused' = paused ? 'paused' : 'running';
  try {
    await loop();
  } catch (err) {
    // A page that cannot succeed (a refused Stripe request, an unsupported adapter): the run stops visibly.
    await local.backfillSetStatus({ runId: input.runId, status: 'failed', summary: { ...progress(), error: err instanceof Error ? err.message : String(err) } });
    throw err;
  }
  if (rolledOver) {
    return continueAsNew<typeof backfillWorkflow>({
      ...input,
      carried: { segments, totalSpan, counts, processed, stripeReads, activeMs, paused, cancelled },
    });
  }

  if (activeSince !== null) activeMs += Date.now() - activeSince;
  activeSince = null;
  const final = progress(cancelled ? 'canceled' : 'completed');
  await local.backfillSetStatus({ runId: input.runId, status: final.status === 'canceled' ? 'canceled' : 'completed', summary: final });
  log.info('backfill finished', { runId: input.runId, processed, counts });
  return final;

  async function loop(): Promise<void> {
    for (;;) {
      const wantStatus = paused ? 'paused' : 'running';
      if (wantStatus !== lastStatus) {
        await local.backfillSetStatus({ runId: input.runId, status: wantStatus });
        lastStatus = wantStatus;
      }
      const rollOver = pagesThisRun >= (input.pagesPerRun ?? PAGES_PER_RUN) || workflowInfo().continueAsNewSuggested;
      if (!paused && !cancelled && !rollOver) {
        // Idle slots take a slice of the widest idle range not yet read.
        for (;;) {
          const open = segments.filter((s) => !s.done);
          if (open.length >= concurrency) break;
          const widest = open.filter((s) => !busy.has(s)).sort((a, b) => remainingSpan(b) - remainingSpan(a))[0];
          const halves = widest ? splitSegment(widest) : null;
          if (!widest || !halves) break;
          segments = [...segments.filter((s) => s !== widest), ...halves];
        }
        for (const s of segments) if (!s.done && !busy.has(s) && busy.size < concurrency) start(s);
      }
      segments = segments.filter((s) => !s.done || busy.has(s));
      if (busy.size === 0) {
        if (cancelled || segments.every((s) => s.done)) break;
        if (rollOver) {
          if (activeSince !== null) activeMs += Date.now() - activeSince;
          rolledOver = true;
          return;
        }
        if (paused) {
          setCurrentDetails(`**paused** · ${processed} records`);
          await condition(() => !paused || cancelled);
          continue;
        }
      }
      await Promise.race(busy.values());
      setCurrentDetails(`${processed} records · ${busy.size} pages in flight · created ${counts.created}, updated ${counts.updated}, matched ${counts.matched}, skipped ${counts.skipped}, failed ${counts.failed}`);
    }
  }
}
