/**
 * Where a Stripe event goes. Pure: takes the parsed event, returns the target. Customer-scoped
 * events go to that customer's workflow; catalog events keep plan names current; events whose
 * object names only a charge (refunds, disputes) need the charge's owner looked up first.
 */

export interface RawStripeEvent {
  id: string;
  type: string;
  created: number;
  livemode: boolean;
  account?: string | null;
  api_version?: string | null;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
}

export type EventRoute =
  | { kind: 'customer'; customerId: string }
  | { kind: 'charge-owner'; chargeId: string }
  | { kind: 'catalog'; productId: string }
  | { kind: 'no-customer'; reason: string }
  | { kind: 'unhandled' };

const CUSTOMER_SCOPED = [
  'customer.',
  'invoice.',
  'invoiceitem.',
  'charge.',
  'refund.',
  'payment_method.',
  'payment_intent.',
  'checkout.session.',
  'subscription_schedule.',
  'credit_note.',
];

function idOf(value: unknown): string | null {
  if (typeof value === 'string' && value) return value;
  if (value && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'string') return (value as { id: string }).id;
  return null;
}

/** Validates the envelope fields every route depends on; returns a reason when the body is not an event. */
export function invalidEventReason(body: unknown): string | null {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'the body is not a JSON object';
  const e = body as Partial<RawStripeEvent>;
  if (typeof e.id !== 'string' || !e.id.startsWith('evt_')) return 'id must be an event id (evt_...)';
  if (typeof e.type !== 'string' || !e.type) return 'type is missing';
  if (typeof e.created !== 'number') return 'created must be a unix timestamp';
  if (typeof e.livemode !== 'boolean') return 'livemode must be a boolean';
  const data = e.data as { object?: unknown } | undefined;
  if (!data || typeof data.object !== 'object' || data.object === null) return 'data.object is missing';
  return null;
}

export function routeEvent(event: RawStripeEvent): EventRoute {
  const object = event.data.object;
  const objectType = typeof object.object === 'string' ? object.object : '';
  if (event.type.startsWith('product.')) {
    const id = idOf(object.id);
    return id ? { kind: 'catalog', productId: id } : { kind: 'no-customer', reason: 'product event without an id' };
  }
  if (event.type.startsWith('price.')) {
    const product = idOf(object.product);
    return product ? { kind: 'catalog', productId: product } : { kind: 'no-customer', reason: 'price event without a product' };
  }
  if (!CUSTOMER_SCOPED.some((prefix) => event.type.startsWith(prefix))) return { kind: 'unhandled' };

  if (objectType === 'customer') {
    const id = idOf(object.id);
    return id ? { kind: 'customer', customerId: id } : { kind: 'no-customer', reason: 'customer object without an id' };
  }
  const customer = idOf(object.customer) ?? idOf(event.data.previous_attributes?.customer);
  if (customer) return { kind: 'customer', customerId: customer };
  // Refunds and disputes name a charge; their customer is the charge's.
  const charge = idOf(object.charge);
  if (charge && (objectType === 'refund' || objectType === 'dispute')) return { kind: 'charge-owner', chargeId: charge };
  return { kind: 'no-customer', reason: `${objectType || 'object'} has no customer (a guest payment or an unattached object)` };
}
