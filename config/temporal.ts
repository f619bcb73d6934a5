import { readFile } from 'node:fs/promises';
import type { Config } from './index.js';

/** Connection options shared by @temporalio/client's Connection and the worker's NativeConnection. */
export interface TemporalConnectionOptions {
  address: string;
  apiKey?: string;
  tls?: {
    serverNameOverride?: string;
    serverRootCACertificate?: Buffer;
    clientCertPair?: { crt: Buffer; key: Buffer };
  };
}

export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';

/** Builds connection options the way Temporal's own environment configuration describes them. */
export async function temporalConnectionOptions(
  temporal: Config['temporal'],
  addressOverride?: string,
): Promise<TemporalConnectionOptions> {
  const address = addressOverride ?? temporal.address ?? DEFAULT_TEMPORAL_ADDRESS;
  const options: TemporalConnectionOptions = { address };
  if (temporal.apiKey) options.apiKey = temporal.apiKey;
  if (temporal.tls !== false) {
    const tls: NonNullable<TemporalConnectionOptions['tls']> = {};
    if (temporal.tls.serverName) tls.serverNameOverride = temporal.tls.serverName;
    if (temporal.tls.serverCaCertPath) tls.serverRootCACertificate = await readFile(temporal.tls.serverCaCertPath);
    if (temporal.tls.clientCertPath && temporal.tls.clientKeyPath) {
      tls.clientCertPair = {
        crt: await readFile(temporal.tls.clientCertPath),
        key: await readFile(temporal.tls.clientKeyPath),
      };
    }
    options.tls = tls;
  }
  return options;
}
