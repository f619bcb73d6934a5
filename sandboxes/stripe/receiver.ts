import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  /** The raw body, exactly as signed: what `stripe.webhooks.constructEvent` must be given. */
  payload: string;
  headers: IncomingHttpHeaders;
  signature: string;
  /** Parsed for convenience; trust it only after verifying the signature. */
  event: { id: string; type: string; data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> } };
  /** The HTTP status this receiver answered with. */
  status: number;
  receivedAt: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Resolves once `predicate` holds for the received list (checked on every delivery), or rejects after `timeoutMs`. */
  waitFor(predicate: (received: ReceivedWebhook[]) => boolean, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

export class WaitTimeout extends Error {
  override readonly name = 'WaitTimeout';
}

/**
 * A local HTTP endpoint for webhook deliveries, for tests and demos. `respond` picks the status per
 * delivery (default 200), e.g. to fail the first attempts and exercise retries.
 */
export async function startWebhookReceiver(
  respond: (event: ReceivedWebhook['event'], attempt: number) => number | Promise<number> = () => 200,
): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const attempts = new Map<string, number>();
  let waiters: Array<() => void> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    const handle = async () => {
      const payload = Buffer.concat(chunks).toString('utf8');
      let event: ReceivedWebhook['event'];
      try {
        event = JSON.parse(payload) as ReceivedWebhook['event'];
      } catch {
        res.writeHead(400).end();
        return;
      }
      const attempt = (attempts.get(event.id) ?? 0) + 1;
      attempts.set(event.id, attempt);
      const status = await respond(event, attempt);
      received.push({
        payload,
        headers: req.headers,
        signature: String(req.headers['stripe-signature'] ?? ''),
        event,
        status,
        receivedAt: Date.now(),
      });
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ received: status < 300 }));
      const pending = waiters;
      waiters = [];
      for (const w of pending) w();
    };
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handle());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    received,
    waitFor: (predicate, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const deadline = setTimeout(() => reject(new WaitTimeout(`webhooks not received within ${timeoutMs} ms (${received.length} so far)`)), timeoutMs);
        const check = () => {
          if (predicate(received)) {
            clearTimeout(deadline);
            resolve(received);
          } else waiters.push(check);
        };
        check();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
