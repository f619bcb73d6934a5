import { describe, expect, it } from 'vitest';
import { invalidEventReason, routeEvent, type RawStripeEvent } from '../../domain/event-routing.js';

const ev = (type: string, object: Record<string, unknown>, previous?: Record<string, unknown>): RawStripeEvent => ({
  id: 'evt_1', type, created: 1, livemode: false, data: { object, ...(previous ? { previous_attributes: previous } : {}) },
});

describe('routeEvent', () => {
  it.each([
    ['customer.created', { object: 'customer', id: 'cus_1' }, undefined, { kind: 'customer', customerId: 'cus_1' }],
    ['customer.subscription.updated', { object: 'subscription', id: 'sub_1', customer: 'cus_2' }, undefined, { kind: 'customer', customerId: 'cus_2' }],
    ['customer.discount.created', { object: 'discount', id: 'di_1', customer: 'cus_3' }, undefined, { kind: 'customer', customerId: 'cus_3' }],
    ['invoice.upcoming', { object: 'invoice', customer: 'cus_4' }, undefined, { kind: 'customer', customerId: 'cus_4' }],
    ['invoice.paid', { object: 'invoice', id: 'in_1', customer: { id: 'cus_5', object: 'customer' } }, undefined, { kind: 'customer', customerId: 'cus_5' }],
    ['charge.refunded', { object: 'charge', id: 'ch_1', customer: 'cus_6' }, undefined, { kind: 'customer', customerId: 'cus_6' }],
    ['charge.dispute.created', { object: 'dispute', id: 'dp_1', charge: 'ch_9' }, undefined, { kind: 'charge-owner', chargeId: 'ch_9' }],
    ['refund.created', { object: 'refund', id: 're_1', charge: 'ch_8' }, undefined, { kind: 'charge-owner', chargeId: 'ch_8' }],
    ['payment_method.attached', { object: 'payment_method', id: 'pm_1', customer: 'cus_7' }, undefined, { kind: 'customer', customerId: 'cus_7' }],
    ['payment_method.detached', { object: 'payment_method', id: 'pm_1', customer: null }, { customer: 'cus_7' }, { kind: 'customer', customerId: 'cus_7' }],
    ['charge.succeeded', { object: 'charge', id: 'ch_2', customer: null }, undefined, { kind: 'no-customer' }],
    ['product.updated', { object: 'product', id: 'prod_1' }, undefined, { kind: 'catalog', productId: 'prod_1' }],
    ['price.created', { object: 'price', id: 'price_1', product: 'prod_2' }, undefined, { kind: 'catalog', productId: 'prod_2' }],
    ['account.updated', { object: 'account', id: 'acct_1' }, undefined, { kind: 'unhandled' }],
    ['balance.available', { object: 'balance' }, undefined, { kind: 'unhandled' }],
  ])('%s → %j', (type, object, previous, route) => {
    expect(routeEvent(ev(type, object, previous))).toMatchObject(route);
  });
});

describe('invalidEventReason', () => {
  it.each([
    [null, 'the body is not a JSON object'],
    [[], 'the body is not a JSON object'],
    [{ id: 'x', type: 't', created: 1, livemode: false, data: { object: {} } }, 'id must be an event id (evt_...)'],
    [{ id: 'evt_1', created: 1, livemode: false, data: { object: {} } }, 'type is missing'],
    [{ id: 'evt_1', type: 't', created: '1', livemode: false, data: { object: {} } }, 'created must be a unix timestamp'],
    [{ id: 'evt_1', type: 't', created: 1, data: { object: {} } }, 'livemode must be a boolean'],
    [{ id: 'evt_1', type: 't', created: 1, livemode: true, data: {} }, 'data.object is missing'],
    [{ id: 'evt_1', type: 't', created: 1, livemode: true, data: { object: {} } }, null],
  ])('%j → %s', (body, reason) => {
    expect(invalidEventReason(body)).toBe(reason);
  });
});
