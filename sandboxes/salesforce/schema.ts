import { SchemaDefinitionError } from './errors.js';

export type FieldType =
  | 'id'
  | 'string'
  | 'textarea'
  | 'email'
  | 'url'
  | 'phone'
  | 'picklist'
  | 'multipicklist'
  | 'combobox'
  | 'boolean'
  | 'int'
  | 'double'
  | 'currency'
  | 'percent'
  | 'date'
  | 'datetime'
  | 'reference';

export type FieldValue = string | number | boolean | null;

/** What a field looks like when declared: standard objects below, custom fields from options or the admin route. */
export interface FieldSpec {
  name: string;
  type: FieldType;
  label?: string;
  length?: number;
  precision?: number;
  scale?: number;
  /** Required on create (nillable: false in describe). */
  required?: boolean;
  createable?: boolean;
  updateable?: boolean;
  unique?: boolean;
  externalId?: boolean;
  caseSensitive?: boolean;
  /** Value set on create when the field is absent (describe: defaultedOnCreate). */
  defaultValue?: FieldValue;
  referenceTo?: string[];
  relationshipName?: string;
  /** Name of the child relationship on the referenced object, e.g. Contact.AccountId -> Account.Contacts. */
  childRelationshipName?: string;
  /** Deleting the parent deletes this record too (Account -> Contacts, Opportunities). */
  cascadeDelete?: boolean;
  picklistValues?: string[];
  restrictedPicklist?: boolean;
  /** System-maintained (audit fields, compound Name, IsClosed): readable, never writable. */
  system?: boolean;
  nameField?: boolean;
}

export interface FieldDef {
  name: string;
  lower: string;
  label: string;
  type: FieldType;
  length: number;
  precision: number;
  scale: number;
  nillable: boolean;
  createable: boolean;
  updateable: boolean;
  unique: boolean;
  externalId: boolean;
  caseSensitive: boolean;
  custom: boolean;
  defaultValue: FieldValue;
  defaultedOnCreate: boolean;
  referenceTo: string[];
  relationshipName: string | null;
  childRelationshipName: string | null;
  cascadeDelete: boolean;
  picklistValues: string[];
  restrictedPicklist: boolean;
  nameField: boolean;
  filterable: boolean;
  sortable: boolean;
  idLookup: boolean;
  calculated: boolean;
}

export interface ObjectSpec {
  name: string;
  label: string;
  labelPlural: string;
  keyPrefix: string;
  custom?: boolean;
  /** Records come only from the sandbox itself (User): no create/update/delete through the API. */
  readOnly?: boolean;
  fields: FieldSpec[];
}

export interface ObjectDef {
  name: string;
  lower: string;
  label: string;
  labelPlural: string;
  keyPrefix: string;
  custom: boolean;
  readOnly: boolean;
  fields: FieldDef[];
  fieldsByLower: Map<string, FieldDef>;
  /** Parent relationships by lower-cased relationship name (Account, Owner, What, Foo__r). */
  relationships: Map<string, FieldDef>;
}

/** Body of `POST /__sandbox/schema/:object/fields` and of the `customFields` option. */
export interface CustomFieldSpec {
  name: string;
  type: FieldType;
  label?: string;
  length?: number;
  precision?: number;
  scale?: number;
  required?: boolean;
  unique?: boolean;
  externalId?: boolean;
  caseSensitive?: boolean;
  defaultValue?: FieldValue;
  referenceTo?: string;
  relationshipName?: string;
  picklistValues?: string[];
  restrictedPicklist?: boolean;
}

/** Body of `POST /__sandbox/schema/objects` and of the `customObjects` option. */
export interface CustomObjectSpec {
  name: string;
  label?: string;
  labelPlural?: string;
  fields?: CustomFieldSpec[];
}

const STRING_TYPES = new Set<FieldType>(['string', 'textarea', 'email', 'url', 'phone', 'picklist', 'multipicklist', 'combobox']);
const NUMBER_TYPES = new Set<FieldType>(['int', 'double', 'currency', 'percent']);

export const isStringType = (t: FieldType): boolean => STRING_TYPES.has(t);
export const isNumberType = (t: FieldType): boolean => NUMBER_TYPES.has(t);
export const isIdType = (t: FieldType): boolean => t === 'id' || t === 'reference';

