import { salesforceFieldRequirements, type SalesforceFieldRequirement } from '../activities/crm/salesforce/index.js';
import type { CustomFieldSpec, CustomObjectSpec, FieldType } from '../sandboxes/salesforce/index.js';

/** Salesforce's setup-UI field types and the type names `describe` reports for them. */
const DESCRIBE_TYPE: Record<string, FieldType> = { Text: 'string', Number: 'double', Date: 'date', DateTime: 'datetime', Checkbox: 'boolean', Picklist: 'picklist', Lookup: 'reference' };
const STANDARD_OBJECTS = new Set(['Account', 'Contact', 'Opportunity', 'Task']);

function fieldSpec(r: SalesforceFieldRequirement): CustomFieldSpec {
  const spec: CustomFieldSpec = { name: r.name, label: r.label, type: DESCRIBE_TYPE[r.hint.type] ?? 'string' };
  const hint = r.hint;
  if (hint.type === 'Lookup') spec.referenceTo = hint.referenceTo;
  else {
    if (hint.length !== undefined) spec.length = hint.length;
    if (hint.precision !== undefined) spec.precision = hint.precision;
    if (hint.scale !== undefined) spec.scale = hint.scale;
  }
  if (r.picklistValues.length > 0) spec.picklistValues = [...r.picklistValues];
  if (r.key) Object.assign(spec, { externalId: true, unique: true });
  return spec;
}

/**
 * The custom fields a Salesforce admin adds for this service — the adapter's own requirement list,
 * the same one `npm run setup` checks — so the demo's and tests' Salesforce sandbox starts set up.
 */
export function salesforceDemoFields(mode: 'b2b' | 'b2c' = 'b2b'): Record<string, CustomFieldSpec[]> {
  return salesforceDemoSchema(mode).customFields;
}

/**
 * The same, with the custom subscription object (CRM_SUBSCRIPTION_OBJECT) an admin would create, as
 * the sandbox's `customObjects` and `customFields` options.
 */
export function salesforceDemoSchema(mode: 'b2b' | 'b2c' = 'b2b', subscriptionObject?: string): { customObjects: CustomObjectSpec[]; customFields: Record<string, CustomFieldSpec[]> } {
  const customFields: Record<string, CustomFieldSpec[]> = {};
  const customObjects = new Map<string, CustomObjectSpec & { fields: CustomFieldSpec[] }>();
  for (const r of salesforceFieldRequirements(mode, {}, subscriptionObject)) {
    // A custom object's Name comes with the object (Text(80), as the sandbox creates it).
    if (r.recordName) continue;
    if (STANDARD_OBJECTS.has(r.object)) {
      (customFields[r.object] ??= []).push(fieldSpec(r));
      continue;
    }
    let object = customObjects.get(r.object);
    if (!object) customObjects.set(r.object, (object = { name: r.object, label: 'Stripe Subscription', labelPlural: 'Stripe Subscriptions', fields: [] }));
    object.fields.push(fieldSpec(r));
  }
  return { customObjects: [...customObjects.values()], customFields };
}
