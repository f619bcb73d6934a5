/**
 * Salesforce record ids: 3-char key prefix (object type), 2-char instance, 1 reserved char, 9 base-62
 * digits, then a 3-char suffix that encodes which of the first 15 characters are upper case, so that the
 * 18-char form survives case-insensitive systems. 15-char ids are case-sensitive and still accepted.
 */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
const INSTANCE = 'Dn';

const isUpper = (ch: string): boolean => ch >= 'A' && ch <= 'Z';
const isLetter = (ch: string): boolean => /[A-Za-z]/.test(ch);

export function idSuffix(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let flags = 0;
    for (let i = 0; i < 5; i++) {
      if (isUpper(id15.charAt(chunk * 5 + i))) flags |= 1 << i;
    }
    suffix += SUFFIX_ALPHABET.charAt(flags);
  }
  return suffix;
}

/**
 * Canonical 18-char id for a 15- or 18-char input, or undefined when the input is not an id. An 18-char
 * id is case-insensitive: its suffix says which letters are upper case.
 */
export function normalizeId(raw: string): string | undefined {
  if (/^[a-zA-Z0-9]{15}$/.test(raw)) return raw + idSuffix(raw);
  if (!/^[a-zA-Z0-9]{18}$/.test(raw)) return undefined;
  const suffix = raw.slice(15).toUpperCase();
  let restored = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    const flags = SUFFIX_ALPHABET.indexOf(suffix.charAt(chunk));
    if (flags < 0) return undefined;
    for (let i = 0; i < 5; i++) {
      const ch = raw.charAt(chunk * 5 + i);
      const upper = (flags & (1 << i)) !== 0;
      if (upper && !isLetter(ch)) return undefined;
      restored += isLetter(ch) ? (upper ? ch.toUpperCase() : ch.toLowerCase()) : ch;
    }
  }
  return restored + suffix;
}

export const to15 = (id: string): string => id.slice(0, 15);

/** Sequential ids: deterministic across a test run, never reused, even across a sandbox reset. */
export class IdGenerator {
  /** `first`: where the record number starts; orgs never share ids, so stacks side by side start apart. */
  constructor(private counter = 0) {}

  next(keyPrefix: string): string {
    this.counter++;
    let n = this.counter;
    let digits = '';
    for (let i = 0; i < 9; i++) {
      digits = BASE62.charAt(n % 62) + digits;
      n = Math.floor(n / 62);
    }
    const id15 = `${keyPrefix}${INSTANCE}0${digits}`;
    return id15 + idSuffix(id15);
  }
}