// Audit and ownership fields every object carries.
const system = (name: string, type: FieldType, label: string, extra: Partial<FieldSpec> = {}): FieldSpec => ({
  name,
  type,
  label,
  system: true,
  ...extra,
});

function auditFields(): FieldSpec[] {
  return [
    system('IsDeleted', 'boolean', 'Deleted', { defaultValue: false }),
    system('CreatedDate', 'datetime', 'Created Date'),
    system('CreatedById', 'reference', 'Created By ID', { referenceTo: ['User'], relationshipName: 'CreatedBy' }),
    system('LastModifiedDate', 'datetime', 'Last Modified Date'),
    system('LastModifiedById', 'reference', 'Last Modified By ID', { referenceTo: ['User'], relationshipName: 'LastModifiedBy' }),
    system('SystemModstamp', 'datetime', 'System Modstamp'),
  ];
}

const owner = (): FieldSpec => ({
  name: 'OwnerId',
  type: 'reference',
  label: 'Owner ID',
  referenceTo: ['User'],
  relationshipName: 'Owner',
  // Defaulted to the running user on create, like the real API.
  defaultValue: null,
});

const address = (prefix: string, label: string): FieldSpec[] => [
  { name: `${prefix}Street`, type: 'textarea', label: `${label} Street`, length: 255 },
  { name: `${prefix}City`, type: 'string', label: `${label} City`, length: 40 },
  { name: `${prefix}State`, type: 'string', label: `${label} State/Province`, length: 80 },
  { name: `${prefix}PostalCode`, type: 'string', label: `${label} Zip/Postal Code`, length: 20 },
  { name: `${prefix}Country`, type: 'string', label: `${label} Country`, length: 80 },
];

const idField = (label: string): FieldSpec => ({ name: 'Id', type: 'id', label, system: true });

