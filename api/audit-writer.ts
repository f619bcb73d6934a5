import { sql, type Kysely } from 'kysely';
import type { Database, NewStripeEvent } from '../db/database.js';

/**
 * Records received events with group commit: rows arriving within a few milliseconds go to
 * PostgreSQL in one multi-row upsert, and each request still waits for its own row to be written
 * (the webhook is only acknowledged once recorded). Under load this turns hundreds of round trips
 * and commits per second into a few dozen, which is most of what the audit costs the ingest path.
 */
export class AuditWriter {
  private queue: Array<{ row: NewStripeEvent; resolve: (deliveries: number) => void; reject: (err: unknown) => void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: { maxDelayMs?: number; maxBatch?: number } = {},
  ) {}

  /** Resolves with how many times this event has been received, once the row is committed. */
  record(row: NewStripeEvent): Promise<number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      if (this.queue.length >= (this.options.maxBatch ?? 200)) this.flushSoon(0);
      else this.flushSoon(this.options.maxDelayMs ?? 3);
    });
  }

  private flushSoon(delayMs: number): void {
    if (this.timer && delayMs > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }, delayMs);
  }

  private async flush(): Promise<void> {
    const batch: typeof this.queue = [];
    const rest: typeof this.queue = [];
    const ids = new Set<string>();
    // One statement may not touch a row twice: a redelivery that races its original waits a batch.
    for (const item of this.queue.splice(0)) {
      if (ids.has(item.row.eventId)) rest.push(item);
      else {
        ids.add(item.row.eventId);
        batch.push(item);
      }
    }
    this.queue.unshift(...rest);
    if (rest.length > 0) this.flushSoon(0);
    if (batch.length === 0) return;
    try {
      // One column array per parameter: the statement text is the same whatever the batch size, so the
      // per-event cost is the rows, not building and parsing a new multi-row VALUES list every batch.
      const rows = batch.map((b) => b.row);
      const iso = (v: Date | string | null | undefined) => (v == null ? null : new Date(v).toISOString());
      const { rows: written } = await sql<{ eventId: string; deliveries: number }>`
        insert into stripe_events (event_id, type, created_at, account_id, customer_id, livemode, received_at, processed_at, disposition, workflow_id)
        select * from unnest(
          ${rows.map((r) => r.eventId)}::text[], ${rows.map((r) => r.type)}::text[], ${rows.map((r) => iso(r.createdAt))}::timestamptz[],
          ${rows.map((r) => r.accountId)}::text[], ${rows.map((r) => r.customerId ?? null)}::text[], ${rows.map((r) => r.livemode)}::boolean[],
          ${rows.map((r) => iso(r.receivedAt) ?? new Date().toISOString())}::timestamptz[], ${rows.map((r) => iso(r.processedAt))}::timestamptz[],
          ${rows.map((r) => r.disposition)}::text[], ${rows.map((r) => r.workflowId ?? null)}::text[])
        on conflict (event_id) do update set deliveries = stripe_events.deliveries + 1
        returning event_id, deliveries`.execute(this.db);
      const byId = new Map(written.map((r) => [r.eventId, Number(r.deliveries)]));
      for (const item of batch) item.resolve(byId.get(item.row.eventId) ?? 1);
    } catch (err) {
      for (const item of batch) item.reject(err);
    }
  }
}
