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
  // An idle-socket timeout makes Node honour the server's `Keep-Alive: timeout=N` hint and drop an idle
  // connection a second before the server would; without one a request can go out on a socket the server
  // is closing (ECONNRESET, a failed attempt).
  const agentOptions = { keepAlive: true, timeout: 30_000 };
  const httpAgent = basePath.startsWith('https:') ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  return new Client({ accessToken: options.accessToken, numberOfApiCallRetries: 0, basePath, httpAgent, ...gateMiddleware(options.requestGate) });
}