/** The standard objects the sync touches, with the fields a freshly provisioned org has. */
export const STANDARD_OBJECTS: readonly ObjectSpec[] = [
  {
    name: 'Account',
    label: 'Account',
    labelPlural: 'Accounts',
    keyPrefix: '001',
    fields: [
      idField('Account ID'),
      { name: 'Name', type: 'string', label: 'Account Name', length: 255, required: true, nameField: true },
      {
        name: 'Type',
        type: 'picklist',
        label: 'Account Type',
        length: 255,
        picklistValues: ['Prospect', 'Customer - Direct', 'Customer - Channel', 'Channel Partner / Reseller', 'Installation Partner', 'Technology Partner', 'Other'],
      },
      { name: 'ParentId', type: 'reference', label: 'Parent Account ID', referenceTo: ['Account'], relationshipName: 'Parent', childRelationshipName: 'ChildAccounts' },
      ...address('Billing', 'Billing'),
      ...address('Shipping', 'Shipping'),
      { name: 'Phone', type: 'phone', label: 'Account Phone', length: 40 },
      { name: 'Website', type: 'url', label: 'Website', length: 255 },
      {
        name: 'Industry',
        type: 'picklist',
        label: 'Industry',
        length: 255,
        picklistValues: ['Agriculture', 'Banking', 'Communications', 'Consulting', 'Education', 'Finance', 'Healthcare', 'Manufacturing', 'Media', 'Retail', 'Technology', 'Other'],
      },
      { name: 'AnnualRevenue', type: 'currency', label: 'Annual Revenue', precision: 18, scale: 0 },
      { name: 'NumberOfEmployees', type: 'int', label: 'Employees', precision: 8 },
      { name: 'AccountNumber', type: 'string', label: 'Account Number', length: 40 },
      { name: 'Description', type: 'textarea', label: 'Account Description', length: 32000 },
      owner(),
      ...auditFields(),
    ],
  },
  {
    name: 'Contact',
    label: 'Contact',
    labelPlural: 'Contacts',
    keyPrefix: '003',
    fields: [
      idField('Contact ID'),
      { name: 'AccountId', type: 'reference', label: 'Account ID', referenceTo: ['Account'], relationshipName: 'Account', childRelationshipName: 'Contacts', cascadeDelete: true },
      { name: 'LastName', type: 'string', label: 'Last Name', length: 80, required: true },
      { name: 'FirstName', type: 'string', label: 'First Name', length: 40 },
      { name: 'Salutation', type: 'picklist', label: 'Salutation', length: 40, picklistValues: ['Mr.', 'Ms.', 'Mrs.', 'Dr.', 'Prof.'] },
      { name: 'Name', type: 'string', label: 'Full Name', length: 121, system: true, nameField: true },
      ...address('Mailing', 'Mailing'),
      { name: 'Phone', type: 'phone', label: 'Business Phone', length: 40 },
      { name: 'MobilePhone', type: 'phone', label: 'Mobile Phone', length: 40 },
      { name: 'Email', type: 'email', label: 'Email', length: 80 },
      { name: 'Title', type: 'string', label: 'Title', length: 128 },
      { name: 'Department', type: 'string', label: 'Department', length: 80 },
      { name: 'LeadSource', type: 'picklist', label: 'Lead Source', length: 255, picklistValues: ['Web', 'Phone Inquiry', 'Partner Referral', 'Purchased List', 'Other'] },
      { name: 'HasOptedOutOfEmail', type: 'boolean', label: 'Email Opt Out', defaultValue: false },
      { name: 'Description', type: 'textarea', label: 'Contact Description', length: 32000 },
      owner(),
      ...auditFields(),
    ],
  },
  {
    name: 'Opportunity',
    label: 'Opportunity',
    labelPlural: 'Opportunities',
    keyPrefix: '006',
    fields: [
      idField('Opportunity ID'),
      { name: 'AccountId', type: 'reference', label: 'Account ID', referenceTo: ['Account'], relationshipName: 'Account', childRelationshipName: 'Opportunities', cascadeDelete: true },
      { name: 'Name', type: 'string', label: 'Name', length: 120, required: true, nameField: true },
      { name: 'Description', type: 'textarea', label: 'Description', length: 32000 },
      {
        name: 'StageName',
        type: 'picklist',
        label: 'Stage',
        length: 255,
        required: true,
        picklistValues: ['Prospecting', 'Qualification', 'Needs Analysis', 'Value Proposition', 'Id. Decision Makers', 'Perception Analysis', 'Proposal/Price Quote', 'Negotiation/Review', 'Closed Won', 'Closed Lost'],
      },
      { name: 'Amount', type: 'currency', label: 'Amount', precision: 18, scale: 2 },
      { name: 'Probability', type: 'percent', label: 'Probability (%)', precision: 3, scale: 0 },
      { name: 'CloseDate', type: 'date', label: 'Close Date', required: true },
      { name: 'Type', type: 'picklist', label: 'Opportunity Type', length: 255, picklistValues: ['Existing Customer - Upgrade', 'Existing Customer - Replacement', 'Existing Customer - Downgrade', 'New Customer'] },
      { name: 'NextStep', type: 'string', label: 'Next Step', length: 255 },
      { name: 'LeadSource', type: 'picklist', label: 'Lead Source', length: 255, picklistValues: ['Web', 'Phone Inquiry', 'Partner Referral', 'Purchased List', 'Other'] },
      { name: 'IsClosed', type: 'boolean', label: 'Closed', system: true, defaultValue: false },
      { name: 'IsWon', type: 'boolean', label: 'Won', system: true, defaultValue: false },
      { name: 'ForecastCategoryName', type: 'picklist', label: 'Forecast Category', length: 255, picklistValues: ['Omitted', 'Pipeline', 'Best Case', 'Commit', 'Closed'] },
      owner(),
      ...auditFields(),
    ],
  },
  {
    name: 'Task',
    label: 'Task',
    labelPlural: 'Tasks',
    keyPrefix: '00T',
    fields: [
      idField('Activity ID'),
      { name: 'WhoId', type: 'reference', label: 'Name ID', referenceTo: ['Contact'], relationshipName: 'Who', childRelationshipName: 'Tasks', cascadeDelete: true },
      { name: 'WhatId', type: 'reference', label: 'Related To ID', referenceTo: ['Account', 'Opportunity'], relationshipName: 'What', childRelationshipName: 'Tasks', cascadeDelete: true },
      { name: 'Subject', type: 'combobox', label: 'Subject', length: 255, picklistValues: ['Call', 'Send Letter', 'Send Quote', 'Other'] },
      { name: 'ActivityDate', type: 'date', label: 'Due Date Only' },
      {
        name: 'Status',
        type: 'picklist',
        label: 'Status',
        length: 255,
        required: true,
        defaultValue: 'Not Started',
        picklistValues: ['Not Started', 'In Progress', 'Completed', 'Waiting on someone else', 'Deferred'],
      },
      { name: 'Priority', type: 'picklist', label: 'Priority', length: 40, required: true, defaultValue: 'Normal', picklistValues: ['High', 'Normal', 'Low'] },
      { name: 'Type', type: 'picklist', label: 'Type', length: 255, picklistValues: ['Call', 'Email', 'Meeting', 'Other'] },
      { name: 'TaskSubtype', type: 'picklist', label: 'Task Subtype', length: 255, picklistValues: ['Task', 'Email', 'Call'], defaultValue: 'Task' },
      { name: 'Description', type: 'textarea', label: 'Description', length: 32000 },
      { name: 'IsClosed', type: 'boolean', label: 'Closed', system: true, defaultValue: false },
      owner(),
      ...auditFields(),
    ],
  },
  {
    name: 'User',
    label: 'User',
    labelPlural: 'Users',
    keyPrefix: '005',
    readOnly: true,
    fields: [
      idField('User ID'),
      { name: 'Username', type: 'string', label: 'Username', length: 80, required: true, unique: true },
      { name: 'LastName', type: 'string', label: 'Last Name', length: 80, required: true },
      { name: 'FirstName', type: 'string', label: 'First Name', length: 40 },
      { name: 'Name', type: 'string', label: 'Full Name', length: 121, system: true, nameField: true },
      { name: 'Email', type: 'email', label: 'Email', length: 128, required: true },
      { name: 'Alias', type: 'string', label: 'Alias', length: 8, required: true },
      { name: 'IsActive', type: 'boolean', label: 'Active', defaultValue: true },
      ...auditFields(),
    ],
  },
];

