import { Hono } from 'hono';
import { parseCurrency } from '../currency.js';
import { previousAttributes } from '../diff.js';
import { invalidRequest, noSuch } from '../errors.js';
import { params, send, sendList, type Env, type SandboxContext } from '../http.js';
import { newPrice, newProduct } from '../model.js';
import { applyMetadata, emptyMetadata } from '../params.js';
import type { CouponRecord, PriceRecord, ProductRecord, RecurringSpec } from '../records.js';
import { renderCoupon, renderPrice, renderProduct } from '../render.js';
import { searchRows } from '../search.js';
import {
  couponCreate,
  couponList,
  couponUpdate,
  priceCreate,
  priceList,
  priceUpdate,
  productCreate,
  productList,
  productUpdate,
  type PriceCreate,
} from '../specs.js';
import type { StripeState } from '../state.js';

/** Stripe caps a recurring interval at three years. */
const MAX_INTERVAL_COUNT: Record<RecurringSpec['interval'], number> = { day: 1095, week: 156, month: 36, year: 3 };

function checkCustomId(id: string, param: string): void {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(id)) throw invalidRequest(`Invalid ${param}: may only contain letters, numbers, '_' and '-'.`, { param });
}

function checkDecimals(decimal: string, param: string): void {
  if (!/^\d+(\.\d{1,12})?$/.test(decimal)) throw invalidRequest(`Invalid decimal: ${decimal}`, { param });
}

/** Validates a price's amount and recurrence and returns the record to insert (not inserted yet). */
function buildPrice(s: StripeState, p: Omit<PriceCreate, 'product' | 'product_data'>, product: string, now: number): PriceRecord {
  const currency = parseCurrency(p.currency, 'currency');
  if (p.unit_amount !== undefined && p.unit_amount_decimal !== undefined) {
    throw invalidRequest('You may only specify one of these parameters: unit_amount, unit_amount_decimal.', { param: 'unit_amount' });
  }
  if (p.unit_amount === undefined && p.unit_amount_decimal === undefined) {
    throw invalidRequest('Missing required param: unit_amount.', { param: 'unit_amount', code: 'parameter_missing' });
  }
  const decimal = p.unit_amount_decimal ?? String(p.unit_amount);
  checkDecimals(decimal, 'unit_amount_decimal');
  let recurring: RecurringSpec | null = null;
  if (p.recurring) {
    const count = p.recurring.interval_count ?? 1;
    if (count > MAX_INTERVAL_COUNT[p.recurring.interval]) {
      throw invalidRequest('Invalid recurring[interval_count]: the maximum billing interval is three years.', { param: 'recurring[interval_count]' });
    }
    const usageType = p.recurring.usage_type ?? 'licensed';
    if (p.recurring.meter !== undefined && usageType !== 'metered') {
      throw invalidRequest('`recurring[meter]` can only be set when `recurring[usage_type]` is `metered`.', { param: 'recurring[meter]' });
    }
    recurring = {
      interval: p.recurring.interval,
      intervalCount: count,
      usageType,
      meter: p.recurring.meter ?? null,
      trialPeriodDays: p.recurring.trial_period_days ?? null,
    };
  }
  return newPrice(s, now, product, currency, decimal, {
    recurring,
    nickname: p.nickname ?? null,
    metadata: applyMetadata(emptyMetadata(), p.metadata),
    active: p.active ?? true,
    taxBehavior: p.tax_behavior ?? 'unspecified',
  });
}

function claimLookupKey(s: StripeState, price: PriceRecord, key: string, transfer: boolean): void {
  const holder = s.lookupKeys.get(key);
  if (holder && holder !== price.id) {
    if (!transfer) {
      throw invalidRequest(`A price (\`${holder}\`) already uses that lookup key.`, { param: 'lookup_key' });
    }
    const other = s.prices.get(holder);
    if (other) {
      const before = renderPrice(other);
      other.lookupKey = null;
      const prev = previousAttributes(before, renderPrice(other));
      if (prev) s.emit('price.updated', null, renderPrice(other), prev);
    }
  }
  if (price.lookupKey !== null && price.lookupKey !== key) s.lookupKeys.delete(price.lookupKey);
  price.lookupKey = key;
  s.lookupKeys.set(key, price.id);
}

