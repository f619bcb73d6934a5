import { CrmNotFoundError, CrmRateLimitError, CrmValidationError } from '../types.js';

/** One Salesforce error: a request-level `{ errorCode }` or a record-level `{ statusCode }` in a collection result. */
export interface SalesforceErrorItem {
  code: string;
  message: string;
  fields: string[];
}

/** How long to wait after REQUEST_LIMIT_EXCEEDED; Salesforce sends no Retry-After of its own. */
export interface RateLimitDelays {
  /** The rolling 24-hour API allocation is used up: waiting minutes, not seconds, is what helps. */
  dailyMs: number;
  /** Too many long-running requests at once: clears as soon as some finish. */
  concurrencyMs: number;
}

/** Records of a collection call failed for reasons a retry may fix (a row lock, an internal error). */
export class SalesforceRecordError extends Error {
  override name = 'SalesforceRecordError';
  constructor(message: string, readonly failures: RecordFailure[]) {
    super(message);
  }
}

/** Salesforce did not answer within the adapter's request timeout. */
export class SalesforceTimeoutError extends Error {
  override name = 'SalesforceTimeoutError';
}

export interface RecordFailure {
  /** The Stripe key of the record (subscription id, activity key). */
  key: string;
  errors: SalesforceErrorItem[];
}

/**
 * Status codes that retrying the same request cannot fix: the data, the field setup or the org's
 * rules must change first. From the StatusCode list of the SOAP/REST API; MULTIPLE_CHOICES is
 * jsforce's code for the 300 answer an upsert gets when its external id matches several records.
 */
const PERMANENT_CODES: ReadonlySet<string> = new Set([
  'CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY',
  'DUPLICATE_EXTERNAL_ID',
  'DUPLICATE_VALUE',
  'DUPLICATES_DETECTED',
  'EXCEEDED_ID_LIMIT',
  'FIELD_CUSTOM_VALIDATION_EXCEPTION',
  'FIELD_FILTER_VALIDATION_EXCEPTION',
  'FIELD_INTEGRITY_EXCEPTION',
  'INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY',
  'INSUFFICIENT_ACCESS_OR_READONLY',
  'INVALID_EMAIL_ADDRESS',
  'INVALID_FIELD',
  'INVALID_FIELD_FOR_INSERT_UPDATE',
  'INVALID_ID_FIELD',
  'INVALID_INPUT',
  'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
  'INVALID_QUERY_FILTER_OPERATOR',
  'INVALID_TYPE',
  'INVALID_TYPE_FOR_OPERATION',
  'INVALID_TYPE_ON_FIELD_IN_RECORD',
  'JSON_PARSER_ERROR',
  'MALFORMED_ID',
  'MALFORMED_QUERY',
  'MISSING_ARGUMENT',
  'MULTIPLE_CHOICES',
  // REST answers 404 NOT_FOUND for an object or external-id field the user cannot see: a setup problem.
  'NOT_FOUND',
  'NUMBER_OUTSIDE_VALID_RANGE',
  'REQUIRED_FIELD_MISSING',
  'STORAGE_LIMIT_EXCEEDED',
  'STRING_TOO_LONG',
  'TEXT_DATA_OUTSIDE_SUPPORTED_CHARSET',
]);

/** A lookup id we sent points at a record that was deleted or merged away. */
const GONE_CODES: ReadonlySet<string> = new Set(['ENTITY_IS_DELETED', 'INVALID_CROSS_REFERENCE_KEY']);

const RATE_LIMIT_CODE = 'REQUEST_LIMIT_EXCEEDED';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function errorItem(value: unknown): SalesforceErrorItem | null {
  if (!isObject(value)) return null;
  const code = typeof value.errorCode === 'string' ? value.errorCode : typeof value.statusCode === 'string' ? value.statusCode : null;
  if (code === null) return null;
  const message = typeof value.message === 'string' ? value.message : '';
  const fields = Array.isArray(value.fields) ? value.fields.filter((f): f is string => typeof f === 'string') : [];
  return { code, message, fields };
}