const CUSTOM_NAME = /^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*__c$/;

function humanize(apiName: string): string {
  return apiName
    .replace(/__c$/, '')
    .replace(/_/g, ' ')
    .replace(/([a-z])([A-Z])/g, '$1 $2');
}

function toFieldDef(spec: FieldSpec, custom: boolean): FieldDef {
  const type = spec.type;
  const stringish = isStringType(type);
  const system = spec.system === true;
  const length = stringish ? (spec.length ?? (type === 'textarea' ? 32768 : 255)) : type === 'id' || type === 'reference' ? 18 : 0;
  const precision = isNumberType(type) ? (spec.precision ?? 18) : 0;
  const scale = isNumberType(type) ? (spec.scale ?? (type === 'int' ? 0 : 2)) : 0;
  const hasDefault = spec.defaultValue !== undefined;
  const isOwner = spec.name === 'OwnerId';
  const isBoolean = type === 'boolean';
  const relationshipName =
    type === 'reference' ? (spec.relationshipName ?? (custom ? spec.name.replace(/__c$/, '__r') : null)) : null;
  return {
    name: spec.name,
    lower: spec.name.toLowerCase(),
    label: spec.label ?? humanize(spec.name),
    type,
    length,
    precision,
    scale,
    // Checkboxes are never null; required fields and system fields (other than optional lookups) are not nillable.
    nillable: !(spec.required === true || isBoolean || type === 'id' || (system && spec.name !== 'Name') || isOwner),
    createable: !system && spec.createable !== false,
    updateable: !system && spec.updateable !== false,
    unique: spec.unique === true,
    externalId: spec.externalId === true,
    caseSensitive: spec.caseSensitive === true,
    custom,
    defaultValue: hasDefault ? (spec.defaultValue ?? null) : isBoolean ? false : null,
    defaultedOnCreate: hasDefault || isBoolean || isOwner || system,
    referenceTo: spec.referenceTo ?? [],
    relationshipName,
    childRelationshipName: spec.childRelationshipName ?? null,
    cascadeDelete: spec.cascadeDelete === true,
    picklistValues: spec.picklistValues ?? [],
    restrictedPicklist: spec.restrictedPicklist === true,
    nameField: spec.nameField === true,
    // Long text areas can be neither filtered nor sorted in SOQL.
    filterable: type !== 'textarea' || length <= 255,
    sortable: type !== 'textarea' || length <= 255,
    idLookup: type === 'id' || spec.externalId === true || spec.unique === true || spec.nameField === true,
    calculated: system && (spec.name === 'Name' || spec.name === 'IsClosed' || spec.name === 'IsWon'),
  };
}

