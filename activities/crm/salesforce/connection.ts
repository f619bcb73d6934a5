import { Duplex } from 'node:stream';
import { Connection } from 'jsforce';
import type { HttpRequest, HttpRequestOptions } from 'jsforce';
import { Transport } from 'jsforce/lib/transport.js';
import { StreamPromise } from 'jsforce/lib/util/promise.js';
import type { RequestGate } from '../types.js';

/**
 * jsforce retries GET/PUT/DELETE on 5xx and network errors up to five times with exponential backoff
 * (about 15 s) and has no per-connection switch for it (jsforce/jsforce#1643). Retries are Temporal's
 * job, so this transport makes every request a single attempt (an empty retry method list) and bounds
 * it, so that a hung socket fails inside the activity's start-to-close timeout instead of after jsforce's
 * 30-minute default.
 */
class SingleAttemptTransport extends Transport {
  constructor(private readonly timeoutMs: number, private readonly gate: RequestGate | undefined) {
    super();
  }

  override httpRequest(req: HttpRequest, options: HttpRequestOptions = {}): ReturnType<Transport['httpRequest']> {
    const send = () => super.httpRequest(req, { ...options, timeout: this.timeoutMs, retry: { ...options.retry, maxRetries: 0, methods: [] } });
    const gate = this.gate;
    if (!gate) return send();
    // Every request first takes a token from the shared request budget. jsforce hands the request's
    // stream out before it is sent (Bulk API uploads pipe into it), so a stand-in takes its place
    // until the token comes.
    return StreamPromise.create(() => {
      const stream = new DeferredDuplex();
      const promise = gate.acquire().then(() => {
        const sent = send();
        stream.attach(sent.stream());
        return sent;
      });
      promise.catch((err: unknown) => stream.destroy(err instanceof Error ? err : new Error(String(err))));
      return { stream, promise };
    });
  }
}

/** Buffers what is written until the real request stream exists, then relays both ways. */
class DeferredDuplex extends Duplex {
  private target: Duplex | null = null;
  private pending: Array<{ chunk: unknown; encoding: BufferEncoding; callback: (err?: Error | null) => void }> = [];
  private finished: ((err?: Error | null) => void) | null = null;

  attach(target: Duplex): void {
    this.target = target;
    target.on('data', (chunk) => {
      if (!this.push(chunk)) target.pause();
    });
    target.on('end', () => this.push(null));
    target.on('error', (err) => this.destroy(err));
    for (const { chunk, encoding, callback } of this.pending.splice(0)) target.write(chunk, encoding, callback);
    if (this.finished) target.end(this.finished);
  }

  override _write(chunk: unknown, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.target) this.target.write(chunk, encoding, callback);
    else this.pending.push({ chunk, encoding, callback });
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (this.target) this.target.end(callback);
    else this.finished = callback;
  }

  override _read(): void {
    this.target?.resume();
  }
}

export interface SalesforceConnectionOptions {
  instanceUrl: string;
  accessToken: string;
  apiVersion: string;
  requestTimeoutMs: number;
  /** The shared request budget every request waits on (all workers together stay within the CRM's rate). */
  requestGate?: RequestGate;
}

export function createSalesforceConnection(options: SalesforceConnectionOptions): Connection {
  const conn = new Connection({ instanceUrl: options.instanceUrl, accessToken: options.accessToken, version: options.apiVersion });
  // Every request, including describe and query, goes through the connection's transport.
  conn._transport = new SingleAttemptTransport(options.requestTimeoutMs, options.requestGate);
  return conn;
}
