import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../support/harness.js';

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const taken = new Set<number>();
/**
 * A free port below Linux's ephemeral range (32768+), so outgoing connections of parallel tests
 * cannot grab it between now and the server binding it. The dev server also binds port + 1000
 * (its HTTP API), so both must be free.
 */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 9000);
    if (taken.has(port) || taken.has(port + 1000)) continue;
    if ((await canListen(port)) && (await canListen(port + 1000))) {
      taken.add(port);
      taken.add(port + 1000);
      return port;
    }
  }
}

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs the README's run command with a clean environment (no Temporal address, no DATABASE_URL). */
function npmStart(env: Record<string, string>): Started {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(TEMPORAL_|DATABASE_URL|PORT$|DATA_DIR$)/.test(k)),
  );
  const child = spawn('npm', ['start'], { cwd: projectRoot, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

async function waitFor(started: Started, pattern: RegExp, ms: number, whileRunning = true): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pattern.test(started.output())) {
    if (whileRunning && (started.child.exitCode !== null || started.child.signalCode !== null)) throw new Error(`npm start exited early:\n${started.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${started.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function processesMentioning(text: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', text], { encoding: 'utf8' }).split('\n').filter((l) => l && !l.includes('pgrep'));
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('npm start (the whole local stack)', () => {
  let dataDir: string;
  let ports: { api: number; temporal: number; ui: number; stripe: number; hubspot: number; salesforce: number };
  const running: Started[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'crm-sync-start-'));
    ports = {
      api: await freePort(), temporal: await freePort(), ui: await freePort(),
      stripe: await freePort(), hubspot: await freePort(), salesforce: await freePort(),
    };
  });
  afterAll(async () => {
    for (const s of running) {
      try {
        if (s.child.pid) process.kill(-s.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  const env = () => ({
    PORT: String(ports.api),
    TEMPORAL_DEV_SERVER_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
    SANDBOX_STRIPE_PORT: String(ports.stripe),
    SANDBOX_HUBSPOT_PORT: String(ports.hubspot),
    SANDBOX_SALESFORCE_PORT: String(ports.salesforce),
    // In-flight demo writes get a short grace on stop; the default 30 s is for production.
    WORKER_SHUTDOWN_GRACE_SECONDS: '3',
    DATA_DIR: dataDir,
  });

  async function startAndCheckHealth(): Promise<Started> {
    const started = npmStart(env());
    running.push(started);
    await waitFor(started, /stripe-crm-sync is running/, 120_000);
    const health = await fetch(`http://127.0.0.1:${ports.api}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ temporal: { status: 'ok' }, database: { status: 'ok', kind: 'embedded' } });
    const ui = await fetch(`http://127.0.0.1:${ports.ui}/`);
    expect(ui.status).toBe(200);
    expect(started.output()).toContain(`http://localhost:${ports.ui}`);
    return started;
  }

  /** 'ctrl-c' signals the whole process group, as a terminal does; 'sigterm' only npm's process, as a supervisor does. */
  async function stopAndCheckNothingLeft(started: Started, how: 'ctrl-c' | 'sigterm') {
    if (how === 'ctrl-c') process.kill(-(started.child.pid ?? 0), 'SIGINT');
    else started.child.kill('SIGTERM');
    await started.exited;
    // npm may exit before its grandchildren finish stopping; their output still arrives on the pipe.
    await waitFor(started, /^stopped$/m, 120_000, false);
    // Give the process table a moment: npm can exit a beat before its last grandchild is reaped.
    for (let i = 0; i < 20 && processesMentioning(dataDir).length > 0; i++) await new Promise((r) => setTimeout(r, 250));
    expect(processesMentioning(dataDir)).toEqual([]);
  }

  it('brings up Temporal, the embedded database, the worker and the API; workflows survive a restart; SIGTERM leaves no process', async () => {
    const first = await startAndCheckHealth();
    const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    const client = new Client({ connection });
    const workflowId = `start-test/${Date.now()}`;
    const result = await client.workflow.execute('diagnosticsWorkflow', { taskQueue: 'stripe-crm-sync', workflowId, workflowExecutionTimeout: '30 seconds' });
    expect(result).toMatchObject({ database: { ok: true, kind: 'embedded' } });
    await connection.close();

    // With no credentials this is the demo: seeded Stripe customers appear as companies in the HubSpot sandbox.
    await waitFor(first, /customers seeded/, 60_000);
    const deadline = Date.now() + 60_000;
    let companies = 0;
    while (Date.now() < deadline && companies < 30) {
      const state = await (await fetch(`http://127.0.0.1:${ports.hubspot}/__sandbox/state`)).json() as { objects: { companies: { live: number } } };
      companies = state.objects.companies.live;
      if (companies < 30) await new Promise((r) => setTimeout(r, 500));
    }
    expect(companies).toBeGreaterThanOrEqual(30);
    await stopAndCheckNothingLeft(first, 'ctrl-c');

    const second = await startAndCheckHealth();
    const again = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    const described = await new Client({ connection: again }).workflow.getHandle(workflowId).describe();
    expect(described.status.name).toBe('COMPLETED');
    await again.close();
    await stopAndCheckNothingLeft(second, 'sigterm');
  }, 240_000);

  it('fails fast naming every bad variable', async () => {
    const started = npmStart({ ...env(), PORT: 'not-a-port', DATABASE_URL: 'mysql://nope' });
    running.push(started);
    expect(await started.exited).toBe(1);
    expect(started.output()).toMatch(/PORT: /);
    expect(started.output()).toMatch(/DATABASE_URL: /);
    expect(processesMentioning(dataDir)).toEqual([]);
  }, 60_000);
});
