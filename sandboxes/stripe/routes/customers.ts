import { Hono } from 'hono';
import type Stripe from 'stripe';
import { cardError, invalidRequest, noSuch } from '../errors.js';
import { params, send, sendList, type Env, type SandboxContext } from '../http.js';
import { newCustomer } from '../model.js';
import { applyMetadata } from '../params.js';
import type { CustomerRecord, PaymentMethodRecord } from '../records.js';
import { renderCustomer, renderDeletedDiscount, renderPaymentMethod } from '../render.js';
import { customerCreate, customerList, customerPaymentMethodList, customerUpdate, type CustomerCreate, type CustomerUpdate } from '../specs.js';
import { searchRows } from '../search.js';

type AddressInput = NonNullable<NonNullable<CustomerCreate['address']>>;

export function toAddress(a: AddressInput | null | undefined): Stripe.Address | null {
  if (!a) return null;
  return {
    city: a.city ?? null,
    country: a.country ?? null,
    line1: a.line1 ?? null,
    line2: a.line2 ?? null,
    postal_code: a.postal_code ?? null,
    state: a.state ?? null,
  };
}

function toShipping(s: CustomerCreate['shipping']): Stripe.Customer.Shipping | null {
  if (!s) return null;
  const address = toAddress(s.address);
  return { ...(address ? { address } : {}), carrier: null, name: s.name, phone: s.phone ?? null, tracking_number: null };
}

function checkInvoicePrefix(prefix: string): void {
  if (!/^[A-Z0-9]{3,12}$/.test(prefix)) {
    throw invalidRequest('Invalid invoice_prefix: must be 3-12 uppercase letters or numbers.', { param: 'invoice_prefix' });
  }
}

/** Applies the fields create and update share. */
function applyCommon(c: CustomerRecord, p: CustomerCreate | CustomerUpdate): void {
  if (p.email !== undefined) c.email = p.email;
  if (p.name !== undefined) c.name = p.name;
  if (p.description !== undefined) c.description = p.description;
  if (p.phone !== undefined) c.phone = p.phone;
  if (p.business_name !== undefined) c.businessName = p.business_name;
  if (p.individual_name !== undefined) c.individualName = p.individual_name;
  if (p.address !== undefined) c.address = toAddress(p.address);
  if (p.shipping !== undefined) c.shipping = toShipping(p.shipping);
  if (p.balance !== undefined) c.balance = p.balance;
  if (p.metadata !== undefined) c.metadata = applyMetadata(c.metadata, p.metadata);
  if (p.invoice_prefix !== undefined) c.invoicePrefix = p.invoice_prefix ?? c.invoicePrefix;
  if (p.next_invoice_sequence !== undefined) c.nextInvoiceSequence = p.next_invoice_sequence;
  if (p.preferred_locales !== undefined) c.preferredLocales = p.preferred_locales ?? [];
  if (p.tax_exempt !== undefined) c.taxExempt = p.tax_exempt ?? 'none';
  if (p.invoice_settings?.footer !== undefined) c.invoiceFooter = p.invoice_settings.footer;
  if (p.invoice_settings?.custom_fields !== undefined) c.invoiceCustomFields = p.invoice_settings.custom_fields;
}

