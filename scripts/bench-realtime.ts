import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { bundleWorkflowCode, NativeConnection, Worker as TemporalWorker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import Stripe from 'stripe';
import { loadConfig } from '../config/index.js';
import { customerWorkflowId } from '../domain/workflow-ids.js';
import { parseArgs, parseDynamicConfig, percentile, saturate, startBenchInfrastructure, until } from './bench-support.js';
import { stripeClientFor } from '../sandboxes/stripe/index.js';
import type { Delivery, SeedResult } from '../sandboxes/stripe/index.js';
import { quiet, startLocalStackWithExternalSandboxes } from './local-stack.js';
import type { BenchActivities, benchFloorWorkflow } from './bench-workflows.js';

/**
 * `npm run bench:realtime -- --customers 1000 --rate 100 --seconds 30`
 *
 * Drives the whole real-time path on this machine (the sandboxes in a process of their own): Stripe
 * API calls on the Stripe sandbox → its
 * signed webhook deliveries → our API → Temporal → customer workflows → the HubSpot sandbox. Every
 * figure comes from this one run, so the ratios are comparable on a noisy machine.
 */
const args = parseArgs(process.argv.slice(2), {
  customers: '1000', rate: '100', seconds: '30', 'crm-rate': '300', 'burst-seconds': '5', concurrency: '32',
  'admin-url': 'postgres://postgres@127.0.0.1:5432/postgres',
  // A file to write a CPU profile of this process's main thread (API, workers) during the ingest burst.
  'profile-ingest': '',
  // Temporal server settings for this run, `key=value,...` (e.g. matching.numTaskqueueReadPartitions=1).
  'temporal-config': '',
});
const customers = Number(args.customers);
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const crmRate = Number(args['crm-rate']);
const concurrency = Number(args.concurrency);
const config = loadConfig();
const log = (line: string) => console.log(line);
const ms = (v: number) => `${Math.round(v)} ms`;

log(`bench:realtime customers=${customers} rate=${rate}/s seconds=${seconds} crm-limit=${crmRate} req/s (HubSpot sandbox window ${crmRate * 10}/10 s)`);
const infra = await startBenchInfrastructure(args['admin-url']!, config.temporal.cliPath, process.env.PATH ?? '', parseDynamicConfig(args['temporal-config']!));
let benchBundle: Promise<WorkflowBundleWithSourceMap> | undefined;
let benchConnection: Promise<NativeConnection> | undefined;
const stack = await startLocalStackWithExternalSandboxes({
  temporalAddress: infra.temporal.address,
  databaseUrl: infra.databaseUrl,
  provider: 'hubspot',
  env: { CRM_RATE_LIMIT_PER_SECOND: String(crmRate), SYNC_DEBOUNCE_MS: '250', DATABASE_POOL_MAX: '16' },
  sandboxOptions: {
    stripe: { rateLimit: false, realTimeTickMs: false, webhooks: { concurrency: 32, timeoutMs: 10_000 } },
    // Search (identity lookups of the warm-up's new customers) is not what this measures: lift its limit.
    hubspot: { rateLimit: { max: crmRate * 10, windowMs: 10_000 }, searchRateLimit: { max: 1000, windowMs: 1000 }, dailyLimit: 100_000_000 },
  },
});

try {
  // 2. Customers with subscriptions, created through the sandbox's state model with their events delivered.
  const stripeSandbox = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const res = await fetch(`${stack.sandboxUrls.stripe}/__sandbox${path}`, { ...init, headers: { 'content-type': 'application/json' } });
    if (!res.ok) throw new Error(`Stripe sandbox ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const whenIdle = async () => {
    while (!(await stripeSandbox<{ idle: boolean }>('/webhooks/idle?timeout_ms=60000')).idle) {
      // still delivering: ask again
    }
  };
  const seeded = await stripeSandbox<SeedResult>('/seed', { method: 'POST', body: JSON.stringify({ customers, subscriptionsPerCustomer: 1, withInvoices: false, withPaymentMethods: true, emitEvents: true }) });
  // The driver is a separate Stripe client, so the service's own reads can be counted apart.
  const driver = stripeClientFor(stack.sandboxUrls.stripe, 'sk_test_bench_driver', { maxNetworkRetries: 2 });
  const subs: Stripe.Subscription[] = [];
  for await (const sub of driver.subscriptions.list({ limit: 100, status: 'all' })) subs.push(sub);
  const customerObjects = new Map<string, Stripe.Customer>();
  for await (const c of driver.customers.list({ limit: 100 })) customerObjects.set(c.id, c);
  log(`seeded ${seeded.customers} customers, ${seeded.subscriptions} subscriptions in ${seeded.durationMs} ms; warming up (first sync of each customer)`);
  const warmStart = Date.now();
  await whenIdle();
  await drain(stack, 300_000);
  log(`warm-up: ${customers} customers synced in ${((Date.now() - warmStart) / 1000).toFixed(1)} s`);

  // 3. The paced run: `rate` Stripe changes per second, round-robin over customers (one event each),
  // made by a driver process of its own (Stripe's side of the path is not our service's CPU).
  let stripeReads = 0;
  stack.clients.stripe.on('request', () => void stripeReads++);
  const cpuBefore = processCpu();
  const total = rate * seconds;
  const driven = await runDriver({
    stripeUrl: stack.sandboxUrls.stripe, rate, total,
    subscriptions: subs.map((sub) => ({ id: sub.id, customer: typeof sub.customer === 'string' ? sub.customer : sub.customer.id, item: sub.items.data[0]!.id })),
  });
  const runStart = driven.started;
  const opTimes = new Map(Object.entries(driven.times));
  const failedOps = driven.failed;
  const runSeconds = (Date.now() - runStart) / 1000;
  await whenIdle();
  await drain(stack, 300_000);
  const cpuAfter = processCpu();

  const deliveries = (await stripeSandbox<{ data: Delivery[] }>('/deliveries?limit=10000')).data.filter((d) => d.attempts.some((a) => Date.parse(a.at) >= runStart));
  const acked = deliveries.filter((d) => d.status === 'succeeded');
  const ackLatencies = acked.map((d) => d.attempts.at(-1)!.durationMs).sort((a, b) => a - b);
  log(`paced: ${total} Stripe changes at ${rate}/s (${failedOps} failed; the driver process used ${(driven.cpuMs / 1000).toFixed(1)} s of CPU, not counted below) → ${acked.length} webhook deliveries acknowledged in ${runSeconds.toFixed(1)} s = ${(acked.length / runSeconds).toFixed(1)} events/s accepted`);
  log(`ack latency (delivery → 2xx): p50 ${ms(percentile(ackLatencies, 50))} p99 ${ms(percentile(ackLatencies, 99))}`);

  const rows = await stack.database.db.selectFrom('stripeEvents').select(['customerId', 'receivedAt', 'processedAt'])
    .where('receivedAt', '>=', new Date(runStart)).where('disposition', '=', 'routed').execute();
  const freshness: number[] = [];
  let unprocessed = 0;
  for (const row of rows) {
    if (!row.processedAt || !row.customerId) {
      unprocessed++;
      continue;
    }
    const received = row.receivedAt.getTime();
    const created = (opTimes.get(row.customerId) ?? []).filter((t) => t <= received).at(-1);
    if (created !== undefined) freshness.push(row.processedAt.getTime() - created);
  }
  freshness.sort((a, b) => a - b);
  log(`freshness (Stripe change → CRM write): p50 ${ms(percentile(freshness, 50))} p95 ${ms(percentile(freshness, 95))} p99 ${ms(percentile(freshness, 99))} over ${freshness.length} events (${unprocessed} unprocessed)`);
  log(`stripe reads per event: ${(stripeReads / Math.max(1, rows.length)).toFixed(3)} (${stripeReads} reads / ${rows.length} events)`);
  // CPU time per event is what the machine's load cannot distort much: it says how many events/s
  // these cores can carry end to end, whatever else was running during the timed phase.
  const perEvent = cpuPer(cpuBefore, cpuAfter, rows.length);
  log(`cpu per event (paced phase and drain): ${perEvent.text} → ${cpus().length} cores carry ≈ ${((cpus().length * 1000) / perEvent.totalMs).toFixed(0)} events/s`);

  // 4. Ingest capacity: signed events posted straight to the API as fast as it takes them.
  const secret = stack.appDeps.stripe.secrets[0]!.secret;
  // Workers paused for both measurements: they compare what the API adds to a signal-with-start,
  // under the same server load, not the processing behind it.
  // The workflow tasks that take the last round results in finish first (stopping under them makes the server log them cancelled).
  await untilNoWorkflowTaskPending(subs.map((sub) => customerWorkflowId(stack.accountId, sub.customer as string)));
  await stack.stopWorkers();
  const floorQueue = `bench-floor-${randomBytes(3).toString('hex')}`;
  const floorIds = subs.length;
  const floorSignal = (i: number) => stack.client.workflow.signalWithStart<typeof benchFloorWorkflow, [] | [{ id: string }]>('benchFloorWorkflow', { workflowId: `${floorQueue}/${i % floorIds}`, taskQueue: floorQueue, args: [], signal: 'ping', signalArgs: [] });
  // Create the floor's workflows first and let a worker run their first task, as the customers' have:
  // the timed part is signals to idle workflows, each of which schedules a workflow task, like the ingest's.
  await withBenchWorker({ taskQueue: floorQueue }, async () => {
    for (let i = 0; i < floorIds; i += concurrency) await Promise.all(Array.from({ length: Math.min(concurrency, floorIds - i) }, (_, k) => floorSignal(i + k)));
    await untilNoWorkflowTaskPending(Array.from({ length: floorIds }, (_, i) => `${floorQueue}/${i}`));
  });
  const floorCpu = processCpu();
  const floorStart = Date.now();
  const floorCalls = await saturate(concurrency, floorStart + Number(args['burst-seconds']) * 1000, async (i) => void (await floorSignal(i)));
  const floorRate = floorCalls / ((Date.now() - floorStart) / 1000);
  log(`floor: bare signal-with-start ${floorRate.toFixed(0)} calls/s to ${floorIds} existing workflows (${concurrency} concurrent); cpu per call ${cpuPer(floorCpu, processCpu(), floorCalls).text}`);
  const customerList = subs.map((sub) => customerObjects.get(sub.customer as string)!);
  const profiler = args['profile-ingest'] ? new Session() : null;
  if (profiler) {
    profiler.connect();
    await new Promise<void>((resolve, reject) => profiler.post('Profiler.enable', () => profiler.post('Profiler.start', (err) => (err ? reject(err) : resolve()))));
  }
  const load = new Worker(new URL('./bench-load-worker.mjs', import.meta.url), {
    workerData: { url: `${stack.api.url}/webhooks/stripe`, secret, customers: customerList, seconds: Number(args['burst-seconds']), concurrency, apiVersion: Stripe.API_VERSION, maxRate: Math.ceil(floorRate * 2) },
  });
  const fromLoad = <T>() => new Promise<T>((resolve, reject) => {
    load.once('message', resolve);
    load.once('error', reject);
  });
  // The load generator signs its events first and says when it is ready: the CPU counted is the sending.
  await fromLoad<'ready'>();
  const ingestCpu = processCpu();
  load.postMessage('go');
  const { accepted, rejected, seconds: burstSeconds } = await fromLoad<{ accepted: number; rejected: number; seconds: number }>();
  if (profiler) {
    const profile = await new Promise<unknown>((resolve, reject) => profiler.post('Profiler.stop', (err, result) => (err ? reject(err) : resolve(result.profile))));
    writeFileSync(args['profile-ingest']!, JSON.stringify(profile));
    profiler.disconnect();
    log(`ingest profile written to ${args['profile-ingest']}`);
  }
  const ingestRate = accepted / burstSeconds;
  const ingestCpuText = cpuPer(ingestCpu, processCpu(), accepted).text;
  log(`ingest: ${ingestRate.toFixed(0)} events/s accepted at full speed (${concurrency} concurrent, ${rejected} rejected) = ${(ingestRate / floorRate).toFixed(2)} × floor; cpu per event ${ingestCpuText} (service includes the load generator)`);
  await stack.startWorkers();
  await drain(stack, 300_000);

  // 5. History per Stripe event over everything the customer workflows processed.
  let historyEvents = 0;
  let workflows = 0;
  for await (const wf of stack.client.workflow.list({ query: `TaskQueue = "${stack.taskQueue}" AND WorkflowType = "customerSyncWorkflow"` })) {
    // Listing reports history length only for closed runs; describe has it for running ones.
    historyEvents += (await stack.client.workflow.getHandle(wf.workflowId, wf.runId).describe()).historyLength;
    workflows++;
  }
  const routed = await stack.database.db.selectFrom('stripeEvents').select((eb) => eb.fn.countAll<number>().as('n')).where('disposition', '=', 'routed').executeTakeFirstOrThrow();
  log(`history: ${historyEvents} events in ${workflows} workflows / ${routed.n} Stripe events = ${(historyEvents / Number(routed.n)).toFixed(2)} history events per Stripe event`);

  // 6. The pattern floor: the Temporal steps one customer event takes (signal-with-start, a workflow task,
  // an activity on a rate-limited queue, a workflow task) with no code of ours, at the same rate over as
  // many workflows. Its latency and CPU are what this machine allows before any sync work.
  const patternQueue = `bench-pattern-${randomBytes(3).toString('hex')}`;
  const written = new Map<string, number>();
  const patternSend = (workflow: number, id: string) => stack.client.workflow.signalWithStart<typeof benchFloorWorkflow, [{ id: string }]>('benchFloorWorkflow', {
    workflowId: `${patternQueue}/${workflow}`, taskQueue: patternQueue, args: [`${patternQueue}-crm`], signal: 'ping', signalArgs: [{ id }],
  });
  const pattern = await withBenchWorker({ taskQueue: patternQueue, activityQueue: `${patternQueue}-crm`, ratePerSecond: crmRate, written }, async () => {
    for (let i = 0; i < customers; i += concurrency) await Promise.all(Array.from({ length: Math.min(concurrency, customers - i) }, (_, k) => patternSend(i + k, `warm-${i + k}`)));
    await until(() => written.size >= customers, 300_000);
    const before = processCpu();
    const sent = new Map<string, number>();
    const start = Date.now();
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < total; i++) {
      const wait = start + (i * 1000) / rate - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      sent.set(`e${i}`, Date.now());
      calls.push(patternSend(i % customers, `e${i}`));
    }
    await Promise.all(calls);
    await until(() => [...sent.keys()].every((id) => written.has(id)), 300_000);
    const result = { latencies: [...sent].map(([id, at]) => written.get(id)! - at).sort((a, b) => a - b), cpu: cpuPer(before, processCpu(), total) };
    // The workflow tasks that take the last results in, before the worker stops (else the server logs them cancelled).
    await untilNoWorkflowTaskPending(Array.from({ length: customers }, (_, i) => `${patternQueue}/${i}`));
    return result;
  });
  log(`pattern floor (no-op workflow, same Temporal steps, ${rate}/s over ${customers} workflows): signal → activity p50 ${ms(percentile(pattern.latencies, 50))} p95 ${ms(percentile(pattern.latencies, 95))} p99 ${ms(percentile(pattern.latencies, 99))}; cpu per event ${pattern.cpu.text} → ${cpus().length} cores carry ≈ ${((cpus().length * 1000) / pattern.cpu.totalMs).toFixed(0)} events/s`);
  log(`sync path vs pattern floor: ${(perEvent.totalMs / pattern.cpu.totalMs).toFixed(2)} × its CPU per event; capacity ${(pattern.cpu.totalMs / perEvent.totalMs).toFixed(2)} × the pattern floor's`);
  log('targets: freshness p95 ≤ 1000 ms, p99 ≤ 2000 ms; ingest ≥ 0.8 × floor; ≤ 0.2 Stripe reads/event; ≤ 12 history events/event');
} finally {
  await stack.close();
  if (benchConnection) await (await benchConnection).close();
  await infra.close();
}

/** CPU seconds used so far, per process (this one under `service`, others by pid) with the part of the path it is. */
type CpuReading = Map<string, { kind: string; seconds: number }>;

/**
 * CPU used so far by this process (API, workers, load generator), the Temporal server, the sandbox
 * process and PostgreSQL's backends, read from /proc (Linux). Kept per process: backends come and go
 * between two readings (the pool closes idle connections), and one that ended must not count as negative.
 */
function processCpu(): CpuReading {
  const ticks = 100;
  const own = process.cpuUsage();
  const out: CpuReading = new Map([['service', { kind: 'service', seconds: (own.user + own.system) / 1e6 }]]);
  const temporalPort = `--port\0${new URL(`http://${infra.temporal.address}`).port}`;
  const database = new URL(infra.databaseUrl).pathname.slice(1);
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const kind = cmd.includes(temporalPort) ? 'temporal'
        : cmd.includes('bench-sandboxes-process') ? 'sandboxes'
          : cmd.startsWith('postgres:') && cmd.includes(database) ? 'postgres' : null;
      if (!kind) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(pid, { kind, seconds: (Number(fields[11]) + Number(fields[12])) / ticks });
    } catch {
      // the process ended between listing and reading
    }
  }
  return out;
}