export function catalogRoutes({ state: s }: SandboxContext): Hono<Env> {
  const app = new Hono<Env>();

  const liveProduct = (id: string, param?: string): ProductRecord => {
    const p = s.products.require(id, param);
    if (p.deleted) throw noSuch('product', id, param);
    return p;
  };

  // Products ---------------------------------------------------------------------------------

  app.post('/products', (c) => {
    const { params: p, expand } = params(c, productCreate);
    const now = s.realNow();
    if (p.id !== undefined) {
      checkCustomId(p.id, 'id');
      if (s.products.get(p.id)) throw invalidRequest('Product already exists.', { code: 'resource_already_exists', param: 'id' });
    }
    const product = newProduct(s, now, p.name, {
      ...(p.id !== undefined ? { id: p.id } : {}),
      active: p.active ?? true,
      description: p.description ?? null,
      metadata: applyMetadata(emptyMetadata(), p.metadata),
      images: p.images ?? [],
      marketingFeatures: p.marketing_features ?? [],
      statementDescriptor: p.statement_descriptor ?? null,
      taxCode: p.tax_code ?? null,
      unitLabel: p.unit_label ?? null,
      url: p.url ?? null,
    });
    let price: PriceRecord | null = null;
    if (p.default_price_data) {
      const d = p.default_price_data;
      price = buildPrice(
        s,
        {
          currency: d.currency,
          ...(d.unit_amount !== undefined ? { unit_amount: d.unit_amount } : {}),
          ...(d.unit_amount_decimal !== undefined ? { unit_amount_decimal: d.unit_amount_decimal } : {}),
          ...(d.recurring ? { recurring: { interval: d.recurring.interval, ...(d.recurring.interval_count !== undefined ? { interval_count: d.recurring.interval_count } : {}) } } : {}),
          ...(d.tax_behavior ? { tax_behavior: d.tax_behavior } : {}),
          ...(d.metadata ? { metadata: d.metadata } : {}),
        },
        product.id,
        now,
      );
      product.defaultPrice = price.id;
    }
    s.products.insert(product);
    s.emit('product.created', null, renderProduct(product));
    if (price) {
      s.prices.insert(price);
      s.emit('price.created', null, renderPrice(price));
    }
    return send(c, s, renderProduct(product), expand);
  });

  app.get('/products', (c) => {
    const { params: p, expand } = params(c, productList);
    const ids = p.ids ? new Set(p.ids) : null;
    return sendList(c, s, {
      url: '/v1/products',
      rows: s.products.all(),
      query: p,
      lookup: (id) => s.products.get(id),
      kind: 'product',
      filter: (r) =>
        !r.deleted &&
        (p.active === undefined || r.active === p.active) &&
        (ids === null || ids.has(r.id)) &&
        (p.url === undefined || r.url === p.url) &&
        (p.shippable === undefined || p.shippable === false),
      render: (r) => renderProduct(r),
      expand,
    });
  });

  app.get('/products/search', (c) => searchRows(c, s, 'products'));

  app.get('/products/:id', (c) => {
    const { expand } = params(c, {});
    return send(c, s, renderProduct(liveProduct(c.req.param('id'))), expand);
  });

  app.post('/products/:id', (c) => {
    const { params: p, expand } = params(c, productUpdate);
    const product = liveProduct(c.req.param('id'));
    if (p.default_price !== undefined) {
      const price = s.prices.get(p.default_price);
      if (!price) throw noSuch('price', p.default_price, 'default_price');
      if (price.product !== product.id) {
        throw invalidRequest(`The price \`${price.id}\` does not belong to this product.`, { param: 'default_price' });
      }
      if (!price.active) throw invalidRequest('The default price must be active.', { param: 'default_price' });
    }
    const before = renderProduct(product);
    if (p.active !== undefined) product.active = p.active;
    if (p.name !== undefined) product.name = p.name;
    if (p.description !== undefined) product.description = p.description;
    if (p.metadata !== undefined) product.metadata = applyMetadata(product.metadata, p.metadata);
    if (p.images !== undefined) product.images = p.images ?? [];
    if (p.marketing_features !== undefined) product.marketingFeatures = p.marketing_features ?? [];
    if (p.default_price !== undefined) product.defaultPrice = p.default_price;
    if (p.statement_descriptor !== undefined) product.statementDescriptor = p.statement_descriptor;
    if (p.tax_code !== undefined) product.taxCode = p.tax_code;
    if (p.unit_label !== undefined) product.unitLabel = p.unit_label;
    if (p.url !== undefined) product.url = p.url;
    if (previousAttributes(before, renderProduct(product))) {
      product.updated = s.realNow();
      const after = renderProduct(product);
      s.emit('product.updated', null, after, previousAttributes(before, after) ?? {});
    }
    return send(c, s, renderProduct(product), expand);
  });

  app.delete('/products/:id', (c) => {
    params(c, {});
    const product = liveProduct(c.req.param('id'));
    if (s.prices.where('product', product.id).some((p) => !p.inline)) {
      throw invalidRequest('This product cannot be deleted because it has one or more user-created prices.');
    }
    const snapshot = renderProduct(product);
    product.deleted = true;
    s.emit('product.deleted', null, snapshot);
    return c.json({ id: product.id, object: 'product', deleted: true });
  });

  // Prices -----------------------------------------------------------------------------------

  app.post('/prices', (c) => {
    const { params: p, expand } = params(c, priceCreate);
    const now = s.realNow();
    if (p.product !== undefined && p.product_data !== undefined) {
      throw invalidRequest('You may only specify one of these parameters: product, product_data.', { param: 'product' });
    }
    if (p.product === undefined && p.product_data === undefined) {
      throw invalidRequest('Missing required param: product.', { param: 'product', code: 'parameter_missing' });
    }
    let newProd: ProductRecord | null = null;
    let productId: string;
    if (p.product !== undefined) {
      productId = liveProduct(p.product, 'product').id;
    } else {
      const d = p.product_data as NonNullable<typeof p.product_data>;
      if (d.id !== undefined) {
        checkCustomId(d.id, 'product_data[id]');
        if (s.products.get(d.id)) throw invalidRequest('Product already exists.', { code: 'resource_already_exists', param: 'product_data[id]' });
      }
      newProd = newProduct(s, now, d.name, {
        ...(d.id !== undefined ? { id: d.id } : {}),
        active: d.active ?? true,
        metadata: applyMetadata(emptyMetadata(), d.metadata),
        statementDescriptor: d.statement_descriptor ?? null,
        taxCode: d.tax_code ?? null,
        unitLabel: d.unit_label ?? null,
      });
      productId = newProd.id;
    }
    const price = buildPrice(s, p, productId, now);
    if (p.lookup_key !== undefined) {
      const holder = s.lookupKeys.get(p.lookup_key);
      if (holder && !p.transfer_lookup_key) throw invalidRequest(`A price (\`${holder}\`) already uses that lookup key.`, { param: 'lookup_key' });
    }
    if (newProd) {
      s.products.insert(newProd);
      s.emit('product.created', null, renderProduct(newProd));
    }
    s.prices.insert(price);
    if (p.lookup_key !== undefined) claimLookupKey(s, price, p.lookup_key, p.transfer_lookup_key ?? false);
    s.emit('price.created', null, renderPrice(price));
    return send(c, s, renderPrice(price), expand);
  });

  app.get('/prices', (c) => {
    const { params: p, expand } = params(c, priceList);
    const lookupKeys = p.lookup_keys ? new Set(p.lookup_keys) : null;
    return sendList(c, s, {
      url: '/v1/prices',
      rows: p.product !== undefined ? s.prices.where('product', p.product) : s.prices.all(),
      query: p,
      lookup: (id) => s.prices.get(id),
      kind: 'price',
      filter: (r) =>
        !r.deleted &&
        !r.inline &&
        (p.active === undefined || r.active === p.active) &&
        (p.currency === undefined || r.currency === p.currency.toLowerCase()) &&
        (p.type === undefined || (p.type === 'recurring') === (r.recurring !== null)) &&
        (lookupKeys === null || (r.lookupKey !== null && lookupKeys.has(r.lookupKey))) &&
        (p.recurring?.interval === undefined || r.recurring?.interval === p.recurring.interval) &&
        (p.recurring?.usage_type === undefined || r.recurring?.usageType === p.recurring.usage_type) &&
        (p.recurring?.meter === undefined || r.recurring?.meter === p.recurring.meter),
      render: renderPrice,
      expand,
    });
  });

  app.get('/prices/search', (c) => searchRows(c, s, 'prices'));

  app.get('/prices/:id', (c) => {
    const { expand } = params(c, {});
    return send(c, s, renderPrice(s.prices.require(c.req.param('id'))), expand);
  });

  app.post('/prices/:id', (c) => {
    const { params: p, expand } = params(c, priceUpdate);
    const price = s.prices.require(c.req.param('id'));
    if (p.lookup_key) {
      const holder = s.lookupKeys.get(p.lookup_key);
      if (holder && holder !== price.id && !p.transfer_lookup_key) {
        throw invalidRequest(`A price (\`${holder}\`) already uses that lookup key.`, { param: 'lookup_key' });
      }
    }
    const before = renderPrice(price);
    if (p.active !== undefined) price.active = p.active;
    if (p.nickname !== undefined) price.nickname = p.nickname;
    if (p.metadata !== undefined) price.metadata = applyMetadata(price.metadata, p.metadata);
    if (p.tax_behavior !== undefined) price.taxBehavior = p.tax_behavior;
    if (p.lookup_key === null) {
      if (price.lookupKey !== null) s.lookupKeys.delete(price.lookupKey);
      price.lookupKey = null;
    } else if (p.lookup_key !== undefined) {
      claimLookupKey(s, price, p.lookup_key, p.transfer_lookup_key ?? false);
    }
    const after = renderPrice(price);
    const prev = previousAttributes(before, after);
    if (prev) s.emit('price.updated', null, after, prev);
    return send(c, s, after, expand);
  });

  // Coupons ----------------------------------------------------------------------------------

  const liveCoupon = (id: string): CouponRecord => {
    const coupon = s.coupons.require(id);
    if (coupon.deleted) throw noSuch('coupon', id);
    return coupon;
  };

  app.post('/coupons', (c) => {
    const { params: p, expand } = params(c, couponCreate);
    const now = s.realNow();
    if (p.percent_off !== undefined && p.amount_off !== undefined) {
      throw invalidRequest('You may only specify one of these parameters: amount_off, percent_off.', { param: 'amount_off' });
    }
    if (p.percent_off === undefined && p.amount_off === undefined) {
      throw invalidRequest('You must pass either amount_off or percent_off.', { param: 'percent_off' });
    }
    if (p.amount_off !== undefined && p.currency === undefined) {
      throw invalidRequest('You must pass currency when passing amount_off.', { param: 'currency' });
    }
    const duration = p.duration ?? 'once';
    if (duration === 'repeating' && p.duration_in_months === undefined) {
      throw invalidRequest('Missing required param: duration_in_months.', { param: 'duration_in_months', code: 'parameter_missing' });
    }
    if (duration !== 'repeating' && p.duration_in_months !== undefined) {
      throw invalidRequest('duration_in_months can only be set when duration is repeating.', { param: 'duration_in_months' });
    }
    if (p.redeem_by !== undefined && p.redeem_by <= now) {
      throw invalidRequest('Invalid timestamp: must be an integer Unix timestamp in the future.', { param: 'redeem_by' });
    }
    const id = p.id ?? s.ids.chars(8);
    if (p.id !== undefined) checkCustomId(p.id, 'id');
    const existing = s.coupons.get(id);
    if (existing && !existing.deleted) throw invalidRequest('Coupon already exists.', { code: 'resource_already_exists', param: 'id' });
    if (existing) s.coupons.remove(id);
    const coupon: CouponRecord = {
      id,
      created: now,
      seq: s.nextSeq(),
      deleted: false,
      name: p.name ?? null,
      percentOff: p.percent_off ?? null,
      amountOff: p.amount_off ?? null,
      currency: p.currency !== undefined ? parseCurrency(p.currency, 'currency') : null,
      duration,
      durationInMonths: p.duration_in_months ?? null,
      maxRedemptions: p.max_redemptions ?? null,
      redeemBy: p.redeem_by ?? null,
      timesRedeemed: 0,
      metadata: applyMetadata(emptyMetadata(), p.metadata),
    };
    s.coupons.insert(coupon);
    s.emit('coupon.created', null, renderCoupon(coupon, now));
    return send(c, s, renderCoupon(coupon, now), expand);
  });

  app.get('/coupons', (c) => {
    const { params: p, expand } = params(c, couponList);
    return sendList(c, s, {
      url: '/v1/coupons',
      rows: s.coupons.all(),
      query: p,
      lookup: (id) => s.coupons.get(id),
      kind: 'coupon',
      filter: (r) => !r.deleted,
      render: (r) => renderCoupon(r, s.realNow()),
      expand,
    });
  });

  app.get('/coupons/:id', (c) => {
    const { expand } = params(c, {});
    return send(c, s, renderCoupon(liveCoupon(c.req.param('id')), s.realNow()), expand);
  });

  app.post('/coupons/:id', (c) => {
    const { params: p, expand } = params(c, couponUpdate);
    const coupon = liveCoupon(c.req.param('id'));
    const before = renderCoupon(coupon, s.realNow());
    if (p.name !== undefined) coupon.name = p.name;
    if (p.metadata !== undefined) coupon.metadata = applyMetadata(coupon.metadata, p.metadata);
    const after = renderCoupon(coupon, s.realNow());
    const prev = previousAttributes(before, after);
    if (prev) s.emit('coupon.updated', null, after, prev);
    return send(c, s, after, expand);
  });

  app.delete('/coupons/:id', (c) => {
    params(c, {});
    const coupon = liveCoupon(c.req.param('id'));
    const snapshot = renderCoupon(coupon, s.realNow());
    coupon.deleted = true;
    s.emit('coupon.deleted', null, snapshot);
    return c.json({ id: coupon.id, object: 'coupon', deleted: true });
  });

  return app;
}
