import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/database.js';

/**
 * A token bucket shared by every worker through PostgreSQL. Each request reserves one token in one
 * statement; a caller that finds the bucket empty has reserved a slot in the future (the balance goes
 * negative) and sleeps until it comes. Callers are served in the order they asked, the rate holds across
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
  return {
    async take(name: string): Promise<void> {
      // clock_timestamp(), not now(): now() is the transaction's start, which a pooled connection may hold.
      const { rows } = await sql<{ tokens: number }>`
        insert into rate_budgets (name, tokens, updated_at) values (${name}, ${burst - 1}, clock_timestamp())
        on conflict (name) do update set
          tokens = least(${burst}::double precision,
                         rate_budgets.tokens + extract(epoch from clock_timestamp() - rate_budgets.updated_at) * ${rate}::double precision) - 1,
          updated_at = clock_timestamp()
        returning tokens`.execute(deps.db);
      const tokens = Number(rows[0]?.tokens ?? 0);
      if (tokens < 0) await sleep(Math.ceil((-tokens / rate) * 1000));
    },
  };
}
