import { invalidRequest } from './errors.js';
import {
  list,
  renderCharge,
  renderCoupon,
  renderCustomer,
  renderDiscount,
  renderDispute,
  renderInvoice,
  renderInvoiceItem,
  renderInvoicePayment,
  renderPaymentIntent,
  renderPaymentMethod,
  renderPrice,
  renderProduct,
  renderRefund,
  renderSubscription,
  renderSubscriptionItem,
  renderTestClock,
} from './render.js';
import type { StripeState } from './state.js';

/** Stripe refuses expansions deeper than four levels. */
const MAX_DEPTH = 4;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Renders the object an id refers to, or undefined when the id names nothing expandable. */
export function resolveId(s: StripeState, id: string, key: string): unknown {
  if (key === 'coupon') {
    const c = s.coupons.get(id);
    return c ? renderCoupon(c, s.realNow()) : undefined;
  }
  const prefix = id.slice(0, id.indexOf('_'));
  switch (prefix) {
    case 'cus': {
      const r = s.customers.get(id);
      return r ? renderCustomer(s, r) : undefined;
    }
    case 'sub': {
      const r = s.subscriptions.get(id);
      return r ? renderSubscription(s, r) : undefined;
    }
    case 'si': {
      const r = s.subscriptionItems.get(id);
      return r ? renderSubscriptionItem(s, r) : undefined;
    }
    case 'in': {
      const r = s.invoices.get(id);
      return r ? renderInvoice(s, r) : undefined;
    }
    case 'ii': {
      const r = s.invoiceItems.get(id);
      return r ? renderInvoiceItem(r) : undefined;
    }
    case 'ch': {
      const r = s.charges.get(id);
      return r ? renderCharge(s, r) : undefined;
    }
    case 're': {
      const r = s.refunds.get(id);
      return r ? renderRefund(r) : undefined;
    }
    case 'pi': {
      const r = s.paymentIntents.get(id);
      return r ? renderPaymentIntent(r) : undefined;
    }
    case 'pm': {
      const r = s.paymentMethods.get(id);
      return r ? renderPaymentMethod(r) : undefined;
    }
    case 'price': {
      const r = s.prices.get(id);
      return r ? renderPrice(r) : undefined;
    }
    case 'prod': {
      const r = s.products.get(id);
      return r ? renderProduct(r) : undefined;
    }
    case 'di': {
      const r = s.discounts.get(id);
      return r ? renderDiscount(s, r) : undefined;
    }
    case 'dp': {
      const r = s.disputes.get(id);
      return r ? renderDispute(r) : undefined;
    }
    case 'clock': {
      const r = s.testClocks.get(id);
      return r ? renderTestClock(r) : undefined;
    }
    default:
      return undefined;
  }
}

/** Properties that are absent unless expanded ("includable" in Stripe's docs). */
function include(s: StripeState, owner: Obj, key: string): unknown {
  const id = typeof owner['id'] === 'string' ? owner['id'] : '';
  switch (`${String(owner['object'])}.${key}`) {
    case 'customer.subscriptions': {
      const subs = s.subscriptions
        .where('customer', id)
        .filter((r) => r.status !== 'canceled' && r.status !== 'incomplete_expired')
        .map((r) => renderSubscription(s, r))
        .reverse();
      return list(subs.slice(0, 10), `/v1/customers/${id}/subscriptions`, subs.length > 10);
    }
    case 'customer.sources':
      return list([], `/v1/customers/${id}/sources`);
    case 'customer.tax_ids':
      return list([], `/v1/customers/${id}/tax_ids`);
    case 'invoice.payments': {
      const inv = s.invoices.get(id);
      const payment = inv ? renderInvoicePayment(s, inv) : null;
      return list(payment ? [payment] : [], `/v1/invoices/${id}/payments`);
    }
    case 'invoice.confirmation_secret': {
      const pi = s.invoices.get(id)?.paymentIntent;
      const r = pi ? s.paymentIntents.get(pi) : undefined;
      return r && r.status !== 'succeeded' && r.status !== 'canceled' ? { client_secret: r.clientSecret, type: 'payment_intent' } : null;
    }
    case 'charge.refunds': {
      const refunds = [...s.refunds.where('charge', id)].reverse().map(renderRefund);
      return list(refunds, `/v1/charges/${id}/refunds`);
    }
    default:
      return undefined;
  }
}

function cannotExpand(path: string): never {
  throw invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
}

function expandPath(s: StripeState, target: unknown, parts: string[], full: string): void {
  if (!isObj(target) || parts.length === 0) return;
  const [key, ...rest] = parts as [string, ...string[]];
  if ((target['object'] === 'list' || target['object'] === 'search_result') && key === 'data' && Array.isArray(target['data'])) {
    for (const item of target['data']) expandPath(s, item, rest, full);
    return;
  }
  let value = target[key];
  if (value === undefined) {
    value = include(s, target, key);
    if (value === undefined) cannotExpand(full);
    target[key] = value;
  } else if (typeof value === 'string') {
    const resolved = resolveId(s, value, key);
    if (resolved === undefined) cannotExpand(full);
    target[key] = value = resolved;
  } else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    target[key] = value = value.map((v: string) => {
      const resolved = resolveId(s, v, key);
      if (resolved === undefined) cannotExpand(full);
      return resolved;
    });
  } else if (value === null) {
    return;
  } else if (!isObj(value) && !Array.isArray(value)) {
    cannotExpand(full);
  }
  if (rest.length === 0) return;
  if (Array.isArray(value)) for (const v of value) expandPath(s, v, rest, full);
  else expandPath(s, value, rest, full);
}

/** Applies `expand[]` paths to a rendered response, in place. */
export function expand<T>(s: StripeState, obj: T, paths: readonly string[]): T {
  for (const path of paths) {
    const parts = path.split('.');
    const isList = isObj(obj) && (obj['object'] === 'list' || obj['object'] === 'search_result');
    const depth = parts[0] === 'data' && isList ? parts.length - 1 : parts.length;
    if (depth > MAX_DEPTH) {
      throw invalidRequest(`You cannot expand more than ${MAX_DEPTH} levels of a property. Property: ${path}`, { param: 'expand' });
    }
    expandPath(s, obj, parts, path);
  }
  return obj;
}