export function customerRoutes({ state: s, billing, clocks }: SandboxContext): Hono<Env> {
  const app = new Hono<Env>();

  app.post('/customers', (c) => {
    const { params: p, expand } = params(c, customerCreate);
    const clock = p.test_clock !== undefined ? s.testClocks.require(p.test_clock, 'test_clock') : null;
    if (clock) billing.assertClockReady(clock.id);
    if (p.invoice_prefix) checkInvoicePrefix(p.invoice_prefix);
    const now = s.now(clock?.id ?? null);
    // Everything that can fail is checked before the customer exists.
    let pm: PaymentMethodRecord | undefined;
    if (p.payment_method !== undefined) {
      pm = billing.resolvePaymentMethod(p.payment_method, 'payment_method');
      if (pm.customer !== null) {
        throw invalidRequest('The payment method you provided has already been attached to a customer.', {
          code: 'payment_method_unexpected_state',
          param: 'payment_method',
        });
      }
      if (pm.attachDecline) throw cardError(pm.attachDecline, { param: 'payment_method' });
    }
    const wantedDefault = p.invoice_settings?.default_payment_method;
    if (wantedDefault && wantedDefault !== p.payment_method && wantedDefault !== pm?.id) {
      throw invalidRequest(
        `The customer does not have a payment method with the ID ${wantedDefault}. The payment method must be attached to the customer.`,
        { param: 'invoice_settings[default_payment_method]', code: 'resource_missing' },
      );
    }
    if (p.coupon) {
      const coupon = s.coupons.get(p.coupon);
      if (!coupon || coupon.deleted) throw noSuch('coupon', p.coupon, 'coupon');
    }
    const customer = newCustomer(s, now, clock?.id ?? null);
    applyCommon(customer, p);
    if (pm && wantedDefault) customer.defaultPaymentMethod = pm.id;
    s.customers.insert(customer);
    if (p.coupon) billing.setCustomerCoupon(customer, p.coupon, now);
    s.emit('customer.created', customer.clock, renderCustomer(s, customer));
    if (pm) billing.attachPaymentMethod(pm, customer);
    return send(c, s, renderCustomer(s, customer), expand);
  });

  app.get('/customers', (c) => {
    const { params: p, expand } = params(c, customerList);
    if (p.test_clock !== undefined) s.testClocks.require(p.test_clock, 'test_clock');
    const rows = p.test_clock !== undefined ? s.customers.where('clock', p.test_clock) : s.customers.all();
    return sendList(c, s, {
      url: '/v1/customers',
      rows,
      query: p,
      lookup: (id) => s.customers.get(id),
      kind: 'customer',
      // Without `test_clock`, customers on test clocks are left out, as in Stripe.
      filter: (r) => !r.deleted && (p.test_clock !== undefined || r.clock === null) && (p.email === undefined || r.email === p.email),
      render: (r) => renderCustomer(s, r),
      expand,
    });
  });

  app.get('/customers/search', (c) => searchRows(c, s, 'customers'));

  app.get('/customers/:id', (c) => {
    const { expand } = params(c, {});
    return send(c, s, renderCustomer(s, s.customers.require(c.req.param('id'))), expand);
  });

  app.post('/customers/:id', (c) => {
    const { params: p, expand } = params(c, customerUpdate);
    const customer = billing.liveCustomer(c.req.param('id'));
    billing.assertClockReady(customer.clock);
    if (p.invoice_prefix) checkInvoicePrefix(p.invoice_prefix);
    const now = s.now(customer.clock);
    let defaultPm: string | null | undefined;
    const wanted = p.invoice_settings?.default_payment_method;
    if (wanted !== undefined) {
      if (wanted === null) defaultPm = null;
      else {
        const pm = s.paymentMethods.get(wanted);
        if (!pm || pm.customer !== customer.id) {
          throw invalidRequest(
            `The customer does not have a payment method with the ID ${wanted}. The payment method must be attached to the customer.`,
            { param: 'invoice_settings[default_payment_method]', code: 'resource_missing' },
          );
        }
        defaultPm = pm.id;
      }
    }
    if (p.coupon) {
      const coupon = s.coupons.get(p.coupon);
      if (!coupon || coupon.deleted) throw noSuch('coupon', p.coupon, 'coupon');
    }
    billing.trackCustomer(customer, () => {
      applyCommon(customer, p);
      if (defaultPm !== undefined) customer.defaultPaymentMethod = defaultPm;
      if (p.coupon !== undefined) billing.setCustomerCoupon(customer, p.coupon, now);
    });
    return send(c, s, renderCustomer(s, customer), expand);
  });

  app.delete('/customers/:id', (c) => {
    params(c, {});
    const customer = billing.liveCustomer(c.req.param('id'));
    billing.assertClockReady(customer.clock);
    clocks.deleteCustomer(customer.id);
    return c.json({ id: customer.id, object: 'customer', deleted: true });
  });

  app.delete('/customers/:id/discount', (c) => {
    params(c, {});
    const customer = billing.liveCustomer(c.req.param('id'));
    const discount = customer.discount ? s.discounts.get(customer.discount) : undefined;
    if (!discount || discount.ended) throw noSuch('discount', `${customer.id}`);
    billing.trackCustomer(customer, () => billing.endDiscount(discount));
    return c.json(renderDeletedDiscount(discount));
  });

  app.get('/customers/:id/payment_methods', (c) => {
    const { params: p, expand } = params(c, customerPaymentMethodList);
    const customer = billing.liveCustomer(c.req.param('id'));
    return sendList(c, s, {
      url: `/v1/customers/${customer.id}/payment_methods`,
      rows: s.paymentMethods.where('customer', customer.id),
      query: p,
      lookup: (id) => s.paymentMethods.get(id),
      kind: 'PaymentMethod',
      filter: (r) => (p.type === undefined || p.type === 'card') && (p.allow_redisplay === undefined || r.allowRedisplay === p.allow_redisplay),
      render: renderPaymentMethod,
      expand,
    });
  });

  app.get('/customers/:id/payment_methods/:pm', (c) => {
    const { expand } = params(c, {});
    const customer = billing.liveCustomer(c.req.param('id'));
    const pm = s.paymentMethods.get(c.req.param('pm'));
    if (!pm || pm.customer !== customer.id) throw noSuch('PaymentMethod', c.req.param('pm'));
    return send(c, s, renderPaymentMethod(pm), expand);
  });

  return app;
}
