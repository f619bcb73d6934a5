import {
  HubSpotApiError,
  invalidInput,
  missingAttributes,
  notFoundError,
  propertyResult,
  validationError,
  type PropertyValidationResult,
} from './errors.js';
import { OBJECT_TYPE_LIST, type ObjectTypeDef, type ObjectTypeName, type ObjectTypeRegistry, type StandardObjectTypeName } from './object-types.js';
import { isRecord } from './json.js';

export const PROPERTY_TYPES = ['bool', 'date', 'datetime', 'enumeration', 'number', 'phone_number', 'string'] as const;
export type PropertyType = (typeof PROPERTY_TYPES)[number];

export const FIELD_TYPES = [
  'booleancheckbox',
  'calculation_equation',
  'checkbox',
  'date',
  'file',
  'html',
  'number',
  'phonenumber',
  'radio',
  'select',
  'text',
  'textarea',
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** Which field types each property type may be shown with (HubSpot's properties guide). */
const FIELD_TYPES_BY_TYPE: Record<PropertyType, readonly FieldType[]> = {
  bool: ['booleancheckbox', 'radio', 'select', 'calculation_equation'],
  enumeration: ['checkbox', 'radio', 'select', 'booleancheckbox', 'calculation_equation'],
  date: ['date'],
  datetime: ['date'],
  string: ['text', 'textarea', 'file', 'html', 'phonenumber', 'calculation_equation'],
  number: ['number', 'calculation_equation'],
  phone_number: ['phonenumber'],
};

/** HubSpot allows at most ten unique-value custom properties per object. */
export const MAX_UNIQUE_PROPERTIES = 10;

export interface PropertyOption {
  label: string;
  value: string;
  hidden: boolean;
  displayOrder: number;
  description?: string;
}

export interface PropertyDefinition {
  name: string;
  label: string;
  type: PropertyType;
  fieldType: FieldType;
  groupName: string;
  description: string;
  options: PropertyOption[];
  displayOrder: number;
  hasUniqueValue: boolean;
  hidden: boolean;
  formField: boolean;
  calculated: boolean;
  externalOptions: boolean;
  hubspotDefined: boolean;
  readOnlyValue: boolean;
  readOnlyDefinition: boolean;
  archivable: boolean;
  archived: boolean;
  archivedAt?: Date;
  createdAt: Date;
  updatedAt: Date;
  textDisplayHint?: string;
  numberDisplayHint?: string;
  showCurrencySymbol?: boolean;
}

export interface PropertyGroup {
  name: string;
  label: string;
  displayOrder: number;
  archived: boolean;
}

type DefaultSpec = Pick<PropertyDefinition, 'name' | 'label' | 'type' | 'fieldType'> &
  Partial<Omit<PropertyDefinition, 'name' | 'label' | 'type' | 'fieldType'>> & { optionValues?: readonly string[] };

const ownerProperty: DefaultSpec = {
  name: 'hubspot_owner_id',
  label: 'Owner',
  type: 'enumeration',
  fieldType: 'select',
  externalOptions: true,
};
const objectIdProperty: DefaultSpec = {
  name: 'hs_object_id',
  label: 'Record ID',
  type: 'number',
  fieldType: 'number',
  readOnlyValue: true,
  hasUniqueValue: true,
};
const mergedIdsProperty: DefaultSpec = {
  name: 'hs_merged_object_ids',
  label: 'Merged record IDs',
  type: 'enumeration',
  fieldType: 'checkbox',
  readOnlyValue: true,
  externalOptions: true,
};
const readOnlyDateTime = (name: string, label: string): DefaultSpec => ({
  name,
  label,
  type: 'datetime',
  fieldType: 'date',
  readOnlyValue: true,
});
const lifecycleStage: DefaultSpec = {
  name: 'lifecyclestage',
  label: 'Lifecycle Stage',
  type: 'enumeration',
  fieldType: 'radio',
  optionValues: [
    'subscriber',
    'lead',
    'marketingqualifiedlead',
    'salesqualifiedlead',
    'opportunity',
    'customer',
    'evangelist',
    'other',
  ],
};
const text = (name: string, label: string, extra: Partial<DefaultSpec> = {}): DefaultSpec => ({
  name,
  label,
  type: 'string',
  fieldType: 'text',
  ...extra,
});

/** The HubSpot-defined properties each standard object starts with; custom ones come from the Properties API. */
const DEFAULT_PROPERTIES: Record<StandardObjectTypeName, DefaultSpec[]> = {
  contacts: [
    text('email', 'Email', { textDisplayHint: 'email' }),
    text('firstname', 'First Name'),
    text('lastname', 'Last Name'),
    text('phone', 'Phone Number', { fieldType: 'phonenumber', textDisplayHint: 'phone_number' }),
    text('mobilephone', 'Mobile Phone Number', { fieldType: 'phonenumber', textDisplayHint: 'phone_number' }),
    text('company', 'Company Name'),
    text('website', 'Website URL'),
    text('jobtitle', 'Job Title'),
    text('city', 'City'),
    text('country', 'Country/Region'),
    text('hs_additional_emails', 'Additional email addresses', { fieldType: 'textarea', readOnlyValue: true }),
    lifecycleStage,
    ownerProperty,
    { name: 'createdate', label: 'Create Date', type: 'datetime', fieldType: 'date' },
    readOnlyDateTime('lastmodifieddate', 'Last Modified Date'),
    objectIdProperty,
    mergedIdsProperty,
  ],
  companies: [
    text('name', 'Company name'),
    text('domain', 'Company Domain Name', { textDisplayHint: 'domain_name' }),
    text('website', 'Website URL'),
    text('phone', 'Phone Number', { fieldType: 'phonenumber', textDisplayHint: 'phone_number' }),
    text('city', 'City'),
    text('country', 'Country/Region'),
    text('description', 'Description', { fieldType: 'textarea' }),
    { name: 'numberofemployees', label: 'Number of Employees', type: 'number', fieldType: 'number' },
    {
      name: 'annualrevenue',
      label: 'Annual Revenue',
      type: 'number',
      fieldType: 'number',
      numberDisplayHint: 'currency',
      showCurrencySymbol: true,
    },
    {
      name: 'type',
      label: 'Type',
      type: 'enumeration',
      fieldType: 'select',
      optionValues: ['PROSPECT', 'PARTNER', 'RESELLER', 'VENDOR', 'OTHER'],
    },
    lifecycleStage,
    ownerProperty,
    { name: 'createdate', label: 'Create Date', type: 'datetime', fieldType: 'date' },
    readOnlyDateTime('hs_lastmodifieddate', 'Last Modified Date'),
    objectIdProperty,
    mergedIdsProperty,
  ],
  deals: [
    text('dealname', 'Deal Name'),
    {
      name: 'amount',
      label: 'Amount',
      type: 'number',
      fieldType: 'number',
      numberDisplayHint: 'currency',
      showCurrencySymbol: true,
    },
    {
      name: 'dealstage',
      label: 'Deal Stage',
      type: 'enumeration',
      fieldType: 'radio',
      optionValues: [
        'appointmentscheduled',
        'qualifiedtobuy',
        'presentationscheduled',
        'decisionmakerboughtin',
        'contractsent',
        'closedwon',
        'closedlost',
      ],
    },
    { name: 'pipeline', label: 'Pipeline', type: 'enumeration', fieldType: 'select', optionValues: ['default'] },
    { name: 'closedate', label: 'Close Date', type: 'datetime', fieldType: 'date' },
    {
      name: 'dealtype',
      label: 'Deal Type',
      type: 'enumeration',
      fieldType: 'radio',
      optionValues: ['newbusiness', 'existingbusiness'],
    },
    text('description', 'Deal Description', { fieldType: 'textarea' }),
    text('deal_currency_code', 'Currency'),
    ownerProperty,
    { name: 'createdate', label: 'Create Date', type: 'datetime', fieldType: 'date' },
    readOnlyDateTime('hs_lastmodifieddate', 'Last Modified Date'),
    objectIdProperty,
    mergedIdsProperty,
  ],
  notes: [
    { name: 'hs_timestamp', label: 'Activity date', type: 'datetime', fieldType: 'date' },
    text('hs_note_body', 'Note body', { fieldType: 'html' }),
    text('hs_attachment_ids', 'Attached file IDs'),
    ownerProperty,
    readOnlyDateTime('hs_createdate', 'Created at'),
    readOnlyDateTime('hs_lastmodifieddate', 'Last Modified Date'),
    objectIdProperty,
  ],
  tasks: [
    { name: 'hs_timestamp', label: 'Due date', type: 'datetime', fieldType: 'date' },
    text('hs_task_subject', 'Task Title'),
    text('hs_task_body', 'Notes', { fieldType: 'html' }),
    {
      name: 'hs_task_status',
      label: 'Task Status',
      type: 'enumeration',
      fieldType: 'select',
      optionValues: ['NOT_STARTED', 'IN_PROGRESS', 'WAITING', 'COMPLETED', 'DEFERRED'],
    },
    {
      name: 'hs_task_priority',
      label: 'Priority',
      type: 'enumeration',
      fieldType: 'select',
      optionValues: ['NONE', 'LOW', 'MEDIUM', 'HIGH'],
    },
    {
      name: 'hs_task_type',
      label: 'Task Type',
      type: 'enumeration',
      fieldType: 'select',
      optionValues: ['EMAIL', 'CALL', 'TODO', 'LINKED_IN'],
    },
    ownerProperty,
    readOnlyDateTime('hs_createdate', 'Created at'),
    readOnlyDateTime('hs_lastmodifieddate', 'Last Modified Date'),
    objectIdProperty,
  ],
};

const DEFAULT_GROUP_LABELS: Record<StandardObjectTypeName, string> = {
  contacts: 'Contact information',
  companies: 'Company information',
  deals: 'Deal information',
  notes: 'Note information',
  tasks: 'Task information',
};

/** The HubSpot-defined properties every custom object starts with, beside those its schema defines. */
const CUSTOM_OBJECT_DEFAULTS: DefaultSpec[] = [
  ownerProperty,
  readOnlyDateTime('hs_createdate', 'Object create date/time'),
  readOnlyDateTime('hs_lastmodifieddate', 'Object last modified date/time'),
  objectIdProperty,
];

function buildDefault(spec: DefaultSpec, def: ObjectTypeDef, order: number, at: Date): PropertyDefinition {
  const { optionValues, ...rest } = spec;
  const options =
    spec.type === 'bool'
      ? boolOptions()
      : (optionValues ?? []).map((value, i) => ({ label: value, value, hidden: false, displayOrder: i }));
  return {
    groupName: def.defaultGroup,
    description: '',
    options,
    displayOrder: order,
    hasUniqueValue: false,
    hidden: false,
    formField: false,
    calculated: false,
    externalOptions: false,
    hubspotDefined: true,
    readOnlyValue: false,
    readOnlyDefinition: true,
    archivable: false,
    archived: false,
    createdAt: at,
    updatedAt: at,
    ...rest,
  };
}

const boolOptions = (): PropertyOption[] => [
  { label: 'Yes', value: 'true', hidden: false, displayOrder: 0 },
  { label: 'No', value: 'false', hidden: false, displayOrder: 1 },
];

export function serializeProperty(p: PropertyDefinition): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: p.name,
    label: p.label,
    type: p.type,
    fieldType: p.fieldType,
    description: p.description,
    groupName: p.groupName,
    options: p.options.map((o) => ({ ...o })),
    displayOrder: p.displayOrder,
    calculated: p.calculated,
    externalOptions: p.externalOptions,
    hasUniqueValue: p.hasUniqueValue,
    hidden: p.hidden,
    hubspotDefined: p.hubspotDefined,
    formField: p.formField,
    dataSensitivity: 'non_sensitive',
    archived: p.archived,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
    modificationMetadata: {
      archivable: p.archivable,
      readOnlyDefinition: p.readOnlyDefinition,
      readOnlyValue: p.readOnlyValue,
    },
  };
  if (p.archivedAt) body.archivedAt = p.archivedAt.toISOString();
  if (p.textDisplayHint !== undefined) body.textDisplayHint = p.textDisplayHint;
  if (p.numberDisplayHint !== undefined) body.numberDisplayHint = p.numberDisplayHint;
  if (p.showCurrencySymbol !== undefined) body.showCurrencySymbol = p.showCurrencySymbol;
  return body;
}

