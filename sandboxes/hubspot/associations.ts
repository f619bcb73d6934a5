import { HubSpotApiError, notFoundError, validationError } from './errors.js';
import type { ObjectTypeName, ObjectTypeRegistry } from './object-types.js';

export type AssociationCategory = 'HUBSPOT_DEFINED' | 'USER_DEFINED' | 'INTEGRATOR_DEFINED';
export const ASSOCIATION_CATEGORIES = ['HUBSPOT_DEFINED', 'INTEGRATOR_DEFINED', 'USER_DEFINED', 'WORK'] as const;

export interface AssociationTypeDef {
  typeId: number;
  category: AssociationCategory;
  from: ObjectTypeName;
  to: ObjectTypeName;
  /** null for the unlabeled ("most generic") type of a pair. */
  label: string | null;
  /** The v3 name shown in `associations` of object reads, e.g. `contact_to_company_unlabeled`. */
  name: string;
  inverseTypeId: number;
  /** A from-record holds this type towards at most one record (a contact's primary company). */
  single: boolean;
}

type Seed = [typeId: number, from: ObjectTypeName, to: ObjectTypeName, label: string | null, name: string, inverse: number, single?: boolean];

/**
 * HubSpot-defined association types between the sandbox's objects, with HubSpot's type ids
 * (developers.hubspot.com, "Association type ID values"). Every pair has one unlabeled type; contacts
 * and deals also have a "Primary" company, and companies a parent/child pair.
 */
const HUBSPOT_DEFINED: Seed[] = [
  [279, 'contacts', 'companies', null, 'contact_to_company_unlabeled', 280],
  [280, 'companies', 'contacts', null, 'company_to_contact_unlabeled', 279],
  [1, 'contacts', 'companies', 'Primary', 'contact_to_company', 2, true],
  [2, 'companies', 'contacts', 'Primary', 'company_to_contact', 1],
  [341, 'deals', 'companies', null, 'deal_to_company_unlabeled', 342],
  [342, 'companies', 'deals', null, 'company_to_deal_unlabeled', 341],
  [5, 'deals', 'companies', 'Primary', 'deal_to_company', 6, true],
  [6, 'companies', 'deals', 'Primary', 'company_to_deal', 5],
  [3, 'deals', 'contacts', null, 'deal_to_contact', 4],
  [4, 'contacts', 'deals', null, 'contact_to_deal', 3],
  [450, 'companies', 'companies', null, 'company_to_company', 450],
  [13, 'companies', 'companies', 'Child Company', 'parent_to_child_company', 14],
  [14, 'companies', 'companies', 'Parent Company', 'child_to_parent_company', 13, true],
  [449, 'contacts', 'contacts', null, 'contact_to_contact', 449],
  [451, 'deals', 'deals', null, 'deal_to_deal', 451],
  [189, 'companies', 'notes', null, 'company_to_note', 190],
  [190, 'notes', 'companies', null, 'note_to_company', 189],
  [201, 'contacts', 'notes', null, 'contact_to_note', 202],
  [202, 'notes', 'contacts', null, 'note_to_contact', 201],
  [213, 'deals', 'notes', null, 'deal_to_note', 214],
  [214, 'notes', 'deals', null, 'note_to_deal', 213],
  [191, 'companies', 'tasks', null, 'company_to_task', 192],
  [192, 'tasks', 'companies', null, 'task_to_company', 191],
  [203, 'contacts', 'tasks', null, 'contact_to_task', 204],
  [204, 'tasks', 'contacts', null, 'task_to_contact', 203],
  [215, 'deals', 'tasks', null, 'deal_to_task', 216],
  [216, 'tasks', 'deals', null, 'task_to_deal', 215],
];

/** HubSpot supports custom labels between contacts, companies and deals (and tickets/custom objects). */
const LABELLABLE: readonly ObjectTypeName[] = ['contacts', 'companies', 'deals'];

/** The unlabeled type of a pair: HubSpot-defined between standard objects, user-defined for a custom object's pairs. */
const isUnlabeled = (t: AssociationTypeDef): boolean => t.label === null;
const FIRST_USER_DEFINED_TYPE_ID = 1001;

export interface AssociationSpecInput {
  associationCategory: string;
  associationTypeId: number;
}

const recordKey = (type: ObjectTypeName, id: string): string => `${type}:${id}`;

