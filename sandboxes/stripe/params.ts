import { invalidRequest, missingParam, unknownParam } from './errors.js';

/**
 * Request parameters as stripe-node encodes them: `application/x-www-form-urlencoded` bodies (and
 * query strings for GET/DELETE) with Rack-style brackets, `items[0][price]=...`, `metadata[k]=v`,
 * `expand[]=...`. Every leaf is a string; the per-endpoint specs below give them types.
 */
export type RawValue = string | RawValue[] | RawParams;
export interface RawParams {
  [key: string]: RawValue;
}

const INDEX = /^(0|[1-9]\d{0,5})$/;

function splitKey(key: string): string[] | null {
  const open = key.indexOf('[');
  if (open === -1) return [key];
  const parts = [key.slice(0, open)];
  const rest = key.slice(open);
  const re = /\[([^\]]*)\]/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(rest)) !== null) {
    parts.push(m[1] ?? '');
    consumed = re.lastIndex;
  }
  return consumed === rest.length ? parts : null;
}

type Node = { kind: 'obj'; entries: Map<string, Node | string> } | { kind: 'push'; items: string[] };

function invalidHash(key: string): never {
  throw invalidRequest(`Invalid hash: ${key}`, { param: key });
}

export function parseFormEncoded(text: string): RawParams {
  const root: Node = { kind: 'obj', entries: new Map() };
  for (const [key, value] of new URLSearchParams(text)) {
    const parts = splitKey(key);
    if (!parts || parts[0] === '') throw invalidRequest(`Invalid parameter name: ${key}`, { param: key });
    // `[]` (push) is only meaningful at the end, as in `expand[]=a`; stripe-node indexes everything else.
    if (parts.slice(0, -1).some((p, i) => i > 0 && p === '')) invalidHash(key);
    let node: Node = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] ?? '';
      if (node.kind === 'push') invalidHash(key);
      const next = parts[i + 1];
      if (next === undefined) {
        if (node.entries.has(part)) {
          const existing = node.entries.get(part);
          if (typeof existing !== 'string') invalidHash(key);
        }
        node.entries.set(part, value);
        break;
      }
      let child = node.entries.get(part);
      if (child === undefined) {
        child = next === '' ? { kind: 'push', items: [] } : { kind: 'obj', entries: new Map() };
        node.entries.set(part, child);
      }
      if (typeof child === 'string') invalidHash(key);
      if (next === '') {
        if (child.kind !== 'push') invalidHash(key);
        child.items.push(value);
        break;
      }
      node = child;
    }
  }
  return toRaw(root) as RawParams;
}

function toRaw(node: Node | string): RawValue {
  if (typeof node === 'string') return node;
  if (node.kind === 'push') return [...node.items];
  const keys = [...node.entries.keys()];
  // Integer-keyed hashes are arrays (`items[0][price]`), the way stripe-node sends them.
  if (keys.length > 0 && keys.every((k) => INDEX.test(k))) {
    return keys
      .map((k) => [Number(k), node.entries.get(k)] as const)
      .sort((a, b) => a[0] - b[0])
      .map(([, v]) => toRaw(v as Node | string));
  }
  const out: RawParams = {};
  for (const [k, v] of node.entries) out[k] = toRaw(v);
  return out;
}

/** A stable rendering of parsed parameters, used to compare idempotent requests. */
export function canonicalParams(value: RawValue): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalParams).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalParams(value[k] as RawValue)}`).join(',')}}`;
}

// ---------------------------------------------------------------------------------------------
// Typed specs. Each spec turns one raw value into a typed one, or throws Stripe's error for it.

export interface Spec<T, R extends boolean = boolean> {
  readonly required: R;
  parse(raw: RawValue, param: string): T;
}

type Out<S> = S extends Spec<infer T, boolean> ? T : never;
export type Shape = Record<string, Spec<unknown>>;
type RequiredKeys<S extends Shape> = { [K in keyof S]: S[K]['required'] extends true ? K : never }[keyof S];
type OptionalKeys<S extends Shape> = Exclude<keyof S, RequiredKeys<S>>;
export type ShapeOut<S extends Shape> = { [K in RequiredKeys<S>]: Out<S[K]> } & { [K in OptionalKeys<S>]?: Out<S[K]> };

function spec<T>(parse: (raw: RawValue, param: string) => T): Spec<T, false> {
  return { required: false, parse };
}

function show(raw: RawValue): string {
  return typeof raw === 'string' ? raw : JSON.stringify(raw);
}