export const serializeGroup = (g: PropertyGroup): Record<string, unknown> => ({ ...g });

const NAME_PATTERN = /^[a-z][a-z0-9_]*$/;

/**
 * Property definitions and groups for every object type, seeded with HubSpot's defaults: the standard
 * objects at reset, a custom object when its schema is created.
 */
export class PropertyRegistry {
  private properties = new Map<ObjectTypeName, Map<string, PropertyDefinition>>();
  private groups = new Map<ObjectTypeName, Map<string, PropertyGroup>>();

  constructor(
    private readonly now: () => Date,
    private readonly types: ObjectTypeRegistry,
  ) {
    this.reset();
  }

  reset(): void {
    this.properties = new Map();
    this.groups = new Map();
    for (const def of OBJECT_TYPE_LIST) {
      this.seed(def, DEFAULT_PROPERTIES[def.name as StandardObjectTypeName], DEFAULT_GROUP_LABELS[def.name as StandardObjectTypeName]);
    }
  }

  /** A new custom object's HubSpot-defined properties and its default group (`<name>_information`). */
  addObjectType(def: ObjectTypeDef, groupLabel: string): void {
    this.seed(def, CUSTOM_OBJECT_DEFAULTS, groupLabel);
  }

  /** A purged custom object's definitions go with it. */
  removeObjectType(name: ObjectTypeName): void {
    this.properties.delete(name);
    this.groups.delete(name);
  }

