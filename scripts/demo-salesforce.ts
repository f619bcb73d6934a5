import { salesforceFieldRequirements } from '../activities/crm/salesforce/index.js';
import type { CustomFieldSpec, FieldType } from '../sandboxes/salesforce/index.js';

/** Salesforce's setup-UI field types and the type names `describe` reports for them. */
const DESCRIBE_TYPE: Record<string, FieldType> = { Text: 'string', Number: 'double', Date: 'date', DateTime: 'datetime', Checkbox: 'boolean', Picklist: 'picklist' };

/**
 * The custom fields a Salesforce admin adds for this service — the adapter's own requirement list,
 * the same one `npm run setup` checks — so the demo's and tests' Salesforce sandbox starts set up.
 */
export function salesforceDemoFields(mode: 'b2b' | 'b2c' = 'b2b'): Record<string, CustomFieldSpec[]> {
  const fields: Record<string, CustomFieldSpec[]> = {};
  for (const r of salesforceFieldRequirements(mode)) {
    const spec: CustomFieldSpec = { name: r.name, label: r.label, type: DESCRIBE_TYPE[r.hint.type] ?? 'string' };
    if (r.hint.length !== undefined) spec.length = r.hint.length;
    if (r.hint.precision !== undefined) spec.precision = r.hint.precision;
    if (r.hint.scale !== undefined) spec.scale = r.hint.scale;
    if (r.picklistValues.length > 0) spec.picklistValues = [...r.picklistValues];
    if (r.key) Object.assign(spec, { externalId: true, unique: true });
    (fields[r.object] ??= []).push(spec);
  }
  return fields;
}
