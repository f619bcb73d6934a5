import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { EventRecord, WebhookEndpointRecord } from './records.js';
import { isLegacyVersion, legacyData } from './legacy.js';
import { eventJson } from './render.js';
import { API_VERSION, type StripeState } from './state.js';

/** Delivery knobs; all of them can be changed at runtime through `/__sandbox/webhooks/settings`. */
export interface WebhookSettings {
  /** Deliver events in random order within `shuffleWindowMs`, as Stripe does not guarantee order. */
  shuffle: boolean;
  shuffleWindowMs: number;
  /** Probability (0..1) that an event is delivered a second time, as Stripe's delivery is at-least-once. */
  duplicateRate: number;
  /** Exponential backoff after a non-2xx answer or a connection error. */
  retry: { initialDelayMs: number; multiplier: number; maxDelayMs: number; maxAttempts: number };
  /** A receiver slower than this counts as failed (Stripe waits a few seconds at most). */
  timeoutMs: number;
  /** Deliveries in flight per endpoint; 1 keeps unshuffled deliveries in event order. */
  concurrency: number;
}

export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = {
  shuffle: false,
  shuffleWindowMs: 200,
  duplicateRate: 0,
  retry: { initialDelayMs: 1000, multiplier: 2, maxDelayMs: 60_000, maxAttempts: 8 },
  timeoutMs: 10_000,
  concurrency: 1,
};

export interface DeliveryAttempt {
  at: string;
  status: number | null;
  error: string | null;
  durationMs: number;
}

export interface Delivery {
  id: string;
  event: string;
  type: string;
  endpoint: string;
  url: string;
  /** A deliberate second delivery of the same event (the duplicateRate knob). */
  duplicate: boolean;
  status: 'pending' | 'in_flight' | 'succeeded' | 'failed' | 'canceled';
  attempts: DeliveryAttempt[];
  nextAttemptAt: string | null;
}

/** Stripe's signature header: `t=<unix>,v1=<hex HMAC-SHA256 of "t.payload" keyed by the endpoint secret>`. */
export function signPayload(payload: string, secret: string, timestamp: number): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

/** Stripe's dispatch rule: an endpoint receives the event types it enabled, or everything with `*`. */
export function endpointWants(endpoint: WebhookEndpointRecord, type: string): boolean {
  return endpoint.status === 'enabled' && (endpoint.enabledEvents.includes('*') || endpoint.enabledEvents.includes(type));
}

const MAX_KEPT = 50_000;

/**
 * Delivers every recorded event to each subscribed endpoint over HTTP, off the request path, with
 * retries, and with knobs that reproduce Stripe's unordered, at-least-once delivery.
 */
export class WebhookDispatcher {
  settings: WebhookSettings;
  private readonly deliveries = new Map<string, Delivery>();
  private readonly ready: Delivery[] = [];
  private readonly window: Delivery[] = [];
  private windowTimer: NodeJS.Timeout | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Map<string, number>();
  private readonly controller = new AbortController();
  private idleWaiters: Array<() => void> = [];
  private nextId = 0;
  private stopped = false;

  constructor(
    private readonly state: StripeState,
    private readonly random: () => number,
    settings: WebhookSettings,
  ) {
    this.settings = { ...settings, retry: { ...settings.retry } };
    state.onEvent((event) => this.enqueueEvent(event));
  }

  updateSettings(patch: Partial<Omit<WebhookSettings, 'retry'>> & { retry?: Partial<WebhookSettings['retry']> }): WebhookSettings {
    const { retry, ...rest } = patch;
    this.settings = { ...this.settings, ...rest, retry: { ...this.settings.retry, ...retry } };
    return this.settings;
  }

  list(filter: { event?: string; endpoint?: string; status?: string; type?: string } = {}): Delivery[] {
    return [...this.deliveries.values()]
      .filter(
        (d) =>
          (filter.event === undefined || d.event === filter.event) &&
          (filter.endpoint === undefined || d.endpoint === filter.endpoint) &&
          (filter.status === undefined || d.status === filter.status) &&
          (filter.type === undefined || d.type === filter.type),
      )
      .reverse();
  }