  private seed(def: ObjectTypeDef, specs: readonly DefaultSpec[], groupLabel: string): void {
    const at = this.now();
    const props = new Map<string, PropertyDefinition>();
    specs.forEach((spec, i) => props.set(spec.name, buildDefault(spec, def, i, at)));
    this.properties.set(def.name, props);
    this.groups.set(def.name, new Map([[def.defaultGroup, { name: def.defaultGroup, label: groupLabel, displayOrder: 0, archived: false }]]));
  }

  private typeId(type: ObjectTypeName): string {
    return this.types.get(type).typeId;
  }

  private propsOf(type: ObjectTypeName): Map<string, PropertyDefinition> {
    const props = this.properties.get(type);
    if (!props) throw new Error(`no property registry for ${type}`);
    return props;
  }

  private groupsOf(type: ObjectTypeName): Map<string, PropertyGroup> {
    const groups = this.groups.get(type);
    if (!groups) throw new Error(`no group registry for ${type}`);
    return groups;
  }

  /** The live definition, or undefined when it never existed or was archived. */
  get(type: ObjectTypeName, name: string): PropertyDefinition | undefined {
    const p = this.propsOf(type).get(name);
    return p && !p.archived ? p : undefined;
  }

  getIncludingArchived(type: ObjectTypeName, name: string): PropertyDefinition | undefined {
    return this.propsOf(type).get(name);
  }

