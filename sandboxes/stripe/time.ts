import type { Interval } from './records.js';

export const DAY = 86_400;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

/**
 * `anchor` moved forward by `n` intervals, calendar-aware and pinned to the anchor's day of month the
 * way Stripe bills: Jan 31 → Feb 28 (or 29) → Mar 31.
 */
export function addIntervals(anchor: number, interval: Interval, n: number): number {
  switch (interval) {
    case 'day':
      return anchor + n * DAY;
    case 'week':
      return anchor + n * 7 * DAY;
    case 'month':
    case 'year': {
      const d = new Date(anchor * 1000);
      const months = interval === 'month' ? n : n * 12;
      const total = d.getUTCMonth() + months;
      const year = d.getUTCFullYear() + Math.floor(total / 12);
      const month = ((total % 12) + 12) % 12;
      const day = Math.min(d.getUTCDate(), daysInMonth(year, month));
      return Math.floor(
        Date.UTC(year, month, day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()) / 1000,
      );
    }
  }
}

/** The first period boundary on the anchor's cycle strictly after `t`. */
export function nextBoundary(anchor: number, t: number, interval: Interval, count: number): number {
  if (anchor > t) return anchor;
  // Estimate, then correct: months vary in length, so step from a close guess.
  const approx = { day: DAY, week: 7 * DAY, month: 30.44 * DAY, year: 365.25 * DAY }[interval] * count;
  let k = Math.max(1, Math.floor((t - anchor) / approx));
  while (k > 1 && addIntervals(anchor, interval, k * count) > t) k--;
  while (addIntervals(anchor, interval, k * count) <= t) k++;
  return addIntervals(anchor, interval, k * count);
}

export function formatDate(t: number): string {
  const d = new Date(t * 1000);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return `${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

/** The billing period on the anchor's cycle that contains `t`: start <= t < end. */
export function periodAround(anchor: number, t: number, interval: Interval, count: number): { start: number; end: number } {
  const end = nextBoundary(anchor, t, interval, count);
  if (end === anchor) return { start: addIntervals(anchor, interval, -count), end };
  // nextBoundary returns the (k+1)-th boundary; the start is the k-th, found by stepping back once.
  const approx = { day: DAY, week: 7 * DAY, month: 30.44 * DAY, year: 365.25 * DAY }[interval] * count;
  let k = Math.max(1, Math.round((end - anchor) / approx));
  while (addIntervals(anchor, interval, k * count) > end) k--;
  while (addIntervals(anchor, interval, k * count) < end) k++;
  return { start: addIntervals(anchor, interval, (k - 1) * count), end };
}
