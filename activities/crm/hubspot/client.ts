import http from 'node:http';
import https from 'node:https';
import { Client } from '@hubspot/api-client';
import type { RequestGate } from '../types.js';
import { gateMiddleware } from './errors.js';

export interface HubSpotClientOptions {
  accessToken: string;
  /** API origin; default https://api.hubapi.com. */
  baseUrl?: string | undefined;
  /** The shared request budget every request waits on first. */
  requestGate?: RequestGate | undefined;
}

/**
 * The official client as the adapter and the scanner use it. Retries are Temporal's job (a 429 becomes a
 * retry after the server's delay), so the client makes none. It is given a keep-alive agent: with an
 * agent the client sends through Node's http module, without one through `fetch`, which costs several
 * times the CPU per request, and every Stripe event makes one or two of them.
 */
export function createHubSpotClient(options: HubSpotClientOptions): Client {
  const basePath = (options.baseUrl ?? 'https://api.hubapi.com').replace(/\/+$/, '');
  const httpAgent = basePath.startsWith('https:') ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  return new Client({ accessToken: options.accessToken, numberOfApiCallRetries: 0, basePath, httpAgent, ...gateMiddleware(options.requestGate) });
}