  list(type: ObjectTypeName, archived = false): PropertyDefinition[] {
    return [...this.propsOf(type).values()].filter((p) => p.archived === archived);
  }

  /** Names of live properties whose values must be unique (hs_object_id included). */
  uniqueNames(type: ObjectTypeName): string[] {
    return this.list(type).filter((p) => p.hasUniqueValue).map((p) => p.name);
  }

  create(type: ObjectTypeName, input: unknown): PropertyDefinition {
    if (!isRecord(input)) throw invalidInput('Cannot build PropertyCreate, body must be a JSON object');
    const missing = ['fieldType', 'groupName', 'label', 'name', 'type'].filter((k) => typeof input[k] !== 'string');
    if (missing.length > 0) throw missingAttributes('PropertyCreate', missing);
    const name = input.name as string;
    const propertyType = parseEnum(input.type, PROPERTY_TYPES, 'PropertyType');
    const fieldType = parseEnum(input.fieldType, FIELD_TYPES, 'FieldType');
    const existing = this.propsOf(type).get(name);
    if (existing && !existing.archived) {
      throw new HubSpotApiError(409, 'OBJECT_ALREADY_EXISTS', `Property named '${name}' already exists.`);
    }
    if (existing?.hubspotDefined) {
      throw validationError(`Property named '${name}' is a HubSpot-defined property and cannot be recreated.`);
    }
    if (!NAME_PATTERN.test(name)) {
      throw validationError(
        `Property name '${name}' is invalid: names must start with a lowercase letter and contain only lowercase letters, numbers and underscores.`,
      );
    }
    if (name.startsWith('hs_')) {
      throw validationError(`Property name '${name}' is invalid: the prefix 'hs_' is reserved for HubSpot-defined properties.`);
    }
    checkFieldType(propertyType, fieldType);
    const groupName = input.groupName as string;
    if (!this.groupsOf(type).get(groupName) || this.groupsOf(type).get(groupName)?.archived) {
      throw validationError(`Property group '${groupName}' does not exist for object type ${this.typeId(type)}.`);
    }
    const hasUniqueValue = optionalBoolean(input, 'hasUniqueValue') ?? false;
    if (hasUniqueValue) {
      if (propertyType !== 'string' && propertyType !== 'number') {
        throw validationError(`Only string and number properties can require unique values; '${name}' is ${propertyType}.`);
      }
      const customUnique = this.list(type).filter((p) => p.hasUniqueValue && !p.hubspotDefined).length;
      if (customUnique >= MAX_UNIQUE_PROPERTIES) {
        throw validationError(
          `Object type ${this.typeId(type)} already has the maximum of ${MAX_UNIQUE_PROPERTIES} unique value properties.`,
        );
      }
    }
    const at = this.now();
    const prop: PropertyDefinition = {
      name,
      label: input.label as string,
      type: propertyType,
      fieldType,
      groupName,
      description: optionalString(input, 'description') ?? '',
      options: propertyType === 'bool' && input.options === undefined ? boolOptions() : parseOptions(input.options),
      displayOrder: optionalInteger(input, 'displayOrder') ?? -1,
      hasUniqueValue,
      hidden: optionalBoolean(input, 'hidden') ?? false,
      formField: optionalBoolean(input, 'formField') ?? false,
      calculated: fieldType === 'calculation_equation',
      externalOptions: optionalBoolean(input, 'externalOptions') ?? false,
      hubspotDefined: false,
      readOnlyValue: fieldType === 'calculation_equation',
      readOnlyDefinition: false,
      archivable: true,
      archived: false,
      createdAt: at,
      updatedAt: at,
    };
    const textDisplayHint = optionalString(input, 'textDisplayHint');
    if (textDisplayHint !== undefined) prop.textDisplayHint = textDisplayHint;
    const numberDisplayHint = optionalString(input, 'numberDisplayHint');
    if (numberDisplayHint !== undefined) prop.numberDisplayHint = numberDisplayHint;
    const showCurrencySymbol = optionalBoolean(input, 'showCurrencySymbol');
    if (showCurrencySymbol !== undefined) prop.showCurrencySymbol = showCurrencySymbol;
    this.propsOf(type).set(name, prop);
    return prop;
  }

