import type { Context } from 'hono';
import { invalidInput, missingAttributes } from './errors.js';

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a JSON body; malformed JSON gets HubSpot's "Invalid input JSON" 400 rather than a crash. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') throw invalidInput('No content to map due to end-of-input');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw invalidInput(err instanceof Error ? err.message : 'Unexpected character');
  }
}

/** Reads a JSON object body and insists on the attributes HubSpot's request model requires. */
export async function readObject(c: Context, model: string, required: string[] = []): Promise<Record<string, unknown>> {
  const body = await readJson(c);
  if (!isRecord(body)) throw invalidInput(`Cannot build ${model}, expected a JSON object`);
  const missing = required.filter((k) => body[k] === undefined || body[k] === null);
  if (missing.length > 0) throw missingAttributes(model, missing);
  return body;
}

/**
 * The property map of a write. HubSpot coerces JSON numbers and booleans to their string form, treats
 * null like an empty string (a clear), and rejects nested structures.
 */
export function readPropertyMap(raw: unknown, model: string): Map<string, string> {
  if (raw === undefined || raw === null) return new Map();
  if (!isRecord(raw)) throw invalidInput(`Cannot build ${model}, \`properties\` must be a JSON object`);
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(raw)) {
    if (value === null) out.set(name, '');
    else if (typeof value === 'string') out.set(name, value);
    else if (typeof value === 'number' || typeof value === 'boolean') out.set(name, String(value));
    else throw invalidInput(`Cannot deserialize value of property \`${name}\` in ${model}: expected a string`);
  }
  return out;
}

export function requireString(o: Record<string, unknown>, key: string, model: string): string {
  const v = o[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (v === undefined || v === null) throw missingAttributes(model, [key]);
  throw invalidInput(`Cannot deserialize \`${key}\` in ${model}: expected a string`);
}

export function optionalString(o: Record<string, unknown>, key: string, model: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  throw invalidInput(`Cannot deserialize \`${key}\` in ${model}: expected a string`);
}

export function requireArray(o: Record<string, unknown>, key: string, model: string): unknown[] {
  const v = o[key];
  if (v === undefined || v === null) throw missingAttributes(model, [key]);
  if (!Array.isArray(v)) throw invalidInput(`Cannot deserialize \`${key}\` in ${model}: expected an array`);
  return v as unknown[];
}

/** Query parameters that HubSpot accepts both repeated (`?p=a&p=b`) and comma-separated (`?p=a,b`). */
export function queryList(c: Context, name: string): string[] | undefined {
  const values = c.req.queries(name);
  if (!values) return undefined;
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

export function queryBoolean(c: Context, name: string): boolean {
  return c.req.query(name)?.toLowerCase() === 'true';
}
