import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateBudget } from '../../activities/rate-budget.js';
import type { DatabaseHandle } from '../../db/connect.js';
import { openTestDatabase } from '../support/harness.js';

// The shared budget behind the backfill's Stripe reads (and every CRM request): a token bucket in
// PostgreSQL, so workers in different processes, each with its own pool, are held to one rate together.
let workerA: DatabaseHandle;
let workerB: DatabaseHandle;

beforeAll(async () => {
  [workerA, workerB] = await Promise.all([openTestDatabase(), openTestDatabase()]);
});

afterAll(async () => {
  await workerA?.close();
  await workerB?.close();
});

/** Times `count` takes of `name` spread over both workers, each taking as fast as it can. */
async function takeAll(name: string, rate: number, count: number): Promise<number[]> {
  const budgets = [createRateBudget({ db: workerA.db, ratePerSecond: rate }), createRateBudget({ db: workerB.db, ratePerSecond: rate })];
  const started = Date.now();
  const granted: number[] = [];
  await Promise.all(Array.from({ length: count }, async (_, i) => {
    await budgets[i % 2]!.take(name);
    granted.push(Date.now() - started);
  }));
  return granted.sort((a, b) => a - b);
}

describe('the shared rate budget', () => {
  it('holds two workers together to the rate, strictly paced: an idle bucket lets one request through at once', async () => {
    const name = `test/${randomBytes(4).toString('hex')}`;
    const granted = await takeAll(name, 20, 21);
    // 21 requests at 20/s: the first at once, the last a second later, however fast the machine.
    expect(granted[0]!).toBeLessThan(500);
    expect(granted[1]!).toBeGreaterThanOrEqual(40);
    expect(granted.at(-1)!).toBeGreaterThanOrEqual(950);
    // No window of half a second saw more than half a second's worth (plus the one at once).
    for (let i = 0; i < granted.length; i++) {
      expect(granted.filter((t) => t >= granted[i]! && t < granted[i]! + 500).length).toBeLessThanOrEqual(11);
    }
  });

  it('keeps budgets of different names apart (one per Stripe account)', async () => {
    const [a, b] = [`test/${randomBytes(4).toString('hex')}`, `test/${randomBytes(4).toString('hex')}`];
    const started = Date.now();
    await Promise.all([takeAll(a, 4, 3), takeAll(b, 4, 3)]);
    // Three each at 4/s: half a second, not the 1.25 s six on one budget would take.
    const seconds = (Date.now() - started) / 1000;
    expect(seconds).toBeGreaterThanOrEqual(0.45);
    expect(seconds).toBeLessThan(1);
  });

  it('reserves the tokens of takes asked for together in one statement, paced as if each had asked alone', async () => {
    let statements = 0;
    const counting = workerA.db.withPlugin({
      transformQuery: (args) => {
        statements++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    const budget = createRateBudget({ db: counting, ratePerSecond: 50 });
    const name = `test/${randomBytes(4).toString('hex')}`;
    const started = Date.now();
    const granted = (await Promise.all(Array.from({ length: 5 }, async () => {
      await budget.take(name);
      return Date.now() - started;
    }))).sort((a, b) => a - b);
    expect(statements).toBe(1);
    // Five at 50/s: the first at once, then one every 20 ms.
    expect(granted[0]!).toBeLessThan(200);
    expect(granted[4]!).toBeGreaterThanOrEqual(75);
    expect(granted[4]! - granted[1]!).toBeGreaterThanOrEqual(55);
    // A later take is a statement of its own and queues behind them.
    await budget.take(name);
    expect(statements).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
  });
});
