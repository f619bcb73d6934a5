import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import type { FaultInjector, FaultRule } from './faults.js';

export interface RunningSandbox {
  /** Base URL, e.g. http://127.0.0.1:12111 */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1; port 0 picks a free port (tests), the CLI passes the documented defaults. */
export async function listen(app: Hono, port: number, host = '127.0.0.1'): Promise<RunningSandbox> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: host }, (info: AddressInfo) => {
      const url = `http://${host}:${info.port}`;
      resolve({
        url,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            const s = server as unknown as { closeAllConnections?: () => void };
            s.closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
    server.once('error', reject);
  });
}

/**
 * The inspection routes every sandbox shares: fault rules and a reset. Each sandbox adds its own
 * state views next to these under /__sandbox.
 */
export function mountInspection(app: Hono, injector: FaultInjector, reset: () => void): void {
  app.get('/__sandbox/faults', (c) => c.json({ rules: injector.list(), injected: injector.injected }));
  app.post('/__sandbox/faults', async (c) => {
    const body = (await c.req.json()) as FaultRule | { rules: FaultRule[] };
    const rules = 'rules' in body ? body.rules : [body];
    const ids = rules.map((r) => injector.add(r));
    return c.json({ ids });
  });
  app.delete('/__sandbox/faults', (c) => {
    injector.clear();
    return c.json({ cleared: true });
  });
  app.post('/__sandbox/reset', (c) => {
    injector.clear();
    reset();
    return c.json({ reset: true });
  });
}