  update(type: ObjectTypeName, name: string, input: unknown): PropertyDefinition {
    const prop = this.get(type, name);
    if (!prop) throw notFoundError(`Unable to find property ${name} for object type ${this.typeId(type)}`);
    if (!isRecord(input)) throw invalidInput('Cannot build PropertyUpdate, body must be a JSON object');
    if (prop.readOnlyDefinition) {
      throw validationError(`Property '${name}' is HubSpot-defined and its definition is read-only.`);
    }
    const nextType = input.type === undefined ? prop.type : parseEnum(input.type, PROPERTY_TYPES, 'PropertyType');
    const nextFieldType =
      input.fieldType === undefined ? prop.fieldType : parseEnum(input.fieldType, FIELD_TYPES, 'FieldType');
    checkFieldType(nextType, nextFieldType);
    const groupName = optionalString(input, 'groupName');
    if (groupName !== undefined && !this.groupsOf(type).get(groupName)) {
      throw validationError(`Property group '${groupName}' does not exist for object type ${this.typeId(type)}.`);
    }
    prop.type = nextType;
    prop.fieldType = nextFieldType;
    if (groupName !== undefined) prop.groupName = groupName;
    prop.label = optionalString(input, 'label') ?? prop.label;
    prop.description = optionalString(input, 'description') ?? prop.description;
    prop.displayOrder = optionalInteger(input, 'displayOrder') ?? prop.displayOrder;
    prop.hidden = optionalBoolean(input, 'hidden') ?? prop.hidden;
    prop.formField = optionalBoolean(input, 'formField') ?? prop.formField;
    if (input.options !== undefined) prop.options = parseOptions(input.options);
    prop.updatedAt = this.now();
    return prop;
  }

