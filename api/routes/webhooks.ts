import type { Client } from '@temporalio/client';
import { Hono } from 'hono';
import { sql, type Kysely } from 'kysely';
import type Stripe from 'stripe';
import type { Database } from '../../db/database.js';
import { compactCustomerEvent, type CustomerEvent } from '../../domain/customer-events.js';
import { invalidEventReason, routeEvent, type EventRoute, type RawStripeEvent } from '../../domain/event-routing.js';
import { TASK_QUEUES } from '../../domain/temporal-names.js';
import { catalogWorkflowId, customerWorkflowId } from '../../domain/workflow-ids.js';
import type { catalogWorkflow, ProductChange } from '../../workflows/catalog.js';
import type { customerSyncWorkflow } from '../../workflows/customer-sync.js';
import { AuditWriter } from '../audit-writer.js';
import { ApiError } from '../errors.js';
import { verifyStripeSignature } from '../stripe-signature.js';

/** Stripe documents a 300 s tolerance for signature timestamps. */
const SIGNATURE_TOLERANCE_SECONDS = 300;
/** Stripe events are far smaller; anything bigger is not one of them. */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;

export interface WebhookDeps {
  temporal: Client;
  workflowTaskQueue?: string;
  db: Kysely<Database>;
  stripe: { secrets: Array<{ secret: string; accountId?: string }>; primaryAccountId: string; mode: 'live' | 'test'; client: Stripe | null };
  /** Injectable clock for signature tolerance tests. */
  nowSeconds?: () => number;
}

export type Disposition = 'routed' | 'ignored-livemode' | 'unhandled-type' | 'no-customer' | 'catalog';

/**
 * `POST /webhooks/stripe`: verify, record, route. It answers 2xx only after the event is durably
 * in Temporal (signal-with-start returns once the server persisted the signal); any failure before
 * that is a 5xx, and Stripe delivers again.
 */
export function webhookRoutes(deps: WebhookDeps) {
  const app = new Hono();
  const now = deps.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  const audit = new AuditWriter(deps.db);

  app.post('/stripe', async (c) => {
    const length = Number(c.req.header('content-length') ?? '0');
    if (length > MAX_WEBHOOK_BYTES) throw new ApiError(413, 'payload_too_large', `webhook bodies are limited to ${MAX_WEBHOOK_BYTES} bytes`);
    // Read as text straight from the request's buffer (no ArrayBuffer copy, no decoder per request).
    const raw = await c.req.text();
    if (Buffer.byteLength(raw) > MAX_WEBHOOK_BYTES) throw new ApiError(413, 'payload_too_large', `webhook bodies are limited to ${MAX_WEBHOOK_BYTES} bytes`);

    if (deps.stripe.secrets.length === 0) throw new ApiError(503, 'webhooks_not_configured', 'no webhook signing secret is configured (STRIPE_WEBHOOK_SECRETS)');
    const check = verifyStripeSignature(raw, c.req.header('stripe-signature'), deps.stripe.secrets.map((s) => s.secret), now(), SIGNATURE_TOLERANCE_SECONDS);
    if (!check.ok) throw new ApiError(400, check.reason, check.message);

    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new ApiError(400, 'malformed_json', 'the body is not valid JSON');
    }
    const invalid = invalidEventReason(body);
    if (invalid) throw new ApiError(400, 'invalid_event', invalid);
    const event = body as RawStripeEvent;
    const receivedAtMs = Date.now();
    const accountId = event.account ?? deps.stripe.secrets[check.secretIndex]?.accountId ?? deps.stripe.primaryAccountId;

    let disposition: Disposition;
    let route: EventRoute = { kind: 'unhandled' };
    let customerId: string | null = null;
    let workflowId: string | null = null;
    let handoff: Promise<unknown> = Promise.resolve();
    if (event.livemode !== (deps.stripe.mode === 'live')) {
      // Never write test-mode data into a live CRM (or the reverse); acknowledge so Stripe stops retrying.
      disposition = 'ignored-livemode';
    } else {
      route = routeEvent(event);
      if (route.kind === 'charge-owner') route = await resolveChargeOwner(deps, accountId, route.chargeId);
      switch (route.kind) {
        case 'customer': {
          customerId = route.customerId;
          workflowId = customerWorkflowId(accountId, customerId);
          handoff = deps.temporal.workflow.signalWithStart<typeof customerSyncWorkflow, [CustomerEvent]>('customerSyncWorkflow', {
            workflowId,
            taskQueue: deps.workflowTaskQueue ?? TASK_QUEUES.main,
            args: [{ accountId, customerId }],
            signal: 'stripeEvent',
            signalArgs: [compactCustomerEvent(event, accountId, customerId, receivedAtMs)],
            // No search attributes here: the server validates them on every call, started or not, and the
            // workflow's first task sets them (customer, account, sync state); the workflow id names the customer.
          });
          disposition = 'routed';
          break;
        }
        case 'catalog': {
          const renamed = await recordProduct(deps.db, accountId, event);
          if (renamed) {
            handoff = deps.temporal.workflow.signalWithStart<typeof catalogWorkflow, [ProductChange]>('catalogWorkflow', {
              workflowId: catalogWorkflowId(accountId),
              taskQueue: deps.workflowTaskQueue ?? TASK_QUEUES.main,
              args: [{ accountId }],
              signal: 'productChanged',
              signalArgs: [{ ...renamed, created: event.created, eventId: event.id }],
            });
          }
          disposition = 'catalog';
          break;
        }
        case 'no-customer':
          disposition = 'no-customer';
          break;
        default:
          disposition = 'unhandled-type';
      }
      handoff = Promise.all([handoff, rememberChargeOwner(deps.db, accountId, event, customerId)]);
      // Observed below; this keeps a rejection that lands before then from counting as unhandled.
      handoff.catch(() => undefined);
    }

    // The audit row and the hand-off to Temporal run together; the answer waits for both, so a
    // failure of either is a 5xx and Stripe delivers again (the workflow drops the duplicate).
    const [deliveries] = await Promise.all([
      audit.record({
        eventId: event.id, type: event.type, createdAt: new Date(event.created * 1000), accountId, customerId,
        livemode: event.livemode, receivedAt: new Date(receivedAtMs), processedAt: null, disposition, workflowId,
      }),
      handoff,
    ]);

    return c.json({ received: true, eventId: event.id, disposition, workflowId, redelivery: deliveries > 1 });
  });

  /** Delivery metrics from the audit table: counts by disposition and type, redeliveries, lag. */
  app.get('/stripe/stats', async (c) => {
    const since = new Date(Date.now() - Number(c.req.query('hours') ?? '24') * 3600_000);
    const byDisposition = await deps.db.selectFrom('stripeEvents').select(['disposition', (eb) => eb.fn.countAll<number>().as('count')])
      .where('receivedAt', '>=', since).groupBy('disposition').execute();
    const unhandled = await deps.db.selectFrom('stripeEvents').select(['type', (eb) => eb.fn.countAll<number>().as('count')])
      .where('receivedAt', '>=', since).where('disposition', '=', 'unhandled-type').groupBy('type').orderBy('count', 'desc').limit(50).execute();
    const lag = await deps.db.selectFrom('stripeEvents')
      .select([
        sql<number>`count(*) filter (where deliveries > 1)`.as('redelivered'),
        sql<number>`count(*) filter (where disposition = 'routed' and processed_at is null)`.as('unprocessed'),
        sql<number | null>`percentile_cont(0.5) within group (order by extract(epoch from processed_at - received_at) * 1000)`.as('processingMsP50'),
        sql<number | null>`percentile_cont(0.95) within group (order by extract(epoch from processed_at - received_at) * 1000)`.as('processingMsP95'),
      ])
      .where('receivedAt', '>=', since).executeTakeFirstOrThrow();
    return c.json({
      since: since.toISOString(),
      byDisposition: Object.fromEntries(byDisposition.map((r) => [r.disposition, Number(r.count)])),
      unhandledTypes: Object.fromEntries(unhandled.map((r) => [r.type, Number(r.count)])),
      redelivered: Number(lag.redelivered),
      unprocessed: Number(lag.unprocessed),
      processingMs: { p50: lag.processingMsP50, p95: lag.processingMsP95 },
    });
  });

  return app;
}

