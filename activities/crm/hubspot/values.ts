import { isCrmFieldName, type CrmFieldName, type CrmFieldNameMap } from '../../../domain/crm-field-names.js';
import type { CrmFieldValue } from '../../../domain/crm-fields.js';
import type { ContactInput, CrmFields } from '../types.js';

/**
 * HubSpot's property value format: every value is a string and an empty string clears the property.
 * Dates stay `YYYY-MM-DD` and datetimes ISO 8601, both of which HubSpot accepts as written.
 */
export function hubspotValue(value: CrmFieldValue | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return decimal(value);
  return value;
}

/** Plain decimal notation: HubSpot's number properties do not parse `1e-7` or `1e+21`. */
function decimal(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`Cannot write ${value} to a HubSpot number property`);
  const plain = String(value);
  return /e/i.test(plain) ? value.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 }) : plain;
}

/** Logical field values as HubSpot properties, under their (possibly overridden) names; switched-off fields are left out. */
/** A contact's properties as both the real-time upsert and the backfill write them (B2C: with the Stripe fields). */
export function contactProperties(input: ContactInput, names: CrmFieldNameMap, customerIdProperty: string, mode: 'b2b' | 'b2c'): Record<string, string> {
  const properties: Record<string, string> = {
    ...(mode === 'b2c' ? fieldProperties(input.fields, names) : {}),
    email: input.email,
    [customerIdProperty]: input.customerId,
  };
  if (input.firstName !== null) properties.firstname = input.firstName;
  if (input.lastName !== null) properties.lastname = input.lastName;
  return properties;
}

export function fieldProperties(fields: CrmFields, names: CrmFieldNameMap, except: readonly CrmFieldName[] = []): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const [field, value] of Object.entries(fields)) {
    if (!isCrmFieldName(field) || except.includes(field)) continue;
    const name = names[field];
    if (name !== undefined) properties[name] = hubspotValue(value);
  }
  return properties;
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Note and task bodies are HTML in HubSpot; Stripe text (charge descriptions, decline messages) is not. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch);
}

/** Seconds since epoch as the ISO 8601 instant HubSpot's datetime properties take. */
export function isoInstant(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}