  /** Drops a definition that was created but must not stand (its creation is being rolled back). */
  discard(type: ObjectTypeName, name: string): void {
    this.propsOf(type).delete(name);
  }

  archive(type: ObjectTypeName, name: string): void {
    const prop = this.get(type, name);
    if (!prop) throw notFoundError(`Unable to find property ${name} for object type ${this.typeId(type)}`);
    if (!prop.archivable) throw validationError(`Property '${name}' is HubSpot-defined and cannot be archived.`);
    prop.archived = true;
    prop.archivedAt = this.now();
    prop.updatedAt = prop.archivedAt;
  }

  listGroups(type: ObjectTypeName): PropertyGroup[] {
    return [...this.groupsOf(type).values()].filter((g) => !g.archived);
  }

  getGroup(type: ObjectTypeName, name: string): PropertyGroup {
    const group = this.groupsOf(type).get(name);
    if (!group || group.archived) {
      throw notFoundError(`Unable to find property group ${name} for object type ${this.typeId(type)}`);
    }
    return group;
  }

  createGroup(type: ObjectTypeName, input: unknown): PropertyGroup {
    if (!isRecord(input)) throw invalidInput('Cannot build PropertyGroupCreate, body must be a JSON object');
    const missing = ['label', 'name'].filter((k) => typeof input[k] !== 'string');
    if (missing.length > 0) throw missingAttributes('PropertyGroupCreate', missing);
    const name = input.name as string;
    const existing = this.groupsOf(type).get(name);
    if (existing && !existing.archived) {
      throw new HubSpotApiError(409, 'OBJECT_ALREADY_EXISTS', `Property group named '${name}' already exists.`);
    }
    if (!NAME_PATTERN.test(name)) {
      throw validationError(`Property group name '${name}' is invalid: use lowercase letters, numbers and underscores.`);
    }
    const group: PropertyGroup = {
      name,
      label: input.label as string,
      displayOrder: optionalInteger(input, 'displayOrder') ?? -1,
      archived: false,
    };
    this.groupsOf(type).set(name, group);
    return group;
  }

