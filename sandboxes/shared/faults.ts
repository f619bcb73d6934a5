import type { Context, MiddlewareHandler } from 'hono';

/**
 * One fault rule. A request matches when its method (if given) and path regex match; each matching
 * request then draws, in order: a timeout, a 429, a 5xx. `times` caps how many requests the rule
 * affects, so a test can say "the next 5 writes get 429" deterministically.
 */
export interface FaultRule {
  method?: string;
  /** Regular expression tested against the request path. */
  path: string;
  rate429?: number;
  rate5xx?: number;
  /** The 5xx status to answer with (default 503). */
  status5xx?: number;
  timeoutRate?: number;
  /** How long a "timed out" request hangs before the socket is dropped (default 30 s). */
  timeoutMs?: number;
  latencyMs?: number;
  times?: number;
}

interface ActiveRule extends FaultRule {
  id: number;
  regex: RegExp;
  hits: number;
}

export type FaultKind = 'timeout' | '429' | '5xx';

/** Seeded PRNG (mulberry32) so a fault sequence is reproducible from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultInjector {
  private rules: ActiveRule[] = [];
  private nextId = 1;
  private random: () => number;
  readonly injected: Record<FaultKind, number> = { timeout: 0, '429': 0, '5xx': 0 };

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  add(rule: FaultRule): number {
    const id = this.nextId++;
    this.rules.push({ ...rule, id, regex: new RegExp(rule.path), hits: 0 });
    return id;
  }

  list(): Array<FaultRule & { id: number; hits: number }> {
    return this.rules.map(({ regex: _regex, ...rest }) => rest);
  }

  clear(): void {
    this.rules = [];
    this.injected.timeout = 0;
    this.injected['429'] = 0;
    this.injected['5xx'] = 0;
  }

  /** Decides what happens to one request; latency is returned separately because it combines with any outcome. */
  decide(method: string, path: string): { latencyMs: number; fault?: { kind: FaultKind; rule: ActiveRule } } {
    let latencyMs = 0;
    for (const rule of this.rules) {
      if (rule.method && rule.method.toUpperCase() !== method.toUpperCase()) continue;
      if (!rule.regex.test(path)) continue;
      if (rule.times !== undefined && rule.hits >= rule.times) continue;
      latencyMs = Math.max(latencyMs, rule.latencyMs ?? 0);
      const kinds: Array<[FaultKind, number | undefined]> = [
        ['timeout', rule.timeoutRate],
        ['429', rule.rate429],
        ['5xx', rule.rate5xx],
      ];
      for (const [kind, rate] of kinds) {
        if (rate !== undefined && rate > 0 && this.random() < rate) {
          rule.hits++;
          this.injected[kind]++;
          return { latencyMs, fault: { kind, rule } };
        }
      }
      if (rule.latencyMs && rule.times !== undefined) rule.hits++;
    }
    return { latencyMs };
  }
}

export interface FaultResponders {
  tooManyRequests(c: Context): Response | Promise<Response>;
  serverError(c: Context, status: number): Response | Promise<Response>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Hono middleware applying the injector's decision before the real handler runs. */
export function faultMiddleware(injector: FaultInjector, responders: FaultResponders): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.path.startsWith('/__sandbox')) return next();
    const { latencyMs, fault } = injector.decide(c.req.method, c.req.path);
    if (latencyMs > 0) await sleep(latencyMs);
    if (!fault) return next();
    switch (fault.kind) {
      case 'timeout': {
        await sleep(fault.rule.timeoutMs ?? 30_000);
        // Dropping the socket is what a client sees when a real API times out behind a load balancer.
        const incoming = (c.env as { incoming?: { socket?: { destroy(): void } } } | undefined)?.incoming;
        incoming?.socket?.destroy();
        return c.body(null, 504);
      }
      case '429':
        return responders.tooManyRequests(c);
      case '5xx':
        return responders.serverError(c, fault.rule.status5xx ?? 503);
    }
  };
}