function splitKey(key: string): { type: ObjectTypeName; id: string } {
  const i = key.indexOf(':');
  return { type: key.slice(0, i) as ObjectTypeName, id: key.slice(i + 1) };
}

/**
 * Association definitions and the association graph. Every edge is stored in both directions with its
 * inverse type, because HubSpot associations are readable from either record.
 */
export class AssociationStore {
  private types = new Map<number, AssociationTypeDef>();
  private nextTypeId = FIRST_USER_DEFINED_TYPE_ID;
  /** from record -> to record -> type ids */
  private edges = new Map<string, Map<string, Set<number>>>();

  constructor(private readonly objectTypes: ObjectTypeRegistry) {
    this.reset();
  }

  private typeId(type: ObjectTypeName): string {
    return this.objectTypes.get(type).typeId;
  }

  private labellable(type: ObjectTypeName): boolean {
    return LABELLABLE.includes(type) || this.objectTypes.get(type).custom;
  }

  reset(): void {
    this.types = new Map();
    for (const [typeId, from, to, label, name, inverseTypeId, single] of HUBSPOT_DEFINED) {
      this.types.set(typeId, {
        typeId,
        category: 'HUBSPOT_DEFINED',
        from,
        to,
        label,
        name,
        inverseTypeId,
        single: single ?? false,
      });
    }
    this.nextTypeId = FIRST_USER_DEFINED_TYPE_ID;
    this.edges = new Map();
  }

  get edgeCount(): number {
    let n = 0;
    for (const targets of this.edges.values()) for (const set of targets.values()) n += set.size;
    return n / 2;
  }

  typesBetween(from: ObjectTypeName, to: ObjectTypeName): AssociationTypeDef[] {
    return [...this.types.values()].filter((t) => t.from === from && t.to === to);
  }

  type(typeId: number): AssociationTypeDef | undefined {
    return this.types.get(typeId);
  }

  /** The unlabeled type a default association uses; every supported pair has one. */
  unlabeledType(from: ObjectTypeName, to: ObjectTypeName): AssociationTypeDef {
    const t = this.typesBetween(from, to).find(isUnlabeled);
    if (!t) throw validationError(`Associations from ${this.typeId(from)} to ${this.typeId(to)} are not supported`);
    return t;
  }

  /**
   * The association a custom object's schema defines with another type (schemas API `associatedObjects`,
   * or `POST .../schemas/{objectType}/associations`): an unlabeled user-defined type each way. The answer
   * is the forward type, whose id the schema lists.
   */
  defineSchemaPair(from: ObjectTypeName, to: ObjectTypeName, name: string, inverseName: string): AssociationTypeDef {
    if (this.typesBetween(from, to).some(isUnlabeled)) {
      throw new HubSpotApiError(409, 'CONFLICT', `An association between ${this.typeId(from)} and ${this.typeId(to)} already exists.`);
    }
    const forwardId = this.nextTypeId++;
    if (from === to) return this.schemaType(forwardId, from, to, name, forwardId);
    const inverseId = this.nextTypeId++;
    this.schemaType(inverseId, to, from, inverseName, forwardId);
    return this.schemaType(forwardId, from, to, name, inverseId);
  }

  private schemaType(typeId: number, from: ObjectTypeName, to: ObjectTypeName, name: string, inverseTypeId: number): AssociationTypeDef {
    const def: AssociationTypeDef = { typeId, category: 'USER_DEFINED', from, to, label: null, name, inverseTypeId, single: false };
    this.types.set(typeId, def);
    return def;
  }

  /** Every type involving the object type (the unlabeled pairs and any labels). */
  typesOf(type: ObjectTypeName): AssociationTypeDef[] {
    return [...this.types.values()].filter((t) => t.from === type || t.to === type);
  }

  /** Removes a type, its inverse and every edge they carry (a deleted schema association or label). */
  removeType(typeId: number): void {
    const def = this.types.get(typeId);
    if (!def) return;
    for (const id of new Set([def.typeId, def.inverseTypeId])) {
      for (const targets of this.edges.values()) for (const set of targets.values()) set.delete(id);
      this.types.delete(id);
    }
  }

  supportsPair(from: ObjectTypeName, to: ObjectTypeName): boolean {
    return this.typesBetween(from, to).length > 0;
  }

