import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Verifies a `Stripe-Signature` header the way Stripe documents it: `t=<unix>,v1=<hex>[,v1=...]`,
 * each v1 an HMAC-SHA256 of `${t}.${rawBody}` under the endpoint secret. Several secrets are tried
 * (rotation, several accounts); the result says which one matched. Our own implementation, because
 * the reasons for a rejection need to be told apart without reading error messages.
 */
export type SignatureCheck =
  | { ok: true; secretIndex: number; timestamp: number }
  | { ok: false; reason: 'missing_signature' | 'malformed_signature' | 'timestamp_outside_tolerance' | 'no_matching_signature'; message: string };

export function verifyStripeSignature(
  rawBody: string,
  header: string | undefined,
  secrets: readonly string[],
  nowSeconds: number,
  toleranceSeconds = 300,
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing_signature', message: 'the Stripe-Signature header is missing' };
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d+$/.test(value)) timestamp = Number(value);
    if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) signatures.push(value.toLowerCase());
  }
  if (timestamp === undefined || signatures.length === 0) {
    return { ok: false, reason: 'malformed_signature', message: 'the Stripe-Signature header has no timestamp or no v1 signature' };
  }
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) {
    return {
      ok: false,
      reason: 'timestamp_outside_tolerance',
      message: `the signature timestamp is ${Math.abs(nowSeconds - timestamp)} s from now; the tolerance is ${toleranceSeconds} s`,
    };
  }
  const signedPayload = `${timestamp}.${rawBody}`;
  for (const [index, secret] of secrets.entries()) {
    const expected = createHmac('sha256', secret).update(signedPayload, 'utf8').digest();
    for (const candidate of signatures) {
      const given = Buffer.from(candidate, 'hex');
      if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true, secretIndex: index, timestamp };
    }
  }
  return { ok: false, reason: 'no_matching_signature', message: 'no v1 signature matches any configured webhook secret' };
}