function toObjectDef(spec: ObjectSpec): ObjectDef {
  const custom = spec.custom === true;
  const def: ObjectDef = {
    name: spec.name,
    lower: spec.name.toLowerCase(),
    label: spec.label,
    labelPlural: spec.labelPlural,
    keyPrefix: spec.keyPrefix,
    custom,
    readOnly: spec.readOnly === true,
    fields: [],
    fieldsByLower: new Map(),
    relationships: new Map(),
  };
  for (const f of spec.fields) addFieldDef(def, toFieldDef(f, f.name.endsWith('__c')));
  return def;
}

function addFieldDef(obj: ObjectDef, field: FieldDef): void {
  obj.fields.push(field);
  obj.fieldsByLower.set(field.lower, field);
  if (field.relationshipName) obj.relationships.set(field.relationshipName.toLowerCase(), field);
}

const FIELD_TYPES: readonly FieldType[] = [
  'string', 'textarea', 'email', 'url', 'phone', 'picklist', 'multipicklist', 'combobox',
  'boolean', 'int', 'double', 'currency', 'percent', 'date', 'datetime', 'reference',
];

/**
 * The org's metadata: standard objects plus custom fields and objects. Lookups are case-insensitive, as
 * API names are in Salesforce.
 */
export class Schema {
  private readonly byLower = new Map<string, ObjectDef>();
  private readonly byPrefix = new Map<string, ObjectDef>();
  private nextCustomPrefix = 0;

  constructor(private readonly initial: { customObjects?: CustomObjectSpec[]; customFields?: Record<string, CustomFieldSpec[]> } = {}) {
    this.reset();
  }

  /** Back to the standard objects plus what the creation options declared; admin-route additions go. */
  reset(): void {
    this.byLower.clear();
    this.byPrefix.clear();
    this.nextCustomPrefix = 0;
    for (const spec of STANDARD_OBJECTS) this.register(toObjectDef(spec));
    for (const obj of this.initial.customObjects ?? []) this.addObject(obj);
    for (const [objectName, fields] of Object.entries(this.initial.customFields ?? {})) {
      for (const f of fields) this.addField(objectName, f);
    }
  }

  private register(def: ObjectDef): void {
    this.byLower.set(def.lower, def);
    this.byPrefix.set(def.keyPrefix, def);
  }

  objects(): ObjectDef[] {
    return [...this.byLower.values()];
  }

  get(name: string): ObjectDef | undefined {
    return this.byLower.get(name.toLowerCase());
  }

  byKeyPrefix(prefix: string): ObjectDef | undefined {
    return this.byPrefix.get(prefix);
  }

  addObject(spec: CustomObjectSpec): ObjectDef {
    if (typeof spec?.name !== 'string' || !CUSTOM_NAME.test(spec.name)) {
      throw new SchemaDefinitionError('INVALID_NAME', `Custom object names must look like Foo_Bar__c, got ${JSON.stringify(spec?.name)}`);
    }
    if (this.get(spec.name)) throw new SchemaDefinitionError('DUPLICATE_DEVELOPER_NAME', `Object ${spec.name} already exists`);
    // Custom objects get key prefixes a00, a01, ... in creation order.
    const keyPrefix = `a${(this.nextCustomPrefix++).toString(36).toUpperCase().padStart(2, '0')}`;
    const label = spec.label ?? humanize(spec.name);
    const def = toObjectDef({
      name: spec.name,
      label,
      labelPlural: spec.labelPlural ?? `${label}s`,
      keyPrefix,
      custom: true,
      fields: [
        idField('Record ID'),
        { name: 'Name', type: 'string', label: `${label} Name`, length: 80, required: true, nameField: true },
        owner(),
        ...auditFields(),
      ],
    });
    this.register(def);
    for (const f of spec.fields ?? []) this.addField(def.name, f);
    return def;
  }

