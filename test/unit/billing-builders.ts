// Small builders for domain snapshots so test tables show only what each case is about.
import type {
  CustomerSnapshot,
  DiscountSnapshot,
  PaymentSnapshot,
  PriceSnapshot,
  SubscriptionItemSnapshot,
  SubscriptionSnapshot,
} from '../../domain/billing-snapshot.js';

export const T0 = Date.UTC(2026, 0, 15, 12) / 1000; // 2026-01-15T12:00:00Z
export const DAY = 86_400;

export function price(overrides: Partial<PriceSnapshot> = {}): PriceSnapshot {
  return {
    id: 'price_basic',
    productId: 'prod_basic',
    productName: 'Basic',
    nickname: null,
    currency: 'usd',
    billingScheme: 'per_unit',
    unitAmount: 1000,
    unitAmountDecimal: '1000',
    tiersMode: null,
    tiers: null,
    transformQuantity: null,
    recurring: { interval: 'month', intervalCount: 1, usageType: 'licensed' },
    ...overrides,
  };
}

/** A per-unit recurring price of `amount` minor units every `count` `interval`s. */
export function recurringPrice(amount: number | string, interval: 'day' | 'week' | 'month' | 'year' = 'month', count = 1, overrides: Partial<PriceSnapshot> = {}): PriceSnapshot {
  const decimal = String(amount);
  return price({
    id: `price_${decimal}_${count}${interval}`,
    unitAmount: Number.isInteger(Number(decimal)) ? Number(decimal) : null,
    unitAmountDecimal: decimal,
    recurring: { interval, intervalCount: count, usageType: 'licensed' },
    ...overrides,
  });
}

let itemCounter = 0;

export function item(itemPrice: PriceSnapshot, quantity = 1, overrides: Partial<SubscriptionItemSnapshot> = {}): SubscriptionItemSnapshot {
  itemCounter += 1;
  return {
    id: `si_${itemCounter}`,
    price: itemPrice,
    quantity,
    currentPeriodStart: T0,
    currentPeriodEnd: T0 + 31 * DAY,
    discounts: [],
    ...overrides,
  };
}

export function subscription(items: SubscriptionItemSnapshot[], overrides: Partial<SubscriptionSnapshot> = {}): SubscriptionSnapshot {
  return {
    id: 'sub_1',
    customerId: 'cus_1',
    status: 'active',
    created: T0 - 90 * DAY,
    startDate: T0 - 90 * DAY,
    currency: 'usd',
    items,
    itemsComplete: true,
    discounts: [],
    trialStart: null,
    trialEnd: null,
    cancelAtPeriodEnd: false,
    cancelAt: null,
    canceledAt: null,
    endedAt: null,
    pauseCollection: null,
    defaultPaymentMethodId: null,
    ...overrides,
  };
}

export function discount(overrides: Partial<DiscountSnapshot> = {}): DiscountSnapshot {
  return {
    id: 'di_1',
    couponId: 'coupon_1',
    couponName: null,
    percentOff: null,
    amountOff: null,
    currency: null,
    amountOffByCurrency: {},
    duration: 'forever',
    durationInMonths: null,
    appliesToProducts: null,
    start: T0 - 30 * DAY,
    end: null,
    ...overrides,
  };
}

export function percentOff(percent: number, duration: DiscountSnapshot['duration'] = 'forever', overrides: Partial<DiscountSnapshot> = {}): DiscountSnapshot {
  return discount({ id: `di_${percent}pct_${duration ?? 'unknown'}`, percentOff: percent, duration, ...overrides });
}

export function amountOff(amount: number, currency: string, duration: DiscountSnapshot['duration'] = 'forever', overrides: Partial<DiscountSnapshot> = {}): DiscountSnapshot {
  return discount({ id: `di_${amount}${currency}_${duration ?? 'unknown'}`, amountOff: amount, currency, duration, ...overrides });
}

export function customer(overrides: Partial<CustomerSnapshot> = {}): CustomerSnapshot {
  return {
    id: 'cus_1',
    email: 'ada@example.com',
    name: 'Ada',
    currency: 'usd',
    delinquent: false,
    created: T0 - 100 * DAY,
    deleted: false,
    defaultPaymentMethod: { id: 'pm_1', type: 'card', brand: 'visa', last4: '4242', expMonth: 12, expYear: 2030 },
    discount: null,
    metadata: {},
    ...overrides,
  };
}

export function payment(overrides: Partial<PaymentSnapshot> & Pick<PaymentSnapshot, 'id'>): PaymentSnapshot {
  return {
    kind: 'charge',
    outcome: 'succeeded',
    status: 'succeeded',
    amount: 1000,
    currency: 'usd',
    created: T0,
    paidAt: overrides.outcome === undefined || overrides.outcome === 'succeeded' ? overrides.created ?? T0 : null,
    attemptCount: 1,
    failureCode: null,
    failureMessage: null,
    paymentMethodId: 'pm_1',
    chargeId: null,
    subscriptionId: null,
    ...overrides,
  };
}
