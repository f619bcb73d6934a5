import { requestLimitExceeded, type SalesforceError } from './errors.js';

export interface LimitOptions {
  /** Daily API request allocation (DailyApiRequests.Max). Enterprise Edition's base is 100,000. */
  dailyApiRequests?: number;
  /** Sandbox knob: more requests than this within one second get REQUEST_LIMIT_EXCEEDED. */
  maxRequestsPerSecond?: number;
  /** Sandbox knob: more requests than this in flight at once get REQUEST_LIMIT_EXCEEDED. */
  maxConcurrentRequests?: number;
}

export const DEFAULT_DAILY_API_REQUESTS = 100_000;
const DAILY_BULK_BATCHES = 15_000;
const DATA_STORAGE_MB = 1024;
/** Salesforce counts most records as 2 KB of data storage. */
const RECORD_KB = 2;

/**
 * API consumption as Salesforce meters it: every authenticated REST and Bulk call counts against the
 * daily allocation, reported in `/limits` and in each response's `Sforce-Limit-Info` header.
 */
export class ApiUsage {
  used = 0;
  bulkBatches = 0;
  max: number;
  maxRequestsPerSecond: number | undefined;
  maxConcurrentRequests: number | undefined;
  private inFlight = 0;
  private recent: number[] = [];

  constructor(private readonly initial: LimitOptions = {}) {
    this.max = initial.dailyApiRequests ?? DEFAULT_DAILY_API_REQUESTS;
    this.maxRequestsPerSecond = initial.maxRequestsPerSecond;
    this.maxConcurrentRequests = initial.maxConcurrentRequests;
  }

  reset(): void {
    this.used = 0;
    this.bulkBatches = 0;
    this.inFlight = 0;
    this.recent = [];
    this.max = this.initial.dailyApiRequests ?? DEFAULT_DAILY_API_REQUESTS;
    this.maxRequestsPerSecond = this.initial.maxRequestsPerSecond;
    this.maxConcurrentRequests = this.initial.maxConcurrentRequests;
  }

  configure(patch: { dailyApiRequests?: number; used?: number; maxRequestsPerSecond?: number | null; maxConcurrentRequests?: number | null }): void {
    if (patch.dailyApiRequests !== undefined) this.max = patch.dailyApiRequests;
    if (patch.used !== undefined) this.used = patch.used;
    if (patch.maxRequestsPerSecond !== undefined) this.maxRequestsPerSecond = patch.maxRequestsPerSecond ?? undefined;
    if (patch.maxConcurrentRequests !== undefined) this.maxConcurrentRequests = patch.maxConcurrentRequests ?? undefined;
  }

  /**
   * Admits one request or says why not. Refused requests are not metered. The caller must call
   * `finish()` once an admitted request is answered.
   */
  admit(nowMs: number): SalesforceError | undefined {
    if (this.used >= this.max) return requestLimitExceeded();
    if (this.maxConcurrentRequests !== undefined && this.inFlight >= this.maxConcurrentRequests) {
      return requestLimitExceeded('ConcurrentPerOrgLongTxn Limit exceeded.');
    }
    if (this.maxRequestsPerSecond !== undefined) {
      this.recent = this.recent.filter((t) => nowMs - t < 1000);
      if (this.recent.length >= this.maxRequestsPerSecond) {
        return requestLimitExceeded(`Request rate limit exceeded: more than ${this.maxRequestsPerSecond} requests per second.`);
      }
      this.recent.push(nowMs);
    }
    this.used++;
    this.inFlight++;
    return undefined;
  }

  finish(): void {
    if (this.inFlight > 0) this.inFlight--;
  }

  header(): string {
    return `api-usage=${this.used}/${this.max}`;
  }

  /** The `/limits` resource: real keys, the metered ones computed from actual use. */
  limits(recordCount: number): Record<string, { Max: number; Remaining: number }> {
    const fixed = (max: number) => ({ Max: max, Remaining: max });
    const usedMb = Math.ceil((recordCount * RECORD_KB) / 1024);
    return {
      ConcurrentAsyncGetReportInstances: fixed(200),
      ConcurrentSyncReportRuns: fixed(20),
      DailyApiRequests: { Max: this.max, Remaining: Math.max(0, this.max - this.used) },
      DailyAsyncApexExecutions: fixed(250_000),
      DailyBulkApiBatches: { Max: DAILY_BULK_BATCHES, Remaining: Math.max(0, DAILY_BULK_BATCHES - this.bulkBatches) },
      DailyBulkV2QueryFileStorageMB: fixed(976_562),
      DailyBulkV2QueryJobs: fixed(10_000),
      DailyGenericStreamingApiEvents: fixed(10_000),
      DailyStreamingApiEvents: fixed(1_000_000),
      DataStorageMB: { Max: DATA_STORAGE_MB, Remaining: Math.max(0, DATA_STORAGE_MB - usedMb) },
      FileStorageMB: fixed(20_480),
      HourlyPublishedPlatformEvents: fixed(250_000),
      MassEmail: fixed(5_000),
      SingleEmail: fixed(5_000),
    };
  }
}