  updateGroup(type: ObjectTypeName, name: string, input: unknown): PropertyGroup {
    const group = this.getGroup(type, name);
    if (!isRecord(input)) throw invalidInput('Cannot build PropertyGroupUpdate, body must be a JSON object');
    group.label = optionalString(input, 'label') ?? group.label;
    group.displayOrder = optionalInteger(input, 'displayOrder') ?? group.displayOrder;
    return group;
  }

  archiveGroup(type: ObjectTypeName, name: string): void {
    const group = this.getGroup(type, name);
    if (name === this.types.get(type).defaultGroup) {
      throw validationError(`Property group '${name}' is HubSpot-defined and cannot be archived.`);
    }
    if (this.list(type).some((p) => p.groupName === name)) {
      throw validationError(`Property group '${name}' still contains properties; move or archive them first.`);
    }
    group.archived = true;
  }
}

function checkFieldType(type: PropertyType, fieldType: FieldType): void {
  if (!FIELD_TYPES_BY_TYPE[type].includes(fieldType)) {
    throw validationError(
      `Invalid fieldType '${fieldType}' for property type '${type}'; allowed: ${FIELD_TYPES_BY_TYPE[type].join(', ')}`,
    );
  }
}

function parseEnum<T extends string>(raw: unknown, allowed: readonly T[], typeName: string): T {
  if (typeof raw === 'string' && (allowed as readonly string[]).includes(raw)) return raw as T;
  throw invalidInput(
    `Cannot deserialize value of type \`${typeName}\` from String ${JSON.stringify(raw)}: not one of the values accepted for Enum class: [${allowed.join(', ')}]`,
  );
}

function parseOptions(raw: unknown): PropertyOption[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw invalidInput('Cannot deserialize `options`: expected an array of OptionInput');
  return raw.map((o: unknown, i) => {
    if (!isRecord(o)) throw invalidInput('Cannot build OptionInput, an option must be a JSON object');
    const missing = ['label', 'value'].filter((k) => typeof o[k] !== 'string');
    if (typeof o.hidden !== 'boolean') missing.push('hidden');
    if (missing.length > 0) throw missingAttributes('OptionInput', missing);
    const option: PropertyOption = {
      label: o.label as string,
      value: o.value as string,
      hidden: o.hidden as boolean,
      displayOrder: optionalInteger(o, 'displayOrder') ?? i,
    };
    const description = optionalString(o, 'description');
    if (description !== undefined) option.description = description;
    return option;
  });
}

function optionalString(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidInput(`Cannot deserialize \`${key}\`: expected a string`);
  return v;
}

function optionalBoolean(o: Record<string, unknown>, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidInput(`Cannot deserialize \`${key}\`: expected a boolean`);
  return v;
}

function optionalInteger(o: Record<string, unknown>, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidInput(`Cannot deserialize \`${key}\`: expected an integer`);
  return v;
}

/** What writing one raw value to a property means: a normalized string, a clear, or a validation failure. */
export type ValueOutcome = { kind: 'set'; value: string } | { kind: 'clear' } | { kind: 'invalid'; result: PropertyValidationResult };

const NUMBER_PATTERN = /^-?(\d+\.?\d*|\.\d+)$/;
const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const DAY_MS = 86_400_000;

/**
 * Validates and normalizes one incoming value the way HubSpot stores it: every value is a string, an
 * empty string clears the property, numbers lose redundant zeros, datetimes become ISO 8601 and dates
 * `YYYY-MM-DD`. Since 2025 HubSpot rejects surrounding whitespace on non-string properties, so no
 * trimming happens here.
 */
