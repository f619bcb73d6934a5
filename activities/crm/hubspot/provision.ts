import type { Client } from '@hubspot/api-client';
import type { PropertyCreate } from '@hubspot/api-client/lib/codegen/crm/properties/index.js';
import type { CrmFieldType, CrmPropertyDefinition } from '../../../domain/crm-field-names.js';
import type { ProvisionReport } from '../types.js';
import { hubspotCall, isApiException, throwOnBatchErrors, toCrmError } from './errors.js';

/** The property group every property this service creates goes in, on every object type it writes. */
export const STRIPE_GROUP = 'stripe';

/** A standard object type, or a custom object as the properties API addresses it (`2-<n>`, `p_<name>`, ...). */
export type HubSpotObjectType = 'companies' | 'contacts' | 'deals' | 'notes' | 'tasks' | (string & {});

type FieldType = 'text' | 'number' | 'date' | 'booleancheckbox' | 'select';

export interface PropertySpec {
  name: string;
  label: string;
  description: string;
  type: CrmFieldType;
  fieldType: FieldType;
  options: readonly string[];
  /** Upserts look records up by it, which HubSpot allows only for unique-value properties. */
  unique: boolean;
}

export function specFromDefinition(definition: CrmPropertyDefinition, unique = false): PropertySpec {
  return {
    name: definition.name,
    label: definition.label,
    description: definition.description,
    type: definition.hubspot.type,
    fieldType: definition.hubspot.fieldType,
    options: definition.options,
    unique,
  };
}

export interface ProvisionApis {
  groups: Client['crm']['properties']['groupsApi'];
  core: Client['crm']['properties']['coreApi'];
  batch: Client['crm']['properties']['batchApi'];
}

function optionLabel(value: string): string {
  const words = value.replace(/_/g, ' ');
  return `${words.charAt(0).toUpperCase()}${words.slice(1)}`;
}

function options(spec: PropertySpec): NonNullable<PropertyCreate['options']> {
  if (spec.type === 'bool') {
    return [
      { label: 'Yes', value: 'true', hidden: false, displayOrder: 0 },
      { label: 'No', value: 'false', hidden: false, displayOrder: 1 },
    ];
  }
  return spec.options.map((value, displayOrder) => ({ label: optionLabel(value), value, hidden: false, displayOrder }));
}

function createInput(spec: PropertySpec): PropertyCreate {
  return { ...schemaPropertyInput(spec), groupName: STRIPE_GROUP };
}

/** A property as a custom object schema defines it at creation (it lands in the object's default group). */
export function schemaPropertyInput(spec: PropertySpec): Omit<PropertyCreate, 'groupName'> {
  return {
    name: spec.name,
    label: spec.label,
    description: spec.description,
    // The client's enums mirror HubSpot's vocabulary, which CrmFieldType and the hint already use.
    type: spec.type as PropertyCreate['type'],
    fieldType: spec.fieldType as PropertyCreate['fieldType'],
    options: options(spec),
    hasUniqueValue: spec.unique,
    formField: false,
  };
}

interface ExistingProperty {
  type: string;
  hasUniqueValue?: boolean | undefined;
  options: ReadonlyArray<{ value: string }>;
}

/** Why an existing property cannot serve as `spec`, or null when it can. */
function incompatibility(spec: PropertySpec, existing: ExistingProperty): string | null {
  if (existing.type !== spec.type) return `is a ${existing.type} property; expected ${spec.type}`;
  if (spec.unique && !existing.hasUniqueValue) return 'does not require unique values, so records cannot be upserted by it';
  const have = new Set(existing.options.map((o) => o.value));
  const lacking = spec.type === 'enumeration' ? spec.options.filter((o) => !have.has(o)) : [];
  if (lacking.length > 0) return `lacks the options ${lacking.join(', ')}`;
  return null;
}

/**
 * Creates the `stripe` group and the missing properties of one object type: one request for the group
 * (409 = it exists), one to list the properties, one batch create for whatever is missing. Existing
 * properties are checked, not changed: one that cannot serve (wrong type, not unique) is reported in
 * `missing` for an admin, since HubSpot cannot make an existing property unique.
 */
export async function provisionObject(
  apis: ProvisionApis,
  objectType: HubSpotObjectType,
  specs: readonly PropertySpec[],
  report: ProvisionReport,
  /** How the report names the object (a custom object's fully qualified name rather than its type id). */
  label: string = objectType,
): Promise<void> {
  try {
    await apis.groups.create(objectType, { name: STRIPE_GROUP, label: 'Stripe', displayOrder: -1 });
  } catch (err) {
    if (!isApiException(err) || err.code !== 409) throw toCrmError(err);
  }
  const existing = new Map((await hubspotCall(() => apis.core.getAll(objectType, false))).results.map((p) => [p.name, p]));
  const toCreate: PropertySpec[] = [];
  for (const spec of specs) {
    const found = existing.get(spec.name);
    if (!found) {
      toCreate.push(spec);
      continue;
    }
    const problem = incompatibility(spec, found);
    if (problem) report.missing.push(`${label}.${spec.name} ${problem}`);
    else report.existing.push(`${label}.${spec.name}`);
  }
  if (toCreate.length === 0) return;
  const response = await hubspotCall(() => apis.batch.create(objectType, { inputs: toCreate.map(createInput) }));
  const alreadyExists = (e: { category: string }) => e.category === 'OBJECT_ALREADY_EXISTS';
  throwOnBatchErrors(`creating ${objectType} properties`, 'errors' in response ? response.errors : undefined, alreadyExists);
  const created = new Set(response.results.map((p) => p.name));
  for (const spec of toCreate) {
    // Not created and not refused otherwise: another provisioning run created it meanwhile.
    (created.has(spec.name) ? report.created : report.existing).push(`${label}.${spec.name}`);
  }
}
