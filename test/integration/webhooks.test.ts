import type { Client, Connection } from '@temporalio/client';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type AppDeps } from '../../api/app.js';
import type { DatabaseHandle } from '../../db/connect.js';
import { customerWorkflowId } from '../../domain/workflow-ids.js';
import { connectClient, openTestDatabase, uniqueTaskQueue } from '../support/harness.js';

const stripe = new Stripe('sk_test_x');
const SECRET_A = 'whsec_test_primary';
const SECRET_B = 'whsec_test_second_account';
let seq = 0;

function stripeEvent(type: string, object: Record<string, unknown>, overrides: Record<string, unknown> = {}) {
  seq++;
  return { id: `evt_wh_${Date.now()}_${seq}`, object: 'event', type, created: Math.floor(Date.now() / 1000), livemode: false, api_version: '2026-08-27.basil', data: { object }, ...overrides };
}

describe('POST /webhooks/stripe', () => {
  let client: Client;
  let connection: Connection;
  let database: DatabaseHandle;
  let app: ReturnType<typeof createApp>;
  const taskQueue = uniqueTaskQueue('webhooks'); // no worker polls it: workflows are started, not run

  beforeAll(async () => {
    ({ client, connection } = await connectClient());
    database = await openTestDatabase();
    const deps: AppDeps = {
      temporal: client, temporalAddress: 'test', db: database.db, databaseKind: database.kind, workflowTaskQueue: taskQueue,
      stripe: { secrets: [{ secret: SECRET_A }, { secret: SECRET_B, accountId: 'acct_second' }], primaryAccountId: 'acct_primary', mode: 'test', client: null },
    };
    app = createApp(deps);
  });
  afterAll(async () => {
    await connection.close();
    await database.close();
  });

  async function post(body: string, signature: string | undefined, headers: Record<string, string> = {}) {
    const res = await app.request('/webhooks/stripe', {
      method: 'POST', body, headers: { 'content-type': 'application/json', ...(signature ? { 'stripe-signature': signature } : {}), ...headers },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
  }
  const signed = (payload: string, secret = SECRET_A, timestamp?: number) =>
    stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp ? { timestamp } : {}) });
  const auditRow = (eventId: string) => database.db.selectFrom('stripeEvents').selectAll().where('eventId', '=', eventId).executeTakeFirst();

  it('hands a customer event to that customer\'s workflow, records it, and recognises a redelivery', async () => {
    const event = stripeEvent('customer.updated', { id: 'cus_wh1', object: 'customer', email: 'a@b.co', name: 'A', created: 1, delinquent: false, livemode: false, metadata: {} });
    const payload = JSON.stringify(event);
    const first = await post(payload, signed(payload));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ received: true, disposition: 'routed', workflowId: 'stripe-customer/acct_primary/cus_wh1', redelivery: false });

    const description = await client.workflow.getHandle(customerWorkflowId('acct_primary', 'cus_wh1')).describe();
    expect(description.type).toBe('customerSyncWorkflow');
    expect(description.taskQueue).toBe(taskQueue);

    const again = await post(payload, signed(payload));
    expect(again.body).toMatchObject({ redelivery: true });
    expect(await auditRow(event.id)).toMatchObject({ type: 'customer.updated', customerId: 'cus_wh1', accountId: 'acct_primary', deliveries: 2, disposition: 'routed' });
  });

  it('assigns events signed with an account-bound secret to that account', async () => {
    const event = stripeEvent('invoice.upcoming', { object: 'invoice', customer: 'cus_wh2', amount_due: 100, currency: 'usd' });
    const payload = JSON.stringify(event);
    const res = await post(payload, signed(payload, SECRET_B));
    expect(res.body).toMatchObject({ disposition: 'routed', workflowId: 'stripe-customer/acct_second/cus_wh2' });
  });

  it.each([
    ['no signature', (_p: string) => undefined, 400, 'missing_signature'],
    ['a wrong secret', (p: string) => signed(p, 'whsec_wrong'), 400, 'no_matching_signature'],
    ['a stale timestamp', (p: string) => signed(p, SECRET_A, Math.floor(Date.now() / 1000) - 301), 400, 'timestamp_outside_tolerance'],
  ])('rejects %s with a reason and enqueues nothing', async (_name, sign, status, code) => {
    const event = stripeEvent('customer.updated', { id: `cus_rej_${seq}`, object: 'customer' });
    const payload = JSON.stringify(event);
    const res = await post(payload, sign(payload));
    expect(res.status).toBe(status);
    expect(res.body.error?.code).toBe(code);
    expect(await auditRow(event.id)).toBeUndefined();
    await expect(client.workflow.getHandle(customerWorkflowId('acct_primary', `cus_rej_${seq}`)).describe()).rejects.toThrow();
  });

  it('rejects malformed JSON and bodies that are not events', async () => {
    const broken = '{"id": "evt_1", ';
    expect((await post(broken, signed(broken))).body.error?.code).toBe('malformed_json');
    const notEvent = JSON.stringify({ hello: 'world' });
    const res = await post(notEvent, signed(notEvent));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_event', message: 'id must be an event id (evt_...)' });
  });

  it('rejects bodies over 1 MB', async () => {
    const big = JSON.stringify(stripeEvent('customer.updated', { id: 'cus_big', object: 'customer', description: 'x'.repeat(1024 * 1024) }));
    const res = await post(big, signed(big));
    expect(res.status).toBe(413);
    expect(res.body.error?.code).toBe('payload_too_large');
  });

  it('acknowledges but does not write events of the other mode (livemode policy)', async () => {
    const event = stripeEvent('customer.updated', { id: 'cus_live', object: 'customer' }, { livemode: true });
    const payload = JSON.stringify(event);
    const res = await post(payload, signed(payload));
    expect(res.status).toBe(200);
    expect(res.body.disposition).toBe('ignored-livemode');
    await expect(client.workflow.getHandle(customerWorkflowId('acct_primary', 'cus_live')).describe()).rejects.toThrow();
  });

  it('acknowledges and counts unknown event types', async () => {
    const event = stripeEvent('balance.available', { object: 'balance' });
    const payload = JSON.stringify(event);
    const res = await post(payload, signed(payload));
    expect(res.status).toBe(200);
    expect(res.body.disposition).toBe('unhandled-type');
    const stats = await (await app.request('/webhooks/stripe/stats')).json() as { unhandledTypes: Record<string, number>; byDisposition: Record<string, number> };
    expect(stats.unhandledTypes['balance.available']).toBeGreaterThanOrEqual(1);
    expect(stats.byDisposition.routed).toBeGreaterThanOrEqual(2);
  });

  it('routes a refund to the customer of its charge', async () => {
    const charge = stripeEvent('charge.succeeded', { id: 'ch_wh_owner', object: 'charge', customer: 'cus_wh3', amount: 500, amount_captured: 500, currency: 'usd', status: 'succeeded', paid: true, captured: true, created: 1, refunded: false, amount_refunded: 0 });
    let payload = JSON.stringify(charge);
    expect((await post(payload, signed(payload))).body.workflowId).toBe('stripe-customer/acct_primary/cus_wh3');
    const refund = stripeEvent('refund.created', { id: 're_wh', object: 'refund', charge: 'ch_wh_owner', amount: 100, currency: 'usd', status: 'succeeded', created: 2 });
    payload = JSON.stringify(refund);
    expect((await post(payload, signed(payload))).body).toMatchObject({ disposition: 'routed', workflowId: 'stripe-customer/acct_primary/cus_wh3' });
  });
});