interface DriverResult {
  started: number;
  failed: number;
  times: Record<string, number[]>;
  cpuMs: number;
}

/** Runs the paced Stripe changes in scripts/bench-driver-process.ts and returns what it did. */
async function runDriver(input: { stripeUrl: string; rate: number; total: number; subscriptions: Array<{ id: string; customer: string; item: string }> }): Promise<DriverResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./bench-driver-process.ts', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('exit', resolve);
    child.once('error', reject);
  });
  child.stdin.end(JSON.stringify(input));
  let out = '';
  for await (const chunk of child.stdout) out += String(chunk);
  const code = await exited;
  if (code !== 0) throw new Error(`the driver process exited with ${code}`);
  return JSON.parse(out) as DriverResult;
}

/**
 * Runs `fn` while a worker serves scripts/bench-workflows.ts on `taskQueue` (and, with `activityQueue`,
 * its no-op activity there under the CRM queue's server-side rate limit, recording when each id was written).
 */
async function withBenchWorker<T>(options: { taskQueue: string; activityQueue?: string; ratePerSecond?: number; written?: Map<string, number> }, fn: () => Promise<T>): Promise<T> {
  benchBundle ??= bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./bench-workflows.ts', import.meta.url)), logger: quiet });
  benchConnection ??= NativeConnection.connect({ address: infra.temporal.address });
  const connection = await benchConnection;
  const workers = [await TemporalWorker.create({ connection, taskQueue: options.taskQueue, workflowBundle: await benchBundle })];
  if (options.activityQueue) {
    const written = options.written ?? new Map<string, number>();
    const activities: BenchActivities = {
      async benchWrite({ ids }) {
        const at = Date.now();
        for (const id of ids) written.set(id, at);
      },
    };
    workers.push(await TemporalWorker.create({ connection, taskQueue: options.activityQueue, activities, ...(options.ratePerSecond ? { maxTaskQueueActivitiesPerSecond: options.ratePerSecond } : {}) }));
  }
  const running = workers.map((w) => w.run());
  try {
    return await fn();
  } finally {
    for (const w of workers) w.shutdown();
    await Promise.all(running);
  }
}

