/**
 * The CRM object types the sandbox serves: the standard ones below, and the custom objects a portal
 * defines through the schemas API. HubSpot accepts a standard type in a path by its plural name, its
 * singular name or its type id ("contacts", "contact", "0-1"), and a custom object by its object type
 * id ("2-1000001"), its fully qualified name ("p144000001_cars") or the short form "p_cars" — never by
 * its bare name (removed June 2025, HubSpot developer changelog). Every lookup goes through a
 * registry's `resolve`.
 */
export type StandardObjectTypeName = 'contacts' | 'companies' | 'deals' | 'notes' | 'tasks';

/** A standard type's plural name, or a custom object's fully qualified name (`p<portal>_<name>`). */
export type ObjectTypeName = string;

export interface ObjectTypeDef {
  name: ObjectTypeName;
  singular: string;
  /** HubSpot's object type id, e.g. "0-1" for contacts. */
  typeId: string;
  /** The upper-case name HubSpot uses in error messages ("Could not get some COMPANY objects"). */
  upperName: string;
  createdProperty: string;
  modifiedProperty: string;
  /** Returned when a read names no properties (HubSpot's per-object default set). */
  defaultProperties: readonly string[];
  /** Properties the search `query` string matches against (HubSpot's documented default searchable set). */
  searchableProperties: readonly string[];
  /** The default property group new properties of this object usually go in. */
  defaultGroup: string;
  /** Whether `/merge` exists for the type (companies, contacts, deals in HubSpot's specs). */
  mergeable: boolean;
  /** Defined through the schemas API (see schemas.ts) rather than built in. */
  custom: boolean;
}

export const OBJECT_TYPES: Readonly<Record<StandardObjectTypeName, ObjectTypeDef>> = {
  contacts: {
    name: 'contacts',
    singular: 'contact',
    typeId: '0-1',
    upperName: 'CONTACT',
    createdProperty: 'createdate',
    modifiedProperty: 'lastmodifieddate',
    defaultProperties: ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'],
    searchableProperties: ['firstname', 'lastname', 'email', 'phone', 'hs_additional_emails', 'mobilephone', 'company'],
    defaultGroup: 'contactinformation',
    mergeable: true,
    custom: false,
  },
  companies: {
    name: 'companies',
    singular: 'company',
    typeId: '0-2',
    upperName: 'COMPANY',
    createdProperty: 'createdate',
    modifiedProperty: 'hs_lastmodifieddate',
    defaultProperties: ['createdate', 'domain', 'hs_lastmodifieddate', 'hs_object_id', 'name'],
    searchableProperties: ['website', 'phone', 'name', 'domain'],
    defaultGroup: 'companyinformation',
    mergeable: true,
    custom: false,
  },
  deals: {
    name: 'deals',
    singular: 'deal',
    typeId: '0-3',
    upperName: 'DEAL',
    createdProperty: 'createdate',
    modifiedProperty: 'hs_lastmodifieddate',
    defaultProperties: [
      'amount',
      'closedate',
      'createdate',
      'dealname',
      'dealstage',
      'hs_lastmodifieddate',
      'hs_object_id',
      'pipeline',
    ],
    searchableProperties: ['dealname', 'pipeline', 'dealstage', 'description', 'dealtype'],
    defaultGroup: 'dealinformation',
    mergeable: true,
    custom: false,
  },
  notes: {
    name: 'notes',
    singular: 'note',
    typeId: '0-46',
    upperName: 'NOTE',
    createdProperty: 'hs_createdate',
    modifiedProperty: 'hs_lastmodifieddate',
    defaultProperties: ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'],
    searchableProperties: ['hs_note_body'],
    defaultGroup: 'noteinformation',
    mergeable: false,
    custom: false,
  },
  tasks: {
    name: 'tasks',
    singular: 'task',
    typeId: '0-27',
    upperName: 'TASK',
    createdProperty: 'hs_createdate',
    modifiedProperty: 'hs_lastmodifieddate',
    defaultProperties: ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'],
    searchableProperties: ['hs_task_subject', 'hs_task_body'],
    defaultGroup: 'taskinformation',
    mergeable: false,
    custom: false,
  },
};

export const OBJECT_TYPE_LIST: readonly ObjectTypeDef[] = Object.values(OBJECT_TYPES);

const standardAliases = new Map<string, ObjectTypeDef>();
for (const def of OBJECT_TYPE_LIST) {
  standardAliases.set(def.name, def);
  standardAliases.set(def.singular, def);
  standardAliases.set(def.typeId, def);
}

/** A standard object type by any of its names; case-insensitive, like HubSpot ("Contacts" works as well as "contacts"). */
export function resolveObjectType(raw: string): ObjectTypeDef | undefined {
  return standardAliases.get(raw.toLowerCase());
}

export function isStandardObjectType(name: string): name is StandardObjectTypeName {
  return Object.hasOwn(OBJECT_TYPES, name);
}

/**
 * The object types of one portal: the standard ones plus the live custom objects. A custom object is
 * registered under its fully qualified name and reachable by that, its type id and `p_<name>`.
 */
export class ObjectTypeRegistry {
  private custom = new Map<ObjectTypeName, ObjectTypeDef>();
  /** Archived custom objects: no longer served, but their records and association types still name them. */
  private retired = new Map<ObjectTypeName, ObjectTypeDef>();
  private aliases = new Map<string, ObjectTypeDef>();

  reset(): void {
    this.custom = new Map();
    this.retired = new Map();
    this.aliases = new Map();
  }

  resolve(raw: string): ObjectTypeDef | undefined {
    return resolveObjectType(raw) ?? this.aliases.get(raw.toLowerCase());
  }

  /** The definition of a type the caller already resolved; an unknown name is a sandbox bug. */
  get(name: ObjectTypeName): ObjectTypeDef {
    const def = isStandardObjectType(name) ? OBJECT_TYPES[name] : (this.custom.get(name) ?? this.retired.get(name));
    if (!def) throw new Error(`unknown object type ${name}`);
    return def;
  }

  has(name: ObjectTypeName): boolean {
    return isStandardObjectType(name) || this.custom.has(name);
  }

  list(): ObjectTypeDef[] {
    return [...OBJECT_TYPE_LIST, ...this.custom.values()];
  }

  register(def: ObjectTypeDef, aliases: readonly string[]): void {
    this.custom.set(def.name, def);
    for (const alias of [def.name, def.typeId, ...aliases]) this.aliases.set(alias.toLowerCase(), def);
  }

  /** Stops serving a custom object; `get` still knows it until `forget`. */
  retire(name: ObjectTypeName): void {
    const def = this.custom.get(name);
    if (def) this.retired.set(name, def);
    this.custom.delete(name);
    for (const [alias, d] of this.aliases) if (d.name === name) this.aliases.delete(alias);
  }

  forget(name: ObjectTypeName): void {
    this.retire(name);
    this.retired.delete(name);
  }
}
