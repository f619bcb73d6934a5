import { seededRandom } from '../shared/faults.js';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SPACE = 62n ** 5n;
/** Coprime with 62 (odd, not a multiple of 31), so multiplying by it permutes the id space. */
const SCRAMBLE = 387_420_489n;

/** Body lengths of real Stripe ids, so code that validates or truncates ids sees realistic input. */
const LENGTHS: Record<string, number> = {
  cus: 14,
  prod: 14,
  si: 14,
  req: 14,
  sub: 24,
  in: 24,
  il: 24,
  ii: 24,
  ch: 24,
  re: 24,
  pi: 24,
  pm: 24,
  price: 24,
  evt: 24,
  we: 24,
  clock: 24,
  di: 24,
  dp: 24,
  txn: 24,
  inpay: 24,
  whsec: 32,
};

/**
 * Stripe-looking ids from a seeded PRNG. The last five characters are a per-process counter so ids
 * never collide without keeping a set of every id ever issued (seeding makes millions).
 */
export class IdGenerator {
  private counter = 0;
  readonly random: () => number;

  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  chars(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(this.random() * 62)];
    return s;
  }

  next(prefix: string): string {
    const length = LENGTHS[prefix] ?? 24;
    // A bijection of the counter onto [0, 62^5), so consecutive ids do not end in 00001, 00002, ...
    let n = Number((BigInt(++this.counter) * SCRAMBLE) % SPACE);
    let tail = '';
    for (let i = 0; i < 5; i++) {
      tail = ALPHABET[n % 62] + tail;
      n = Math.floor(n / 62);
    }
    return `${prefix}_${this.chars(length - 5)}${tail}`;
  }

  /** Customer invoice prefixes are 8 upper-case hex-ish characters, e.g. `7FE1103A`. */
  invoicePrefix(): string {
    let s = '';
    for (let i = 0; i < 8; i++) s += '0123456789ABCDEF'[Math.floor(this.random() * 16)];
    return s;
  }

  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(this.random() * 16)];
    return s;
  }
}
