import type Stripe from 'stripe';

/**
 * The demo's Stripe activity, driven through the real stripe client against the Stripe sandbox:
 * a catalog, a few dozen customers on one test clock, then a trickle of realistic changes
 * (sign-ups, upgrades, seat changes, cancellations, refunds, failed payments, time passing).
 */

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Ken', 'Radia', 'Linus', 'Frances', 'John', 'Hedy', 'Tim', 'Sophie', 'Dennis'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Thompson', 'Perlman', 'Torvalds', 'Allen', 'Backus', 'Lamarr', 'Berners-Lee', 'Wilson', 'Ritchie'];
const COMPANIES = ['Acme Analytics', 'Globex', 'Initech', 'Umbrella Labs', 'Hooli', 'Vandelay Industries', 'Stark Logistics', 'Wayne Health', 'Tyrell Robotics', 'Soylent Foods', 'Cyberdyne', 'Aperture Science', 'Massive Dynamic', 'Wonka Confections', 'Pied Piper', 'Dunder Paper'];

export interface DemoCatalog {
  prices: Stripe.Price[];
  coupon: Stripe.Coupon;
}

export interface Demo {
  clockId: string;
  customers: string[];
  stop(): Promise<void>;
}

/** A small deterministic PRNG, so a demo run can be reproduced. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function createCatalog(stripe: Stripe): Promise<DemoCatalog> {
  const plans: Array<[string, number, Stripe.PriceCreateParams.Recurring.Interval]> = [
    ['Starter', 2900, 'month'],
    ['Pro', 9900, 'month'],
    ['Business', 240000, 'year'],
    ['Team seats', 1200, 'month'],
  ];
  const prices: Stripe.Price[] = [];
  for (const [name, amount, interval] of plans) {
    prices.push(await stripe.prices.create({ currency: 'usd', unit_amount: amount, recurring: { interval }, product_data: { name } }));
  }
  const coupon = await stripe.coupons.create({ percent_off: 20, duration: 'repeating', duration_in_months: 3, name: 'Launch 20%' });
  return { prices, coupon };
}

export async function startDemo(stripe: Stripe, options: { customers?: number; trickleMs?: number; seed?: number; log?: (line: string) => void } = {}): Promise<Demo> {
  const random = rng(options.seed ?? 42);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const log = options.log ?? (() => undefined);
  const catalog = await createCatalog(stripe);
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000), name: 'stripe-crm-sync demo' });
  const customers: string[] = [];

  async function signUp(): Promise<void> {
    const first = pick(FIRST);
    const last = pick(LAST);
    const company = pick(COMPANIES);
    const domain = `${company.toLowerCase().replace(/[^a-z]+/g, '')}.example`;
    const failing = random() < 0.1;
    const customer = await stripe.customers.create({
      name: company,
      email: `${first.toLowerCase()}.${last.toLowerCase().replace(/[^a-z]/g, '')}${customers.length}@${domain}`,
      description: `${first} ${last}`,
      test_clock: clock.id,
      payment_method: failing ? 'pm_card_chargeCustomerFail' : 'pm_card_visa',
      invoice_settings: { default_payment_method: failing ? 'pm_card_chargeCustomerFail' : 'pm_card_visa' },
    });
    customers.push(customer.id);
    const price = pick(catalog.prices);
    await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id, quantity: price.unit_amount === 1200 ? 1 + Math.floor(random() * 20) : 1 }],
      ...(random() < 0.3 ? { trial_period_days: 14 } : {}),
      ...(random() < 0.2 ? { discounts: [{ coupon: catalog.coupon.id }] } : {}),
    });
    log(`demo: ${customer.id} (${company}) signed up`);
  }

  async function change(): Promise<void> {
    const customerId = pick(customers);
    const subs = await stripe.subscriptions.list({ customer: customerId, status: 'all', limit: 10 });
    const sub = subs.data.find((s) => s.status !== 'canceled');
    const roll = random();
    if (!sub || roll < 0.15) {
      await signUp();
    } else if (roll < 0.45) {
      const item = sub.items.data[0]!;
      const quantity = Math.max(1, (item.quantity ?? 1) + (random() < 0.7 ? 1 : -1));
      await stripe.subscriptions.update(sub.id, { items: [{ id: item.id, quantity }], proration_behavior: 'none' });
      log(`demo: ${customerId} now has ${quantity} seat(s)`);
    } else if (roll < 0.6) {
      const item = sub.items.data[0]!;
      await stripe.subscriptions.update(sub.id, { items: [{ id: item.id, price: pick(catalog.prices).id }], proration_behavior: 'none' });
      log(`demo: ${customerId} changed plan`);
    } else if (roll < 0.7) {
      await stripe.subscriptions.update(sub.id, { cancel_at_period_end: !sub.cancel_at_period_end });
      log(`demo: ${customerId} ${sub.cancel_at_period_end ? 'kept' : 'scheduled the end of'} their subscription`);
    } else if (roll < 0.8) {
      const charges = await stripe.charges.list({ customer: customerId, limit: 1 });
      const charge = charges.data[0];
      if (charge && charge.status === 'succeeded' && charge.amount_refunded < charge.amount) {
        await stripe.refunds.create({ charge: charge.id, amount: Math.max(100, Math.floor((charge.amount - charge.amount_refunded) / 4)) });
        log(`demo: refunded part of ${charge.id}`);
      }
    } else if (roll < 0.9) {
      await stripe.customers.update(customerId, { name: `${pick(COMPANIES)} ${pick(['Inc.', 'GmbH', 'Ltd', 'LLC'])}` });
      log(`demo: ${customerId} renamed`);
    } else {
      const current = await stripe.testHelpers.testClocks.retrieve(clock.id);
      await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: current.frozen_time + 3 * 86_400 });
      log('demo: three days pass on the test clock (renewals, trial ends, retries)');
    }
  }

  for (let i = 0; i < (options.customers ?? 36); i++) await signUp();

  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    if (stopped) return;
    inFlight = inFlight.then(change).catch((err: unknown) => log(`demo: action failed: ${err instanceof Error ? err.message : String(err)}`));
  }, options.trickleMs ?? 3000);
  return {
    clockId: clock.id,
    customers,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
    },
  };
}
