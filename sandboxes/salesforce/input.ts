import { SalesforceError, jsonParserError, noSuchColumn } from './errors.js';
import type { ObjectDef, Schema } from './schema.js';
import type { ForeignKeyRef, Values } from './store.js';
import { fromJson, locateKey } from './values.js';

/** Parses a request body the way Salesforce's JSON reader reports problems (Jackson-style messages). */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw jsonParserError('No content to map due to end-of-input at [line:1, column:0]');
  try {
    return JSON.parse(text);
  } catch (err) {
    const m = /line (\d+) column (\d+)/.exec(String((err as Error).message));
    const pos = /position (\d+)/.exec(String((err as Error).message));
    const offset = pos ? Number(pos[1]) : text.length;
    const ch = text.charAt(offset);
    const where = m ? `[line:${m[1]}, column:${m[2]}]` : `[line:1, column:${offset + 1}]`;
    throw jsonParserError(
      ch ? `Unexpected character ('${ch}' (code ${ch.charCodeAt(0)})): expected a valid value at ${where}` : `Unexpected end-of-input at ${where}`,
    );
  }
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Deserializes one record of a JSON body into field values. Unknown fields and wrong JSON types fail the
 * whole request (400), as they do in Salesforce, before any record is written.
 */
export function jsonValues(schema: Schema, obj: ObjectDef, record: Record<string, unknown>, raw: string | undefined): Values {
  const values: Values = new Map();
  for (const [key, value] of Object.entries(record)) {
    if (key === 'attributes') continue;
    const field = obj.fieldsByLower.get(key.toLowerCase());
    if (field) {
      values.set(field, fromJson(field, value, () => locateKey(raw, key)));
      continue;
    }
    const rel = obj.relationships.get(key.toLowerCase());
    if (rel && isPlainObject(value)) {
      values.set(rel, foreignKey(schema, rel.referenceTo, value, raw));
      continue;
    }
    throw noSuchColumn(key, obj.name);
  }
  return values;
}

/** `"Account": {"Stripe_Id__c": "cus_1"}`: a lookup set through the parent's external id. */
function foreignKey(schema: Schema, referenceTo: string[], value: Record<string, unknown>, raw: string | undefined): ForeignKeyRef {
  const declaredType = isPlainObject(value.attributes) && typeof value.attributes.type === 'string' ? value.attributes.type : undefined;
  const target = schema.get(declaredType ?? referenceTo[0] ?? '');
  if (!target || !referenceTo.includes(target.name)) {
    throw new SalesforceError('INVALID_FIELD', `Polymorphic foreign key requires attributes.type naming one of: ${referenceTo.join(', ')}`);
  }
  const keys = Object.keys(value).filter((k) => k !== 'attributes');
  const first = keys[0];
  if (keys.length !== 1 || first === undefined) {
    throw new SalesforceError('INVALID_FIELD', `Foreign key reference to ${target.name} must name exactly one external ID field`);
  }
  const field = target.fieldsByLower.get(first.toLowerCase());
  if (!field) throw noSuchColumn(first, target.name);
  if (!field.externalId && !field.idLookup) {
    throw new SalesforceError('INVALID_FIELD', `Field ${field.name} on ${target.name} is not an external ID or indexed field`);
  }
  return { kind: 'foreignKey', target, field, value: fromJson(field, value[first], () => locateKey(raw, first)) };
}
