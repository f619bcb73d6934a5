import {
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activityModule from '../activities/index.js';
import type { BackfillReadResult, BackfillSettings, BackfillWriteResult } from '../activities/backfill.js';
import {
  addCounts,
  emptyCounts,
  estimateRunSeconds,
  newSegment,
  pickWriteGroup,
  progressFraction,
  rateAndEta,
  remainingSpan,
  splitSegment,
  streamsFor,
  STRIPE_EPOCH,
  type BackfillObject,
  type BackfillSegment,
  type BackfillStream,
  type OutcomeCounts,
  type ReadyBatch,
} from '../domain/backfill.js';

type Activities = ReturnType<typeof activityModule.createActivities>;

export const pauseBackfillSignal = defineSignal('pauseBackfill');
export const resumeBackfillSignal = defineSignal('resumeBackfill');
export const cancelBackfillSignal = defineSignal('cancelBackfill');
export const backfillProgressQuery = defineQuery<BackfillProgress>('backfillProgress');

export interface BackfillFilters {
  /** Unix seconds, inclusive; default: the beginning of Stripe. Each object type is filtered by its own created time. */
  createdFrom?: number;
  /** Unix seconds, exclusive; default: when the run started. */
  createdTo?: number;
  objects: BackfillObject[];
}

interface StreamState {
  stream: BackfillStream;
  phase: number;
  segments: BackfillSegment[];
}

/** The identity index being read (companies/Accounts, then contacts) and where it stopped. */
interface IdentityIndexState {
  object: 'accounts' | 'contacts' | 'done';
  cursor: string | null;
  rows: number;
  requests: number;
}

/** Input of the backfill workflow (`backfill/<account>/<run id>`); `carried` crosses continue-as-new. */
export interface BackfillInput {
  runId: string;
  accountId: string;
  dryRun: boolean;
  filters: BackfillFilters;
  /** Retry run: re-process the failed records of this run. */
  retryOf?: string;
  /** Stripe pages read at once (each a chain over its own created-time slice). Default 8. */
  concurrency?: number;
  /** Stripe pages per workflow run before continuing as new (default 400); tests lower it. */
  pagesPerRun?: number;
  carried?: {
    streams: StreamState[];
    totalSpan: number;
    ready: ReadyBatch[];
    repairs: Array<{ stream: BackfillStream; ids: string[] }>;
    repairSeq: number;
    counts: OutcomeCounts;
    processed: number;
    stripeReads: number;
    crmRequests: number;
    activeMs: number;
    paused: boolean;
    cancelled: boolean;
    /** B2B runs with customers: the identity index (absent in runs from before it, which go on without one). */
    identityIndex?: IdentityIndexState | null;
  };
}

export interface BackfillProgress {
  runId: string;
  status: 'running' | 'paused' | 'cancelling' | 'completed' | 'canceled';
  dryRun: boolean;
  processed: number;
  counts: OutcomeCounts;
  stripeReads: number;
  /** CRM batch requests made (a dry run: the lookups standing in for them, one per request the real run makes). */
  crmRequests: number;
  fraction: number;
  activeSeconds: number;
  rate: number;
  etaSeconds: number | null;
  estimatedTotal: number | null;
  /** Dry run: how long the real run would take at the configured CRM and Stripe rates. */
  estimatedRunSeconds: number | null;
  /** Pages read and waiting for their CRM writes. */
  staged: number;
  inFlight: { reads: number; writes: number };
  /** Records re-read and written again because a customer workflow wrote while this run did. */
  repairs: number;
  /** B2B: the CRM's companies/Accounts and contacts read into the run's identity index before any write. */
  identityIndex: { rows: number; requests: number; done: boolean } | null;
}

const local = proxyLocalActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: { initialInterval: '500 ms', maximumInterval: '10 seconds' } });
// Transient failures and rate limits retry for as long as it takes: a page is never dropped.
const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['StripeInvalidRequest', 'BackfillUnsupported', 'BackfillBatchMissing'] };
const read = proxyActivities<Activities>({ startToCloseTimeout: '5 minutes', retry }).backfillRead;

