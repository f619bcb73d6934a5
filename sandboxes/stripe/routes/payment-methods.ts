import { Hono } from 'hono';
import { cardNumber, testToken } from '../cards.js';
import { previousAttributes } from '../diff.js';
import { invalidRequest } from '../errors.js';
import { params, send, sendList, type Env, type SandboxContext } from '../http.js';
import { applyMetadata, emptyMetadata } from '../params.js';
import type { PaymentMethodRecord } from '../records.js';
import { renderPaymentMethod } from '../render.js';
import { paymentMethodAttach, paymentMethodCreate, paymentMethodList, paymentMethodUpdate, type PaymentMethodCreate } from '../specs.js';
import { toAddress } from './customers.js';

type BillingDetailsInput = NonNullable<PaymentMethodCreate['billing_details']>;

function billingDetails(current: PaymentMethodRecord['billingDetails'], p: BillingDetailsInput | undefined): PaymentMethodRecord['billingDetails'] {
  if (!p) return current;
  return {
    address: p.address !== undefined ? toAddress(p.address) : current.address,
    email: p.email !== undefined ? p.email : current.email,
    name: p.name !== undefined ? p.name : current.name,
    phone: p.phone !== undefined ? p.phone : current.phone,
    tax_id: current.tax_id,
  };
}

export function paymentMethodRoutes({ state: s, billing }: SandboxContext): Hono<Env> {
  const app = new Hono<Env>();

  app.post('/payment_methods', (c) => {
    const { params: p, expand } = params(c, paymentMethodCreate);
    const now = s.realNow();
    const card = p.card;
    if (!card) throw invalidRequest('Missing required param: card.', { param: 'card', code: 'parameter_missing' });
    const resolved = card.token !== undefined ? testToken(card.token) : card.number !== undefined ? cardNumber(card.number) : undefined;
    if (!resolved) {
      if (card.token !== undefined) throw invalidRequest(`No such token: '${card.token}'`, { param: 'card[token]', code: 'resource_missing' });
      if (card.number !== undefined) throw invalidRequest('Your card number is incorrect.', { param: 'card[number]', code: 'incorrect_number' });
      throw invalidRequest('Missing required param: card[number].', { param: 'card[number]', code: 'parameter_missing' });
    }
    if (card.number !== undefined && (card.exp_month === undefined || card.exp_year === undefined)) {
      throw invalidRequest(`Missing required param: card[${card.exp_month === undefined ? 'exp_month' : 'exp_year'}].`, {
        param: `card[${card.exp_month === undefined ? 'exp_month' : 'exp_year'}]`,
        code: 'parameter_missing',
      });
    }
    const expYear = card.exp_year !== undefined ? (card.exp_year < 100 ? 2000 + card.exp_year : card.exp_year) : new Date(now * 1000).getUTCFullYear() + 3;
    const expMonth = card.exp_month ?? 12;
    const nowDate = new Date(now * 1000);
    if (expYear < nowDate.getUTCFullYear() || (expYear === nowDate.getUTCFullYear() && expMonth < nowDate.getUTCMonth() + 1)) {
      throw invalidRequest("Your card's expiration year is invalid.", { param: 'card[exp_year]', code: 'invalid_expiry_year' });
    }
    const pm: PaymentMethodRecord = {
      id: s.ids.next('pm'),
      created: now,
      seq: s.nextSeq(),
      customer: null,
      card: { ...resolved.card, expMonth, expYear },
      behavior: resolved.behavior,
      billingDetails: billingDetails({ address: null, email: null, name: null, phone: null, tax_id: null }, p.billing_details),
      metadata: applyMetadata(emptyMetadata(), p.metadata),
      allowRedisplay: p.allow_redisplay ?? 'unspecified',
      attachDecline: resolved.attachDecline ?? null,
    };
    s.paymentMethods.insert(pm);
    return send(c, s, renderPaymentMethod(pm), expand);
  });

  app.get('/payment_methods', (c) => {
    const { params: p, expand } = params(c, paymentMethodList);
    if (p.customer !== undefined) billing.liveCustomer(p.customer, 'customer');
    return sendList(c, s, {
      url: '/v1/payment_methods',
      rows: p.customer !== undefined ? s.paymentMethods.where('customer', p.customer) : s.paymentMethods.all(),
      query: p,
      lookup: (id) => s.paymentMethods.get(id),
      kind: 'PaymentMethod',
      // Without `customer` only unattached PaymentMethods are listed; attached ones belong to their customer's list.
      filter: (r) => (p.type === undefined || p.type === 'card') && (p.customer !== undefined || r.customer === null),
      render: renderPaymentMethod,
      expand,
    });
  });

  app.get('/payment_methods/:id', (c) => {
    const { expand } = params(c, {});
    const id = c.req.param('id');
    const pm = testToken(id) ? billing.resolvePaymentMethod(id, 'id') : s.paymentMethods.require(id);
    return send(c, s, renderPaymentMethod(pm), expand);
  });

  app.post('/payment_methods/:id', (c) => {
    const { params: p, expand } = params(c, paymentMethodUpdate);
    const pm = s.paymentMethods.require(c.req.param('id'));
    if (pm.customer === null) {
      throw invalidRequest('You must save this PaymentMethod to a customer before you can update it.', { code: 'payment_method_unexpected_state' });
    }
    const before = renderPaymentMethod(pm);
    pm.billingDetails = billingDetails(pm.billingDetails, p.billing_details);
    if (p.metadata !== undefined) pm.metadata = applyMetadata(pm.metadata, p.metadata);
    if (p.allow_redisplay !== undefined) pm.allowRedisplay = p.allow_redisplay;
    if (p.card?.exp_month !== undefined || p.card?.exp_year !== undefined) {
      pm.card = { ...pm.card, ...(p.card.exp_month !== undefined ? { expMonth: p.card.exp_month } : {}), ...(p.card.exp_year !== undefined ? { expYear: p.card.exp_year } : {}) };
    }
    const after = renderPaymentMethod(pm);
    const prev = previousAttributes(before, after);
    if (prev) s.emit('payment_method.updated', billing.clockOfCustomer(pm.customer), after, prev);
    return send(c, s, after, expand);
  });

  app.post('/payment_methods/:id/attach', (c) => {
    const { params: p, expand } = params(c, paymentMethodAttach);
    const customer = billing.liveCustomer(p.customer, 'customer');
    billing.assertClockReady(customer.clock);
    const pm = billing.resolvePaymentMethod(c.req.param('id'), 'payment_method');
    billing.attachPaymentMethod(pm, customer);
    return send(c, s, renderPaymentMethod(pm), expand);
  });

  app.post('/payment_methods/:id/detach', (c) => {
    const { expand } = params(c, {});
    const pm = s.paymentMethods.require(c.req.param('id'));
    billing.detachPaymentMethod(pm);
    return send(c, s, renderPaymentMethod(pm), expand);
  });

  return app;
}
