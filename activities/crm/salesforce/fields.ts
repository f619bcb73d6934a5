import type { DescribeSObjectResult, Field } from 'jsforce';
import { crmPropertyDefinitions } from '../../../domain/crm-field-names.js';
import type { CrmFieldNameOverrides, SalesforceFieldHint } from '../../../domain/crm-field-names.js';
import type { ProvisionReport } from '../types.js';

/**
 * The custom fields the Salesforce adapter writes, and the check provision() runs against the org's
 * describe results. Salesforce's data API cannot create fields (that takes the Metadata API and an
 * admin's consent), so the adapter reports what an admin has to add instead.
 */

export type SalesforceObjectName = 'Account' | 'Contact' | 'Opportunity' | 'Task';

/** Upsert key of the Opportunity made for each Stripe subscription. */
export const SUBSCRIPTION_ID_FIELD = 'Stripe_Subscription_ID__c';
/** The subscription's Stripe status, beside the stage it maps to. */
export const SUBSCRIPTION_STATUS_FIELD = 'Stripe_Subscription_Status__c';
/** Upsert key of the Task written for each timeline entry, so a replayed entry finds its Task. */
export const ACTIVITY_KEY_FIELD = 'Stripe_Activity_Key__c';

/**
 * The fields of a custom subscription object (CRM_SUBSCRIPTION_OBJECT), beside its standard Name (the
 * subscription's name). Fixed names: the object is this service's own. Lookups tie a record to the
 * customer's Account (B2B) or Contact (B2C).
 */
export const SUBSCRIPTION_OBJECT_FIELDS = {
  id: SUBSCRIPTION_ID_FIELD,
  status: SUBSCRIPTION_STATUS_FIELD,
  stage: 'Stripe_Stage__c',
  mrr: 'Stripe_MRR__c',
  currency: 'Stripe_Currency__c',
  customerId: 'Stripe_Customer_ID__c',
  startDate: 'Stripe_Start_Date__c',
  nextRenewalDate: 'Stripe_Next_Renewal_Date__c',
  trialEndDate: 'Stripe_Trial_End_Date__c',
  endDate: 'Stripe_End_Date__c',
  account: 'Account__c',
  contact: 'Contact__c',
} as const;

/** A custom object's Name is Text(80) (or an Auto Number, which cannot be written). */
export const RECORD_NAME_LENGTH = 80;

/** A lookup to another object, which the shared field hints (domain/crm-field-names.ts) do not cover. */
export interface LookupHint {
  type: 'Lookup';
  referenceTo: 'Account' | 'Contact';
}

export interface SalesforceFieldRequirement {
  /** A standard object, or the custom subscription object's API name. */
  object: string;
  /** API name, e.g. Stripe_MRR__c. */
  name: string;
  /** The label an admin types. Setup proposes a Field Name from it, which must be edited where it differs from `name`. */
  label: string;
  hint: SalesforceFieldHint | LookupHint;
  picklistValues: readonly string[];
  /**
   * An upsert key: must be an External ID (upsert by it), and Unique so that no other writer can give a
   * second record the same key.
   */
  key: boolean;
  /** Money: keep the decimals the hint asks for, so three-decimal currencies survive. */
  money: boolean;
  /** The object's own Name (Record Name): a standard field, which must be Text to be written. */
  recordName?: boolean;
}

export type SalesforceMode = 'b2b' | 'b2c';

const KEY_TEXT: SalesforceFieldHint = { type: 'Text', length: 255 };

/**
 * Every custom field the adapter needs in `mode`: the Stripe fields on Account (b2b) or Contact (b2c),
 * plus the keys; subscriptions on Opportunity, or on the custom object `subscriptionObject` when given.
 */
export function salesforceFieldRequirements(mode: SalesforceMode, overrides: CrmFieldNameOverrides = {}, subscriptionObject?: string): SalesforceFieldRequirement[] {
  const definitions = crmPropertyDefinitions('salesforce', overrides);
  const stripeObject: SalesforceObjectName = mode === 'b2b' ? 'Account' : 'Contact';
  const requirements: SalesforceFieldRequirement[] = definitions.map((d) => ({
    object: stripeObject,
    name: d.name,
    label: d.label,
    hint: d.field === 'customer_id' ? KEY_TEXT : d.salesforce,
    picklistValues: d.options,
    key: d.field === 'customer_id',
    money: d.salesforce.type === 'Number' && (d.salesforce.scale ?? 0) > 0,
  }));
  const customer = definitions.find((d) => d.field === 'customer_id');
  if (mode === 'b2b' && customer) {
    // B2B keeps the Stripe fields on the Account, but the contact is still upserted by the customer id.
    requirements.push({ object: 'Contact', name: customer.name, label: customer.label, hint: KEY_TEXT, picklistValues: [], key: true, money: false });
  }
  if (subscriptionObject) {
    requirements.push(...subscriptionObjectRequirements(subscriptionObject, mode));
  } else {
    requirements.push(
      { object: 'Opportunity', name: SUBSCRIPTION_ID_FIELD, label: 'Stripe Subscription ID', hint: KEY_TEXT, picklistValues: [], key: true, money: false },
      { object: 'Opportunity', name: SUBSCRIPTION_STATUS_FIELD, label: 'Stripe Subscription Status', hint: { type: 'Text', length: 255 }, picklistValues: [], key: false, money: false },
    );
  }
  requirements.push({ object: 'Task', name: ACTIVITY_KEY_FIELD, label: 'Stripe Activity Key', hint: KEY_TEXT, picklistValues: [], key: true, money: false });
  return requirements;
}