/** A run continues as new after reading this many pages even if Temporal has not suggested it yet. */
const PAGES_PER_RUN = 400;
/** Records per Salesforce bulk job: few jobs, each still quick to redo. */
const BULK_RECORDS = 2_000;
/** Pages read ahead of the writes, per page read in parallel: enough to keep the CRM queue fed. */
const READ_AHEAD = 4;
/** How long a run about to continue as new waits for its activities in flight before handing them over. */
const HANDOVER_WAIT_MS = 1_500;
/** CRM writes in flight per page read in parallel (see writeConcurrency). */
const WRITES_PER_READ_SLOT = 3;

/**
 * The historical backfill. Each selected Stripe list (customers first, then subscriptions, invoices,
 * charges, refunds and disputes, which attach to the customers' records) is read page by page in up to
 * `concurrency` parallel chains over slices of the created range, split further as chains finish. Reads
 * and CRM writes are separate activities, each under its own shared limit (the Stripe read budget, the
 * CRM task queue's rate), and run as a pipeline: pages are read ahead while earlier ones are written, so
 * the CRM queue always has work. History stays bounded by continue-as-new; every record's outcome is in
 * the migration log (backfill_records).
 */
export async function backfillWorkflow(input: BackfillInput): Promise<BackfillProgress> {
  // Asked before the settings' local activity, so its marker is in the first workflow task. Asked after it,
  // a query arriving while the local activity ran (POST /backfills asks for progress at once) could move
  // the rest of that activation, marker included, into a second task, and a replay, which resolves the
  // local activity within the first, then found no marker there and took the path without an index.
  const indexSupported = input.carried === undefined && patched('backfill-identity-index-first-task');
  const settings: BackfillSettings = await local.getBackfillSettings();
  const write = proxyActivities<Activities>({
    taskQueue: settings.writeTaskQueue,
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: '2 minutes',
    retry,
  }).backfillWrite;
  // The index reads go through the CRM request budget like the writes; each call reads for about a minute.
  const indexIdentity = proxyActivities<Activities>({
    taskQueue: settings.writeTaskQueue,
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '2 minutes',
    retry,
  }).backfillIndexIdentity;

  const concurrency = Math.max(1, input.concurrency ?? 8);
  // Writes waiting on the CRM queue. Temporal spreads a task queue over partitions and each enforces its
  // share of the rate limit: a backlog on every partition is what keeps the whole rate in use.
  const writeConcurrency = WRITES_PER_READ_SLOT * concurrency;
  const startedAt = Date.now();
  const createdTo = input.filters.createdTo ?? Math.floor(startedAt / 1000) + 1;
  const createdFrom = input.filters.createdFrom ?? STRIPE_EPOCH;
  const carried = input.carried;
  const includeSubscriptions = input.filters.objects.includes('subscriptions');
  // Customer pages carry their live subscriptions: with customers in the run, the subscription list adds the
  // ended ones of those customers, whenever each subscription was created.
  const endedSubscriptionsOf = input.filters.objects.includes('customers') && includeSubscriptions ? { from: createdFrom, to: createdTo } : undefined;
  // A retry run reads the failed records by id: one chain per stream, no time slices.
  const streams: StreamState[] = carried?.streams ?? streamsFor(input.filters.objects).map((p) => ({
    ...p,
    segments: [input.retryOf ? newSegment(0, 0) : p.stream === 'subscriptions' && endedSubscriptionsOf ? newSegment(createdFrom, Math.floor(startedAt / 1000) + 1) : newSegment(createdFrom, createdTo)],
  }));
  const totalSpan = carried?.totalSpan ?? Math.max(1, createdTo - createdFrom);
  let ready: ReadyBatch[] = carried?.ready ?? [];
  const repairs = carried?.repairs ?? [];
  let repairSeq = carried?.repairSeq ?? 0;
  let counts = carried?.counts ?? emptyCounts();
  let processed = carried?.processed ?? 0;
  let stripeReads = carried?.stripeReads ?? 0;
  let crmRequests = carried?.crmRequests ?? 0;
  let activeMs = carried?.activeMs ?? 0;
  let activeSince: number | null = Date.now();
  let paused = carried?.paused ?? false;
  let cancelled = carried?.cancelled ?? false;
  // A B2B run with customers first reads the CRM's companies and contacts into its identity index, so its
  // customers are matched to the records that exist as the real-time path would match them. A run started
  // before the index existed has no marker in its history and goes on without one; one started before the
  // marker moved to the first task has the older marker, asked where it was asked then.
  const identityIndex: IdentityIndexState | null = carried
    ? (carried.identityIndex ?? null)
    : settings.identity && input.filters.objects.includes('customers') && (indexSupported || patched('backfill-identity-index')) ? { object: 'accounts', cursor: null, rows: 0, requests: 0 } : null;
  const identityOptions = identityIndex !== null && settings.identity ? settings.identity : null;
  let pagesThisRun = 0;
  let rolledOver = false;
  let rollOverSince: number | null = null;
  /** Repair reads in flight, put back if the run hands over before they finish. */
  const repairing = new Map<string, { stream: BackfillStream; ids: string[] }>();
  if (paused) activeSince = null;
  const phaseOf = new Map(streams.map((s) => [s.stream, s.phase]));
  const reading = new Map<string, Promise<void>>();
  const writing = new Map<string, Promise<void>>();
  const busyBatches = new Set<string>();
  const busySegments = new Set<BackfillSegment>();
  let repairsDone = 0;
  let failure: unknown = null;

  const activeSeconds = () => (activeMs + (activeSince !== null ? Date.now() - activeSince : 0)) / 1000;
  const pendingRecords = () => ready.reduce((sum, b) => sum + b.steps.slice(b.next).reduce((s, step) => s + step.count, 0), 0);
  const fraction = () => {
    if (input.retryOf) return streams.every((s) => s.segments.every((seg) => seg.done)) && ready.length === 0 ? 1 : 0;
    const readFraction = streams.length === 0 ? 1 : streams.reduce((sum, s) => sum + progressFraction(s.segments, totalSpan), 0) / streams.length;
    const pending = pendingRecords();
    // Reads run ahead of writes: what is read but not yet written is not done.
    return pending === 0 ? readFraction : readFraction * (processed / (processed + pending));
  };
  const progress = (final?: 'completed' | 'canceled'): BackfillProgress => {
    const f = final === 'completed' ? 1 : fraction();
    const eta = rateAndEta(processed, activeSeconds(), f);
    const scale = f > 0 ? 1 / f : null;
    return {
      runId: input.runId,
      status: final ?? (cancelled ? 'cancelling' : paused ? 'paused' : 'running'),
      dryRun: input.dryRun, processed, counts, stripeReads, crmRequests: crmRequests + indexRequests(), fraction: f, activeSeconds: activeSeconds(),
      rate: eta.rate, etaSeconds: eta.etaSeconds, estimatedTotal: eta.estimatedTotal,
      // The index is read once whatever the run's size: its requests are not scaled with the fraction done.
      estimatedRunSeconds: input.dryRun && scale !== null
        ? estimateRunSeconds({ crmRequests: crmRequests * scale + indexRequests(), stripeReads: stripeReads * scale }, { crmPerSecond: settings.crmRateLimitPerSecond, stripeReadsPerSecond: settings.stripeReadRateLimitPerSecond })
        : null,
      staged: ready.length,
      inFlight: { reads: reading.size, writes: writing.size },
      repairs: repairsDone,
      identityIndex: identityIndex && { rows: identityIndex.rows, requests: identityIndex.requests, done: identityIndex.object === 'done' },
    };
  };
  const indexRequests = () => identityIndex?.requests ?? 0;

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

  // A run larger than the threshold (by what it has processed, or by its estimated size) writes in bulk jobs.
  const useBulk = () => {
    if (settings.bulkThreshold <= 0 || input.dryRun || input.retryOf) return false;
    return processed >= settings.bulkThreshold || (progress().estimatedTotal ?? 0) >= settings.bulkThreshold;
  };
  /** Pages read ahead of the writes: enough to keep the CRM queue fed, or to fill a bulk job. */
  const readAhead = () => Math.max(READ_AHEAD * concurrency, useBulk() ? 2 * Math.ceil(BULK_RECORDS / settings.pageSize) + concurrency : 0);
  const readsOpen = (phase: number) => streams.some((s) => s.phase <= phase && s.segments.some((seg) => !seg.done)) || [...reading.keys()].some((k) => (phaseOf.get(k.split('|')[0] as BackfillStream) ?? 0) <= phase);
  /** The lowest phase with anything left: its writes (and earlier ones) may run. */
  const writePhase = () => {
    const phases = [
      ...streams.filter((s) => s.segments.some((seg) => !seg.done)).map((s) => s.phase),
      ...ready.map((b) => b.phase),
      ...repairs.map((r) => phaseOf.get(r.stream) ?? 0),
      ...[...reading.keys()].map((k) => phaseOf.get(k.split('|')[0] as BackfillStream) ?? 0),
    ];
    return phases.length === 0 ? Number.MAX_SAFE_INTEGER : Math.min(...phases);
  };

  const staged = (stream: BackfillStream, result: BackfillReadResult) => {
    counts = addCounts(counts, result.counts);
    processed += Object.values(result.counts).reduce((a, b) => a + b, 0);
    stripeReads += result.stripeReads;
    if (result.batchId && result.steps.length > 0) ready.push({ batchId: result.batchId, stream, phase: phaseOf.get(stream) ?? 0, steps: result.steps, next: 0 });
  };

  const startRead = (stream: StreamState, segment: BackfillSegment) => {
    const key = `${stream.stream}|${segment.from}-${segment.to}|${segment.cursor ?? ''}`;
    const run = read({
      runId: input.runId, accountId: input.accountId, dryRun: input.dryRun, stream: stream.stream, includeSubscriptions,
      segment: { from: segment.from, to: segment.to, cursor: segment.cursor },
      ...(input.retryOf ? { retryOf: input.retryOf } : {}),
      ...(stream.stream === 'subscriptions' && endedSubscriptionsOf ? { endedSubscriptionsOf } : {}),
    }).then((result) => {
      segment.cursor = result.nextCursor;
      if (result.cursorCreated !== null) segment.cursorCreated = result.cursorCreated;
      segment.done = !result.hasMore;
      staged(stream.stream, result);
      pagesThisRun++;
    }, (err: unknown) => {
      failure ??= err;
    }).finally(() => {
      reading.delete(key);
      busySegments.delete(segment);
    });
    busySegments.add(segment);
    reading.set(key, run);
  };

  const startRepair = (request: { stream: BackfillStream; ids: string[] }) => {
    const seq = ++repairSeq;
    const key = `${request.stream}|repair|${seq}`;
    const run = read({
      runId: input.runId, accountId: input.accountId, dryRun: input.dryRun, stream: request.stream, includeSubscriptions,
      segment: { from: 0, to: 0, cursor: null }, repair: { ids: request.ids, seq },
    }).then((result) => {
      staged(request.stream, result);
      repairsDone += request.ids.length;
    }, (err: unknown) => {
      failure ??= err;
    }).finally(() => {
      reading.delete(key);
      repairing.delete(key);
    });
    reading.set(key, run);
    repairing.set(key, request);
  };

  const startWrite = (group: ReadyBatch[]) => {
    const kind = group[0]!.steps[group[0]!.next]!.kind;
    const bulk = useBulk();
    const key = `${group.map((b) => b.batchId).join(',')}|${kind}`;
    for (const b of group) busyBatches.add(b.batchId);
    const run = write({
      runId: input.runId, accountId: input.accountId, dryRun: input.dryRun, kind,
      parts: group.map((b) => ({ batchId: b.batchId, part: b.steps[b.next]!.part, last: b.next === b.steps.length - 1 })),
      ...(input.retryOf ? { retryOf: input.retryOf } : {}),
      ...(bulk ? { bulk: true } : {}),
      ...(identityOptions && kind === 'accounts' ? { identity: identityOptions } : {}),
    }).then((result: BackfillWriteResult) => {
      counts = addCounts(counts, result.counts);
      processed += Object.values(result.counts).reduce((a, b) => a + b, 0);
      crmRequests++;
      for (const b of group) b.next++;
      ready = ready.filter((b) => b.next < b.steps.length);
      // Several records of one stream re-read together, a page at most.
      for (const [stream, ids] of groupRepairs(result.repairs)) {
        for (let i = 0; i < ids.length; i += 100) repairs.push({ stream, ids: ids.slice(i, i + 100) });
      }
    }, (err: unknown) => {
      failure ??= err;
    }).finally(() => {
      writing.delete(key);
      for (const b of group) busyBatches.delete(b.batchId);
    });
    writing.set(key, run);
  };

  let lastStatus: 'running' | 'paused' = paused ? 'paused' : 'running';
  try {
    if (identityIndex && !(await buildIdentityIndex(identityIndex))) rolledOver = true;
    else await loop();
  } catch (err) {
    // A page that cannot succeed (a refused Stripe request, an unsupported adapter): the run stops visibly.
    await local.backfillSetStatus({ runId: input.runId, status: 'failed', summary: { ...progress(), error: err instanceof Error ? err.message : String(err) } });
    throw err;
  }
  if (rolledOver) {
    return continueAsNew<typeof backfillWorkflow>({
      ...input,
      carried: { streams, totalSpan, ready, repairs, repairSeq, counts, processed, stripeReads, crmRequests, activeMs, paused, cancelled, identityIndex },
    });
  }

  if (activeSince !== null) activeMs += Date.now() - activeSince;
  activeSince = null;
  const final = progress(cancelled ? 'canceled' : 'completed');
  await local.backfillSetStatus({ runId: input.runId, status: final.status === 'canceled' ? 'canceled' : 'completed', summary: final });
  log.info('backfill finished', { runId: input.runId, processed, counts });
  return final;

  /**
   * Reads the CRM's companies/Accounts, then contacts, into the identity index, each activity a minute of
   * pages. False when the run should continue as new first (the cursor travels in `carried`).
   */
  async function buildIdentityIndex(index: IdentityIndexState): Promise<boolean> {
    while (index.object !== 'done' && !cancelled) {
      const wantStatus = paused ? 'paused' : 'running';
      if (wantStatus !== lastStatus) {
        await local.backfillSetStatus({ runId: input.runId, status: wantStatus });
        lastStatus = wantStatus;
      }
      if (paused) {
        await condition(() => !paused || cancelled);
        continue;
      }
      if (workflowInfo().continueAsNewSuggested) {
        if (activeSince !== null) activeMs += Date.now() - activeSince;
        return false;
      }
      setCurrentDetails(`building the identity index: ${index.object === 'accounts' ? 'companies' : 'contacts'} · ${index.rows} rows, ${index.requests} CRM requests`);
      const result = await indexIdentity({ runId: input.runId, object: index.object, cursor: index.cursor });
      index.rows += result.rows;
      index.requests += result.requests;
      if (result.next !== null) index.cursor = result.next;
      else {
        index.object = index.object === 'accounts' ? 'contacts' : 'done';
        index.cursor = null;
      }
    }
    return true;
  }

  async function loop(): Promise<void> {
    for (;;) {
      if (failure) throw failure;
      const wantStatus = paused ? 'paused' : 'running';
      if (wantStatus !== lastStatus) {
        await local.backfillSetStatus({ runId: input.runId, status: wantStatus });
        lastStatus = wantStatus;
      }
      const rollOver = pagesThisRun >= (input.pagesPerRun ?? PAGES_PER_RUN) || workflowInfo().continueAsNewSuggested;
      if (rollOver) rollOverSince ??= Date.now();
      if (!paused && !cancelled && !rollOver) {
        startWrites();
        startReads();
      }
      for (const s of streams) s.segments = s.segments.filter((seg) => !seg.done || busySegments.has(seg));
      if (reading.size === 0 && writing.size === 0) {
        if (cancelled) break;
        if (streams.every((s) => s.segments.length === 0) && ready.length === 0 && repairs.length === 0) break;
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
      } else if (rollOver && Date.now() - rollOverSince! >= HANDOVER_WAIT_MS) {
        // What is still in flight is most likely waiting out a rate limit's delay: the next run does it
        // again rather than the CRM idling meanwhile. Its pages and segments travel unchanged (a write's step
        // is recorded with its outcome, so a repeat finds it done; reads and writes are keyed, so a write that
        // lands twice is still one record), and its repair reads go back in the queue.
        repairs.push(...repairing.values());
        if (activeSince !== null) activeMs += Date.now() - activeSince;
        rolledOver = true;
        return;
      }
      const inFlight = [...reading.values(), ...writing.values()];
      await (rollOver ? Promise.race([...inFlight, sleep(Math.max(1, HANDOVER_WAIT_MS - (Date.now() - rollOverSince!)))]) : Promise.race(inFlight));
      setCurrentDetails(`${processed} records · ${reading.size} reads, ${writing.size} writes in flight, ${ready.length} pages staged · created ${counts.created}, updated ${counts.updated}, matched ${counts.matched}, skipped ${counts.skipped}, failed ${counts.failed}`);
    }
  }

  function startWrites(): void {
    const phase = writePhase();
    const bulk = useBulk();
    const limit = bulk ? BULK_RECORDS : settings.batchLimit;
    // A bulk job is many requests (create, upload, close, polls, results) and minutes of Salesforce's
    // processing at worst: a few at a time, each as full as the pages allow.
    const maxWrites = bulk ? Math.max(2, Math.ceil(concurrency / 2)) : writeConcurrency;
    while (writing.size < maxWrites) {
      // A request costs the same whether it carries 100 records or 3: while this phase's reads (or the
      // writes in flight, which move pages to their next step) still bring more, partial steps wait to be
      // joined (a bulk job, to be half full), unless the CRM queue runs low.
      const more = readsOpen(phase) && (ready.length + reading.size < readAhead() || writing.size > 0);
      const full = bulk ? limit / 2 : limit;
      const picked = pickWriteGroup(ready, busyBatches, phase, limit, more && (bulk || writing.size >= concurrency) ? full : 0);
      if (!picked) return;
      startWrite(picked.map((i) => ready[i]!));
    }
  }

  function startReads(): void {
    const readPhase = Math.min(...streams.filter((s) => s.segments.some((seg) => !seg.done)).map((s) => s.phase), Number.MAX_SAFE_INTEGER);
    while (repairs.length > 0 && reading.size < concurrency) startRepair(repairs.shift()!);
    for (const stream of streams) {
      if (stream.phase !== readPhase) continue;
      // Idle slots take a slice of the widest idle range not yet read. Only a range whose first page said
      // there is more is split: an empty or small list costs one read, not one per slot.
      if (!input.retryOf) {
        for (;;) {
          const open = stream.segments.filter((s) => !s.done);
          if (open.length >= concurrency) break;
          const widest = open.filter((s) => !busySegments.has(s) && s.cursor !== null).sort((a, b) => remainingSpan(b) - remainingSpan(a))[0];
          const halves = widest ? splitSegment(widest) : null;
          if (!widest || !halves) break;
          stream.segments = [...stream.segments.filter((s) => s !== widest), ...halves];
        }
      }
      for (const segment of stream.segments) {
        // Read ahead of the writes, but not without bound: staged pages wait in the database.
        if (reading.size >= concurrency || ready.length + reading.size >= readAhead()) return;
        if (!segment.done && !busySegments.has(segment)) startRead(stream, segment);
      }
    }
  }
}

function groupRepairs(repairs: BackfillWriteResult['repairs']): Map<BackfillStream, string[]> {
  const out = new Map<BackfillStream, string[]>();
  for (const r of repairs) out.set(r.stream, [...(out.get(r.stream) ?? []), r.id]);
  return out;
}