/** Waits until none of the workflows has a workflow task pending (each has run what it was sent). */
async function untilNoWorkflowTaskPending(workflowIds: string[]): Promise<void> {
  let left = workflowIds;
  await until(async () => {
    const pending: string[] = [];
    // `concurrency` describes at a time: the server being asked is the one the floors are measured on.
    for (let i = 0; i < left.length; i += concurrency) {
      const answers = await Promise.all(left.slice(i, i + concurrency).map(async (id) => ((await stack.client.workflow.getHandle(id).describe()).raw.pendingWorkflowTask ? id : null)));
      pending.push(...answers.filter((id): id is string => id !== null));
    }
    left = pending;
    return left.length === 0;
  }, 120_000, () => `${left.length} workflows still have a workflow task pending`);
}

/**
 * CPU milliseconds per unit between two processCpu() readings, by part and in all: each process's use
 * since the first reading (or since it started); a process that ended in between is not counted.
 */
function cpuPer(before: CpuReading, after: CpuReading, units: number): { text: string; totalMs: number } {
  const byKind: Record<string, number> = { service: 0, temporal: 0, sandboxes: 0, postgres: 0 };
  for (const [key, { kind, seconds }] of after) byKind[kind] = (byKind[kind] ?? 0) + seconds - (before.get(key)?.seconds ?? 0);
  const per = Object.entries(byKind).map(([k, v]) => [k, (v * 1000) / Math.max(1, units)] as const);
  const totalMs = per.reduce((a, [, v]) => a + v, 0);
  return { text: `${per.map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(', ')} = ${totalMs.toFixed(1)} ms`, totalMs };
}

/** Waits until every routed event has been written to the CRM. */
async function drain(s: typeof stack, timeoutMs: number): Promise<void> {
  let left = 0;
  await until(async () => {
    const row = await s.database.db.selectFrom('stripeEvents').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('disposition', '=', 'routed').where('processedAt', 'is', null).executeTakeFirstOrThrow();
    left = Number(row.n);
    return left === 0;
  }, timeoutMs, () => `${left} events still unprocessed after ${timeoutMs} ms`);
}
