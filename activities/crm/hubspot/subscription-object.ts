import type { Client } from '@hubspot/api-client';
import type { ObjectSchema, ObjectSchemaEgg } from '@hubspot/api-client/lib/codegen/crm/schemas/index.js';
import { hubspotObjectPath, parseHubSpotSubscriptionObject, type HubSpotObjectRef } from '../../../domain/subscription-object.js';
import { CRM_FIELDS } from '../../../domain/crm-field-names.js';
import type { DealInput, ProvisionReport } from '../types.js';
import { hubspotCall, isApiException, toCrmError } from './errors.js';
import { provisionObject, schemaPropertyInput, type PropertySpec, type ProvisionApis } from './provision.js';
import { hubspotValue } from './values.js';

/**
 * Subscriptions written to a HubSpot custom object (CRM_SUBSCRIPTION_OBJECT) instead of deals: one
 * record per Stripe subscription, upserted by `stripe_subscription_id` (a unique property), associated
 * with the customer's company (B2B) or contact (B2C). Setup creates the object when it is configured by
 * name, or checks the one a type id / fully qualified name points at.
 */

/** The custom object's properties; fixed names, since the object is this service's own. */
export const SUBSCRIPTION_OBJECT_PROPERTIES = {
  id: 'stripe_subscription_id',
  name: 'stripe_subscription_name',
  status: 'stripe_subscription_status',
  stage: 'stripe_subscription_stage',
  mrr: 'stripe_mrr',
  currency: 'stripe_currency',
  customerId: 'stripe_customer_id',
  startDate: 'stripe_start_date',
  nextRenewalDate: 'stripe_next_renewal_date',
  trialEndDate: 'stripe_trial_end_date',
  endDate: 'stripe_end_date',
} as const;

const P = SUBSCRIPTION_OBJECT_PROPERTIES;

const text = (name: string, label: string, description: string, unique = false): PropertySpec => ({
  name, label, description, type: 'string', fieldType: 'text', options: [], unique,
});
const date = (name: string, label: string, description: string): PropertySpec => ({
  name, label, description, type: 'date', fieldType: 'date', options: [], unique: false,
});

export const SUBSCRIPTION_OBJECT_SPECS: readonly PropertySpec[] = [
  text(P.id, 'Stripe Subscription ID', 'Stripe subscription id (sub_...): one record per subscription.', true),
  text(P.name, 'Subscription', 'Plan names and subscription id.'),
  // Text, not a select: a status Stripe adds later must not make writes fail.
  text(P.status, 'Stripe Subscription Status', 'Status of the subscription in Stripe.'),
  {
    name: P.stage, label: 'Stage', type: 'enumeration', fieldType: 'select', options: ['open', 'won', 'lost'], unique: false,
    description: 'What a deal stage would say: open (trial or incomplete), won (paying, or churned after paying), lost (never paid).',
  },
  { name: P.mrr, label: 'MRR', type: 'number', fieldType: 'number', options: [], unique: false, description: CRM_FIELDS.mrr.description.replace('across active and past-due subscriptions', 'of this subscription') },
  text(P.currency, 'Currency', 'ISO code (USD) of the MRR.'),
  text(P.customerId, 'Stripe Customer ID', 'The Stripe customer (cus_...) the subscription belongs to.'),
  date(P.startDate, 'Start Date', 'When the subscription started.'),
  date(P.nextRenewalDate, 'Next Renewal Date', 'Next renewal (or trial end); empty when it will not renew.'),
  date(P.trialEndDate, 'Trial End Date', 'When the trial ends or ended; empty without a trial.'),
  date(P.endDate, 'End Date', 'When the subscription ended, or the end its cancellation has scheduled.'),
];

/** The record of one subscription; a date the plan does not carry is left as it is, a null one is cleared. */
export function subscriptionObjectProperties(deal: DealInput & { customerId: string }): Record<string, string> {
  const properties: Record<string, string> = {
    [P.name]: deal.name,
    [P.status]: deal.status,
    [P.stage]: deal.stage,
    [P.mrr]: hubspotValue(deal.amount),
    [P.currency]: deal.currency ?? '',
    [P.customerId]: deal.customerId,
    [P.startDate]: deal.closeDate,
  };
  if (deal.nextRenewalDate !== undefined) properties[P.nextRenewalDate] = deal.nextRenewalDate ?? '';
  if (deal.trialEndDate !== undefined) properties[P.trialEndDate] = deal.trialEndDate ?? '';
  if (deal.endDate !== undefined) properties[P.endDate] = deal.endDate ?? '';
  return properties;
}

export interface HubSpotSubscriptionObject {
  ref: HubSpotObjectRef;
  /** How the objects, properties and associations APIs address it. */
  path: string;
  /** What the configuration said, for messages. */
  configured: string;
}

/**
 * The configured custom object, or null for deals. Throws InvalidSubscriptionObjectError for a value
 * the configuration would have refused (the adapter is created with it, never called with it).
 */
export function hubspotSubscriptionObject(configured: string | undefined): HubSpotSubscriptionObject | null {
  if (configured === undefined) return null;
  const ref = parseHubSpotSubscriptionObject(configured);
  return ref ? { ref, path: hubspotObjectPath(ref), configured: configured.trim() } : null;
}

export interface SubscriptionSchemaApis {
  schemas: Client['crm']['schemas']['coreApi'];
  properties: ProvisionApis;
}