export function normalizeValue(
  prop: PropertyDefinition,
  raw: string,
  portalId: number,
  context: { ownerExists: (id: string) => boolean; objectType: ObjectTypeName },
): ValueOutcome {
  if (raw === '') return { kind: 'clear' };
  const invalid = (error: string, message: string): ValueOutcome => ({
    kind: 'invalid',
    result: propertyResult(prop.name, error, message, portalId, raw),
  });
  switch (prop.type) {
    case 'string':
    case 'phone_number': {
      if (context.objectType === 'contacts' && prop.name === 'email') {
        if (!EMAIL_PATTERN.test(raw)) return invalid('INVALID_EMAIL', `Email address ${raw} is invalid`);
        // HubSpot stores contact emails lower-cased, which is also what makes them unique case-insensitively.
        return { kind: 'set', value: raw.toLowerCase() };
      }
      return { kind: 'set', value: raw };
    }
    case 'number': {
      if (!NUMBER_PATTERN.test(raw)) return invalid('INVALID_INTEGER', `${raw} was not a valid number.`);
      return { kind: 'set', value: canonicalNumber(raw) };
    }
    case 'bool': {
      const lower = raw.toLowerCase();
      if (lower !== 'true' && lower !== 'false') {
        return invalid('INVALID_OPTION', `${raw} was not one of the allowed options: [true, false]`);
      }
      return { kind: 'set', value: lower };
    }
    case 'enumeration': {
      if (prop.name === 'hubspot_owner_id') {
        return context.ownerExists(raw)
          ? { kind: 'set', value: raw }
          : invalid('INVALID_OWNER_ID', `${raw} is not a valid owner id`);
      }
      if (prop.externalOptions) return { kind: 'set', value: raw };
      const allowed = prop.options.map((o) => o.value);
      // Multiple checkboxes hold a semicolon-separated list; every member must be an option.
      const values = prop.fieldType === 'checkbox' ? raw.split(';') : [raw];
      const bad = values.find((v) => !allowed.includes(v));
      if (bad !== undefined) {
        return invalid('INVALID_OPTION', `${bad} was not one of the allowed options: [${allowed.join(', ')}]`);
      }
      return { kind: 'set', value: values.join(';') };
    }
    case 'datetime': {
      const ms = parseInstant(raw);
      if (ms === undefined) return invalid('INVALID_DATE', `${raw} was not a valid date-time: use epoch milliseconds or ISO 8601.`);
      return { kind: 'set', value: new Date(ms).toISOString() };
    }
    case 'date': {
      const ms = parseInstant(raw);
      if (ms === undefined) return invalid('INVALID_DATE', `${raw} was not a valid date: use YYYY-MM-DD or midnight UTC in epoch milliseconds.`);
      if (ms % DAY_MS !== 0) {
        const iso = new Date(ms).toISOString();
        return invalid('INVALID_DATE', `${raw} is at ${iso.slice(11, 23)} UTC, not midnight!`);
      }
      return { kind: 'set', value: new Date(ms).toISOString().slice(0, 10) };
    }
  }
}

/** Epoch milliseconds or ISO 8601; anything else is not an instant HubSpot accepts. */
export function parseInstant(raw: string): number | undefined {
  if (/^-?\d+$/.test(raw)) {
    const ms = Number(raw);
    return Number.isSafeInteger(ms) ? ms : undefined;
  }
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw)) return undefined;
  const ms = Date.parse(raw.length === 10 ? `${raw}T00:00:00Z` : raw);
  return Number.isNaN(ms) ? undefined : ms;
}

function canonicalNumber(raw: string): string {
  let [intPart = '0', frac = ''] = raw.replace(/^-/, '').split('.');
  intPart = intPart.replace(/^0+(?=\d)/, '') || '0';
  frac = frac.replace(/0+$/, '');
  const negative = raw.startsWith('-') && !(intPart === '0' && frac === '');
  return `${negative ? '-' : ''}${intPart}${frac ? `.${frac}` : ''}`;
}
