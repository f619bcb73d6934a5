import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { verifyStripeSignature } from '../../api/stripe-signature.js';

const stripe = new Stripe('sk_test_x');
const payload = JSON.stringify({ id: 'evt_1', object: 'event', type: 'customer.created' });
const now = 1_800_000_000;
const header = (secret: string, timestamp = now, body = payload) => stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp });

describe('verifyStripeSignature', () => {
  it('accepts what Stripe signs, and agrees with stripe.webhooks.constructEvent', () => {
    const h = header('whsec_a');
    expect(verifyStripeSignature(payload, h, ['whsec_a'], now)).toEqual({ ok: true, secretIndex: 0, timestamp: now });
    expect(() => stripe.webhooks.constructEvent(payload, h, 'whsec_a', 300)).not.toThrow();
  });

  it('tries every secret (rotation, several accounts) and says which matched', () => {
    expect(verifyStripeSignature(payload, header('whsec_new'), ['whsec_old', 'whsec_new'], now)).toMatchObject({ ok: true, secretIndex: 1 });
  });

  it('accepts a header carrying several v1 signatures (Stripe during secret rolling)', () => {
    const a = header('whsec_a').split(',v1=')[1]!;
    const b = header('whsec_b');
    expect(verifyStripeSignature(payload, `${b},v1=${a}`, ['whsec_a'], now)).toMatchObject({ ok: true });
  });

  it.each([
    ['no header', undefined, 'missing_signature'],
    ['garbage', 'nonsense', 'malformed_signature'],
    ['no v1', `t=${now}`, 'malformed_signature'],
    ['wrong secret', header('whsec_other'), 'no_matching_signature'],
    ['tampered body', header('whsec_a', now, payload.replace('created', 'deleted')), 'no_matching_signature'],
    ['301 s old', header('whsec_a', now - 301), 'timestamp_outside_tolerance'],
    ['301 s in the future', header('whsec_a', now + 301), 'timestamp_outside_tolerance'],
  ])('rejects %s', (_name, h, reason) => {
    expect(verifyStripeSignature(payload, h, ['whsec_a'], now)).toMatchObject({ ok: false, reason });
  });

  it('accepts a timestamp at the edge of the tolerance', () => {
    expect(verifyStripeSignature(payload, header('whsec_a', now - 300), ['whsec_a'], now)).toMatchObject({ ok: true });
  });
});