export function str(opts: { max?: number; nonEmpty?: boolean } = {}): Spec<string, false> {
  return spec((raw, param) => {
    if (typeof raw !== 'string') throw invalidRequest(`Invalid string: ${show(raw)}`, { param });
    if (opts.max !== undefined && raw.length > opts.max) {
      throw invalidRequest(`Invalid ${param}: must be at most ${opts.max} characters`, { param });
    }
    if (opts.nonEmpty && raw === '') throw invalidRequest(`Invalid ${param}: must not be empty`, { param });
    return raw;
  });
}

export function int(opts: { min?: number; max?: number } = {}): Spec<number, false> {
  return spec((raw, param) => {
    if (typeof raw !== 'string' || !/^-?\d+$/.test(raw)) {
      throw invalidRequest(`Invalid integer: ${show(raw)}`, { param, code: 'parameter_invalid_integer' });
    }
    const n = Number(raw);
    if (!Number.isSafeInteger(n)) throw invalidRequest(`Invalid integer: ${raw}`, { param, code: 'parameter_invalid_integer' });
    if (opts.min !== undefined && n < opts.min) {
      throw invalidRequest(`This value must be greater than or equal to ${opts.min}.`, { param });
    }
    if (opts.max !== undefined && n > opts.max) {
      throw invalidRequest(`This value must be less than or equal to ${opts.max}.`, { param });
    }
    return n;
  });
}

export function decimal(opts: { min?: number; max?: number; exclusiveMin?: boolean } = {}): Spec<number, false> {
  return spec((raw, param) => {
    if (typeof raw !== 'string' || !/^-?(\d+\.?\d*|\.\d+)$/.test(raw)) {
      throw invalidRequest(`Invalid decimal: ${show(raw)}`, { param });
    }
    const n = Number(raw);
    if (opts.min !== undefined && (opts.exclusiveMin ? n <= opts.min : n < opts.min)) {
      throw invalidRequest(`Invalid ${param}: must be greater than ${opts.exclusiveMin ? '' : 'or equal to '}${opts.min}`, { param });
    }
    if (opts.max !== undefined && n > opts.max) throw invalidRequest(`Invalid ${param}: must be at most ${opts.max}`, { param });
    return n;
  });
}

/** A decimal kept as its string form (Stripe's `*_decimal` fields carry up to 12 decimal places). */
export function decimalString(): Spec<string, false> {
  return spec((raw, param) => {
    if (typeof raw !== 'string' || !/^\d+(\.\d{1,12})?$/.test(raw)) {
      throw invalidRequest(`Invalid decimal: ${show(raw)}`, { param });
    }
    return raw;
  });
}

export function bool(): Spec<boolean, false> {
  return spec((raw, param) => {
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    throw invalidRequest(`Invalid boolean: ${show(raw)}`, { param });
  });
}

function listWords(values: readonly string[]): string {
  if (values.length <= 1) return values.join('');
  return `${values.slice(0, -1).join(', ')}, or ${values[values.length - 1]}`;
}

export function oneOf<const V extends string>(values: readonly V[]): Spec<V, false> {
  return spec((raw, param) => {
    if (typeof raw === 'string' && (values as readonly string[]).includes(raw)) return raw as V;
    throw invalidRequest(`Invalid ${param}: must be one of ${listWords(values)}`, { param });
  });
}

/** A unix timestamp, optionally also accepting the literal `now`. */
export function timestamp<const Now extends boolean = false>(opts: { now?: Now } = {}): Spec<Now extends true ? number | 'now' : number, false> {
  const asInt = int({ min: 0 });
  return spec((raw, param) => {
    if (opts.now && raw === 'now') return 'now' as Now extends true ? 'now' : number;
    return asInt.parse(raw, param);
  });
}

/** `''` unsets: Stripe's `Emptyable<T>`. */
export function emptyable<T>(inner: Spec<T>): Spec<T | null, false> {
  return spec((raw, param) => (raw === '' ? null : inner.parse(raw, param)));
}

export function required<T>(inner: Spec<T>): Spec<T, true> {
  return { required: true, parse: inner.parse };
}

export function arrayOf<T>(inner: Spec<T>, opts: { max?: number } = {}): Spec<T[], false> {
  return spec((raw, param) => {
    if (!Array.isArray(raw)) throw invalidRequest(`Invalid array`, { param });
    if (opts.max !== undefined && raw.length > opts.max) {
      throw invalidRequest(`Invalid ${param}: must contain at most ${opts.max} elements`, { param });
    }
    return raw.map((v, i) => inner.parse(v, `${param}[${i}]`));
  });
}

