import { loadConfig } from '../config/index.js';
import { BACKFILL_OUTCOMES } from '../domain/backfill.js';
import { parseArgs } from './bench-support.js';

/**
 * `npm run backfill -- --since 2024-01-01 [--until 2025-01-01] [--dry-run] [--objects customers,subscriptions,invoices,charges]`
 *
 * Starts a backfill through the running API (`npm start` or `npm run api`), shows a live progress bar
 * with rate and ETA, and ends with the summary table. Ctrl-C detaches; the run goes on
 * (`--follow <id>` picks it up again; `--pause`, `--resume`, `--cancel <id>` steer it).
 */
interface RunView {
  id: string;
  status: string;
  dryRun: boolean;
  processed: number;
  counts: Record<string, number>;
  byObject: Record<string, Record<string, number>>;
  fraction: number;
  rate: number;
  etaSeconds: number | null;
  estimatedTotal: number | null;
  estimatedRunSeconds: number | null;
  stripeReads: number | null;
  crmRequests: number | null;
  repairs: number;
  createdAt: string;
  finishedAt: string | null;
}

export class BackfillCliError extends Error {
  override name = 'BackfillCliError';
}

const args = parseArgs(process.argv.slice(2), {
  since: '', until: '', 'dry-run': 'false', objects: 'customers,subscriptions,invoices,charges', concurrency: '', api: '',
  follow: '', pause: '', resume: '', cancel: '',
});
const base = args.api || `http://127.0.0.1:${loadConfig().api.port}`;

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (err) {
    throw new BackfillCliError(`cannot reach the API at ${base} (${err instanceof Error ? err.message : String(err)}); start it with npm start, or pass --api`);
  }
  const json = (await res.json()) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new BackfillCliError(`${method} ${path}: ${res.status} ${json.error?.code ?? ''} ${json.error?.message ?? ''}`.trim());
  return json;
}

const duration = (seconds: number | null): string => {
  if (seconds === null || !Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
};

function bar(run: RunView): string {
  const width = 30;
  const filled = Math.round(Math.min(1, run.fraction) * width);
  const pct = `${(run.fraction * 100).toFixed(1).padStart(5)}%`;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}  ${run.processed} records  ${run.rate.toFixed(0)}/s  ETA ${duration(run.etaSeconds)}  ${run.status}`;
}

function summary(run: RunView): string {
  const rows: Array<[string, string]> = [
    ['run', run.id],
    ['status', `${run.status}${run.dryRun ? ' (dry run: nothing written)' : ''}`],
    ...BACKFILL_OUTCOMES.map((o): [string, string] => [run.dryRun && o === 'created' ? 'would create' : run.dryRun && o === 'matched' ? 'would update (matched)' : o, String(run.counts[o] ?? 0)]),
    // What was written, by object: customer (company/Account, or the contact in B2C), contact, subscription, invoice, ...
    ...Object.entries(run.byObject ?? {}).map(([object, counts]): [string, string] => [
      object, BACKFILL_OUTCOMES.filter((o) => (counts[o] ?? 0) > 0).map((o) => `${counts[o]} ${o}`).join(', ') || 'none',
    ]),
    ['processed', String(run.processed)],
    ['rate', `${run.rate.toFixed(1)} records/s`],
    ['elapsed', duration(run.finishedAt ? (Date.parse(run.finishedAt) - Date.parse(run.createdAt)) / 1000 : null)],
    ...(run.stripeReads !== null ? [['Stripe reads', String(run.stripeReads)] as [string, string]] : []),
    ...(run.crmRequests !== null ? [['CRM requests', String(run.crmRequests)] as [string, string]] : []),
    ...(run.repairs > 0 ? [['re-read after a workflow write', String(run.repairs)] as [string, string]] : []),
    ...(run.dryRun && run.estimatedRunSeconds !== null ? [['real run would take', `${duration(run.estimatedRunSeconds)} at the configured CRM and Stripe rates`] as [string, string]] : []),
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const line = `+${'-'.repeat(w + 2)}+${'-'.repeat(Math.max(...rows.map(([, v]) => v.length)) + 2)}+`;
  return [line, ...rows.map(([k, v]) => `| ${k.padEnd(w)} | ${v.padEnd(line.length - w - 7)} |`), line].join('\n');
}

async function follow(id: string): Promise<RunView> {
  const tty = process.stdout.isTTY === true;
  let lastLine = 0;
  for (;;) {
    const run = await call<RunView>('GET', `/backfills/${id}`);
    const text = bar(run);
    if (tty) process.stdout.write(`\r${text}\x1b[K`);
    else if (Date.now() - lastLine > 5000 || !['running', 'paused', 'cancelling'].includes(run.status)) {
      console.log(text);
      lastLine = Date.now();
    }
    if (!['running', 'paused', 'cancelling'].includes(run.status)) {
      if (tty) process.stdout.write('\n');
      return run;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

try {
  for (const action of ['pause', 'resume', 'cancel'] as const) {
    if (args[action]) {
      const run = await call<RunView>('POST', `/backfills/${args[action]}/${action}`);
      console.log(`${action}: ${run.id} signalled`);
      process.exit(0);
    }
  }
  let id = args.follow;
  if (!id) {
    const body = {
      ...(args.since ? { since: args.since } : {}),
      ...(args.until ? { until: args.until } : {}),
      objects: (args.objects ?? '').split(',').map((o) => o.trim()).filter(Boolean),
      dryRun: args['dry-run'] === 'true',
      ...(args.concurrency ? { concurrency: Number(args.concurrency) } : {}),
    };
    const run = await call<RunView>('POST', '/backfills', body);
    id = run.id;
    console.log(`backfill ${id} started${body.dryRun ? ' (dry run)' : ''}; Ctrl-C detaches, the run goes on (npm run backfill -- --follow ${id})`);
  }
  process.once('SIGINT', () => {
    console.log(`\ndetached; the backfill goes on: npm run backfill -- --follow ${id}`);
    process.exit(130);
  });
  const final = await follow(id);
  console.log(summary(final));
  process.exit(final.status === 'completed' ? 0 : 1);
} catch (err) {
  console.error(err instanceof BackfillCliError ? err.message : err);
  process.exit(1);
}
