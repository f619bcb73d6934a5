import { seededRandom } from '../shared/faults.js';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SPACE = 62 ** 5;
/** Coprime with 62 (odd, not a multiple of 31), so multiplying by it permutes the id space. */
const SCRAMBLE = 387_420_489;
const CODES = [...ALPHABET].map((ch) => ch.charCodeAt(0));

/** (a * b) mod m without leaving exact double arithmetic (a, m < 2^30). */
function mulMod(a: number, b: number, m: number): number {
  const hi = Math.floor(b / 65_536);
  const lo = b % 65_536;
  return (((a * hi) % m) * 65_536 + a * lo) % m;
}

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

  private readonly buffer: number[] = [];

  /** Appends `n` random base-62 character codes to the buffer; one draw yields five (62^5 < 2^32). */
  private fill(n: number): void {
    const b = this.buffer;
    const end = b.length + n;
    while (b.length < end) {
      let r = Math.floor(this.random() * SPACE);
      for (let k = 0; k < 5 && b.length < end; k++) {
        b.push(CODES[r % 62] as number);
        r = Math.floor(r / 62);
      }
    }
  }

  private flush(): string {
    const s = String.fromCharCode(...this.buffer);
    this.buffer.length = 0;
    return s;
  }

  chars(n: number): string {
    this.fill(n);
    return this.flush();
  }

  next(prefix: string): string {
    const length = LENGTHS[prefix] ?? 24;
    this.fill(length - 5);
    // A bijection of the counter onto [0, 62^5), so consecutive ids do not end in 00001, 00002, ...
    let n = mulMod(++this.counter % SPACE, SCRAMBLE, SPACE);
    for (let i = 0; i < 5; i++) {
      this.buffer.push(CODES[n % 62] as number);
      n = Math.floor(n / 62);
    }
    return `${prefix}_${this.flush()}`;
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
