import { Hono } from 'hono';
import { parseCurrency } from '../currency.js';
import { invalidRequest, noSuch } from '../errors.js';
import { params, send, sendList, type Env, type SandboxContext } from '../http.js';
import { applyMetadata, emptyMetadata } from '../params.js';
import type { InvoiceItemRecord, InvoiceRecord } from '../records.js';
import { list, renderInvoice, renderInvoiceItem, renderInvoicePayment, renderLine } from '../render.js';
import { searchRows } from '../search.js';
import {
  invoiceCreate,
  invoiceFinalize,
  invoiceItemCreate,
  invoiceItemList,
  invoiceItemUpdate,
  invoiceLinesList,
  invoiceList,
  invoicePay,
  invoicePaymentList,
  invoicePreview,
  invoiceUpdate,
} from '../specs.js';
import { expand as applyExpand } from '../expand.js';
import type { RangeFilter } from '../params.js';

function inRange(value: number | null, range: RangeFilter | undefined): boolean {
  if (!range) return true;
  if (value === null) return false;
  return (
    (range.gt === undefined || value > range.gt) &&
    (range.gte === undefined || value >= range.gte) &&
    (range.lt === undefined || value < range.lt) &&
    (range.lte === undefined || value <= range.lte)
  );
}

export function invoiceRoutes({ state: s, billing }: SandboxContext): Hono<Env> {
  const app = new Hono<Env>();
  const render = (r: InvoiceRecord) => renderInvoice(s, r);
  const invoice = (id: string) => s.invoices.require(id);

  app.post('/invoices', (c) => {
    const { params: p, expand } = params(c, invoiceCreate);
    if (p.currency !== undefined) parseCurrency(p.currency, 'currency');
    return send(c, s, render(billing.createManualInvoice(p)), expand);
  });

  app.get('/invoices', (c) => {
    const { params: p, expand } = params(c, invoiceList);
    const rows =
      p.subscription !== undefined
        ? s.invoices.where('subscription', p.subscription)
        : p.customer !== undefined
          ? s.invoices.where('customer', p.customer)
          : s.invoices.all();
    return sendList(c, s, {
      url: '/v1/invoices',
      rows,
      query: p,
      lookup: (id) => s.invoices.get(id),
      kind: 'invoice',
      filter: (r) =>
        (p.customer === undefined || r.customer === p.customer) &&
        (p.status === undefined || r.status === p.status) &&
        (p.collection_method === undefined || r.collectionMethod === p.collection_method) &&
        inRange(r.dueDate, p.due_date),
      render,
      expand,
    });
  });

  app.get('/invoices/search', (c) => searchRows(c, s, 'invoices'));

  app.post('/invoices/create_preview', (c) => {
    const { params: p, expand } = params(c, invoicePreview);
    let customerId = p.customer;
    const sub = p.subscription !== undefined ? s.subscriptions.require(p.subscription, 'subscription') : null;
    if (sub) customerId = sub.customer;
    if (customerId === undefined) throw invalidRequest('Missing required param: customer.', { param: 'customer', code: 'parameter_missing' });
    const customer = billing.liveCustomer(customerId, 'customer');
    if (sub && (sub.status === 'canceled' || sub.status === 'incomplete_expired')) {
      throw invalidRequest('No upcoming invoices for a canceled subscription.', { code: 'invoice_upcoming_none' });
    }
    return send(c, s, billing.previewInvoice(customer, sub), expand);
  });

  app.get('/invoices/:id', (c) => {
    const { expand } = params(c, {});
    return send(c, s, render(invoice(c.req.param('id'))), expand);
  });

  app.post('/invoices/:id', (c) => {
    const { params: p, expand } = params(c, invoiceUpdate);
    const inv = invoice(c.req.param('id'));
    billing.assertClockReady(inv.clock);
    const draftOnly = (['collection_method', 'days_until_due', 'due_date', 'discounts', 'default_payment_method'] as const).find(
      (k) => p[k] !== undefined,
    );
    if (inv.status !== 'draft' && draftOnly !== undefined) {
      throw invalidRequest(`You can only update \`${draftOnly}\` on draft invoices.`, { param: draftOnly, code: 'invoice_not_editable' });
    }
    if (inv.status === 'void' || inv.status === 'paid') {
      const other = Object.keys(p).find((k) => k !== 'metadata' && k !== 'description' && k !== 'footer');
      if (other !== undefined) throw invalidRequest(`You can only update metadata on ${inv.status} invoices.`, { param: other, code: 'invoice_not_editable' });
    }
    let defaultPm: string | null | undefined;
    if (p.default_payment_method !== undefined) {
      if (p.default_payment_method === null) defaultPm = null;
      else {
        const pm = s.paymentMethods.require(p.default_payment_method, 'default_payment_method');
        if (pm.customer !== inv.customer) {
          throw invalidRequest(`The customer does not have a payment method with the ID ${pm.id}.`, { param: 'default_payment_method', code: 'resource_missing' });
        }
        defaultPm = pm.id;
      }
    }
    billing.trackInvoice(inv, () => {
      if (p.metadata !== undefined) inv.metadata = applyMetadata(inv.metadata, p.metadata);
      if (p.description !== undefined) inv.description = p.description;
      if (p.footer !== undefined) inv.footer = p.footer;
      if (p.auto_advance !== undefined) {
        inv.autoAdvance = p.auto_advance;
        if (inv.status === 'draft') {
          inv.automaticallyFinalizesAt = p.auto_advance ? s.now(inv.clock) + s.billing.finalizeDelaySeconds : null;
        }
      }
      if (p.collection_method !== undefined) inv.collectionMethod = p.collection_method;
      if (p.days_until_due !== undefined) inv.dueDate = s.now(inv.clock) + p.days_until_due * 86_400;
      if (p.due_date !== undefined) inv.dueDate = p.due_date;
      if (defaultPm !== undefined) inv.defaultPaymentMethod = defaultPm;
      if (p.discounts !== undefined) {
        const customer = s.customers.require(inv.customer);
        const now = s.now(inv.clock);
        const ds = (p.discounts ?? []).map((input, i) => {
          const couponId = input.coupon;
          if (couponId === undefined) throw invalidRequest('You must specify `coupon`.', { param: `discounts[${i}][coupon]` });
          const coupon = s.coupons.get(couponId);
          if (!coupon || coupon.deleted) throw noSuch('coupon', couponId, `discounts[${i}][coupon]`);
          const d = billing.createDiscount(coupon, customer, null, now);
          d.invoice = inv.id;
          return d;
        });
        billing.refreshDraft(inv, ds);
      }
    });
    billing.scheduleInvoice(inv);
    return send(c, s, render(inv), expand);
  });

  app.delete('/invoices/:id', (c) => {
    params(c, {});
    const inv = invoice(c.req.param('id'));
    billing.deleteDraft(inv);
    return c.json({ id: inv.id, object: 'invoice', deleted: true });
  });

  app.post('/invoices/:id/finalize', (c) => {
    const { params: p, expand } = params(c, invoiceFinalize);
    const inv = invoice(c.req.param('id'));
    billing.assertClockReady(inv.clock);
    billing.finalizeInvoice(inv, p.auto_advance !== undefined ? { autoAdvance: p.auto_advance } : {});
    return send(c, s, render(inv), expand);
  });

  app.post('/invoices/:id/pay', (c) => {
    const { params: p, expand } = params(c, invoicePay);
    const inv = invoice(c.req.param('id'));
    billing.payInvoice(inv, p);
    return send(c, s, render(inv), expand);
  });

  app.post('/invoices/:id/void', (c) => {
    const { expand } = params(c, {});
    const inv = invoice(c.req.param('id'));
    billing.assertClockReady(inv.clock);
    billing.voidInvoice(inv);
    return send(c, s, render(inv), expand);
  });

  app.post('/invoices/:id/mark_uncollectible', (c) => {
    const { expand } = params(c, {});
    const inv = invoice(c.req.param('id'));
    billing.assertClockReady(inv.clock);
    billing.markUncollectible(inv);
    return send(c, s, render(inv), expand);
  });

  app.post('/invoices/:id/send', (c) => {
    const { expand } = params(c, {});
    const inv = invoice(c.req.param('id'));
    billing.sendInvoice(inv);
    return send(c, s, render(inv), expand);
  });

  app.get('/invoices/:id/lines', (c) => {
    const { params: p, expand } = params(c, invoiceLinesList);
    const inv = invoice(c.req.param('id'));
    if (p.starting_after !== undefined && p.ending_before !== undefined) {
      throw invalidRequest('You may only specify one of these parameters: ending_before, starting_after.', { param: 'ending_before' });
    }
    // Lines keep invoice order; cursors are line ids.
    const limit = p.limit ?? 10;
    let from = 0;
    let to = inv.lines.length;
    if (p.starting_after !== undefined) {
      const i = inv.lines.findIndex((l) => l.id === p.starting_after);
      if (i < 0) throw noSuch('line item', p.starting_after, 'starting_after');
      from = i + 1;
    }
    if (p.ending_before !== undefined) {
      const i = inv.lines.findIndex((l) => l.id === p.ending_before);
      if (i < 0) throw noSuch('line item', p.ending_before, 'ending_before');
      to = i;
      from = Math.max(0, to - limit);
    }
    const slice = inv.lines.slice(from, Math.min(to, from + limit));
    const hasMore = p.ending_before !== undefined ? from > 0 : from + limit < to;
    const rendered = slice.map((l) => renderLine(inv.id, l));
    for (const line of rendered) {
      if (line.pricing?.price_details) line.pricing.price_details.product = s.prices.get(String(line.pricing.price_details.price))?.product ?? '';
    }
    return c.json(applyExpand(s, list(rendered, `/v1/invoices/${inv.id}/lines`, hasMore), expand));
  });

  // Invoice payments -------------------------------------------------------------------------

  app.get('/invoice_payments', (c) => {
    const { params: p, expand } = params(c, invoicePaymentList);
    let rows: readonly InvoiceRecord[];
    if (p.invoice !== undefined) rows = [invoice(p.invoice)];
    else if (p.payment?.payment_intent !== undefined) {
      const pi = s.paymentIntents.require(p.payment.payment_intent, 'payment[payment_intent]');
      rows = pi.invoice ? [invoice(pi.invoice)] : [];
    } else rows = s.invoices.all();
    return sendList(c, s, {
      url: '/v1/invoice_payments',
      rows: rows.filter((r) => r.paymentIntent !== null),
      query: { ...p, ...(p.starting_after !== undefined ? { starting_after: `in_${p.starting_after.slice(6)}` } : {}), ...(p.ending_before !== undefined ? { ending_before: `in_${p.ending_before.slice(6)}` } : {}) },
      lookup: (id) => s.invoices.get(id),
      kind: 'invoice_payment',
      filter: (r) => {
        const payment = renderInvoicePayment(s, r);
        return payment !== null && (p.status === undefined || payment.status === p.status);
      },
      render: (r) => renderInvoicePayment(s, r),
      expand,
    });
  });

  app.get('/invoice_payments/:id', (c) => {
    const { expand } = params(c, {});
    const id = c.req.param('id');
    const inv = id.startsWith('inpay_') ? s.invoices.get(`in_${id.slice(6)}`) : undefined;
    const payment = inv ? renderInvoicePayment(s, inv) : null;
    if (!payment || payment.id !== id) throw noSuch('invoice_payment', id);
    return send(c, s, payment, expand);
  });

  // Invoice items ----------------------------------------------------------------------------

  const liveItem = (id: string): InvoiceItemRecord => {
    const ii = s.invoiceItems.require(id);
    if (ii.deleted) throw noSuch('invoiceitem', id);
    return ii;
  };

  /** Keeps a draft invoice's lines in step with the items attached to it. */
  const refresh = (invoiceId: string | null) => {
    const inv = invoiceId ? s.invoices.get(invoiceId) : undefined;
    if (inv && inv.status === 'draft') billing.trackInvoice(inv, () => billing.refreshDraft(inv));
  };

  app.post('/invoiceitems', (c) => {
    const { params: p, expand } = params(c, invoiceItemCreate);
    const customer = billing.liveCustomer(p.customer, 'customer');
    billing.assertClockReady(customer.clock);
    const now = s.now(customer.clock);
    const priceId = p.pricing?.price;
    const ways = [p.amount !== undefined, priceId !== undefined, p.unit_amount_decimal !== undefined].filter(Boolean).length;
    if (ways > 1) throw invalidRequest('You may only specify one of these parameters: amount, pricing[price], unit_amount_decimal.', { param: 'amount' });
    if (ways === 0) throw invalidRequest('Missing required param: amount.', { param: 'amount', code: 'parameter_missing' });
    const price = priceId !== undefined ? s.prices.require(priceId, 'pricing[price]') : null;
    if (price && !price.active) throw invalidRequest('The price specified is inactive. This field only accepts active prices.', { param: 'pricing[price]' });
    const currency = price?.currency ?? (p.currency !== undefined ? parseCurrency(p.currency, 'currency') : undefined);
    if (currency === undefined) throw invalidRequest('Missing required param: currency.', { param: 'currency', code: 'parameter_missing' });
    if (p.amount !== undefined && p.quantity !== undefined) {
      throw invalidRequest('You cannot specify `quantity` with `amount`; use `unit_amount_decimal` instead.', { param: 'quantity' });
    }
    let inv: InvoiceRecord | null = null;
    if (p.invoice !== undefined) {
      inv = invoice(p.invoice);
      if (inv.customer !== customer.id) throw invalidRequest('The invoice does not belong to this customer.', { param: 'invoice' });
      if (inv.status !== 'draft') throw invalidRequest('You can only add invoice items to draft invoices.', { param: 'invoice', code: 'invoice_not_editable' });
    }
    if (p.subscription !== undefined) {
      const sub = s.subscriptions.require(p.subscription, 'subscription');
      if (sub.customer !== customer.id) throw invalidRequest('The subscription does not belong to this customer.', { param: 'subscription' });
    }
    const quantity = p.quantity ?? 1;
    const unit = price ? price.unitAmountDecimal : (p.unit_amount_decimal ?? String(p.amount));
    const amount = p.amount ?? Math.round(Number(unit) * quantity);
    const ii: InvoiceItemRecord = {
      id: s.ids.next('ii'),
      created: now,
      seq: s.nextSeq(),
      customer: customer.id,
      subscription: p.subscription ?? null,
      subscriptionItem: null,
      invoice: inv?.id ?? null,
      amount,
      currency,
      description: p.description ?? (price ? (s.products.get(price.product)?.name ?? '') : ''),
      periodStart: p.period?.start ?? now,
      periodEnd: p.period?.end ?? now,
      price: price?.id ?? null,
      quantity,
      unitAmountDecimal: unit,
      proration: false,
      discountable: p.discountable ?? amount > 0,
      metadata: applyMetadata(emptyMetadata(), p.metadata),
      deleted: false,
    };
    s.invoiceItems.insert(ii);
    s.emit('invoiceitem.created', customer.clock, renderInvoiceItem(ii));
    refresh(ii.invoice);
    return send(c, s, renderInvoiceItem(ii), expand);
  });

  app.get('/invoiceitems', (c) => {
    const { params: p, expand } = params(c, invoiceItemList);
    return sendList(c, s, {
      url: '/v1/invoiceitems',
      rows: p.customer !== undefined ? s.invoiceItems.where('customer', p.customer) : s.invoiceItems.all(),
      query: p,
      lookup: (id) => s.invoiceItems.get(id),
      kind: 'invoiceitem',
      filter: (r) =>
        !r.deleted && (p.invoice === undefined || r.invoice === p.invoice) && (p.pending === undefined || (r.invoice === null) === p.pending),
      render: renderInvoiceItem,
      expand,
    });
  });

  app.get('/invoiceitems/:id', (c) => {
    const { expand } = params(c, {});
    return send(c, s, renderInvoiceItem(s.invoiceItems.require(c.req.param('id'))), expand);
  });

  const editable = (ii: InvoiceItemRecord) => {
    const inv = ii.invoice ? s.invoices.get(ii.invoice) : undefined;
    if (inv && inv.status !== 'draft') {
      throw invalidRequest('You can only modify invoice items that are pending or attached to a draft invoice.', { code: 'invoice_not_editable' });
    }
  };

  app.post('/invoiceitems/:id', (c) => {
    const { params: p, expand } = params(c, invoiceItemUpdate);
    const ii = liveItem(c.req.param('id'));
    editable(ii);
    if (p.amount !== undefined) ii.amount = p.amount;
    if (p.unit_amount_decimal !== undefined || p.quantity !== undefined) {
      if (p.unit_amount_decimal !== undefined) ii.unitAmountDecimal = p.unit_amount_decimal;
      if (p.quantity !== undefined) ii.quantity = p.quantity;
      if (p.amount === undefined) ii.amount = Math.round(Number(ii.unitAmountDecimal) * ii.quantity);
    }
    if (p.description !== undefined) ii.description = p.description;
    if (p.discountable !== undefined) ii.discountable = p.discountable;
    if (p.metadata !== undefined) ii.metadata = applyMetadata(ii.metadata, p.metadata);
    if (p.period !== undefined) {
      ii.periodStart = p.period.start;
      ii.periodEnd = p.period.end;
    }
    refresh(ii.invoice);
    return send(c, s, renderInvoiceItem(ii), expand);
  });

  app.delete('/invoiceitems/:id', (c) => {
    params(c, {});
    const ii = liveItem(c.req.param('id'));
    editable(ii);
    const snapshot = renderInvoiceItem(ii);
    ii.deleted = true;
    const invoiceId = ii.invoice;
    ii.invoice = null;
    s.emit('invoiceitem.deleted', billing.clockOfCustomer(ii.customer), snapshot);
    refresh(invoiceId);
    return c.json({ id: ii.id, object: 'invoiceitem', deleted: true });
  });

  return app;
}
