import type { CardDecline } from './errors.js';
import type { CardBehavior, CardDetails } from './records.js';

/**
 * Stripe's test cards, reachable as PaymentMethod tokens (`pm_card_visa`), card tokens (`tok_visa`)
 * or raw test numbers. `attachDecline` cards fail when attached to a customer (attaching validates
 * the card); `pm_card_chargeCustomerFail` attaches fine and then every charge is declined.
 */
interface TestCard {
  name: string;
  number: string;
  brand: string;
  funding: CardDetails['funding'];
  behavior: CardBehavior;
  attachDecline?: CardDecline;
}

export const GENERIC_DECLINE: CardDecline = { code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' };

const CARDS: TestCard[] = [
  { name: 'visa', number: '4242424242424242', brand: 'visa', funding: 'credit', behavior: 'succeed' },
  { name: 'visa_debit', number: '4000056655665556', brand: 'visa', funding: 'debit', behavior: 'succeed' },
  { name: 'mastercard', number: '5555555555554444', brand: 'mastercard', funding: 'credit', behavior: 'succeed' },
  { name: 'mastercard_debit', number: '5200828282828210', brand: 'mastercard', funding: 'debit', behavior: 'succeed' },
  { name: 'amex', number: '378282246310005', brand: 'amex', funding: 'credit', behavior: 'succeed' },
  { name: 'discover', number: '6011111111111117', brand: 'discover', funding: 'credit', behavior: 'succeed' },
  { name: 'jcb', number: '3566002020360505', brand: 'jcb', funding: 'credit', behavior: 'succeed' },
  { name: 'unionpay', number: '6200000000000005', brand: 'unionpay', funding: 'credit', behavior: 'succeed' },
  { name: 'chargeCustomerFail', number: '4000000000000341', brand: 'visa', funding: 'credit', behavior: 'decline_on_charge' },
  { name: 'createDispute', number: '4000000000000259', brand: 'visa', funding: 'credit', behavior: 'dispute' },
  { name: 'chargeDeclined', number: '4000000000000002', brand: 'visa', funding: 'credit', behavior: 'succeed', attachDecline: GENERIC_DECLINE },
  {
    name: 'chargeDeclinedInsufficientFunds',
    number: '4000000000009995',
    brand: 'visa',
    funding: 'credit',
    behavior: 'succeed',
    attachDecline: { code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  },
  {
    name: 'chargeDeclinedExpiredCard',
    number: '4000000000000069',
    brand: 'visa',
    funding: 'credit',
    behavior: 'succeed',
    attachDecline: { code: 'expired_card', declineCode: 'expired_card', message: 'Your card has expired.' },
  },
  {
    name: 'chargeDeclinedIncorrectCvc',
    number: '4000000000000127',
    brand: 'visa',
    funding: 'credit',
    behavior: 'succeed',
    attachDecline: { code: 'incorrect_cvc', declineCode: 'incorrect_cvc', message: "Your card's security code is incorrect." },
  },
];

export interface ResolvedCard {
  card: Omit<CardDetails, 'expMonth' | 'expYear'> & { expMonth?: number; expYear?: number };
  behavior: CardBehavior;
  attachDecline?: CardDecline;
}

function resolved(c: TestCard): ResolvedCard {
  const out: ResolvedCard = {
    card: {
      brand: c.brand,
      last4: c.number.slice(-4),
      funding: c.funding,
      country: 'US',
      // Stable per card number, as Stripe's fingerprints are.
      fingerprint: Buffer.from(c.number).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(-16),
    },
    behavior: c.behavior,
  };
  if (c.attachDecline) out.attachDecline = c.attachDecline;
  return out;
}

/** `pm_card_visa` or `tok_visa` → the test card, or undefined if `id` is not a test token. */
export function testToken(id: string): ResolvedCard | undefined {
  const m = /^(?:pm_card_|tok_)(.+)$/.exec(id);
  if (!m) return undefined;
  const card = CARDS.find((c) => c.name === m[1]);
  return card ? resolved(card) : undefined;
}

/** A raw card number: known test numbers behave as documented, any other Luhn-valid number succeeds. */
export function cardNumber(number: string): ResolvedCard | undefined {
  const digits = number.replace(/\s+/g, '');
  const known = CARDS.find((c) => c.number === digits);
  if (known) return resolved(known);
  if (!/^\d{12,19}$/.test(digits) || !luhn(digits)) return undefined;
  const brand = digits.startsWith('4') ? 'visa' : /^5[1-5]/.test(digits) ? 'mastercard' : /^3[47]/.test(digits) ? 'amex' : 'unknown';
  return resolved({ name: 'custom', number: digits, brand, funding: 'credit', behavior: 'succeed' });
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}
