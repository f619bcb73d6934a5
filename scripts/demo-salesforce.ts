import { crmPropertyDefinitions } from '../domain/crm-field-names.js';
import type { CustomFieldSpec, FieldType } from '../sandboxes/salesforce/index.js';

/** Salesforce's setup-UI field types and the type names `describe` reports for them. */
const DESCRIBE_TYPE: Record<string, FieldType> = { Text: 'string', Number: 'double', Date: 'date', DateTime: 'datetime', Checkbox: 'boolean', Picklist: 'picklist' };

/**
 * The custom fields a Salesforce admin adds for this service (the setup command lists the same
 * set when they are missing); the demo's Salesforce sandbox starts with them in place.
 */
export function salesforceDemoFields(): Record<string, CustomFieldSpec[]> {
  const stripeFields: CustomFieldSpec[] = crmPropertyDefinitions('salesforce').map((d): CustomFieldSpec => {
    const spec: CustomFieldSpec = { name: d.name, label: d.label, type: DESCRIBE_TYPE[d.salesforce.type] ?? 'string' };
    if (d.salesforce.length !== undefined) spec.length = d.salesforce.length;
    if (d.salesforce.precision !== undefined) spec.precision = d.salesforce.precision;
    if (d.salesforce.scale !== undefined) spec.scale = d.salesforce.scale;
    if (d.options.length > 0) spec.picklistValues = [...d.options];
    if (d.field === 'customer_id') Object.assign(spec, { length: 255, externalId: true, unique: true });
    return spec;
  });
  const externalKey = (name: string, label: string): CustomFieldSpec => ({ name, label, type: 'string', length: 255, externalId: true, unique: true });
  return {
    Account: stripeFields,
    // Several contacts may carry one customer id only in B2B; keep the field an external id but not unique.
    Contact: stripeFields.map((f) => (f.externalId ? { ...f, unique: false } : f)),
    Opportunity: [externalKey('Stripe_Subscription_ID__c', 'Stripe Subscription ID'), { name: 'Stripe_Subscription_Status__c', label: 'Stripe Subscription Status', type: 'string', length: 40 }],
    Task: [externalKey('Stripe_Activity_Key__c', 'Stripe Activity Key')],
  };
}