/** HubSpot's ids of the types the records are associated with: companies (B2B) or contacts (B2C). */
const TARGET_TYPE_ID = { b2b: '0-2', b2c: '0-1' } as const;
const TARGET_NAME = { b2b: 'companies', b2c: 'contacts' } as const;
const TYPE_NAMES: Readonly<Record<string, string>> = { '0-1': 'contacts', '0-2': 'companies' };

/** The schema the configuration names, or null when there is none (yet). One request. */
async function findSchema(apis: SubscriptionSchemaApis, ref: HubSpotObjectRef): Promise<ObjectSchema | null> {
  if (ref.kind === 'name') {
    // The schemas API reads one schema by type id or fully qualified name only; the name needs the list.
    const all = await hubspotCall(() => apis.schemas.getAll());
    return all.results.find((s) => s.name.toLowerCase() === ref.name.toLowerCase()) ?? null;
  }
  try {
    return await apis.schemas.getById(ref.kind === 'objectTypeId' ? ref.objectTypeId : ref.fullyQualifiedName);
  } catch (err) {
    if (isApiException(err) && err.code === 404) return null;
    throw toCrmError(err);
  }
}

const objectTypeIdOf = (schema: ObjectSchema): string => schema.objectTypeId ?? `2-${schema.id}`;
const labelOf = (schema: ObjectSchema): string => `${schema.fullyQualifiedName ?? schema.name} (${objectTypeIdOf(schema)})`;

/**
 * Setup for the custom object, idempotent: creates it with its properties and associations when it is
 * configured by name and absent; otherwise adds the properties it lacks (in the `stripe` group) and
 * the association with companies/contacts, and reports what only an admin can fix (a property of the
 * wrong type or not unique, a required property the sync does not write, an object that is not there).
 */
export async function provisionSubscriptionObject(
  apis: SubscriptionSchemaApis,
  object: HubSpotSubscriptionObject,
  mode: 'b2b' | 'b2c',
  report: ProvisionReport,
): Promise<void> {
  let schema = await findSchema(apis, object.ref);
  if (!schema) {
    if (object.ref.kind !== 'name') {
      report.missing.push(
        `HubSpot custom object ${object.configured} does not exist: create it, or set CRM_SUBSCRIPTION_OBJECT to a name (e.g. stripe_subscription) for setup to create it`,
      );
      return;
    }
    const created = await createSchema(apis, object.ref.name);
    if (created) {
      const name = created.fullyQualifiedName ?? created.name;
      report.created.push(`custom object ${labelOf(created)}`, ...SUBSCRIPTION_OBJECT_SPECS.map((s) => `${name}.${s.name}`));
      report.created.push(...created.associations.map((a) => `${name} association with ${TYPE_NAMES[a.toObjectTypeId] ?? a.toObjectTypeId}`));
      return;
    }
    // Another setup created it meanwhile: check it like any existing one.
    schema = await findSchema(apis, object.ref);
    if (!schema) throw new Error(`HubSpot refused to create ${object.configured} as existing, yet does not list it`);
  }
  const typeId = objectTypeIdOf(schema);
  const name = schema.fullyQualifiedName ?? schema.name;
  report.existing.push(`custom object ${labelOf(schema)}`);
  await provisionObject(apis.properties, typeId, SUBSCRIPTION_OBJECT_SPECS, report, name);
  const written = new Set(SUBSCRIPTION_OBJECT_SPECS.map((s) => s.name));
  for (const required of schema.requiredProperties) {
    if (!written.has(required)) report.missing.push(`${name} requires ${required} on create, which the sync does not write: make it optional`);
  }
  const target = TARGET_TYPE_ID[mode];
  const associated = schema.associations.some(
    (a) => (a.fromObjectTypeId === typeId && a.toObjectTypeId === target) || (a.fromObjectTypeId === target && a.toObjectTypeId === typeId),
  );
  const what = `${name} association with ${TARGET_NAME[mode]}`;
  if (associated) {
    report.existing.push(what);
    return;
  }
  try {
    await apis.schemas.createAssociation(typeId, { fromObjectTypeId: typeId, toObjectTypeId: target });
    report.created.push(what);
  } catch (err) {
    // 409: another setup defined it meanwhile.
    if (!isApiException(err) || err.code !== 409) throw toCrmError(err);
    report.existing.push(what);
  }
}

/** Creates the object; null when HubSpot answers that it exists (a concurrent setup). */
async function createSchema(apis: SubscriptionSchemaApis, name: string): Promise<ObjectSchema | null> {
  try {
    return await apis.schemas.create({
      name,
      labels: { singular: 'Stripe subscription', plural: 'Stripe subscriptions' },
      description: 'One record per Stripe subscription, kept current by stripe-crm-sync.',
      // The schemas module generates its own copies of the properties module's enums, of the same strings.
      properties: SUBSCRIPTION_OBJECT_SPECS.map((spec) => schemaPropertyInput(spec)) as unknown as ObjectSchemaEgg['properties'],
      // Upserts key on the id and every record shows its name: both are always written.
      requiredProperties: [P.id, P.name],
      primaryDisplayProperty: P.name,
      secondaryDisplayProperties: [P.status, P.mrr],
      searchableProperties: [P.name, P.id, P.customerId],
      // Both, whatever the mode: switching SYNC_MODE later must not need another setup of the object.
      associatedObjects: ['COMPANY', 'CONTACT'],
    });
  } catch (err) {
    if (isApiException(err) && err.code === 409) return null;
    throw toCrmError(err);
  }
}
