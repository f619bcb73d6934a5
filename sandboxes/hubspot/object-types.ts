/**
 * The standard CRM object types the sandbox serves. HubSpot accepts an object type in a path by its
 * plural name, its singular name or its type id ("contacts", "contact", "0-1"), so every lookup goes
 * through `resolveObjectType`.
 */
export type ObjectTypeName = 'contacts' | 'companies' | 'deals' | 'notes' | 'tasks';

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
}

export const OBJECT_TYPES: Readonly<Record<ObjectTypeName, ObjectTypeDef>> = {
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
  },
};

export const OBJECT_TYPE_LIST: readonly ObjectTypeDef[] = Object.values(OBJECT_TYPES);

const aliases = new Map<string, ObjectTypeDef>();
for (const def of OBJECT_TYPE_LIST) {
  aliases.set(def.name, def);
  aliases.set(def.singular, def);
  aliases.set(def.typeId, def);
}

/** Case-insensitive, like HubSpot ("Contacts" works as well as "contacts"). */
export function resolveObjectType(raw: string): ObjectTypeDef | undefined {
  return aliases.get(raw.toLowerCase());
}
