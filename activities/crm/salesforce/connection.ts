import { Connection } from 'jsforce';
import type { HttpRequest, HttpRequestOptions } from 'jsforce';
import { Transport } from 'jsforce/lib/transport.js';

/**
 * jsforce retries GET/PUT/DELETE on 5xx and network errors up to five times with exponential backoff
 * (about 15 s) and has no per-connection switch for it (jsforce/jsforce#1643). Retries are Temporal's
 * job, so this transport makes every request a single attempt (an empty retry method list) and bounds
 * it, so that a hung socket fails inside the activity's start-to-close timeout instead of after jsforce's
 * 30-minute default.
 */
class SingleAttemptTransport extends Transport {
  constructor(private readonly timeoutMs: number) {
    super();
  }

  override httpRequest(req: HttpRequest, options: HttpRequestOptions = {}): ReturnType<Transport['httpRequest']> {
    return super.httpRequest(req, { ...options, timeout: this.timeoutMs, retry: { ...options.retry, maxRetries: 0, methods: [] } });
  }
}

export interface SalesforceConnectionOptions {
  instanceUrl: string;
  accessToken: string;
  apiVersion: string;
  requestTimeoutMs: number;
}

export function createSalesforceConnection(options: SalesforceConnectionOptions): Connection {
  const conn = new Connection({ instanceUrl: options.instanceUrl, accessToken: options.accessToken, version: options.apiVersion });
  // Every request, including describe and query, goes through the connection's transport.
  conn._transport = new SingleAttemptTransport(options.requestTimeoutMs);
  return conn;
}
