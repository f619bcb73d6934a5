import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { salesforceFieldRequirements } from '../../activities/crm/salesforce/index.js';
import { crmPropertyDefinitions } from '../../domain/crm-field-names.js';
import { hubspotClientFor, startHubSpotSandbox, type RunningHubSpotSandbox } from '../../sandboxes/hubspot/index.js';
import { startSalesforceSandbox } from '../../sandboxes/salesforce/index.js';
import type { RunningSandbox } from '../../sandboxes/shared/serve.js';
import { projectRoot } from '../support/harness.js';

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `npm run <script>` as an operator runs it: only the variables given, plus the machine's PATH and HOME. */
function npmRun(script: string, env: Record<string, string>): Run {
  const base: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[key] !== undefined) base[key] = process.env[key];
  const child = spawn('npm', ['run', '--silent', script], { cwd: projectRoot, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  return { child, output: () => text, exited };
}

async function finished(run: Run): Promise<{ code: number | null; output: string }> {
  const code = await run.exited;
  return { code, output: run.output() };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

/** What `npm run setup` needs besides the CRM: a Stripe key and a webhook secret (never used by setup). */
const STRIPE_ENV = { STRIPE_API_KEY: 'sk_test_x', STRIPE_WEBHOOK_SECRETS: 'whsec_x' };

describe('npm run setup', () => {
  let hubspot: RunningHubSpotSandbox;
  let salesforce: RunningSandbox;
  beforeAll(async () => {
    hubspot = await startHubSpotSandbox({ port: 0 });
    // A bare org: none of the custom fields the sync writes.
    salesforce = await startSalesforceSandbox({ port: 0 });
  });
  afterAll(async () => {
    await hubspot?.close();
    await salesforce?.close();
  });

  it('creates the HubSpot properties, and a second run finds them all in place', async () => {
    const env = { ...STRIPE_ENV, CRM_PROVIDER: 'hubspot', HUBSPOT_BASE_URL: hubspot.url, HUBSPOT_ACCESS_TOKEN: 'pat-setup-test' };
    const first = await finished(npmRun('setup', env));
    expect(first, first.output).toMatchObject({ code: 0 });
    const created = /hubspot: (\d+) created, (\d+) already present, 0 missing/.exec(first.output);
    expect(created, first.output).not.toBeNull();
    const createdCount = Number(created![1]);
    expect(createdCount).toBeGreaterThan(0);

    const client = hubspotClientFor(hubspot.url, 'reader');
    const companyProperties = new Map((await client.crm.properties.coreApi.getAll('companies')).results.map((p) => [p.name, p]));
    for (const definition of crmPropertyDefinitions('hubspot')) {
      expect(companyProperties.has(definition.name), definition.name).toBe(true);
      expect(first.output).toContain(`created  companies.${definition.name}`);
    }
    expect(companyProperties.get('stripe_customer_id')?.hasUniqueValue).toBe(true);
    const dealProperties = (await client.crm.properties.coreApi.getAll('deals')).results.map((p) => p.name);
    expect(dealProperties).toEqual(expect.arrayContaining(['stripe_subscription_id', 'stripe_subscription_status']));
    for (const type of ['notes', 'tasks']) {
      expect((await client.crm.properties.coreApi.getAll(type)).results.map((p) => p.name)).toContain('stripe_activity_key');
    }

    const second = await finished(npmRun('setup', env));
    expect(second, second.output).toMatchObject({ code: 0 });
    expect(second.output).toContain(`hubspot: 0 created, ${createdCount + Number(created![2])} already present, 0 missing`);
    expect(second.output).not.toMatch(/created {2}/);
  }, 60_000);

  it('exits 1 against a Salesforce org without the custom fields and names every field an admin must add', async () => {
    const { code, output } = await finished(npmRun('setup', {
      ...STRIPE_ENV, CRM_PROVIDER: 'salesforce', SALESFORCE_INSTANCE_URL: salesforce.url, SALESFORCE_ACCESS_TOKEN: 'setup-test-token',
    }));
    expect(code, output).toBe(1);
    const requirements = salesforceFieldRequirements('b2b');
    expect(output).toContain(`salesforce: 0 created, 0 already present, ${requirements.length} missing`);
    expect(output).toContain(`Salesforce: ${requirements.length} of ${requirements.length} custom fields the sync writes are missing`);
    const listed = output.split('\n').filter((line) => line.startsWith('  - '));
    expect(listed).toHaveLength(requirements.length);
    for (const r of requirements) {
      expect(listed.some((line) => line.includes(r.object) && line.includes(r.name)), `${r.object}.${r.name} in:\n${output}`).toBe(true);
    }
  }, 60_000);

  it('names the bad variable and exits 1 when the configuration is invalid', async () => {
    const { code, output } = await finished(npmRun('setup', { ...STRIPE_ENV, CRM_PROVIDER: 'pipedrive' }));
    expect(code).toBe(1);
    expect(output).toMatch(/CRM_PROVIDER/);
  }, 60_000);
});

describe('npm run sandboxes', () => {
  let run: Run | undefined;
  afterAll(() => {
    // Only if the test failed before stopping it: the whole process group this test started.
    if (run?.child.pid && run.child.exitCode === null && run.child.signalCode === null) process.kill(-run.child.pid, 'SIGKILL');
  });

  it('serves the three sandboxes on the configured ports, prints their URLs, and stops on SIGTERM', async () => {
    const ports = { stripe: await freePort(), hubspot: await freePort(), salesforce: await freePort() };
    run = npmRun('sandboxes', { SANDBOX_STRIPE_PORT: String(ports.stripe), SANDBOX_HUBSPOT_PORT: String(ports.hubspot), SANDBOX_SALESFORCE_PORT: String(ports.salesforce) });
    const deadline = Date.now() + 30_000;
    while (!/Salesforce\s+http/.test(run.output())) {
      if (run.child.exitCode !== null) throw new Error(`npm run sandboxes exited early:\n${run.output()}`);
      if (Date.now() > deadline) throw new Error(`no URLs printed:\n${run.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const urls = {
      stripe: /Stripe\s+(http\S+)/.exec(run.output())?.[1],
      hubspot: /HubSpot\s+(http\S+)/.exec(run.output())?.[1],
      salesforce: /Salesforce\s+(http\S+)/.exec(run.output())?.[1],
    };
    for (const [name, url] of Object.entries(urls)) {
      expect(url, run.output()).toBeDefined();
      expect(new URL(url!).port).toBe(String(ports[name as keyof typeof ports]));
      const res = await fetch(`${url}/__sandbox/state`);
      expect(res.status, `${name} ${url}`).toBe(200);
      expect(await res.json()).toBeTypeOf('object');
    }

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    for (const url of Object.values(urls)) await expect(fetch(`${url}/__sandbox/state`)).rejects.toThrow();
  }, 60_000);
});
