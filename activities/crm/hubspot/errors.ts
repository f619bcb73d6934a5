import { CrmRateLimitError, CrmValidationError, type RequestGate } from '../types.js';

/**
 * What `@hubspot/api-client` throws for an HTTP error answer. Each generated API module has its own
 * ApiException class, so an `instanceof` against one of them misses the others: match the shape.
 */
export interface ApiExceptionLike {
  code: number;
  body: unknown;
  headers: Record<string, string | undefined>;
}

export function isApiException(err: unknown): err is Error & ApiExceptionLike {
  if (!(err instanceof Error)) return false;
  const candidate = err as Error & Partial<ApiExceptionLike>;
  return typeof candidate.code === 'number' && 'body' in candidate && typeof candidate.headers === 'object' && candidate.headers !== null;
}

/** HubSpot's error envelope (`{status, message, category, correlationId, errors?, context?}`), as far as we read it. */
interface HubSpotErrorBody {
  message?: unknown;
  category?: unknown;
  subCategory?: unknown;
  correlationId?: unknown;
  policyName?: unknown;
  errors?: unknown;
  context?: unknown;
}

function errorBody(body: unknown): HubSpotErrorBody {
  if (typeof body === 'object' && body !== null) return body as HubSpotErrorBody;
  return typeof body === 'string' && body !== '' ? { message: body } : {};
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/**
 * A HubSpot answer that is neither a rate limit nor a refusal of the request itself (5xx, 401, 403, an
 * unexpected 404): transient as far as the adapter can tell, so Temporal retries it with backoff. Wraps
 * the client's exception, whose own message ("An error occurred.") says nothing in the Temporal UI.
 */
export class HubSpotRequestError extends Error {
  override name = 'HubSpotRequestError';
  constructor(
    message: string,
    readonly status: number,
    readonly category: string | null,
    readonly correlationId: string | null,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The refusals retrying cannot fix: a malformed or invalid write (400) or a conflicting one (409). */
const VALIDATION_STATUSES: ReadonlySet<number> = new Set([400, 409]);

/** Translates what the client threw into the CrmAdapter's error language; anything that is not an HTTP answer passes through. */
export function toCrmError(err: unknown, now: number = Date.now()): unknown {
  if (!isApiException(err)) return err;
  const body = errorBody(err.body);
  const category = text(body.category);
  const message = text(body.message) ?? 'no message';
  const summary = `HubSpot ${err.code}${category ? ` ${category}` : ''}: ${message}`;
  if (err.code === 429) return new CrmRateLimitError(summary, rateLimitDelayMs(err.headers, body, now));
  if (VALIDATION_STATUSES.has(err.code)) {
    return new CrmValidationError(summary, {
      status: err.code,
      category,
      message,
      correlationId: text(body.correlationId),
      errors: body.errors ?? [],
      context: body.context ?? {},
    });
  }
  return new HubSpotRequestError(summary, err.code, category, text(body.correlationId), { cause: err });
}

/**
 * Client options that make every request wait on the shared request budget first (the client's
 * middleware runs before each HTTP request, batch and search calls included).
 */
export function gateMiddleware(gate: RequestGate | undefined): { middleware?: Array<{ pre(ctx: unknown): Promise<unknown>; post(ctx: unknown): unknown }> } {
  if (!gate) return {};
  return { middleware: [{ pre: async (ctx) => { await gate.acquire(); return ctx; }, post: (ctx) => ctx }] };
}

/** Runs one client call and rethrows its failure translated. */
export async function hubspotCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toCrmError(err);
  }
}

const TEN_SECONDLY_MS = 10_000;
const DEFAULT_DELAY_MS = 1_000;
const DAY_MS = 86_400_000;

function header(headers: Record<string, string | undefined>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

function positiveNumber(raw: string | undefined): number | null {
  if (raw === undefined || raw.trim() === '') return null;
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : null;
}

/**
 * How long to wait after a 429. HubSpot sends no Retry-After (honoured if it ever does); its 429 body
 * names the policy that refused the request (developers.hubspot.com, "API usage guidelines and limits"):
 * - TEN_SECONDLY_ROLLING: a rolling window of `X-HubSpot-RateLimit-Interval-Milliseconds` (10 s). Which
 *   request leaves the window first is not disclosed, so wait one whole window: the earliest moment
 *   admission is certain.
 * - SECONDLY (search endpoints): one second.
 * - DAILY: the allowance resets at midnight (UTC here; HubSpot uses the portal's time zone, so this
 *   may be early, and the next attempt simply meets another 429).
 */
export function rateLimitDelayMs(headers: Record<string, string | undefined>, body: unknown, now: number): number {
  const retryAfterSeconds = positiveNumber(header(headers, 'retry-after'));
  if (retryAfterSeconds !== null) return Math.ceil(retryAfterSeconds * 1000);
  const interval = positiveNumber(header(headers, 'x-hubspot-ratelimit-interval-milliseconds'));
  switch (errorBody(body).policyName) {
    case 'DAILY':
      return DAY_MS - (now % DAY_MS);
    case 'TEN_SECONDLY_ROLLING':
      return interval ?? TEN_SECONDLY_MS;
    default:
      return interval ?? DEFAULT_DELAY_MS;
  }
}

/** One failed input of a batch answer (the spec's StandardError). */
export interface BatchErrorLike {
  category: string;
  message: string;
  context?: unknown;
  errors?: unknown;
}

/** Categories of a per-input batch failure that another attempt may get past. */
const TRANSIENT_BATCH_CATEGORIES: ReadonlySet<string> = new Set(['INTERNAL_ERROR', 'RATE_LIMITS', 'SERVICE_UNAVAILABLE', 'TIMEOUT']);

/**
 * Batch endpoints answer 200/207 with an `errors` array for inputs they refused. A refused input is
 * as permanent as a 400 unless its category says otherwise; `ignore` drops the expected ones.
 */
export function throwOnBatchErrors(what: string, errors: readonly BatchErrorLike[] | undefined, ignore?: (error: BatchErrorLike) => boolean): void {
  const failed = (errors ?? []).filter((e) => !ignore?.(e));
  const first = failed[0];
  if (!first) return;
  const summary = `HubSpot refused ${failed.length} input(s) of ${what}: ${first.category}: ${first.message}`;
  if (failed.some((e) => TRANSIENT_BATCH_CATEGORIES.has(e.category))) {
    throw new HubSpotRequestError(summary, 207, first.category, null);
  }
  throw new CrmValidationError(summary, {
    status: 207,
    errors: failed.map((e) => ({ category: e.category, message: e.message, context: e.context ?? {}, errors: e.errors ?? [] })),
  });
}
