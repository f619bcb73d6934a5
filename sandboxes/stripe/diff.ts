type Json = unknown;

function isPlainObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * `data.previous_attributes` of an `*.updated` event, the way Stripe builds it: only changed fields,
 * nested hashes narrowed to their changed keys (a key that did not exist before is `null`), lists and
 * arrays given whole.
 */
export function previousAttributes(before: Json, after: Json): Record<string, Json> | null {
  if (!isPlainObject(before) || !isPlainObject(after)) return null;
  const out: Record<string, Json> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const b = before[key];
    const a = after[key];
    if (jsonEqual(b, a)) continue;
    if (isPlainObject(b) && isPlainObject(a) && b['object'] !== 'list' && a['object'] !== 'list') {
      const nested = previousAttributes(b, a);
      if (nested) out[key] = nested;
      continue;
    }
    out[key] = b === undefined ? null : b;
  }
  return Object.keys(out).length > 0 ? out : null;
}
