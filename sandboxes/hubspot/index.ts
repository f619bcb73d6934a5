import { Client } from '@hubspot/api-client';
import { listen, type RunningSandbox } from '../shared/serve.js';
import { createHubSpotSandbox, type HubSpotSandbox, type HubSpotSandboxOptions } from './app.js';

export { createHubSpotSandbox, RequestStats } from './app.js';
export type { HubSpotSandbox, HubSpotSandboxOptions, ResponseRecord } from './app.js';
export { CrmStore } from './store.js';
export type { CrmRecord } from './store.js';
export { HubSpotApiError } from './errors.js';
export { OBJECT_TYPES, ObjectTypeRegistry, resolveObjectType } from './object-types.js';
export type { ObjectTypeDef, ObjectTypeName, StandardObjectTypeName } from './object-types.js';
export { SchemaStore } from './schemas.js';
export type { CustomObjectSchema } from './schemas.js';
export { DEFAULT_OWNERS } from './owners.js';
export type { Owner } from './owners.js';
export { SEARCH_LIMITS } from './search.js';

/** The port the sandboxes CLI serves HubSpot on. */
export const HUBSPOT_SANDBOX_PORT = 12112;

export type RunningHubSpotSandbox = RunningSandbox & { sandbox: HubSpotSandbox };

/** Starts the sandbox on 127.0.0.1; port 0 (the default) picks a free port. */
export async function startHubSpotSandbox(
  options: HubSpotSandboxOptions & { port?: number; host?: string } = {},
): Promise<RunningHubSpotSandbox> {
  const { port = 0, host, ...sandboxOptions } = options;
  const sandbox = createHubSpotSandbox(sandboxOptions);
  const running = await listen(sandbox.app, port, host);
  return { ...running, sandbox };
}

export interface HubSpotClientOptions {
  /** 0-6; the client retries 5xx after 200 ms × attempt and 429s after 10 s (ten-secondly) or 1 s (secondly) × attempt. */
  numberOfApiCallRetries?: number;
}

/**
 * The official `@hubspot/api-client` pointed at a sandbox by base URL alone.
 *
 * The client keeps its retry decorators in a process-wide singleton that each `new Client()` overwrites,
 * and binds them when an API group is first touched. So the groups the project uses are touched here,
 * right after construction, to give this client the retry setting it asked for even when other clients
 * are created later in the same process.
 */
export function hubspotClientFor(url: string, token = 'sandbox-token', opts: HubSpotClientOptions = {}): Client {
  const config: ConstructorParameters<typeof Client>[0] = { accessToken: token, basePath: url };
  if (opts.numberOfApiCallRetries !== undefined) config.numberOfApiCallRetries = opts.numberOfApiCallRetries;
  const client = new Client(config);
  const { crm } = client;
  void [
    crm.companies,
    crm.contacts,
    crm.deals,
    crm.objects,
    crm.objects.notes,
    crm.objects.tasks,
    crm.properties,
    crm.schemas,
    crm.owners,
    crm.associations.v4,
    crm.associations.v4.schema,
  ];
  return client;
}