/**
 * The Salesforce errors inside an error jsforce threw: its HttpApiError carries `errorCode` and the
 * parsed body in `data` (an array of items for MULTIPLE_API_ERRORS). Null for anything else
 * (network failures, aborted requests).
 */
export function salesforceErrorItems(err: unknown): SalesforceErrorItem[] | null {
  if (!(err instanceof Error) || !isObject(err) || typeof err.errorCode !== 'string') return null;
  const data = err.data;
  if (Array.isArray(data)) {
    const items = data.map(errorItem).filter((item): item is SalesforceErrorItem => item !== null);
    if (items.length > 0) return items;
  }
  const fields = isObject(data) ? (errorItem({ ...data, errorCode: err.errorCode })?.fields ?? []) : [];
  return [{ code: err.errorCode, message: err.message, fields }];
}

/**
 * True when a create failed because `field` had no value, so a second attempt that sets it may succeed
 * (validation rules may have failed alongside: the second attempt then reports them).
 */
export function isRequiredFieldMissing(err: unknown, field: string): boolean {
  return (salesforceErrorItems(err) ?? []).some((item) => item.code === 'REQUIRED_FIELD_MISSING' && item.fields.includes(field));
}

function rateLimitDelay(items: SalesforceErrorItem[], delays: RateLimitDelays): number {
  // Every API limit answers REQUEST_LIMIT_EXCEEDED; only the message names the limit, e.g.
  // "TotalRequests Limit exceeded." (daily) or "ConcurrentPerOrgLongTxn Limit exceeded." (concurrency).
  const concurrency = items.every((item) => item.code !== RATE_LIMIT_CODE || /^Concurrent/i.test(item.message));
  return concurrency ? delays.concurrencyMs : delays.dailyMs;
}

function describeItems(items: SalesforceErrorItem[]): string {
  return items.map((item) => `${item.code}${item.fields.length > 0 ? ` [${item.fields.join(', ')}]` : ''}: ${item.message}`).join('; ');
}

/** The CRM error for a set of Salesforce errors, or null when they may be transient. */
function classify(items: SalesforceErrorItem[], message: string, details: unknown, delays: RateLimitDelays): Error | null {
  if (items.length === 0) return null;
  if (items.some((item) => item.code === RATE_LIMIT_CODE)) return new CrmRateLimitError(message, rateLimitDelay(items, delays));
  if (items.every((item) => GONE_CODES.has(item.code))) return new CrmNotFoundError(message);
  if (items.every((item) => PERMANENT_CODES.has(item.code) || GONE_CODES.has(item.code))) return new CrmValidationError(message, details);
  return null;
}

/**
 * Translates an error thrown by a jsforce call into the adapter contract: CrmRateLimitError,
 * CrmNotFoundError, CrmValidationError (permanent), or the error itself (transient: 5xx, network).
 */
export function toCrmError(err: unknown, operation: string, delays: RateLimitDelays): unknown {
  if (err instanceof Error && err.name === 'AbortError') {
    return new SalesforceTimeoutError(`Salesforce ${operation}: no answer within the request timeout`, { cause: err });
  }
  const items = salesforceErrorItems(err);
  if (items === null) return err;
  return classify(items, `Salesforce ${operation}: ${describeItems(items)}`, { errors: items }, delays) ?? err;
}

/**
 * The error for the failed records of a collection call (allOrNone false: the others were saved).
 * Nothing is dropped silently: permanent failures become one CrmValidationError naming every record,
 * anything else a SalesforceRecordError that Temporal retries (the upsert makes the retry safe).
 */
export function recordFailuresError(object: string, failures: RecordFailure[], delays: RateLimitDelays): Error {
  const items = failures.flatMap((f) => f.errors);
  const message = `Salesforce ${object} upsert failed for ${failures.map((f) => `${f.key} (${describeItems(f.errors)})`).join(', ')}`;
  return classify(items, message, { failures }, delays) ?? new SalesforceRecordError(message, failures);
}