async function resolveChargeOwner(deps: WebhookDeps, accountId: string, chargeId: string): Promise<EventRoute> {
  const row = await deps.db.selectFrom('stripeChargeOwners').select('customerId')
    .where('accountId', '=', accountId).where('chargeId', '=', chargeId).executeTakeFirst();
  if (row) return { kind: 'customer', customerId: row.customerId };
  if (!deps.stripe.client) return { kind: 'no-customer', reason: `charge ${chargeId} is unknown and no Stripe key is configured to look it up` };
  const charge = await deps.stripe.client.charges.retrieve(chargeId, {}, accountId.startsWith('acct_') && accountId !== deps.stripe.primaryAccountId ? { stripeAccount: accountId } : {});
  const customer = typeof charge.customer === 'string' ? charge.customer : charge.customer?.id ?? null;
  return customer ? { kind: 'customer', customerId: customer } : { kind: 'no-customer', reason: `charge ${chargeId} has no customer` };
}

/** Charges and invoices name their customer; remember charge → customer for later refunds and disputes. */
async function rememberChargeOwner(db: Kysely<Database>, accountId: string, event: RawStripeEvent, customerId: string | null): Promise<void> {
  if (!customerId) return;
  const object = event.data.object as { object?: string; id?: string; charge?: unknown };
  const chargeId = object.object === 'charge' ? object.id : typeof object.charge === 'string' ? object.charge : null;
  if (!chargeId) return;
  await db.insertInto('stripeChargeOwners').values({ accountId, chargeId, customerId })
    .onConflict((oc) => oc.columns(['accountId', 'chargeId']).doNothing()).execute();
}

/**
 * product.* keeps plan names current; an older state never overwrites a newer one. Returns the
 * product when this event renamed it (customers on it must hear), null otherwise.
 */
async function recordProduct(db: Kysely<Database>, accountId: string, event: RawStripeEvent): Promise<{ productId: string; name: string } | null> {
  const object = event.data.object as { object?: string; id?: string; name?: string; active?: boolean };
  if (object.object !== 'product' || !object.id || typeof object.name !== 'string') return null;
  const name = object.name;
  const stateAt = new Date(event.created * 1000);
  const before = await db.selectFrom('stripeProducts').select(['name', 'stateAt']).where('accountId', '=', accountId).where('productId', '=', object.id).executeTakeFirst();
  if (before && before.stateAt > stateAt) return null;
  await db.insertInto('stripeProducts')
    .values({ accountId, productId: object.id, name, active: object.active !== false, stateAt })
    .onConflict((oc) => oc.columns(['accountId', 'productId']).doUpdateSet({ name, active: object.active !== false, stateAt })
      .where('stripeProducts.stateAt', '<=', stateAt))
    .execute();
  return before && before.name !== name ? { productId: object.id, name } : null;
}