export function object<S extends Shape>(shape: S): Spec<ShapeOut<S>, false> {
  return spec((raw, param) => parseShape(shape, raw, param));
}

export type Metadata = Readonly<Record<string, string>>;

/**
 * Metadata updates merge: a key set to `''` is removed, and `metadata=''` clears everything. The result
 * is the *patch*; callers apply it with {@link applyMetadata}. Limits are Stripe's (50 keys, 40/500 chars).
 */
export type MetadataPatch = { clear: true } | { clear: false; set: Record<string, string | null> };

export function metadata(): Spec<MetadataPatch, false> {
  return spec((raw, param): MetadataPatch => {
    if (raw === '') return { clear: true };
    let entries: Array<[string, RawValue]>;
    if (Array.isArray(raw)) entries = raw.map((v, i) => [String(i), v]);
    else if (typeof raw === 'object') entries = Object.entries(raw);
    else throw invalidRequest(`Invalid object`, { param });
    const set: Record<string, string | null> = {};
    for (const [k, v] of entries) {
      if (typeof v !== 'string') throw invalidRequest(`Invalid string: ${show(v)}`, { param: `${param}[${k}]` });
      if (k.length > 40) throw invalidRequest(`Metadata keys can have up to 40 characters. Received: ${k}`, { param: `${param}[${k}]` });
      if (k.includes('[') || k.includes(']')) throw invalidRequest(`Metadata keys may not contain square brackets.`, { param });
      if (v.length > 500) throw invalidRequest(`Metadata values can have up to 500 characters, but you passed in a value that is ${v.length} characters.`, { param: `${param}[${k}]` });
      set[k] = v === '' ? null : v;
    }
    return { clear: false, set };
  });
}

const EMPTY_METADATA: Metadata = Object.freeze({});

export function emptyMetadata(): Metadata {
  return EMPTY_METADATA;
}

export function applyMetadata(current: Metadata, patch: MetadataPatch | undefined): Metadata {
  if (patch === undefined) return current;
  if (patch.clear) return EMPTY_METADATA;
  const next: Record<string, string> = { ...current };
  for (const [k, v] of Object.entries(patch.set)) {
    if (v === null) delete next[k];
    else next[k] = v;
  }
  if (Object.keys(next).length > 50) {
    throw invalidRequest('You can specify up to 50 keys in metadata.', { param: 'metadata' });
  }
  return Object.keys(next).length === 0 ? EMPTY_METADATA : Object.freeze(next);
}

function parseShape<S extends Shape>(shape: S, raw: RawValue, param: string | null): ShapeOut<S> {
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalidRequest(`Invalid object`, param === null ? {} : { param });
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    const name = param === null ? key : `${param}[${key}]`;
    if (!Object.prototype.hasOwnProperty.call(shape, key)) throw unknownParam(name);
  }
  for (const [key, s] of Object.entries(shape)) {
    const name = param === null ? key : `${param}[${key}]`;
    const value = raw[key];
    if (value === undefined) {
      if (s.required) throw missingParam(name);
      continue;
    }
    out[key] = s.parse(value, name);
  }
  return out as ShapeOut<S>;
}

export interface Parsed<S extends Shape> {
  params: ShapeOut<S>;
  expand: string[];
}

const expandSpec = arrayOf(str(), { max: 1000 });
const listSpec = {
  limit: int({ min: 1, max: 100 }),
  starting_after: str(),
  ending_before: str(),
};

/** Parses a request's top-level parameters; `expand[]` is accepted everywhere, as in the real API. */
export function parseRequest<S extends Shape>(shape: S, raw: RawParams): Parsed<S> {
  const { expand, ...rest } = raw;
  const params = parseShape(shape, rest, null);
  return { params, expand: expand === undefined ? [] : expandSpec.parse(expand, 'expand') };
}

export type ListShape = typeof listSpec;
export function withPaging<S extends Shape>(shape: S): S & ListShape {
  return { ...shape, ...listSpec };
}

export const createdFilter = spec((raw, param): { gt?: number; gte?: number; lt?: number; lte?: number } => {
  const ts = int({ min: 0 });
  if (typeof raw === 'string') {
    const n = ts.parse(raw, param);
    return { gte: n, lte: n };
  }
  return parseShape({ gt: ts, gte: ts, lt: ts, lte: ts }, raw, param);
});
export type RangeFilter = ReturnType<typeof createdFilter.parse>;
