import { DuplicateCrmFieldNameError, InvalidCrmFieldNameError, UnknownCrmFieldError } from './errors.js';

/**
 * The logical CRM fields this service writes, their types for provisioning, and how they are named in each
 * CRM. Logical names are snake_case; providers get `stripe_<field>` (HubSpot) or `Stripe_<Field>__c`
 * (Salesforce), unless overridden per field in configuration.
 */

export type CrmProvider = 'hubspot' | 'salesforce';

/** Provider-neutral property types, matching HubSpot's `type` vocabulary. */
export type CrmFieldType = 'string' | 'number' | 'date' | 'datetime' | 'bool' | 'enumeration';

export interface CrmFieldDefinition {
  readonly label: string;
  readonly description: string;
  readonly type: CrmFieldType;
  /** Allowed values of an enumeration. */
  readonly options?: readonly string[];
  /** Money in major units: provisioning gives it three decimals so KWD/BHD amounts fit. */
  readonly money?: boolean;
}

/** Subscription statuses in the priority used to pick the customer's most relevant subscription. */
export const SUBSCRIPTION_STATUS_PRIORITY = [
  'active',
  'past_due',
  'trialing',
  'unpaid',
  'paused',
  'incomplete',
  'incomplete_expired',
  'canceled',
] as const;

export const PAYMENT_METHOD_STATUSES = ['valid', 'expiring', 'failed', 'missing'] as const;
export const MRR_CHANGE_KINDS = ['new', 'expansion', 'contraction', 'churn', 'reactivation'] as const;

/**
 * Every field, in display order. Dates are `YYYY-MM-DD` (UTC day); datetimes ISO 8601 UTC with `Z`;
 * money is major units (49.5 for 4950 cents) in the currency named by `currency`.
 */
export const CRM_FIELDS = {
  customer_id: { label: 'Stripe Customer ID', type: 'string', description: 'Stripe customer id (cus_...).' },
  subscription_status: {
    label: 'Stripe Subscription Status',
    type: 'enumeration',
    options: [...SUBSCRIPTION_STATUS_PRIORITY, 'none'],
    description: 'Status of the most relevant subscription (active > past_due > trialing > unpaid > paused > incomplete > incomplete_expired > canceled), or none.',
  },
  mrr: { label: 'Stripe MRR', type: 'number', money: true, description: 'Monthly recurring revenue across active and past-due subscriptions, in the Stripe currency.' },
  currency: { label: 'Stripe Currency', type: 'string', description: 'ISO code (USD) of the MRR and lifetime value amounts.' },
  plan_name: { label: 'Stripe Plan', type: 'string', description: 'Product names of the most relevant subscription.' },
  billing_interval: { label: 'Stripe Billing Interval', type: 'string', description: 'Billing interval of that subscription: month, year, 3 months, ...' },
  next_renewal_date: { label: 'Stripe Next Renewal Date', type: 'date', description: 'Next renewal (or trial end); empty when the subscription will not renew.' },
  trial_end_date: { label: 'Stripe Trial End Date', type: 'date', description: 'When the current trial ends; empty when not trialing.' },
  payment_method_status: {
    label: 'Stripe Payment Method Status',
    type: 'enumeration',
    options: PAYMENT_METHOD_STATUSES,
    description: 'Default payment method: valid, expiring soon, failed (declined or expired) or missing.',
  },
  ltv: { label: 'Stripe Lifetime Value', type: 'number', money: true, description: 'Total paid minus refunded, in the Stripe currency.' },
  last_payment_date: { label: 'Stripe Last Payment Date', type: 'date', description: 'Date of the latest successful payment.' },
  last_payment_amount: { label: 'Stripe Last Payment Amount', type: 'number', money: true, description: 'Amount of the latest successful payment, in that payment\'s currency.' },
  failed_payment_count: { label: 'Stripe Failed Payments', type: 'number', description: 'Failed payment attempts over the customer\'s lifetime.' },
  last_payment_failure: { label: 'Stripe Last Payment Failure', type: 'string', description: 'Decline code and message of a failure not yet followed by a successful payment.' },
  delinquent: { label: 'Stripe Delinquent', type: 'bool', description: 'Stripe marks the customer delinquent while an invoice or charge is failed and unpaid.' },
  customer_deleted: { label: 'Stripe Customer Deleted', type: 'bool', description: 'The customer was deleted in Stripe; the CRM record stays, with its history.' },
  days_to_first_payment: { label: 'Stripe Days To First Payment', type: 'number', description: 'Whole days from customer creation to the first successful payment.' },
  discount: { label: 'Stripe Discount', type: 'string', description: 'Active discounts, e.g. "20% off (repeating, 3 months)".' },
  cancel_at_period_end: { label: 'Stripe Cancels At Period End', type: 'bool', description: 'The most relevant subscription is scheduled to end.' },
  last_mrr_change: { label: 'Stripe Last MRR Change', type: 'number', money: true, description: 'Signed size of the latest MRR movement, in the Stripe currency.' },
  last_mrr_change_kind: {
    label: 'Stripe Last MRR Change Kind',
    type: 'enumeration',
    options: MRR_CHANGE_KINDS,
    description: 'Kind of the latest MRR movement: new, expansion, contraction, churn or reactivation.',
  },
  last_mrr_change_date: { label: 'Stripe Last MRR Change Date', type: 'date', description: 'When the latest MRR movement happened.' },
  needs_enrichment: {
    label: 'Stripe Needs Enrichment',
    type: 'bool',
    description: 'Created by the sync with only what Stripe knows (no existing record matched): someone should complete it. Set once at creation; the sync never clears or rewrites it.',
  },
  synced_at: { label: 'Stripe Synced At', type: 'datetime', description: 'When these fields were last computed from Stripe.' },
} as const satisfies Record<string, CrmFieldDefinition>;