/** The custom subscription object's fields: its Name, the key, the subscription's details and the lookup the mode writes. */
function subscriptionObjectRequirements(object: string, mode: SalesforceMode): SalesforceFieldRequirement[] {
  const F = SUBSCRIPTION_OBJECT_FIELDS;
  const field = (name: string, label: string, hint: SalesforceFieldHint | LookupHint, extra: Partial<SalesforceFieldRequirement> = {}): SalesforceFieldRequirement => ({
    object, name, label, hint, picklistValues: [], key: false, money: false, ...extra,
  });
  const date: SalesforceFieldHint = { type: 'Date' };
  return [
    field('Name', 'Subscription Name', { type: 'Text', length: RECORD_NAME_LENGTH }, { recordName: true }),
    field(F.id, 'Stripe Subscription ID', KEY_TEXT, { key: true }),
    field(F.status, 'Stripe Subscription Status', { type: 'Text', length: 255 }),
    field(F.stage, 'Stripe Stage', { type: 'Picklist' }, { picklistValues: ['open', 'won', 'lost'] }),
    field(F.mrr, 'Stripe MRR', { type: 'Number', precision: 18, scale: 3 }, { money: true }),
    field(F.currency, 'Stripe Currency', { type: 'Text', length: 255 }),
    field(F.customerId, 'Stripe Customer ID', { type: 'Text', length: 255 }),
    field(F.startDate, 'Stripe Start Date', date),
    field(F.nextRenewalDate, 'Stripe Next Renewal Date', date),
    field(F.trialEndDate, 'Stripe Trial End Date', date),
    field(F.endDate, 'Stripe End Date', date),
    mode === 'b2b' ? field(F.account, 'Account', { type: 'Lookup', referenceTo: 'Account' }) : field(F.contact, 'Contact', { type: 'Lookup', referenceTo: 'Contact' }),
  ];
}

/** "Text(255)", "Number(15, 3)" (digits before and after the point, as Setup shows it), "Date/Time"... */
function formatHint(hint: SalesforceFieldHint | LookupHint, picklistValues: readonly string[]): string {
  switch (hint.type) {
    case 'Lookup':
      return `Lookup(${hint.referenceTo})`;
    case 'Text':
      return `Text(${hint.length ?? 255})`;
    case 'Number': {
      const scale = hint.scale ?? 0;
      return `Number(${(hint.precision ?? 18) - scale}, ${scale})`;
    }
    case 'Date':
      return 'Date';
    case 'DateTime':
      return 'Date/Time';
    case 'Checkbox':
      return 'Checkbox';
    case 'Picklist':
      return `Picklist (${picklistValues.join(', ')})`;
  }
}

/** What an admin must create, e.g. `Account.Stripe_Customer_ID__c ("Stripe Customer ID"): Text(255), External ID, Unique`. */
export function formatRequirement(requirement: SalesforceFieldRequirement): string {
  const flags = requirement.key ? ', External ID, Unique' : '';
  if (requirement.recordName) {
    return `${requirement.object}.Name (Record Name "${requirement.label}"): Text(${RECORD_NAME_LENGTH}), not Auto Number`;
  }
  return `${requirement.object}.${requirement.name} ("${requirement.label}"): ${formatHint(requirement.hint, requirement.picklistValues)}${flags}`;
}

function formatActual(field: Field): string {
  switch (field.type) {
    case 'string':
      return `Text(${field.length})`;
    case 'textarea':
      return `Text Area(${field.length})`;
    case 'double':
    case 'int':
      return `Number(${field.precision - field.scale}, ${field.scale})`;
    case 'currency':
      return `Currency(${field.precision - field.scale}, ${field.scale})`;
    case 'percent':
      return 'Percent';
    case 'date':
      return 'Date';
    case 'datetime':
      return 'Date/Time';
    case 'boolean':
      return 'Checkbox';
    case 'picklist':
      return 'Picklist';
    case 'multipicklist':
      return 'Multi-Select Picklist';
    case 'reference':
      return 'Lookup';
    default:
      return field.type;
  }
}

