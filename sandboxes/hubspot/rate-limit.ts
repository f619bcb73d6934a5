import { randomUUID } from 'node:crypto';

export interface WindowPolicy {
  /** Requests allowed per window. */
  max: number;
  windowMs: number;
}

export type PolicyName = 'TEN_SECONDLY_ROLLING' | 'SECONDLY' | 'DAILY';

/** A rolling window per token: a request is admitted when fewer than `max` were admitted in the last `windowMs`. */
class RollingWindow {
  private hits = new Map<string, number[]>();

  constructor(readonly policy: WindowPolicy) {}

  /** Admits and counts the request, or refuses it without counting; returns what is left afterwards. */
  take(key: string, now: number): { allowed: boolean; remaining: number } {
    const cutoff = now - this.policy.windowMs;
    const hits = (this.hits.get(key) ?? []).filter((t) => t > cutoff);
    const allowed = hits.length < this.policy.max;
    if (allowed) hits.push(now);
    this.hits.set(key, hits);
    return { allowed, remaining: Math.max(0, this.policy.max - hits.length) };
  }

  clear(): void {
    this.hits.clear();
  }
}

export interface RateLimitOptions {
  tenSecondly: WindowPolicy;
  search: WindowPolicy;
  daily: number;
}

export interface RateDecision {
  allowed: boolean;
  /** The policy that refused the request (when refused). */
  policy?: PolicyName;
  /** HubSpot's rate-limit headers, sent on every answer. */
  headers: Record<string, string>;
}

/**
 * HubSpot's per-token limits: a rolling ten-second window (190 per 10 s for a Professional private app),
 * a daily allowance, and the CRM search endpoints' own limit (5 requests per second). Search requests
 * are governed by the search policy and the daily allowance, not the ten-second window, and their
 * headers describe the search policy.
 */
export class RateLimiter {
  private readonly tenSecondly: RollingWindow;
  private readonly search: RollingWindow;
  private daily = new Map<string, { day: string; count: number }>();

  constructor(readonly options: RateLimitOptions) {
    this.tenSecondly = new RollingWindow(options.tenSecondly);
    this.search = new RollingWindow(options.search);
  }

  reset(): void {
    this.tenSecondly.clear();
    this.search.clear();
    this.daily.clear();
  }

  check(token: string, isSearch: boolean, now: Date): RateDecision {
    const day = now.toISOString().slice(0, 10);
    let used = this.daily.get(token);
    if (!used || used.day !== day) this.daily.set(token, (used = { day, count: 0 }));
    const window = isSearch ? this.search : this.tenSecondly;
    const headersFor = (remaining: number, dailyUsed: number): Record<string, string> => ({
      'X-HubSpot-RateLimit-Daily': String(this.options.daily),
      'X-HubSpot-RateLimit-Daily-Remaining': String(Math.max(0, this.options.daily - dailyUsed)),
      'X-HubSpot-RateLimit-Interval-Milliseconds': String(window.policy.windowMs),
      'X-HubSpot-RateLimit-Max': String(window.policy.max),
      'X-HubSpot-RateLimit-Remaining': String(remaining),
    });
    if (used.count >= this.options.daily) {
      return { allowed: false, policy: 'DAILY', headers: headersFor(0, used.count) };
    }
    const taken = window.take(token, now.getTime());
    if (!taken.allowed) {
      return {
        allowed: false,
        policy: isSearch ? 'SECONDLY' : 'TEN_SECONDLY_ROLLING',
        headers: headersFor(taken.remaining, used.count),
      };
    }
    used.count++;
    return { allowed: true, headers: headersFor(taken.remaining, used.count) };
  }
}

const MESSAGES: Record<PolicyName, string> = {
  TEN_SECONDLY_ROLLING: 'You have reached your ten_secondly_rolling limit.',
  SECONDLY: 'You have reached your secondly limit.',
  DAILY: 'You have reached your daily limit.',
};

/**
 * HubSpot's 429 body. The official client's retry decorator keys on `policyName` (ten-secondly) and on
 * the exact secondly message, so both must match HubSpot's wording.
 */
export function rateLimitBody(policy: PolicyName, portalId: number, correlationId: string): Record<string, string> {
  return {
    status: 'error',
    message: MESSAGES[policy],
    errorType: 'RATE_LIMIT',
    correlationId,
    policyName: policy,
    groupName: `publicapi:private-app:${portalId}`,
    requestId: randomUUID(),
    category: 'RATE_LIMITS',
  };
}
