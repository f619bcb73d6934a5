import { canonicalParams, type RawParams } from './params.js';

/** Token bucket: `requestsPerSecond` sustained, `burst` at once. Stripe counts every API request. */
export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    public requestsPerSecond: number,
    public burst: number = requestsPerSecond,
  ) {
    this.tokens = burst;
    this.last = Date.now();
  }

  configure(requestsPerSecond: number, burst: number = requestsPerSecond): void {
    this.requestsPerSecond = requestsPerSecond;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
  }

  /** False when the request is over the limit; a rate of 0 (or less) disables limiting. */
  take(): boolean {
    if (this.requestsPerSecond <= 0) return true;
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.requestsPerSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  reset(): void {
    this.tokens = this.burst;
    this.last = Date.now();
  }
}

interface StoredResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
}

interface Entry {
  endpoint: string;
  fingerprint: string;
  requestId: string;
  createdAt: number;
  response: StoredResponse | null;
}

export type IdempotencyCheck =
  | { kind: 'new' }
  | { kind: 'replay'; response: StoredResponse; originalRequestId: string }
  | { kind: 'in_progress' }
  | { kind: 'other_endpoint'; endpoint: string }
  | { kind: 'other_params' };

/** Stripe keeps idempotency keys for at least 24 hours. */
const KEY_TTL_MS = 24 * 3600 * 1000;
/**
 * stripe-node puts a key on every POST, so under load the store would grow with every write; the
 * oldest keys are dropped beyond this many stored response bytes (a replay of those runs again).
 */
const MAX_STORED_BYTES = 64 * 1024 * 1024;

/**
 * Idempotency keys, as Stripe applies them to POST requests: the first response is stored and
 * replayed for the same key and parameters; the same key with other parameters is an error.
 */
export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  begin(key: string, endpoint: string, params: RawParams, requestId: string): IdempotencyCheck {
    const fingerprint = canonicalParams(params);
    const existing = this.entries.get(key);
    if (existing && Date.now() - existing.createdAt > KEY_TTL_MS) this.drop(key);
    const entry = this.entries.get(key);
    if (entry) {
      if (entry.endpoint !== endpoint) return { kind: 'other_endpoint', endpoint: entry.endpoint };
      if (entry.fingerprint !== fingerprint) return { kind: 'other_params' };
      if (!entry.response) return { kind: 'in_progress' };
      return { kind: 'replay', response: entry.response, originalRequestId: entry.requestId };
    }
    this.entries.set(key, { endpoint, fingerprint, requestId, createdAt: Date.now(), response: null });
    return { kind: 'new' };
  }

  /** Stores the response, or forgets the key when the request never started executing. */
  finish(key: string, response: StoredResponse | null): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    if (!response) {
      this.entries.delete(key);
      return;
    }
    entry.response = response;
    this.bytes += response.body.length;
    for (const [oldest, e] of this.entries) {
      if (this.bytes <= MAX_STORED_BYTES) break;
      if (e.response) this.drop(oldest);
    }
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (entry?.response) this.bytes -= entry.response.body.length;
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
