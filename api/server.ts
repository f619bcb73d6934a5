import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';

export interface ApiServer {
  url: string;
  close(): Promise<void>;
}

/** Listens and resolves once the port is bound; `close` stops accepting and ends open connections. */
export function listenApi(app: Hono, port: number, host: string): Promise<ApiServer> {
  return new Promise((resolve, reject) => {
    const server: ServerType = serve({ fetch: app.fetch, port, hostname: host }, (info) => {
      const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
      resolve({
        url: `http://${shown}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
          }),
      });
    });
    server.once('error', reject);
  });
}