  addField(objectName: string, spec: CustomFieldSpec): FieldDef {
    const obj = this.get(objectName);
    if (!obj) throw new SchemaDefinitionError('NOT_FOUND', `No object named ${objectName}`);
    if (obj.readOnly) throw new SchemaDefinitionError('INVALID_OBJECT', `Custom fields cannot be added to ${obj.name} in the sandbox`);
    if (typeof spec?.name !== 'string' || !CUSTOM_NAME.test(spec.name)) {
      throw new SchemaDefinitionError('INVALID_NAME', `Custom field names must look like Foo_Bar__c, got ${JSON.stringify(spec?.name)}`);
    }
    if (obj.fieldsByLower.has(spec.name.toLowerCase())) {
      throw new SchemaDefinitionError('DUPLICATE_DEVELOPER_NAME', `Field ${spec.name} already exists on ${obj.name}`);
    }
    if (!FIELD_TYPES.includes(spec.type)) {
      throw new SchemaDefinitionError('INVALID_TYPE', `Unsupported field type ${JSON.stringify(spec.type)}; use one of ${FIELD_TYPES.join(', ')}`);
    }
    const indexable = ['string', 'email', 'int', 'double'].includes(spec.type);
    if ((spec.externalId || spec.unique) && !indexable) {
      throw new SchemaDefinitionError('INVALID_TYPE', `Only text, email and number fields can be unique or external IDs (${spec.name} is ${spec.type})`);
    }
    if (isStringType(spec.type) && spec.length !== undefined) {
      const max = spec.type === 'textarea' ? 131072 : 255;
      if (!Number.isInteger(spec.length) || spec.length < 1 || spec.length > max) {
        throw new SchemaDefinitionError('INVALID_LENGTH', `Length of ${spec.name} must be between 1 and ${max}`);
      }
    }
    if (isNumberType(spec.type)) {
      const precision = spec.precision ?? 18;
      const scale = spec.scale ?? 0;
      if (precision < 1 || precision > 18 || scale < 0 || scale > precision) {
        throw new SchemaDefinitionError('INVALID_PRECISION', `Precision must be 1-18 and scale 0-precision for ${spec.name}`);
      }
    }
    let referenceTo: string[] | undefined;
    if (spec.type === 'reference') {
      const target = spec.referenceTo ? this.get(spec.referenceTo) : undefined;
      if (!target) throw new SchemaDefinitionError('INVALID_REFERENCE', `Lookup ${spec.name} needs referenceTo naming an existing object`);
      referenceTo = [target.name];
    }
    if ((spec.type === 'picklist' || spec.type === 'multipicklist') && (!Array.isArray(spec.picklistValues) || spec.picklistValues.length === 0)) {
      throw new SchemaDefinitionError('INVALID_PICKLIST', `Picklist ${spec.name} needs picklistValues`);
    }
    const fieldSpec: FieldSpec = {
      name: spec.name,
      type: spec.type,
      ...(spec.label !== undefined ? { label: spec.label } : {}),
      ...(spec.length !== undefined ? { length: spec.length } : {}),
      ...(isNumberType(spec.type) ? { precision: spec.precision ?? 18, scale: spec.scale ?? 0 } : {}),
      ...(spec.required !== undefined ? { required: spec.required } : {}),
      ...(spec.unique !== undefined ? { unique: spec.unique } : {}),
      ...(spec.externalId !== undefined ? { externalId: spec.externalId } : {}),
      ...(spec.caseSensitive !== undefined ? { caseSensitive: spec.caseSensitive } : {}),
      ...(spec.defaultValue !== undefined ? { defaultValue: spec.defaultValue } : {}),
      ...(referenceTo ? { referenceTo } : {}),
      ...(spec.relationshipName !== undefined ? { relationshipName: spec.relationshipName } : {}),
      ...(spec.picklistValues !== undefined ? { picklistValues: spec.picklistValues } : {}),
      ...(spec.restrictedPicklist !== undefined ? { restrictedPicklist: spec.restrictedPicklist } : {}),
    };
    const def = toFieldDef(fieldSpec, true);
    addFieldDef(obj, def);
    return def;
  }

  /** Child relationships of an object: every reference field elsewhere that points at it. */
  childRelationships(obj: ObjectDef): Array<{ child: ObjectDef; field: FieldDef }> {
    const out: Array<{ child: ObjectDef; field: FieldDef }> = [];
    for (const other of this.byLower.values()) {
      for (const f of other.fields) {
        if (f.type === 'reference' && f.referenceTo.includes(obj.name)) out.push({ child: other, field: f });
      }
    }
    return out;
  }
}

// --- describe output -------------------------------------------------------------------------------

