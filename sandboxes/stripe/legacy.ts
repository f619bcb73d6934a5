import { renderDiscount, renderPlan, renderPrice } from './render.js';
import type { StripeState } from './state.js';

/**
 * Webhook endpoints pinned to an API version older than 2025-03-31 ("basil") receive event payloads
 * in the shapes of that time, which integrations written against them still parse:
 * `subscription.current_period_start/end` (now on items), `invoice.subscription`, `.charge`,
 * `.payment_intent`, `.paid` (now `parent` and `payments`), typed invoice lines with `price`, `plan`,
 * `proration`, and `charge.invoice`. Only these billing fields are translated; the rest of each
 * object keeps the current shape.
 */
const BASIL = '2025-03-31';

export function isLegacyVersion(version: string | null): boolean {
  return version !== null && version.slice(0, 10) < BASIL;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function listData(v: unknown): Obj[] {
  return isObj(v) && Array.isArray(v['data']) ? (v['data'] as unknown[]).filter(isObj) : [];
}

function legacyLine(s: StripeState, line: Obj): void {
  const parent = isObj(line['parent']) ? line['parent'] : {};
  const sub = isObj(parent['subscription_item_details']) ? parent['subscription_item_details'] : null;
  const item = isObj(parent['invoice_item_details']) ? parent['invoice_item_details'] : null;
  const details = sub ?? item ?? {};
  const pricing = isObj(line['pricing']) ? line['pricing'] : {};
  const priceId = isObj(pricing['price_details']) ? String(pricing['price_details']['price']) : null;
  const price = priceId ? s.prices.get(priceId) : undefined;
  line['type'] = sub ? 'subscription' : 'invoiceitem';
  line['subscription_item'] = sub ? sub['subscription_item'] : null;
  line['invoice_item'] = details['invoice_item'] ?? null;
  line['proration'] = details['proration'] ?? false;
  line['proration_details'] = details['proration_details'] ?? { credited_items: null };
  line['price'] = price ? renderPrice(price) : null;
  line['plan'] = price?.recurring ? renderPlan(price) : null;
  line['unit_amount_excluding_tax'] = pricing['unit_amount_decimal'] ?? null;
  line['tax_amounts'] = [];
  line['tax_rates'] = [];
  delete line['parent'];
  delete line['pricing'];
  delete line['taxes'];
  delete line['pretax_credit_amounts'];
}

function legacySubscription(s: StripeState, o: Obj, previous: Obj | null): void {
  const items = listData(o['items']);
  const first = items[0];
  o['current_period_start'] = first?.['current_period_start'] ?? null;
  o['current_period_end'] = first?.['current_period_end'] ?? null;
  for (const item of items) {
    delete item['current_period_start'];
    delete item['current_period_end'];
  }
  const discounts = Array.isArray(o['discounts']) ? (o['discounts'] as unknown[]) : [];
  const d = typeof discounts[0] === 'string' ? s.discounts.get(discounts[0]) : undefined;
  o['discount'] = d ? renderDiscount(s, d) : null;
  if (previous) {
    const oldFirst = listData(previous['items'])[0];
    if (oldFirst) {
      if (oldFirst['current_period_start'] !== o['current_period_start']) previous['current_period_start'] = oldFirst['current_period_start'];
      if (oldFirst['current_period_end'] !== o['current_period_end']) previous['current_period_end'] = oldFirst['current_period_end'];
      for (const item of listData(previous['items'])) {
        delete item['current_period_start'];
        delete item['current_period_end'];
      }
    }
  }
}

function legacyInvoice(s: StripeState, o: Obj): void {
  const record = typeof o['id'] === 'string' ? s.invoices.get(o['id']) : undefined;
  const parent = isObj(o['parent']) ? o['parent'] : {};
  const details = isObj(parent['subscription_details']) ? parent['subscription_details'] : null;
  const pi = record?.paymentIntent ? s.paymentIntents.get(record.paymentIntent) : undefined;
  o['subscription'] = details ? details['subscription'] : null;
  o['subscription_details'] = { metadata: details ? (details['metadata'] ?? null) : null };
  o['payment_intent'] = pi?.id ?? null;
  o['charge'] = pi?.latestCharge ?? null;
  o['paid'] = o['status'] === 'paid';
  o['paid_out_of_band'] = record?.paidOutOfBand ?? false;
  o['discount'] = null;
  o['tax'] = null;
  o['total_tax_amounts'] = [];
  for (const line of listData(o['lines'])) legacyLine(s, line);
  delete o['parent'];
  delete o['payments'];
  delete o['total_taxes'];
  delete o['total_pretax_credit_amounts'];
}

function legacyObject(s: StripeState, o: unknown, previous: Obj | null): void {
  if (!isObj(o)) return;
  switch (o['object']) {
    case 'subscription':
      legacySubscription(s, o, previous);
      break;
    case 'invoice':
      legacyInvoice(s, o);
      break;
    case 'line_item':
      legacyLine(s, o);
      break;
    case 'charge': {
      const ch = typeof o['id'] === 'string' ? s.charges.get(o['id']) : undefined;
      o['invoice'] = ch?.invoice ?? null;
      break;
    }
    case 'payment_intent': {
      const pi = typeof o['id'] === 'string' ? s.paymentIntents.get(o['id']) : undefined;
      o['invoice'] = pi?.invoice ?? null;
      break;
    }
  }
}

/** `data` of an event (as frozen JSON) in the pre-basil shape. */
export function legacyData(s: StripeState, dataJson: string): string {
  const data = JSON.parse(dataJson) as { object: unknown; previous_attributes?: Obj };
  legacyObject(s, data.object, data.previous_attributes ?? null);
  return JSON.stringify(data);
}