  /** Checks an incoming `{associationCategory, associationTypeId}` against the pair's definitions. */
  resolveSpec(from: ObjectTypeName, to: ObjectTypeName, spec: AssociationSpecInput): AssociationTypeDef {
    const def = this.types.get(spec.associationTypeId);
    if (!def || def.from !== from || def.to !== to || def.category !== spec.associationCategory) {
      throw validationError(
        `${spec.associationCategory} association type ${spec.associationTypeId} is not valid from ${this.typeId(from)} to ${this.typeId(to)}`,
      );
    }
    return def;
  }

  createLabel(from: ObjectTypeName, to: ObjectTypeName, label: string, inverseLabel?: string): AssociationTypeDef[] {
    if (!this.labellable(from) || !this.labellable(to)) {
      throw validationError(`Association labels are not supported between ${this.typeId(from)} and ${this.typeId(to)}`);
    }
    if (!this.supportsPair(from, to)) throw validationError(`Associations from ${this.typeId(from)} to ${this.typeId(to)} are not supported`);
    const taken = this.typesBetween(from, to).some((t) => t.label === label);
    if (taken) throw new HubSpotApiError(409, 'CONFLICT', `An association label '${label}' already exists between these objects.`);
    const forwardId = this.nextTypeId++;
    if (from === to && inverseLabel === undefined) {
      const def = this.userType(forwardId, from, to, label, forwardId);
      return [def];
    }
    const inverseId = this.nextTypeId++;
    const forward = this.userType(forwardId, from, to, label, inverseId);
    const inverse = this.userType(inverseId, to, from, inverseLabel ?? label, forwardId);
    return [forward, inverse];
  }

  private userType(typeId: number, from: ObjectTypeName, to: ObjectTypeName, label: string, inverseTypeId: number): AssociationTypeDef {
    const def: AssociationTypeDef = {
      typeId,
      category: 'USER_DEFINED',
      from,
      to,
      label,
      name: label.toLowerCase().replace(/[^a-z0-9]+/g, '_'),
      inverseTypeId,
      single: false,
    };
    this.types.set(typeId, def);
    return def;
  }

  updateLabel(from: ObjectTypeName, to: ObjectTypeName, typeId: number, label: string, inverseLabel?: string): void {
    const def = this.userDefined(from, to, typeId);
    def.label = label;
    if (inverseLabel !== undefined && def.inverseTypeId !== def.typeId) {
      const inverse = this.types.get(def.inverseTypeId);
      if (inverse) inverse.label = inverseLabel;
    }
  }

  /** Removing a label removes its edges too, as HubSpot does when a label definition is deleted. */
  deleteLabel(from: ObjectTypeName, to: ObjectTypeName, typeId: number): void {
    this.removeType(this.userDefined(from, to, typeId).typeId);
  }

  private userDefined(from: ObjectTypeName, to: ObjectTypeName, typeId: number): AssociationTypeDef {
    const def = this.types.get(typeId);
    if (!def || def.from !== from || def.to !== to) {
      throw notFoundError(`No association label with type id ${typeId} from ${this.typeId(from)} to ${this.typeId(to)}`);
    }
    if (def.category !== 'USER_DEFINED') throw validationError(`Association type ${typeId} is HubSpot-defined and cannot be changed.`);
    // A custom object's unlabeled type belongs to its schema (schemas API), not to the labels API.
    if (isUnlabeled(def)) throw validationError(`Association type ${typeId} is not a label; change it through the object's schema.`);
    return def;
  }

  /** Type ids from one record to another (empty when not associated). */
  between(fromType: ObjectTypeName, fromId: string, toType: ObjectTypeName, toId: string): number[] {
    return [...(this.edges.get(recordKey(fromType, fromId))?.get(recordKey(toType, toId)) ?? [])].sort((a, b) => a - b);
  }

  /** Every record of `toType` the record is associated with, with the type ids, in ascending id order. */
  targets(fromType: ObjectTypeName, fromId: string, toType: ObjectTypeName): Array<{ toId: string; typeIds: number[] }> {
    const out: Array<{ toId: string; typeIds: number[] }> = [];
    for (const [key, set] of this.edges.get(recordKey(fromType, fromId)) ?? []) {
      const target = splitKey(key);
      if (target.type !== toType || set.size === 0) continue;
      out.push({ toId: target.id, typeIds: [...set].sort((a, b) => a - b) });
    }
    return out.sort((a, b) => compareIds(a.toId, b.toId));
  }

