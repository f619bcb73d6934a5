import { InvalidSubscriptionObjectError } from './errors.js';

/**
 * Where a subscription is written (CRM_SUBSCRIPTION_OBJECT): the provider's default record (HubSpot deal,
 * Salesforce Opportunity), or a custom object. Parsed in one place so that configuration rejects what
 * an adapter could not address.
 */

/**
 * A HubSpot custom object as configured. HubSpot addresses custom objects by object type id (`2-123`),
 * fully qualified name (`p<portal>_<name>`) or `p_<name>`, never by the bare name (removed from the
 * public APIs in June 2025, see the HubSpot developer changelog). A bare name is what setup creates
 * the object under; a type id or fully qualified name must name an object that already exists.
 */
export type HubSpotObjectRef =
  | { kind: 'name'; name: string }
  | { kind: 'fullyQualifiedName'; fullyQualifiedName: string; name: string }
  | { kind: 'objectTypeId'; objectTypeId: string };

const HUBSPOT_DEFAULT = new Set(['deal', 'deals', '0-3']);
/** HubSpot's own object types; a custom object cannot take their names. */
const HUBSPOT_STANDARD = new Set([
  'contact', 'contacts', 'company', 'companies', 'ticket', 'tickets', 'note', 'notes', 'task', 'tasks', 'call', 'calls',
  'email', 'emails', 'meeting', 'meetings', 'product', 'products', 'line_item', 'line_items', 'quote', 'quotes',
]);
const HUBSPOT_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Salesforce custom object API names: letters, digits and single underscores, ending in `__c`. */
const SALESFORCE_CUSTOM = /^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*__c$/;

/** null: deals. Throws InvalidSubscriptionObjectError for what HubSpot could not name an object by. */
export function parseHubSpotSubscriptionObject(raw: string): HubSpotObjectRef | null {
  const value = raw.trim();
  if (HUBSPOT_DEFAULT.has(value.toLowerCase())) return null;
  if (/^2-\d+$/.test(value)) return { kind: 'objectTypeId', objectTypeId: value };
  const qualified = /^p(\d+)_([A-Za-z][A-Za-z0-9_]*)$/.exec(value);
  if (qualified) return { kind: 'fullyQualifiedName', fullyQualifiedName: value, name: qualified[2]! };
  const short = /^p_([A-Za-z][A-Za-z0-9_]*)$/.exec(value);
  const name = short ? short[1]! : value;
  // A name that itself looks like p_<...> or p<digits>_<...> could not be told from the path forms.
  if (!HUBSPOT_NAME.test(name) || (!short && /^p\d*_/i.test(name))) {
    throw new InvalidSubscriptionObjectError(
      `must be deal, or a HubSpot custom object: its name (letters, digits, underscores), p<portalId>_<name> or object type id 2-<n>; got ${JSON.stringify(raw)}`,
    );
  }
  if (HUBSPOT_STANDARD.has(name.toLowerCase())) {
    throw new InvalidSubscriptionObjectError(`${JSON.stringify(raw)} is a standard HubSpot object; use deal or a custom object`);
  }
  return { kind: 'name', name };
}

/** How the objects, properties and associations APIs address the object. */
export function hubspotObjectPath(ref: HubSpotObjectRef): string {
  switch (ref.kind) {
    case 'name':
      return `p_${ref.name}`;
    case 'fullyQualifiedName':
      return ref.fullyQualifiedName;
    case 'objectTypeId':
      return ref.objectTypeId;
  }
}

/** null: Opportunity. Throws InvalidSubscriptionObjectError for anything but a custom object API name. */
export function parseSalesforceSubscriptionObject(raw: string): string | null {
  const value = raw.trim();
  if (value.toLowerCase() === 'opportunity') return null;
  if (!SALESFORCE_CUSTOM.test(value)) {
    throw new InvalidSubscriptionObjectError(`must be Opportunity or a custom object API name such as Stripe_Subscription__c; got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * The configured custom object for the provider, or null for its default record. Throws
 * InvalidSubscriptionObjectError with a message fit for the configuration error.
 */
export function parseSubscriptionObject(provider: 'hubspot' | 'salesforce', raw: string | undefined): string | null {
  if (raw === undefined || raw.trim() === '') return null;
  if (provider === 'salesforce') return parseSalesforceSubscriptionObject(raw);
  return parseHubSpotSubscriptionObject(raw) === null ? null : raw.trim();
}
