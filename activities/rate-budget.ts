import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/database.js';

/**
 * A token bucket shared by every worker through PostgreSQL. Each request reserves one token (requests
 * asked for together reserve theirs in one statement); a caller that finds the bucket empty has
 * reserved a slot in the future (the balance goes negative) and sleeps until it comes. Callers are served in the order they asked, the rate holds across
 * all processes sharing the database, and an idle bucket refills up to `burst`.
 */
export interface RateBudget {
  /** Resolves when the caller may make one request under `name`'s limit. */
  take(name: string): Promise<void>;
}

export function createRateBudget(deps: { db: Kysely<Database>; ratePerSecond: number; burst?: number; sleep?: (ms: number) => Promise<void> }): RateBudget {
  const rate = deps.ratePerSecond;
  // Strictly paced by default: an idle bucket holds one token, so no window of any length sees more than
  // one request above the rate (HubSpot counts 190 per rolling 10 s: a second's burst on top would be refused).
  const burst = deps.burst ?? 1;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  // Takes asked for in the same turn of the event loop (a sync round's concurrent writes, several
  // activities at once) reserve their tokens in one statement: the same reservations, one round trip.
  const waiting = new Map<string, Array<{ resolve: (balance: number) => void; reject: (err: unknown) => void }>>();

  async function reserve(name: string): Promise<void> {
    const takers = waiting.get(name) ?? [];
    waiting.delete(name);
    const count = takers.length;
    try {
      // clock_timestamp(), not now(): now() is the transaction's start, which a pooled connection may hold.
      const { rows } = await sql<{ tokens: number }>`
        insert into rate_budgets (name, tokens, updated_at) values (${name}, ${burst - count}::double precision, clock_timestamp())
        on conflict (name) do update set
          tokens = least(${burst}::double precision,
                         rate_budgets.tokens + extract(epoch from clock_timestamp() - rate_budgets.updated_at) * ${rate}::double precision) - ${count},
          updated_at = clock_timestamp()
        returning tokens`.execute(deps.db);
      const after = Number(rows[0]?.tokens ?? 0);
      // The k-th taker holds the token that brought the balance to after + (count - 1 - k): as if each had asked alone, in order.
      takers.forEach((taker, k) => taker.resolve(after + (count - 1 - k)));
    } catch (err) {
      for (const taker of takers) taker.reject(err);
    }
  }

  return {
    async take(name: string): Promise<void> {
      const balance = await new Promise<number>((resolve, reject) => {
        const takers = waiting.get(name);
        if (takers) takers.push({ resolve, reject });
        else {
          waiting.set(name, [{ resolve, reject }]);
          setImmediate(() => void reserve(name));
        }
      });
      if (balance < 0) await sleep(Math.ceil((-balance / rate) * 1000));
    },
  };
}
