import type { Billing } from './billing.js';
import { invalidRequest } from './errors.js';
import type { TestClockRecord } from './records.js';
import { renderCustomer, renderTestClock } from './render.js';
import { requestScope, type StripeState } from './state.js';
import { DAY } from './time.js';

/** Test clocks are deleted automatically 30 days after creation, like Stripe's. */
const CLOCK_LIFETIME = 30 * DAY;

export class ClockNotReady extends Error {
  override readonly name = 'ClockNotReady';
}

/**
 * Time for the sandbox: test clocks (advanced on request, asynchronously, `advancing` → `ready`)
 * and the wall clock, on which objects without a test clock are billed by a periodic tick.
 */
export class Clocks {
  private ticker: NodeJS.Timeout | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters = new Map<string, Array<() => void>>();

  constructor(
    private readonly state: StripeState,
    private readonly billing: Billing,
    /** How long an advance stays `advancing` before it runs, to exercise clients that poll. */
    private readonly advanceDelayMs: number,
  ) {}

  /** Starts billing wall-clock objects (renewals, retries) once per `intervalMs`. */
  start(intervalMs = 1000): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => this.tick(), intervalMs);
    this.ticker.unref();
  }

  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    // Advances that will not run now release whoever awaits them.
    for (const list of this.waiters.values()) for (const w of list) w();
    this.waiters.clear();
  }

  /** Runs everything due on the wall clock now. */
  tick(): void {
    requestScope.exit(() => this.billing.runDue(null, this.state.realNow()));
  }

  create(frozenTime: number, name: string | null): TestClockRecord {
    const now = this.state.realNow();
    const clock: TestClockRecord = {
      id: this.state.ids.next('clock'),
      created: now,
      seq: this.state.nextSeq(),
      name,
      frozenTime,
      status: 'ready',
      advancingTo: null,
      deletesAfter: now + CLOCK_LIFETIME,
    };
    this.state.testClocks.insert(clock);
    this.state.emit('test_helpers.test_clock.created', null, renderTestClock(clock));
    return clock;
  }

  /** Starts an advance; it completes asynchronously (poll the clock, or await {@link whenReady}). */
  advance(clock: TestClockRecord, frozenTime: number): void {
    if (clock.status === 'advancing') {
      throw invalidRequest(`The test clock ${clock.id} is already advancing.`, { code: 'test_clock_advancing' });
    }
    if (frozenTime <= clock.frozenTime) {
      throw invalidRequest('The frozen_time must be after the current frozen_time of the test clock.', { param: 'frozen_time' });
    }
    const limit = this.billing.maxAdvance(clock.id, clock.frozenTime);
    if (limit !== null && frozenTime > limit) {
      throw invalidRequest(
        `Cannot advance the test clock more than two intervals of the shortest subscription interval on it. The furthest you can advance to is ${limit}.`,
        { param: 'frozen_time' },
      );
    }
    clock.status = 'advancing';
    clock.advancingTo = frozenTime;
    this.state.emit('test_helpers.test_clock.advancing', null, renderTestClock(clock));
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      // Work done by the advance is not part of the request that started it.
      requestScope.exit(() => this.finishAdvance(clock.id, frozenTime));
    }, this.advanceDelayMs);
    this.timers.add(timer);
  }

  private finishAdvance(id: string, frozenTime: number): void {
    const clock = this.state.testClocks.get(id);
    if (!clock) return;
    try {
      this.billing.runDue(clock.id, frozenTime);
      clock.status = 'ready';
      clock.advancingTo = null;
      this.state.emit('test_helpers.test_clock.ready', null, renderTestClock(clock));
    } catch (e) {
      clock.status = 'internal_failure';
      clock.advancingTo = null;
      this.state.emit('test_helpers.test_clock.internal_failure', null, renderTestClock(clock));
      console.error(`stripe sandbox: advancing ${id} failed`, e);
    }
    const waiters = this.waiters.get(id) ?? [];
    this.waiters.delete(id);
    for (const w of waiters) w();
  }

  /** Resolves when the clock is no longer advancing. */
  whenReady(id: string): Promise<void> {
    const clock = this.state.testClocks.get(id);
    if (!clock || clock.status !== 'advancing') return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
    });
  }

  /** Advance and wait: the programmatic shortcut for scripts and tests. */
  async advanceTo(id: string, frozenTime: number): Promise<TestClockRecord> {
    const clock = this.state.testClocks.require(id);
    this.advance(clock, frozenTime);
    await this.whenReady(id);
    if (clock.status !== 'ready') throw new ClockNotReady(`Test clock ${id} ended in status ${clock.status}`);
    return clock;
  }

  /** Deleting a clock deletes its customers (and so ends their subscriptions), as in Stripe. */
  delete(clock: TestClockRecord): void {
    for (const customer of [...this.state.customers.where('clock', clock.id)]) {
      if (customer.deleted) continue;
      this.deleteCustomer(customer.id);
    }
    this.state.testClocks.remove(clock.id);
    this.state.dropClock(clock.id);
    this.state.emit('test_helpers.test_clock.deleted', null, renderTestClock(clock));
  }

  /** Deletes a customer: its live subscriptions end immediately, then `customer.deleted`. */
  deleteCustomer(id: string): void {
    const customer = this.state.customers.require(id);
    for (const sub of this.state.subscriptions.where('customer', id)) {
      if (sub.status !== 'canceled' && sub.status !== 'incomplete_expired') this.billing.cancelNow(sub, { reason: 'cancellation_requested' });
    }
    const snapshot = renderCustomer(this.state, customer);
    customer.deleted = true;
    this.state.emit('customer.deleted', customer.clock, snapshot);
  }
}
