import type { Context } from 'hono';
import { validationError, type StandardError } from './errors.js';
import type { ObjectTypeDef } from './object-types.js';
import type { CrmStore } from './store.js';

/** What every route module needs: the store and the clock. */
export interface RouteContext {
  store: CrmStore;
  now: () => Date;
}

/** The object type a path names (standard or custom, by any of its names); HubSpot's 400 for one it does not know. */
export function objectTypeParam(store: CrmStore, c: Context, name = 'objectType'): ObjectTypeDef {
  const raw = c.req.param(name) ?? '';
  const def = store.types.resolve(raw);
  if (!def) throw validationError(`Unable to infer object type from: ${raw}`);
  return def;
}

/** HubSpot caps most batch inputs at 100 (property histories at 50, association batches at 1,000). */
export function checkBatchSize(inputs: unknown[], max: number, what = 'inputs'): void {
  if (inputs.length > max) {
    throw validationError(
      `The maximum number of ${what} supported in a batch request is ${max}. Please reduce the number of items and try again.`,
    );
  }
}

/** The envelope of every batch answer: `status`, `results`, timestamps, and `errors`/`numErrors` when any failed. */
export function batchBody(startedAt: Date, completedAt: Date, results: unknown[], errors: StandardError[] = []): Record<string, unknown> {
  const body: Record<string, unknown> = {
    status: 'COMPLETE',
    results,
    startedAt: startedAt.toISOString(),
    completedAt: completedAt.toISOString(),
  };
  if (errors.length > 0) {
    body.errors = errors;
    body.numErrors = errors.length;
  }
  return body;
}

/** Reads an integer query parameter, keeping HubSpot's defaults and caps. */
export function queryInt(c: Context, name: string, fallback: number, max: number): number {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw validationError(`${name} must be a positive integer, got ${raw}`);
  return Math.min(n, max);
}