/** Describe types a value of the hint's kind can be written to (with the right format). */
function compatibleTypes(requirement: SalesforceFieldRequirement): readonly string[] {
  // External IDs can be Text, Number or Email; the keys hold Stripe ids, so only Text will do.
  if (requirement.key) return ['string'];
  switch (requirement.hint.type) {
    case 'Lookup':
      return ['reference'];
    case 'Text':
      return ['string', 'textarea'];
    case 'Number':
      return ['double', 'currency', 'int'];
    case 'Date':
      return ['date'];
    case 'DateTime':
      return ['datetime'];
    case 'Checkbox':
      return ['boolean'];
    case 'Picklist':
      return ['picklist', 'string'];
  }
}

function picklistValuesOf(field: Field): string[] {
  return (field.picklistValues ?? []).flatMap((entry: unknown) =>
    typeof entry === 'object' && entry !== null && 'value' in entry && typeof entry.value === 'string' ? [entry.value] : [],
  );
}

/** Why an existing field will not do, or an empty list when it will. */
function fieldProblems(requirement: SalesforceFieldRequirement, field: Field): string[] {
  const problems: string[] = [];
  if (!compatibleTypes(requirement).includes(field.type)) {
    problems.push(`exists as ${formatActual(field)}`);
  } else {
    const wantLength = requirement.hint.type === 'Text' ? (requirement.hint.length ?? 255) : 0;
    const hint = requirement.hint;
    if (hint.type === 'Lookup' && !(field.referenceTo ?? []).includes(hint.referenceTo)) {
      problems.push(`looks up ${(field.referenceTo ?? []).join(', ') || 'nothing'}, not ${hint.referenceTo}`);
    }
    if (field.type === 'string' && field.length < wantLength) problems.push(`is only ${field.length} characters long`);
    const wantScale = requirement.money && hint.type === 'Number' ? (hint.scale ?? 0) : 0;
    if (field.type !== 'int' && hint.type === 'Number' && field.scale < wantScale) {
      problems.push(`has ${field.scale} decimal places`);
    }
    if (field.type === 'picklist' && field.restrictedPicklist) {
      const allowed = new Set(picklistValuesOf(field));
      const lacking = requirement.picklistValues.filter((value) => !allowed.has(value));
      if (lacking.length > 0) problems.push(`its restricted picklist lacks ${lacking.join(', ')}`);
    }
  }
  if (requirement.key && !field.externalId) problems.push('is not an External ID');
  if (requirement.key && !field.unique) problems.push('is not Unique');
  if (requirement.recordName && field.autoNumber) problems.push('is an Auto Number, which cannot be written');
  else if (!field.createable || !field.updateable) problems.push('is read-only for the integration user');
  return problems;
}

/**
 * Compares the requirements with the objects' describe results. A field the integration user cannot
 * see is absent from describe, so "missing" also covers field-level security that hides it.
 */
export function checkSalesforceFields(
  requirements: readonly SalesforceFieldRequirement[],
  describes: ReadonlyMap<string, DescribeSObjectResult>,
): ProvisionReport {
  const existing: string[] = [];
  const missing: string[] = [];
  // A custom object describe does not know is missing as a whole (or hidden from the integration user).
  for (const object of new Set(requirements.map((r) => r.object))) {
    if (!describes.has(object)) {
      missing.push(`${object}: the custom object does not exist (or the integration user cannot see it). Create it in Setup > Object Manager > Create > Custom Object with the Record Name below, then its fields`);
    }
  }
  for (const requirement of requirements) {
    const fields = describes.get(requirement.object)?.fields ?? [];
    const field = fields.find((f) => f.name.toLowerCase() === requirement.name.toLowerCase());
    const problems = field ? fieldProblems(requirement, field) : [];
    if (field && problems.length === 0) existing.push(`${requirement.object}.${field.name}`);
    else missing.push(field ? `${formatRequirement(requirement)} — ${problems.join(', ')}` : formatRequirement(requirement));
  }
  return { created: [], existing, missing };
}

/** The provision report as the setup command prints it: what an admin must add or change, one field a line. */
export function formatSalesforceProvisionReport(report: ProvisionReport): string {
  if (report.missing.length === 0) {
    return `Salesforce: all ${report.existing.length} custom fields the sync writes are in place.`;
  }
  const total = report.missing.length + report.existing.length;
  return [
    `Salesforce: ${report.missing.length} of ${total} custom fields the sync writes are missing or need changes.`,
    'The API cannot create fields. In Setup > Object Manager > (object) > Fields & Relationships, create each one with the',
    'label in quotes and the Field Name before it (Setup proposes one from the label: correct it where it differs),',
    'and give the integration user edit access:',
    ...report.missing.map((line) => `  - ${line}`),
  ].join('\n');
}
