import { noSuch } from './errors.js';
import type { RangeFilter } from './params.js';

/** Every stored object: `seq` breaks ties between objects created in the same second. */
export interface Row {
  readonly id: string;
  readonly created: number;
  readonly seq: number;
}

function before(a: Row, b: Row): boolean {
  return a.created < b.created || (a.created === b.created && a.seq < b.seq);
}

function compare(a: Row, b: Row): number {
  return a.created - b.created || a.seq - b.seq;
}

interface Bucket<R> {
  rows: R[];
  sorted: boolean;
}

/**
 * Most index keys (a customer id) have one row; those are stored bare, and only keys with several
 * rows get a bucket. At 100k customers this is most of the index memory.
 */
class Many<R> implements Bucket<R> {
  sorted = true;
  constructor(public rows: R[]) {}
}

interface Index<R> {
  key: (r: R) => string | null;
  buckets: Map<string, R | Many<R>>;
}

/**
 * One object type's storage: by id, and in creation order for list endpoints (which return newest
 * first). Inserts append; out-of-order inserts (bulk seeding with random `created`) only mark the
 * order dirty, and the next list sorts once. Secondary indexes keep per-customer lists cheap at 100k rows.
 */
export class Collection<R extends Row> {
  private readonly byId = new Map<string, R>();
  private ordered: Bucket<R> = { rows: [], sorted: true };
  private readonly indexes = new Map<string, Index<R>>();

  /** `kind` is the word Stripe uses in `No such <kind>: 'id'`. */
  constructor(readonly kind: string) {}

  index(name: string, key: (r: R) => string | null): this {
    this.indexes.set(name, { key, buckets: new Map() });
    return this;
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): R | undefined {
    return this.byId.get(id);
  }

  /** The object or Stripe's `No such ...` error (404 for URL ids, 400 with `param` for parameters). */
  require(id: string, param?: string): R {
    const row = this.byId.get(id);
    if (!row) throw noSuch(this.kind, id, param);
    return row;
  }

  insert(row: R): R {
    this.byId.set(row.id, row);
    push(this.ordered, row);
    for (const index of this.indexes.values()) {
      const key = index.key(row);
      if (key !== null) pushKey(index, key, row);
    }
    return row;
  }

  /** Call after changing a field an index is keyed on. */
  reindex(row: R, name: string, previousKey: string | null): void {
    const index = this.indexes.get(name);
    if (!index) return;
    const key = index.key(row);
    if (key === previousKey) return;
    if (previousKey !== null) removeKey(index, previousKey, row);
    if (key !== null) pushKey(index, key, row);
  }

  remove(id: string): void {
    const row = this.byId.get(id);
    if (!row) return;
    this.byId.delete(id);
    this.ordered.rows = this.ordered.rows.filter((r) => r !== row);
    for (const index of this.indexes.values()) {
      const key = index.key(row);
      if (key !== null) removeKey(index, key, row);
    }
  }

  /** All rows, oldest first. */
  all(): readonly R[] {
    return sortBucket(this.ordered);
  }

  /** Rows whose index key equals `key`, oldest first. */
  where(name: string, key: string): readonly R[] {
    const entry = this.indexes.get(name)?.buckets.get(key);
    if (entry === undefined) return [];
    return entry instanceof Many ? sortBucket(entry) : [entry];
  }

  clear(): void {
    this.byId.clear();
    this.ordered = { rows: [], sorted: true };
    for (const index of this.indexes.values()) index.buckets.clear();
  }
}

function push<R extends Row>(bucket: Bucket<R>, row: R): void {
  const last = bucket.rows[bucket.rows.length - 1];
  if (last && before(row, last)) bucket.sorted = false;
  bucket.rows.push(row);
}

function pushKey<R extends Row>(index: Index<R>, key: string, row: R): void {
  const entry = index.buckets.get(key);
  if (entry === undefined) index.buckets.set(key, row);
  else if (entry instanceof Many) push(entry, row);
  else {
    const many = new Many([entry]);
    push(many, row);
    index.buckets.set(key, many);
  }
}

function removeKey<R extends Row>(index: Index<R>, key: string, row: R): void {
  const entry = index.buckets.get(key);
  if (entry === row) index.buckets.delete(key);
  else if (entry instanceof Many) entry.rows = entry.rows.filter((r) => r !== row);
}

function sortBucket<R extends Row>(bucket: Bucket<R>): readonly R[] {
  if (!bucket.sorted) {
    bucket.rows.sort(compare);
    bucket.sorted = true;
  }
  return bucket.rows;
}

/** First index whose row is not before `probe` (rows sorted ascending). */
function lowerBound(rows: readonly Row[], created: number, seq: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const r = rows[mid] as Row;
    if (r.created < created || (r.created === created && r.seq < seq)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface PageQuery {
  limit?: number;
  starting_after?: string;
  ending_before?: string;
  created?: RangeFilter;
}

/**
 * Stripe's cursor pagination over rows sorted oldest-first, returning newest-first like the API.
 * `ending_before` returns the `limit` rows just newer than the cursor, still newest-first, which is
 * what stripe-node's reverse auto-pagination expects.
 */
export function page<R extends Row>(
  rows: readonly R[],
  query: PageQuery,
  cursor: (id: string, param: string) => Row,
  filter?: (row: R) => boolean,
): { data: R[]; has_more: boolean } {
  const limit = query.limit ?? 10;
  let lo = 0;
  let hi = rows.length; // candidate window [lo, hi)
  const created = query.created;
  if (created) {
    if (created.gte !== undefined) lo = Math.max(lo, lowerBound(rows, created.gte, -Infinity));
    if (created.gt !== undefined) lo = Math.max(lo, lowerBound(rows, created.gt + 1, -Infinity));
    if (created.lte !== undefined) hi = Math.min(hi, lowerBound(rows, created.lte + 1, -Infinity));
    if (created.lt !== undefined) hi = Math.min(hi, lowerBound(rows, created.lt, -Infinity));
  }
  const data: R[] = [];
  let hasMore = false;
  if (query.ending_before !== undefined) {
    const c = cursor(query.ending_before, 'ending_before');
    lo = Math.max(lo, lowerBound(rows, c.created, c.seq + 1));
    for (let i = lo; i < hi; i++) {
      const row = rows[i] as R;
      if (filter && !filter(row)) continue;
      if (data.length === limit) {
        hasMore = true;
        break;
      }
      data.push(row);
    }
    data.reverse();
    return { data, has_more: hasMore };
  }
  if (query.starting_after !== undefined) {
    const c = cursor(query.starting_after, 'starting_after');
    hi = Math.min(hi, lowerBound(rows, c.created, c.seq));
  }
  for (let i = hi - 1; i >= lo; i--) {
    const row = rows[i] as R;
    if (filter && !filter(row)) continue;
    if (data.length === limit) {
      hasMore = true;
      break;
    }
    data.push(row);
  }
  return { data, has_more: hasMore };
}