export type CrmFieldName = keyof typeof CRM_FIELDS;

export const CRM_FIELD_NAMES = Object.keys(CRM_FIELDS) as CrmFieldName[];

export function isCrmFieldName(value: string): value is CrmFieldName {
  return Object.prototype.hasOwnProperty.call(CRM_FIELDS, value);
}

/** Provider property name per logical field; fields switched off by an override are absent. */
export type CrmFieldNameMap = { readonly [K in CrmFieldName]?: string };

/** Per-field overrides: a property name, or null to not sync that field. */
export type CrmFieldNameOverrides = { readonly [K in CrmFieldName]?: string | null };

// Salesforce derives API names from labels the same way (label "Next Renewal Date" → Next_Renewal_Date__c),
// so admins recognise them; acronyms stay upper case as they would be typed in a label.
const ACRONYMS: Readonly<Record<string, string>> = { id: 'ID', mrr: 'MRR', ltv: 'LTV' };

function defaultName(provider: CrmProvider, field: CrmFieldName): string {
  if (provider === 'hubspot') return `stripe_${field}`;
  const segments = field.split('_').map((part) => ACRONYMS[part] ?? `${part.charAt(0).toUpperCase()}${part.slice(1)}`);
  return `Stripe_${segments.join('_')}__c`;
}

// HubSpot internal names: lowercase letters, digits and underscores, starting with a letter.
const HUBSPOT_NAME = /^[a-z][a-z0-9_]*$/;
// Salesforce custom field API names: optional namespace prefix, then a letter, alphanumerics and single
// underscores, not ending in an underscore, at most 40 characters before `__c`.
const SALESFORCE_NAME = /^(?:([A-Za-z][A-Za-z0-9]{0,14})__)?([A-Za-z][A-Za-z0-9_]*)__c$/;

/** Throws InvalidCrmFieldNameError when the provider would refuse `name` as a custom property name. */
export function assertValidCrmPropertyName(provider: CrmProvider, name: string): void {
  if (provider === 'hubspot') {
    if (!HUBSPOT_NAME.test(name)) {
      throw new InvalidCrmFieldNameError(`HubSpot property names use lowercase letters, digits and underscores and start with a letter: ${JSON.stringify(name)}`);
    }
    return;
  }
  const match = SALESFORCE_NAME.exec(name);
  const base = match?.[2];
  if (!base) throw new InvalidCrmFieldNameError(`Salesforce custom field names look like Field_Name__c: ${JSON.stringify(name)}`);
  if (base.includes('__') || base.endsWith('_')) {
    throw new InvalidCrmFieldNameError(`Salesforce field names cannot contain "__" or end with "_": ${JSON.stringify(name)}`);
  }
  if (base.length > 40) throw new InvalidCrmFieldNameError(`Salesforce field names are at most 40 characters before __c: ${JSON.stringify(name)}`);
}

