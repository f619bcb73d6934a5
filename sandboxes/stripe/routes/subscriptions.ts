import { Hono } from 'hono';
import { invalidRequest, noSuch } from '../errors.js';
import { params, send, sendList, type Env, type SandboxContext } from '../http.js';
import type { SubscriptionRecord } from '../records.js';
import { renderDeletedDiscount, renderSubscription, renderSubscriptionItem } from '../render.js';
import { searchRows } from '../search.js';
import {
  subscriptionCancel,
  subscriptionCreate,
  subscriptionItemCreateParams,
  subscriptionItemDeleteParams,
  subscriptionItemList,
  subscriptionItemUpdateParams,
  subscriptionList,
  subscriptionResume,
  subscriptionUpdate,
  type SubscriptionUpdate,
} from '../specs.js';
import type { RangeFilter } from '../params.js';

function inRange(value: number, range: RangeFilter | undefined): boolean {
  if (!range) return true;
  return (
    (range.gt === undefined || value > range.gt) &&
    (range.gte === undefined || value >= range.gte) &&
    (range.lt === undefined || value < range.lt) &&
    (range.lte === undefined || value <= range.lte)
  );
}

export function subscriptionRoutes({ state: s, billing }: SandboxContext): Hono<Env> {
  const app = new Hono<Env>();
  const render = (r: SubscriptionRecord) => renderSubscription(s, r);

  app.post('/subscriptions', (c) => {
    const { params: p, expand } = params(c, subscriptionCreate);
    const sub = billing.createSubscription(p);
    return send(c, s, render(sub), expand);
  });

  app.get('/subscriptions', (c) => {
    const { params: p, expand } = params(c, subscriptionList);
    if (p.customer !== undefined) billing.liveCustomer(p.customer, 'customer');
    if (p.test_clock !== undefined) s.testClocks.require(p.test_clock, 'test_clock');
    const price = p.price ?? p.plan;
    const status = p.status;
    return sendList(c, s, {
      url: '/v1/subscriptions',
      rows: p.customer !== undefined ? s.subscriptions.where('customer', p.customer) : s.subscriptions.all(),
      query: p,
      lookup: (id) => s.subscriptions.get(id),
      kind: 'subscription',
      filter: (r) => {
        const ended = r.status === 'canceled' || r.status === 'incomplete_expired';
        if (status === undefined && ended) return false; // by default, ended subscriptions are not listed
        if (status === 'ended' && !ended) return false;
        if (status !== undefined && status !== 'all' && status !== 'ended' && r.status !== status) return false;
        // Without `customer` or `test_clock`, subscriptions on test clocks are left out, as in Stripe.
        if (p.test_clock !== undefined ? r.clock !== p.test_clock : p.customer === undefined && r.clock !== null) return false;
        if (p.collection_method !== undefined && r.collectionMethod !== p.collection_method) return false;
        const items = billing.liveItems(r);
        if (price !== undefined && !items.some((i) => i.price === price)) return false;
        const first = items[0];
        if (first && !inRange(first.periodEnd, p.current_period_end)) return false;
        if (first && !inRange(first.periodStart, p.current_period_start)) return false;
        return true;
      },
      render,
      expand,
    });
  });

  app.get('/subscriptions/search', (c) => searchRows(c, s, 'subscriptions'));

  app.get('/subscriptions/:id', (c) => {
    const { expand } = params(c, {});
    return send(c, s, render(s.subscriptions.require(c.req.param('id'))), expand);
  });

  app.post('/subscriptions/:id', (c) => {
    const { params: p, expand } = params(c, subscriptionUpdate);
    const sub = s.subscriptions.require(c.req.param('id'));
    billing.updateSubscription(sub, p);
    return send(c, s, render(sub), expand);
  });

  app.delete('/subscriptions/:id', (c) => {
    const { params: p, expand } = params(c, subscriptionCancel);
    const sub = s.subscriptions.require(c.req.param('id'));
    billing.cancelSubscription(sub, p);
    return send(c, s, render(sub), expand);
  });

  app.post('/subscriptions/:id/resume', (c) => {
    const { expand } = params(c, subscriptionResume);
    const sub = s.subscriptions.require(c.req.param('id'));
    billing.resumeSubscription(sub);
    return send(c, s, render(sub), expand);
  });

  app.delete('/subscriptions/:id/discount', (c) => {
    params(c, {});
    const sub = s.subscriptions.require(c.req.param('id'));
    const live = sub.discounts.map((id) => s.discounts.get(id)).filter((d) => d !== undefined && !d.ended);
    const first = live[0];
    if (!first) throw noSuch('discount', sub.id);
    billing.trackSubscription(sub, () => {
      for (const d of live) if (d) billing.endDiscount(d);
    });
    return c.json(renderDeletedDiscount(first));
  });

  // Subscription items: thin views over subscription updates, as in Stripe.

  const liveItem = (id: string) => {
    const item = s.subscriptionItems.require(id);
    if (item.deleted) throw noSuch('subscription_item', id);
    return item;
  };

  app.get('/subscription_items', (c) => {
    const { params: p, expand } = params(c, subscriptionItemList);
    const sub = s.subscriptions.require(p.subscription, 'subscription');
    const rows = billing.liveItems(sub);
    return sendList(c, s, {
      url: '/v1/subscription_items',
      rows,
      query: p,
      lookup: (id) => s.subscriptionItems.get(id),
      kind: 'subscription_item',
      render: (r) => renderSubscriptionItem(s, r),
      expand,
    });
  });

  app.get('/subscription_items/:id', (c) => {
    const { expand } = params(c, {});
    return send(c, s, renderSubscriptionItem(s, liveItem(c.req.param('id'))), expand);
  });

  app.post('/subscription_items', (c) => {
    const { params: p, expand } = params(c, subscriptionItemCreateParams);
    const sub = s.subscriptions.require(p.subscription, 'subscription');
    const before = new Set(sub.items);
    const update: SubscriptionUpdate = {
      items: [
        {
          ...(p.price !== undefined ? { price: p.price } : {}),
          ...(p.plan !== undefined ? { plan: p.plan } : {}),
          ...(p.quantity !== undefined ? { quantity: p.quantity } : {}),
          ...(p.metadata !== undefined ? { metadata: p.metadata } : {}),
        },
      ],
      ...(p.proration_behavior !== undefined ? { proration_behavior: p.proration_behavior } : {}),
      ...(p.proration_date !== undefined ? { proration_date: p.proration_date } : {}),
      ...(p.payment_behavior !== undefined ? { payment_behavior: p.payment_behavior } : {}),
    };
    if (p.price === undefined && p.plan === undefined) throw invalidRequest('Missing required param: price.', { param: 'price', code: 'parameter_missing' });
    billing.updateSubscription(sub, update);
    const created = sub.items.find((id) => !before.has(id));
    return send(c, s, renderSubscriptionItem(s, liveItem(created ?? '')), expand);
  });

  app.post('/subscription_items/:id', (c) => {
    const { params: p, expand } = params(c, subscriptionItemUpdateParams);
    const item = liveItem(c.req.param('id'));
    const sub = s.subscriptions.require(item.subscription);
    billing.updateSubscription(sub, {
      items: [
        {
          id: item.id,
          ...(p.price !== undefined ? { price: p.price } : {}),
          ...(p.plan !== undefined ? { plan: p.plan } : {}),
          ...(p.quantity !== undefined ? { quantity: p.quantity } : {}),
          ...(p.metadata !== undefined ? { metadata: p.metadata } : {}),
        },
      ],
      ...(p.proration_behavior !== undefined ? { proration_behavior: p.proration_behavior } : {}),
      ...(p.proration_date !== undefined ? { proration_date: p.proration_date } : {}),
      ...(p.payment_behavior !== undefined ? { payment_behavior: p.payment_behavior } : {}),
    });
    return send(c, s, renderSubscriptionItem(s, item), expand);
  });

  app.delete('/subscription_items/:id', (c) => {
    const { params: p } = params(c, subscriptionItemDeleteParams);
    const item = liveItem(c.req.param('id'));
    const sub = s.subscriptions.require(item.subscription);
    billing.updateSubscription(sub, {
      items: [{ id: item.id, deleted: true }],
      ...(p.proration_behavior !== undefined ? { proration_behavior: p.proration_behavior } : {}),
      ...(p.proration_date !== undefined ? { proration_date: p.proration_date } : {}),
    });
    return c.json({ id: item.id, object: 'subscription_item', deleted: true });
  });

  return app;
}