  /**
   * Adds the given types (and their inverses). A labelled association always carries the pair's
   * unlabeled type as well, and a single-valued type (primary company, parent company) moves off any
   * other record that held it.
   */
  add(fromType: ObjectTypeName, fromId: string, toType: ObjectTypeName, toId: string, defs: AssociationTypeDef[]): AssociationTypeDef[] {
    const all = [...defs];
    const unlabeled = this.unlabeledType(fromType, toType);
    if (!all.some((d) => d.typeId === unlabeled.typeId)) all.unshift(unlabeled);
    for (const def of all) {
      const inverse = this.types.get(def.inverseTypeId);
      if (!inverse) throw new Error(`association type ${def.typeId} has no inverse ${def.inverseTypeId}`);
      if (def.single) this.dropSingle(fromType, fromId, def, toType, toId);
      if (inverse.single) this.dropSingle(toType, toId, inverse, fromType, fromId);
      this.link(recordKey(fromType, fromId), recordKey(toType, toId), def.typeId);
      this.link(recordKey(toType, toId), recordKey(fromType, fromId), inverse.typeId);
    }
    return all;
  }

  /** Whether the record already holds the single-valued type (e.g. has a primary company). */
  holdsSingle(fromType: ObjectTypeName, fromId: string, typeId: number): boolean {
    for (const set of this.edges.get(recordKey(fromType, fromId))?.values() ?? []) if (set.has(typeId)) return true;
    return false;
  }

  private dropSingle(fromType: ObjectTypeName, fromId: string, def: AssociationTypeDef, keepType: ObjectTypeName, keepId: string): void {
    const keep = recordKey(keepType, keepId);
    for (const [key, set] of this.edges.get(recordKey(fromType, fromId)) ?? []) {
      if (key === keep || !set.has(def.typeId)) continue;
      set.delete(def.typeId);
      this.edges.get(key)?.get(recordKey(fromType, fromId))?.delete(def.inverseTypeId);
    }
  }

  private link(from: string, to: string, typeId: number): void {
    let targets = this.edges.get(from);
    if (!targets) this.edges.set(from, (targets = new Map()));
    let set = targets.get(to);
    if (!set) targets.set(to, (set = new Set()));
    set.add(typeId);
  }

  /** Removes every association between two records, both directions. */
  removeAll(fromType: ObjectTypeName, fromId: string, toType: ObjectTypeName, toId: string): void {
    this.edges.get(recordKey(fromType, fromId))?.delete(recordKey(toType, toId));
    this.edges.get(recordKey(toType, toId))?.delete(recordKey(fromType, fromId));
  }

  /** Removes specific labels; removing the unlabeled type removes everything, as HubSpot documents. */
  removeTypes(fromType: ObjectTypeName, fromId: string, toType: ObjectTypeName, toId: string, defs: AssociationTypeDef[]): void {
    if (defs.some(isUnlabeled)) {
      this.removeAll(fromType, fromId, toType, toId);
      return;
    }
    const forward = this.edges.get(recordKey(fromType, fromId))?.get(recordKey(toType, toId));
    const backward = this.edges.get(recordKey(toType, toId))?.get(recordKey(fromType, fromId));
    for (const def of defs) {
      forward?.delete(def.typeId);
      backward?.delete(def.inverseTypeId);
    }
  }

  /** Drops every edge of a record (permanent deletes). */
  removeRecord(type: ObjectTypeName, id: string): void {
    const key = recordKey(type, id);
    for (const other of this.edges.get(key)?.keys() ?? []) this.edges.get(other)?.delete(key);
    this.edges.delete(key);
  }

  /**
   * Moves a merged record's associations to the primary, as HubSpot does on merge. Edges between the two
   * records themselves disappear; single-valued types keep the primary's existing choice.
   */
  moveRecord(type: ObjectTypeName, fromId: string, intoId: string): void {
    const fromKey = recordKey(type, fromId);
    const intoKey = recordKey(type, intoId);
    for (const [otherKey, set] of [...(this.edges.get(fromKey) ?? [])]) {
      this.edges.get(otherKey)?.delete(fromKey);
      if (otherKey === intoKey) continue;
      const other = splitKey(otherKey);
      // Copy: adding edges below may prune this very set (single-valued types moving off the old record).
      for (const typeId of [...set]) {
        const def = this.types.get(typeId);
        if (!def) continue;
        if (def.single && this.holdsSingle(type, intoId, typeId)) continue;
        this.add(type, intoId, other.type, other.id, [def]);
      }
    }
    this.edges.delete(fromKey);
  }
}

/** Record ids are numeric strings; compare them as numbers so "10" sorts after "9". */
export function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