/**
 * Maps every logical field to the provider's property name. Overrides rename a field or, with null, drop it.
 * Throws on unknown fields, names the provider would reject, and two fields sharing a property.
 */
export function crmFieldNames(provider: CrmProvider, overrides: CrmFieldNameOverrides = {}): CrmFieldNameMap {
  for (const key of Object.keys(overrides)) {
    if (!isCrmFieldName(key)) throw new UnknownCrmFieldError(`No CRM field named ${JSON.stringify(key)}`);
  }
  const result: { [K in CrmFieldName]?: string } = {};
  const owners = new Map<string, CrmFieldName>();
  for (const field of CRM_FIELD_NAMES) {
    const override = overrides[field];
    if (override === null) continue;
    const name = override ?? defaultName(provider, field);
    assertValidCrmPropertyName(provider, name);
    // Salesforce API names are case-insensitive; HubSpot's are lowercase by rule.
    const key = name.toLowerCase();
    const owner = owners.get(key);
    if (owner) throw new DuplicateCrmFieldNameError(`${field} and ${owner} both map to ${name}`);
    owners.set(key, field);
    result[field] = name;
  }
  return result;
}

export interface HubSpotPropertyHint {
  readonly type: CrmFieldType;
  readonly fieldType: 'text' | 'number' | 'date' | 'booleancheckbox' | 'select';
}

export interface SalesforceFieldHint {
  readonly type: 'Text' | 'Number' | 'Date' | 'DateTime' | 'Checkbox' | 'Picklist';
  /** Text length. */
  readonly length?: number;
  /** Number precision and scale. */
  readonly precision?: number;
  readonly scale?: number;
}

export interface CrmPropertyDefinition {
  readonly field: CrmFieldName;
  /** Provider property name. */
  readonly name: string;
  readonly label: string;
  readonly description: string;
  readonly type: CrmFieldType;
  readonly options: readonly string[];
  readonly hubspot: HubSpotPropertyHint;
  readonly salesforce: SalesforceFieldHint;
}

function hubspotHint(definition: CrmFieldDefinition): HubSpotPropertyHint {
  const fieldType = ({ string: 'text', number: 'number', date: 'date', datetime: 'date', bool: 'booleancheckbox', enumeration: 'select' } as const)[definition.type];
  return { type: definition.type, fieldType };
}

function salesforceHint(definition: CrmFieldDefinition): SalesforceFieldHint {
  switch (definition.type) {
    case 'string':
      return { type: 'Text', length: 255 };
    case 'number':
      return definition.money ? { type: 'Number', precision: 18, scale: 3 } : { type: 'Number', precision: 18, scale: 0 };
    case 'date':
      return { type: 'Date' };
    case 'datetime':
      return { type: 'DateTime' };
    case 'bool':
      return { type: 'Checkbox' };
    case 'enumeration':
      return { type: 'Picklist' };
  }
}

/** What a provisioning step needs to create the properties: names, labels, types and options. */
export function crmPropertyDefinitions(provider: CrmProvider, overrides: CrmFieldNameOverrides = {}): CrmPropertyDefinition[] {
  const names = crmFieldNames(provider, overrides);
  const result: CrmPropertyDefinition[] = [];
  for (const field of CRM_FIELD_NAMES) {
    const name = names[field];
    if (name === undefined) continue;
    const definition: CrmFieldDefinition = CRM_FIELDS[field];
    result.push({
      field,
      name,
      label: definition.label,
      description: definition.description,
      type: definition.type,
      options: definition.options ?? [],
      hubspot: hubspotHint(definition),
      salesforce: salesforceHint(definition),
    });
  }
  return result;
}