  /** Resolves once nothing is queued, in flight or waiting for a retry. */
  whenIdle(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Cancels everything pending (endpoint deleted, reset, or shutdown). */
  cancel(filter: (d: Delivery) => boolean = () => true): void {
    for (const d of this.deliveries.values()) {
      if (filter(d) && d.status === 'pending') {
        d.status = 'canceled';
        d.nextAttemptAt = null;
        this.settle(d);
      }
    }
    this.ready.splice(0, this.ready.length, ...this.ready.filter((d) => d.status === 'pending'));
    this.window.splice(0, this.window.length, ...this.window.filter((d) => d.status === 'pending'));
    this.checkIdle();
  }

  reset(): void {
    this.cancel();
    this.deliveries.clear();
  }

  stop(): void {
    this.stopped = true;
    this.cancel();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.controller.abort();
  }

  private idle(): boolean {
    for (const d of this.deliveries.values()) if (d.status === 'pending' || d.status === 'in_flight') return false;
    return true;
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || !this.idle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private enqueueEvent(event: EventRecord): void {
    if (this.stopped) return;
    for (const endpoint of this.state.webhookEndpoints.all()) {
      if (!endpointWants(endpoint, event.type)) continue;
      event.pendingWebhooks++;
      this.add(this.newDelivery(event, endpoint, false));
      if (this.settings.duplicateRate > 0 && this.random() < this.settings.duplicateRate) {
        this.add(this.newDelivery(event, endpoint, true));
      }
    }
  }

  private newDelivery(event: EventRecord, endpoint: WebhookEndpointRecord, duplicate: boolean): Delivery {
    const d: Delivery = {
      id: `whd_${(++this.nextId).toString(36).padStart(8, '0')}`,
      event: event.id,
      type: event.type,
      endpoint: endpoint.id,
      url: endpoint.url,
      duplicate,
      status: 'pending',
      attempts: [],
      nextAttemptAt: null,
    };
    this.deliveries.set(d.id, d);
    if (this.deliveries.size > MAX_KEPT) {
      for (const [id, old] of this.deliveries) {
        if (this.deliveries.size <= MAX_KEPT) break;
        if (old.status === 'succeeded' || old.status === 'failed' || old.status === 'canceled') this.deliveries.delete(id);
      }
    }
    return d;
  }

  private add(d: Delivery): void {
    if (this.settings.shuffle || d.duplicate) {
      // Shuffled deliveries (and duplicates, which arrive later) wait for the window to close.
      this.window.push(d);
      if (!this.windowTimer) {
        this.windowTimer = setTimeout(() => this.flushWindow(), Math.max(1, this.settings.shuffleWindowMs));
      }
      return;
    }
    this.ready.push(d);
    setImmediate(() => this.pump());
  }

  private flushWindow(): void {
    this.windowTimer = null;
    const batch = this.window.splice(0, this.window.length);
    if (this.settings.shuffle) {
      for (let i = batch.length - 1; i > 0; i--) {
        const j = Math.floor(this.random() * (i + 1));
        [batch[i], batch[j]] = [batch[j] as Delivery, batch[i] as Delivery];
      }
    }
    this.ready.push(...batch);
    this.pump();
  }

  private pump(): void {
    if (this.stopped) return;
    for (let i = 0; i < this.ready.length; ) {
      const d = this.ready[i] as Delivery;
      if (d.status !== 'pending') {
        this.ready.splice(i, 1);
        continue;
      }
      const busy = this.inFlight.get(d.endpoint) ?? 0;
      if (busy >= Math.max(1, this.settings.concurrency)) {
        i++;
        continue;
      }
      this.ready.splice(i, 1);
      this.inFlight.set(d.endpoint, busy + 1);
      void this.attempt(d)
        .catch((e: unknown) => {
          // A bug in rendering the payload must not take the dispatcher down; the delivery fails visibly.
          d.status = 'failed';
          d.attempts.push({ at: new Date().toISOString(), status: null, error: String(e), durationMs: 0 });
          this.settle(d);
        })
        .finally(() => {
          this.inFlight.set(d.endpoint, (this.inFlight.get(d.endpoint) ?? 1) - 1);
          this.pump();
          this.checkIdle();
        });
    }
  }

  private async attempt(d: Delivery): Promise<void> {
    const event = this.state.events.get(d.event);
    const endpoint = this.state.webhookEndpoints.get(d.endpoint);
    if (!event || !endpoint) {
      d.status = 'canceled';
      return;
    }
    d.status = 'in_flight';
    d.nextAttemptAt = null;
    const version = endpoint.apiVersion ?? API_VERSION;
    const payload = eventJson(event, version, isLegacyVersion(version) ? legacyData(this.state, event.dataJson) : event.dataJson);
    // Signatures use wall-clock time even for test-clock events: receivers check it against theirs.
    const timestamp = Math.floor(Date.now() / 1000);
    const started = Date.now();
    let status: number | null = null;
    let error: string | null = null;
    const signal = AbortSignal.any([AbortSignal.timeout(this.settings.timeoutMs), this.controller.signal]);
    try {
      status = await post(endpoint.url, {
        'Content-Type': 'application/json; charset=utf-8',
        'Stripe-Signature': signPayload(payload, endpoint.secret, timestamp),
        'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        Accept: '*/*; q=0.5, application/xml',
        'Cache-Control': 'no-cache',
      }, payload, signal);
    } catch (e) {
      // An aborted delivery says why (the timeout, the sandbox stopping), not the abort it caused.
      const cause = signal.aborted ? signal.reason : e;
      error = cause instanceof Error ? (cause.cause instanceof Error ? `${cause.message}: ${cause.cause.message}` : cause.message) : String(cause);
    }
    d.attempts.push({ at: new Date(started).toISOString(), status, error, durationMs: Date.now() - started });
    if ((d.status as Delivery['status']) === 'canceled') return;
    if (status !== null && status >= 200 && status < 300) {
      d.status = 'succeeded';
      this.settle(d);
      return;
    }
    const retry = this.settings.retry;
    if (d.attempts.length >= retry.maxAttempts || this.stopped) {
      d.status = 'failed';
      this.settle(d);
      return;
    }
    const delay = Math.min(retry.maxDelayMs, retry.initialDelayMs * retry.multiplier ** (d.attempts.length - 1));
    d.status = 'pending';
    d.nextAttemptAt = new Date(Date.now() + delay).toISOString();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (d.status !== 'pending') return;
      this.ready.push(d);
      this.pump();
    }, delay);
    this.timers.add(timer);
  }

  /** A delivery reached its final state: the event has one webhook fewer pending. */
  private settle(d: Delivery): void {
    if (d.duplicate) return;
    const event = this.state.events.get(d.event);
    if (event && event.pendingWebhooks > 0) event.pendingWebhooks--;
  }
}

// Deliveries go through Node's http module on keep-alive connections, as a sender of many webhooks
// would: `fetch` costs several times the CPU per request, which the sandbox shares with the service.
// The idle timeout makes Node honour the receiver's Keep-Alive hint (see activities/crm/hubspot/client.ts).
const agentOptions = { keepAlive: true, timeout: 30_000 };
const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };

/** POSTs `body` and resolves with the response status once the response has been read. */
function post(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<number> {
  const secure = url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(url, {
      method: 'POST', agent: secure ? agents.https : agents.http, signal,
      headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
    }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end(body);
  });
}
