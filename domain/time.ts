import { InvalidArgumentError } from './errors.js';

/**
 * Unix time in seconds, the unit Stripe uses for every timestamp. The domain never reads the clock: callers
 * pass `now` (inside a workflow, Temporal's deterministic workflow time in milliseconds divided by 1000).
 */
export type Timestamp = number;

export const SECONDS_PER_DAY = 86_400;

export function assertTimestamp(value: number, what: string): void {
  if (!Number.isFinite(value)) throw new InvalidArgumentError(`${what} must be a finite Unix timestamp in seconds`);
}

/** `YYYY-MM-DD` of the UTC calendar day containing `timestamp`. */
export function toIsoDate(timestamp: Timestamp): string {
  assertTimestamp(timestamp, 'timestamp');
  return new Date(Math.floor(timestamp) * 1000).toISOString().slice(0, 10);
}

/** ISO 8601 UTC date-time with a `Z` suffix, second precision (`2026-03-01T12:00:00Z`). */
export function toIsoDateTime(timestamp: Timestamp): string {
  assertTimestamp(timestamp, 'timestamp');
  return `${new Date(Math.floor(timestamp) * 1000).toISOString().slice(0, 19)}Z`;
}

/**
 * Adds calendar months in UTC, clamping the day to the end of a shorter month (Jan 31 + 1 month = Feb 28/29),
 * which is how Stripe advances billing periods and repeating coupon ends.
 */
export function addCalendarMonths(timestamp: Timestamp, months: number): Timestamp {
  assertTimestamp(timestamp, 'timestamp');
  if (!Number.isInteger(months)) throw new InvalidArgumentError('months must be an integer');
  const date = new Date(timestamp * 1000);
  const targetMonthIndex = date.getUTCMonth() + months;
  const year = date.getUTCFullYear() + Math.floor(targetMonthIndex / 12);
  const month = ((targetMonthIndex % 12) + 12) % 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = Math.min(date.getUTCDate(), lastDay);
  const ms = Date.UTC(year, month, day, date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), date.getUTCMilliseconds());
  return ms / 1000;
}

/** First instant (UTC) of the month after `month`/`year`: when a card with that expiry stops working. */
export function startOfMonthAfter(year: number, month: number): Timestamp {
  return Date.UTC(year, month, 1) / 1000;
}