const SOAP_TYPES: Record<FieldType, string> = {
  id: 'tns:ID',
  reference: 'tns:ID',
  string: 'xsd:string',
  textarea: 'xsd:string',
  email: 'xsd:string',
  url: 'xsd:string',
  phone: 'xsd:string',
  picklist: 'xsd:string',
  multipicklist: 'xsd:string',
  combobox: 'xsd:string',
  boolean: 'xsd:boolean',
  int: 'xsd:int',
  double: 'xsd:double',
  currency: 'xsd:double',
  percent: 'xsd:double',
  date: 'xsd:date',
  datetime: 'xsd:dateTime',
};

export function describeField(f: FieldDef): Record<string, unknown> {
  return {
    aggregatable: f.type !== 'textarea',
    autoNumber: false,
    byteLength: isStringType(f.type) || isIdType(f.type) ? f.length * 3 : 0,
    calculated: f.calculated,
    caseSensitive: f.caseSensitive,
    createable: f.createable,
    custom: f.custom,
    defaultValue: f.type === 'boolean' ? f.defaultValue : null,
    defaultValueFormula: null,
    defaultedOnCreate: f.defaultedOnCreate,
    dependentPicklist: false,
    deprecatedAndHidden: false,
    digits: f.type === 'int' ? f.precision : 0,
    externalId: f.externalId,
    filterable: f.filterable,
    groupable: f.sortable && !['double', 'currency', 'percent', 'datetime'].includes(f.type),
    idLookup: f.idLookup,
    label: f.label,
    length: f.length,
    name: f.name,
    nameField: f.nameField,
    nillable: f.nillable,
    permissionable: f.custom && f.nillable,
    picklistValues: f.picklistValues.map((value) => ({
      active: true,
      defaultValue: f.defaultValue === value,
      label: value,
      validFor: null,
      value,
    })),
    polymorphicForeignKey: f.referenceTo.length > 1,
    precision: f.type === 'int' ? 0 : f.precision,
    referenceTo: f.referenceTo,
    relationshipName: f.relationshipName,
    restrictedPicklist: f.restrictedPicklist,
    scale: f.scale,
    soapType: SOAP_TYPES[f.type],
    sortable: f.sortable,
    type: f.type,
    unique: f.unique,
    updateable: f.updateable,
  };
}

export function objectUrls(obj: ObjectDef, version: string): Record<string, string> {
  const base = `/services/data/v${version}/sobjects/${obj.name}`;
  return { sobject: base, describe: `${base}/describe`, rowTemplate: `${base}/{ID}` };
}

export function describeGlobalEntry(obj: ObjectDef, version: string): Record<string, unknown> {
  const writable = !obj.readOnly;
  return {
    activateable: false,
    createable: writable,
    custom: obj.custom,
    customSetting: false,
    deepCloneable: false,
    deletable: writable,
    deprecatedAndHidden: false,
    feedEnabled: !obj.custom,
    hasSubtypes: false,
    isInterface: false,
    isSubtype: false,
    keyPrefix: obj.keyPrefix,
    label: obj.label,
    labelPlural: obj.labelPlural,
    layoutable: true,
    mergeable: obj.name === 'Account' || obj.name === 'Contact',
    mruEnabled: true,
    name: obj.name,
    queryable: true,
    replicateable: true,
    retrieveable: true,
    searchable: true,
    triggerable: true,
    undeletable: writable,
    updateable: writable,
    urls: objectUrls(obj, version),
  };
}

export function describeObject(schema: Schema, obj: ObjectDef, version: string): Record<string, unknown> {
  return {
    ...describeGlobalEntry(obj, version),
    actionOverrides: [],
    childRelationships: schema.childRelationships(obj).map(({ child, field }) => ({
      cascadeDelete: field.cascadeDelete,
      childSObject: child.name,
      deprecatedAndHidden: false,
      field: field.name,
      junctionIdListNames: [],
      junctionReferenceTo: [],
      relationshipName: field.childRelationshipName,
      restrictedDelete: false,
    })),
    compactLayoutable: true,
    fields: obj.fields.map(describeField),
    listviewable: null,
    lookupLayoutable: null,
    namedLayoutInfos: [],
    networkScopeFieldName: null,
    recordTypeInfos: [],
    searchLayoutable: true,
    supportedScopes: [{ label: 'All', name: 'everything' }, { label: 'Mine', name: 'mine' }],
    urls: {
      ...objectUrls(obj, version),
      compactLayouts: `/services/data/v${version}/sobjects/${obj.name}/describe/compactLayouts`,
      listviews: `/services/data/v${version}/sobjects/${obj.name}/listviews`,
    },
  };
}
