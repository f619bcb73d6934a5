import { Hono } from 'hono';
import { previousAttributes } from '../diff.js';
import { invalidRequest } from '../errors.js';
import { params, send, sendList, type Env, type SandboxContext } from '../http.js';
import { applyMetadata, str } from '../params.js';
import { renderCharge, renderDispute, renderPaymentIntent, renderRefund } from '../render.js';
import { searchRows } from '../search.js';
import {
  chargeList,
  chargeUpdate,
  disputeList,
  disputeUpdate,
  paymentIntentConfirm,
  paymentIntentList,
  paymentIntentUpdate,
  refundCreate,
  refundList,
  refundUpdate,
} from '../specs.js';

export function paymentRoutes({ state: s, billing }: SandboxContext): Hono<Env> {
  const app = new Hono<Env>();

  // PaymentIntents: created by invoices; listed, retrieved, annotated and confirmed here.

  app.get('/payment_intents', (c) => {
    const { params: p, expand } = params(c, paymentIntentList);
    return sendList(c, s, {
      url: '/v1/payment_intents',
      rows: p.customer !== undefined ? s.paymentIntents.where('customer', p.customer) : s.paymentIntents.all(),
      query: p,
      lookup: (id) => s.paymentIntents.get(id),
      kind: 'payment_intent',
      render: renderPaymentIntent,
      expand,
    });
  });

  app.get('/payment_intents/search', (c) => searchRows(c, s, 'payment_intents'));

  app.get('/payment_intents/:id', (c) => {
    const { expand } = params(c, { client_secret: str() });
    return send(c, s, renderPaymentIntent(s.paymentIntents.require(c.req.param('id'))), expand);
  });

  app.post('/payment_intents/:id', (c) => {
    const { params: p, expand } = params(c, paymentIntentUpdate);
    const pi = s.paymentIntents.require(c.req.param('id'));
    if (p.metadata !== undefined) pi.metadata = applyMetadata(pi.metadata, p.metadata);
    if (p.description !== undefined) pi.description = p.description;
    return send(c, s, renderPaymentIntent(pi), expand);
  });

  /** Confirming an invoice's PaymentIntent pays the invoice, as the hosted invoice page would. */
  app.post('/payment_intents/:id/confirm', (c) => {
    const { params: p, expand } = params(c, paymentIntentConfirm);
    const pi = s.paymentIntents.require(c.req.param('id'));
    if (pi.status === 'succeeded' || pi.status === 'canceled') {
      throw invalidRequest(
        `You cannot confirm this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be confirmed: requires_confirmation, requires_action, requires_payment_method.`,
        { code: 'payment_intent_unexpected_state' },
      );
    }
    const inv = pi.invoice ? s.invoices.require(pi.invoice) : null;
    if (!inv) throw invalidRequest('This PaymentIntent cannot be confirmed.', { code: 'payment_intent_unexpected_state' });
    if (p.payment_method === undefined && pi.paymentMethod === null) {
      throw invalidRequest(
        `You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent with ${pi.customer ?? 'its customer'}, specify a payment method attached to this customer along with the customer ID.`,
        { code: 'payment_intent_unexpected_state' },
      );
    }
    billing.payInvoice(inv, { payment_method: p.payment_method ?? (pi.paymentMethod as string) });
    return send(c, s, renderPaymentIntent(pi), expand);
  });

  // Charges ----------------------------------------------------------------------------------

  app.get('/charges', (c) => {
    const { params: p, expand } = params(c, chargeList);
    const rows =
      p.payment_intent !== undefined
        ? s.charges.where('payment_intent', p.payment_intent)
        : p.customer !== undefined
          ? s.charges.where('customer', p.customer)
          : s.charges.all();
    return sendList(c, s, {
      url: '/v1/charges',
      rows,
      query: p,
      lookup: (id) => s.charges.get(id),
      kind: 'charge',
      filter: (r) => p.customer === undefined || r.customer === p.customer,
      render: (r) => renderCharge(s, r),
      expand,
    });
  });

  app.get('/charges/search', (c) => searchRows(c, s, 'charges'));

  app.get('/charges/:id', (c) => {
    const { expand } = params(c, {});
    return send(c, s, renderCharge(s, s.charges.require(c.req.param('id'))), expand);
  });

  app.post('/charges/:id', (c) => {
    const { params: p, expand } = params(c, chargeUpdate);
    const ch = s.charges.require(c.req.param('id'));
    billing.trackCharge(ch, billing.clockOfCustomer(ch.customer), () => {
      if (p.description !== undefined) ch.description = p.description;
      if (p.metadata !== undefined) ch.metadata = applyMetadata(ch.metadata, p.metadata);
      if (p.receipt_email !== undefined) ch.receiptEmail = p.receipt_email;
    });
    return send(c, s, renderCharge(s, ch), expand);
  });

  app.get('/charges/:id/refunds', (c) => {
    const { params: p, expand } = params(c, refundList);
    const ch = s.charges.require(c.req.param('id'));
    return sendList(c, s, {
      url: `/v1/charges/${ch.id}/refunds`,
      rows: s.refunds.where('charge', ch.id),
      query: p,
      lookup: (id) => s.refunds.get(id),
      kind: 'refund',
      render: renderRefund,
      expand,
    });
  });

  // Refunds ----------------------------------------------------------------------------------

  app.post('/refunds', (c) => {
    const { params: p, expand } = params(c, refundCreate);
    if (p.charge !== undefined && p.payment_intent !== undefined) {
      throw invalidRequest('You may only specify one of these parameters: charge, payment_intent.', { param: 'charge' });
    }
    const refund = billing.createRefund(p);
    return send(c, s, renderRefund(refund), expand);
  });

  app.get('/refunds', (c) => {
    const { params: p, expand } = params(c, refundList);
    return sendList(c, s, {
      url: '/v1/refunds',
      rows: p.charge !== undefined ? s.refunds.where('charge', p.charge) : s.refunds.all(),
      query: p,
      lookup: (id) => s.refunds.get(id),
      kind: 'refund',
      filter: (r) => p.payment_intent === undefined || r.paymentIntent === p.payment_intent,
      render: renderRefund,
      expand,
    });
  });

  app.get('/refunds/:id', (c) => {
    const { expand } = params(c, {});
    return send(c, s, renderRefund(s.refunds.require(c.req.param('id'))), expand);
  });

  app.post('/refunds/:id', (c) => {
    const { params: p, expand } = params(c, refundUpdate);
    const refund = s.refunds.require(c.req.param('id'));
    const before = renderRefund(refund);
    if (p.metadata !== undefined) refund.metadata = applyMetadata(refund.metadata, p.metadata);
    const after = renderRefund(refund);
    const prev = previousAttributes(before, after);
    if (prev) s.emit('refund.updated', billing.clockOfCustomer(refund.customer), after, prev);
    return send(c, s, after, expand);
  });

  // Disputes ---------------------------------------------------------------------------------

  app.get('/disputes', (c) => {
    const { params: p, expand } = params(c, disputeList);
    return sendList(c, s, {
      url: '/v1/disputes',
      rows: s.disputes.all(),
      query: p,
      lookup: (id) => s.disputes.get(id),
      kind: 'dispute',
      filter: (r) => (p.charge === undefined || r.charge === p.charge) && (p.payment_intent === undefined || r.paymentIntent === p.payment_intent),
      render: renderDispute,
      expand,
    });
  });

  app.get('/disputes/:id', (c) => {
    const { expand } = params(c, {});
    return send(c, s, renderDispute(s.disputes.require(c.req.param('id'))), expand);
  });

  app.post('/disputes/:id', (c) => {
    const { params: p, expand } = params(c, disputeUpdate);
    const d = s.disputes.require(c.req.param('id'));
    if (d.status === 'won' || d.status === 'lost') {
      throw invalidRequest('This dispute is already closed.');
    }
    const before = renderDispute(d);
    if (p.metadata !== undefined) d.metadata = applyMetadata(d.metadata, p.metadata);
    if (p.submit) d.status = 'under_review';
    const after = renderDispute(d);
    const prev = previousAttributes(before, after);
    const charge = s.charges.get(d.charge);
    if (prev) s.emit('charge.dispute.updated', billing.clockOfCustomer(charge?.customer ?? null), after, prev);
    return send(c, s, after, expand);
  });

  app.post('/disputes/:id/close', (c) => {
    const { expand } = params(c, {});
    const d = s.disputes.require(c.req.param('id'));
    if (d.status === 'won' || d.status === 'lost') throw invalidRequest('This dispute is already closed.');
    d.status = 'lost';
    const charge = s.charges.get(d.charge);
    s.emit('charge.dispute.closed', billing.clockOfCustomer(charge?.customer ?? null), renderDispute(d));
    return send(c, s, renderDispute(d), expand);
  });

  return app;
}
