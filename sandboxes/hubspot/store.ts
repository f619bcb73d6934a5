import { AssociationStore, compareIds, type AssociationTypeDef } from './associations.js';
import {
  HubSpotApiError,
  propertyResult,
  propertyValidationError,
  validationError,
  type PropertyValidationResult,
} from './errors.js';
import { ObjectTypeRegistry, type ObjectTypeDef, type ObjectTypeName } from './object-types.js';
import type { Owner } from './owners.js';
import { normalizeValue, PropertyRegistry, type PropertyDefinition } from './properties.js';

export interface HistoryEntry {
  value: string;
  timestamp: Date;
  sourceType: string;
  sourceId?: string;
}

/** One CRM record. Values are strings, as HubSpot stores them; a cleared property has no entry. */
export interface CrmRecord {
  id: string;
  type: ObjectTypeName;
  values: Map<string, string>;
  /** Newest first, like HubSpot's `propertiesWithHistory`. */
  history: Map<string, HistoryEntry[]>;
  createdAt: Date;
  updatedAt: Date;
  archived: boolean;
  archivedAt?: Date;
  /** Set when the record was merged away; reads of its id resolve to this primary. */
  mergedInto?: string;
}

/** A validated write: property -> normalized value, or null to clear. */
export type PreparedValues = Map<string, string | null>;

/** Values claimed by earlier inputs of the same batch, so two inputs cannot take one unique value. */
export type PendingUniques = Map<string, string>;

export interface SerializeOptions {
  properties?: string[] | undefined;
  propertiesWithHistory?: string[] | undefined;
  associations?: string[] | undefined;
}

export interface StoreOptions {
  portalId: number;
  now: () => Date;
  owners: readonly Owner[];
  /** First record id handed out; ids are numeric strings from one sequence across object types. */
  firstId: number;
}

const WRITE_SOURCE = 'API';

/**
 * The in-memory CRM: records per object type, unique-value indexes, property definitions, owners and
 * associations. Writes go through `prepare*` (validate everything, change nothing) then `commit*`,
 * so a batch is rejected as a whole before any record changes, as HubSpot rejects a batch.
 */
export class CrmStore {
  /** Standard object types and the portal's custom objects (schemas.ts defines them). */
  readonly types = new ObjectTypeRegistry();
  readonly properties: PropertyRegistry;
  readonly associations: AssociationStore;
  /** Per custom object type: the properties a create must carry (its schema's `requiredProperties`). */
  readonly requiredProperties = new Map<ObjectTypeName, readonly string[]>();
  owners: Owner[] = [];
  private records = new Map<ObjectTypeName, Map<string, CrmRecord>>();
  /** type -> property -> value -> record id, for live records only. */
  private uniqueIndex = new Map<ObjectTypeName, Map<string, Map<string, string>>>();
  private nextId: number;
  private lastTimestamp = 0;

  constructor(private readonly options: StoreOptions) {
    this.properties = new PropertyRegistry(options.now, this.types);
    this.associations = new AssociationStore(this.types);
    this.nextId = options.firstId;
    this.reset();
  }

  get portalId(): number {
    return this.options.portalId;
  }

  reset(): void {
    this.types.reset();
    this.properties.reset();
    this.associations.reset();
    this.requiredProperties.clear();
    this.owners = this.options.owners.map((o) => ({ ...o, teams: o.teams.map((t) => ({ ...t })) }));
    this.records = new Map(this.types.list().map((d) => [d.name, new Map()]));
    this.uniqueIndex = new Map(this.types.list().map((d) => [d.name, new Map()]));
    this.nextId = this.options.firstId;
  }

  /** Makes a custom object type servable: an empty record table and unique index (properties are seeded by the caller). */
  addObjectType(def: ObjectTypeDef, aliases: readonly string[]): void {
    this.types.register(def, aliases);
    this.records.set(def.name, new Map());
    this.uniqueIndex.set(def.name, new Map());
  }

  /** A custom object type stops resolving (its schema was archived); its records and definitions stay. */
  hideObjectType(name: ObjectTypeName): void {
    this.types.retire(name);
  }

  /** A custom object type and everything of it are gone for good (schema purged, or its creation rolled back). */
  removeObjectType(name: ObjectTypeName): void {
    for (const rec of this.records.get(name)?.values() ?? []) this.associations.removeRecord(name, rec.id);
    for (const t of this.associations.typesOf(name)) this.associations.removeType(t.typeId);
    this.types.forget(name);
    this.properties.removeObjectType(name);
    this.records.delete(name);
    this.uniqueIndex.delete(name);
    this.requiredProperties.delete(name);
  }

  /** Strictly increasing timestamps, so "last modified" ordering is never ambiguous within one millisecond. */
  private stamp(): Date {
    const ms = Math.max(this.options.now().getTime(), this.lastTimestamp + 1);
    this.lastTimestamp = ms;
    return new Date(ms);
  }

  private recordsOf(type: ObjectTypeName): Map<string, CrmRecord> {
    const m = this.records.get(type);
    if (!m) throw new Error(`no records for ${type}`);
    return m;
  }

  private indexOf(type: ObjectTypeName, property: string): Map<string, string> {
    const byProp = this.uniqueIndex.get(type);
    if (!byProp) throw new Error(`no unique index for ${type}`);
    let idx = byProp.get(property);
    if (!idx) byProp.set(property, (idx = new Map()));
    return idx;
  }

  /** Every record of a type, archived and merged ones included (inspection and search build on this). */
  all(type: ObjectTypeName): CrmRecord[] {
    return [...this.recordsOf(type).values()];
  }

  live(type: ObjectTypeName): CrmRecord[] {
    return this.all(type).filter((r) => !r.archived);
  }

  ownerExists = (id: string): boolean => this.owners.some((o) => o.id === id && !o.archived);

  /**
   * Creates a property definition. A unique-value property indexes the values live records already
   * hold (a name re-created after archiving finds its old values), and cannot be created over duplicates.
   */
  createProperty(type: ObjectTypeName, input: unknown): PropertyDefinition {
    const prop = this.properties.create(type, input);
    if (!prop.hasUniqueValue) return prop;
    const idx = this.indexOf(type, prop.name);
    idx.clear();
    for (const rec of this.live(type)) {
      const value = rec.values.get(prop.name);
      if (value === undefined) continue;
      if (idx.has(value)) {
        idx.clear();
        this.properties.discard(type, prop.name);
        throw validationError(`Cannot require unique values for ${prop.name}: records already share the value ${value}.`);
      }
      idx.set(value, rec.id);
    }
    return prop;
  }

  /** Archives a property definition; its values stay on records (hidden) and its unique index goes. */
  archiveProperty(type: ObjectTypeName, name: string): void {
    this.properties.archive(type, name);
    this.uniqueIndex.get(type)?.delete(name);
  }

  /** Properties an id can be looked up by: unique-value ones, plus email for contacts. */
  isIdProperty(type: ObjectTypeName, name: string): boolean {
    if (type === 'contacts' && name === 'email') return true;
    return this.properties.get(type, name)?.hasUniqueValue ?? false;
  }

  requireIdProperty(type: ObjectTypeName, name: string): void {
    if (name === 'hs_object_id' || !this.isIdProperty(type, name)) {
      throw validationError(
        `Unable to perform update/upsert by non-unique ${this.types.get(type).typeId} property ${name} in portal ID ${this.portalId}`,
      );
    }
  }

  /**
   * Finds a live record by id (following merges to the primary) or by a unique property value.
   * `archived: true` finds archived records only, as HubSpot's `archived` parameter means.
   */
  find(type: ObjectTypeName, id: string, opts: { idProperty?: string | undefined; archived?: boolean } = {}): CrmRecord | undefined {
    const idProperty = opts.idProperty;
    if (idProperty !== undefined && idProperty !== 'hs_object_id') {
      if (!this.isIdProperty(type, idProperty)) {
        throw validationError(
          `Unable to read by non-unique ${this.types.get(type).typeId} property ${idProperty}. Use a property with unique values.`,
        );
      }
      if (opts.archived) {
        const lookup = type === 'contacts' && idProperty === 'email' ? id.toLowerCase() : id;
        return this.all(type).find((r) => r.archived && !r.mergedInto && r.values.get(idProperty) === lookup);
      }
      const key = type === 'contacts' && idProperty === 'email' ? id.toLowerCase() : id;
      const found = this.indexOf(type, idProperty).get(key);
      return found === undefined ? undefined : this.recordsOf(type).get(found);
    }
    let rec = this.recordsOf(type).get(id);
    if (opts.archived) return rec?.archived && !rec.mergedInto ? rec : undefined;
    // A merged-away id reads as its primary; primaries can themselves be merged later.
    for (let hops = 0; rec?.mergedInto !== undefined && hops < 100; hops++) rec = this.recordsOf(type).get(rec.mergedInto);
    return rec && !rec.archived ? rec : undefined;
  }

  /**
   * Validates a property map against the definitions and unique indexes. Throws HubSpot's 400 with
   * every invalid property at once, or the uniqueness error; returns normalized values otherwise.
   */
  prepare(type: ObjectTypeName, raw: Map<string, string>, existing?: CrmRecord, pending?: PendingUniques): PreparedValues {
    const results: PropertyValidationResult[] = [];
    const prepared: PreparedValues = new Map();
    for (const [name, value] of raw) {
      const def = this.properties.get(type, name);
      if (!def) {
        results.push(propertyResult(name, 'PROPERTY_DOESNT_EXIST', `Property "${name}" does not exist`, this.portalId, value));
        continue;
      }
      if (def.readOnlyValue) {
        // HubSpot silently accepts a no-op write of a read-only value (e.g. echoing hs_object_id back).
        if (existing && existing.values.get(name) === value) continue;
        results.push(propertyResult(name, 'READ_ONLY_VALUE', `Property "${name}" is read-only`, this.portalId, value));
        continue;
      }
      const outcome = normalizeValue(def, value, this.portalId, { ownerExists: this.ownerExists, objectType: type });
      if (outcome.kind === 'invalid') results.push(outcome.result);
      else prepared.set(name, outcome.kind === 'set' ? outcome.value : null);
    }
    // A custom object's schema can require properties on create (HubSpot rejects the record without them).
    if (!existing) {
      for (const name of this.requiredProperties.get(type) ?? []) {
        const value = prepared.get(name);
        if (value === undefined || value === null) {
          results.push(propertyResult(name, 'REQUIRED_PROPERTY', `Property "${name}" is required when creating a ${this.types.get(type).typeId} record`, this.portalId));
        }
      }
    }
    if (results.length > 0) throw propertyValidationError(results);
    this.checkUniques(type, prepared, existing, pending);
    return prepared;
  }

  private checkUniques(type: ObjectTypeName, prepared: PreparedValues, existing?: CrmRecord, pending?: PendingUniques): void {
    const uniques = new Set(this.properties.uniqueNames(type));
    if (type === 'contacts') uniques.add('email');
    for (const name of uniques) {
      const value = prepared.get(name);
      if (value === undefined || value === null) continue;
      const holder = this.indexOf(type, name).get(value);
      const pendingKey = `${name}\u0000${value}`;
      if (holder !== undefined && holder !== existing?.id) {
        if (type === 'contacts' && name === 'email') {
          throw new HubSpotApiError(409, 'CONFLICT', `Contact already exists. Existing ID: ${holder}`);
        }
        throw uniqueViolation(this.types.get(type), name, value, holder, this.portalId);
      }
      if (pending) {
        const claimant = pending.get(pendingKey);
        if (claimant !== undefined && claimant !== existing?.id) {
          throw validationError(`Duplicate values for unique property ${name} found in batch input: [${value}]`);
        }
        pending.set(pendingKey, existing?.id ?? 'new');
      }
    }
  }

  /** Creates a record from prepared values; system properties are HubSpot's to set. */
  commitCreate(type: ObjectTypeName, prepared: PreparedValues): CrmRecord {
    const def = this.types.get(type);
    const at = this.stamp();
    const id = String(this.nextId++);
    const rec: CrmRecord = { id, type, values: new Map(), history: new Map(), createdAt: at, updatedAt: at, archived: false };
    const createdOverride = prepared.get(def.createdProperty);
    if (createdOverride) rec.createdAt = new Date(createdOverride);
    this.writeValue(rec, 'hs_object_id', id, at, 'CRM_UI');
    this.writeValue(rec, def.createdProperty, rec.createdAt.toISOString(), at, WRITE_SOURCE);
    for (const [name, value] of prepared) {
      if (name === def.createdProperty || value === null) continue;
      this.writeValue(rec, name, value, at, WRITE_SOURCE);
    }
    this.writeValue(rec, def.modifiedProperty, at.toISOString(), at, WRITE_SOURCE);
    this.recordsOf(type).set(id, rec);
    this.index(rec);
    return rec;
  }

  commitUpdate(rec: CrmRecord, prepared: PreparedValues): CrmRecord {
    const def = this.types.get(rec.type);
    const at = this.stamp();
    this.unindex(rec);
    for (const [name, value] of prepared) {
      if (value === null) {
        if (rec.values.delete(name)) this.pushHistory(rec, name, '', at, WRITE_SOURCE);
      } else if (rec.values.get(name) !== value) {
        this.writeValue(rec, name, value, at, WRITE_SOURCE);
      }
    }
    if (prepared.has(def.createdProperty)) {
      const created = rec.values.get(def.createdProperty);
      if (created) rec.createdAt = new Date(created);
    }
    rec.updatedAt = at;
    this.writeValue(rec, def.modifiedProperty, at.toISOString(), at, WRITE_SOURCE);
    this.index(rec);
    return rec;
  }

  private writeValue(rec: CrmRecord, name: string, value: string, at: Date, sourceType: string): void {
    rec.values.set(name, value);
    this.pushHistory(rec, name, value, at, sourceType);
  }

  private pushHistory(rec: CrmRecord, name: string, value: string, at: Date, sourceType: string): void {
    let entries = rec.history.get(name);
    if (!entries) rec.history.set(name, (entries = []));
    entries.unshift({ value, timestamp: at, sourceType });
  }

  private uniqueNamesWithEmail(type: ObjectTypeName): string[] {
    const names = this.properties.uniqueNames(type);
    return type === 'contacts' ? [...names, 'email'] : names;
  }

  private index(rec: CrmRecord): void {
    if (rec.archived) return;
    for (const name of this.uniqueNamesWithEmail(rec.type)) {
      const value = rec.values.get(name);
      if (value !== undefined) this.indexOf(rec.type, name).set(value, rec.id);
    }
    if (rec.type === 'contacts') {
      for (const email of splitList(rec.values.get('hs_additional_emails'))) this.indexOf('contacts', 'email').set(email, rec.id);
    }
  }

  private unindex(rec: CrmRecord): void {
    for (const name of this.uniqueNamesWithEmail(rec.type)) {
      const idx = this.indexOf(rec.type, name);
      for (const [value, id] of idx) if (id === rec.id) idx.delete(value);
    }
  }

  archive(rec: CrmRecord): void {
    if (rec.archived) return;
    this.unindex(rec);
    rec.archived = true;
    rec.archivedAt = this.stamp();
  }

  /** GDPR delete: the record and its associations are gone for good. */
  purge(rec: CrmRecord): void {
    this.unindex(rec);
    this.recordsOf(rec.type).delete(rec.id);
    this.associations.removeRecord(rec.type, rec.id);
  }

  /**
   * Merges `secondary` into `primary` as HubSpot does: the primary keeps its id and values, fills its
   * blanks from the secondary, records the secondary in `hs_merged_object_ids`, takes over its
   * associations (and, for contacts, its email as an additional email); the secondary is archived and
   * its id reads as the primary from then on.
   */
  merge(primary: CrmRecord, secondary: CrmRecord): CrmRecord {
    const at = this.stamp();
    this.unindex(primary);
    this.unindex(secondary);
    for (const [name, value] of secondary.values) {
      const def = this.properties.get(primary.type, name);
      if (!def || def.readOnlyValue || primary.values.has(name)) continue;
      this.writeValue(primary, name, value, at, 'MERGE');
    }
    if (primary.type === 'contacts') {
      const extra = splitList(primary.values.get('hs_additional_emails'));
      for (const email of [secondary.values.get('email'), ...splitList(secondary.values.get('hs_additional_emails'))]) {
        if (email && email !== primary.values.get('email') && !extra.includes(email)) extra.push(email);
      }
      if (extra.length > 0) this.writeValue(primary, 'hs_additional_emails', extra.join(';'), at, 'MERGE');
    }
    const merged = splitList(primary.values.get('hs_merged_object_ids'));
    for (const id of [secondary.id, ...splitList(secondary.values.get('hs_merged_object_ids'))]) {
      if (!merged.includes(id)) merged.push(id);
    }
    if (this.properties.get(primary.type, 'hs_merged_object_ids')) {
      this.writeValue(primary, 'hs_merged_object_ids', merged.join(';'), at, 'MERGE');
    }
    this.associations.moveRecord(primary.type, secondary.id, primary.id);
    secondary.archived = true;
    secondary.archivedAt = at;
    secondary.mergedInto = primary.id;
    primary.updatedAt = at;
    this.writeValue(primary, this.types.get(primary.type).modifiedProperty, at.toISOString(), at, 'MERGE');
    this.index(primary);
    return primary;
  }

  /** Live records in id order, for list paging (`after` is the next record's id). */
  page(type: ObjectTypeName, archived: boolean, after: string | undefined, limit: number): { results: CrmRecord[]; next?: string } {
    const ordered = this.all(type)
      .filter((r) => r.archived === archived && !r.mergedInto)
      .sort((a, b) => compareIds(a.id, b.id));
    const start = after === undefined ? 0 : ordered.findIndex((r) => compareIds(r.id, after) >= 0);
    if (start < 0) return { results: [] };
    const results = ordered.slice(start, start + limit);
    const nextRecord = ordered[start + limit];
    return nextRecord ? { results, next: nextRecord.id } : { results };
  }

  /** The property names a read returns: HubSpot's default set, or the requested ones plus id and timestamps. */
  returnedProperties(def: ObjectTypeDef, requested: string[] | undefined): string[] {
    if (requested === undefined || requested.length === 0) return [...def.defaultProperties];
    const names = new Set<string>(['hs_object_id', def.createdProperty, def.modifiedProperty]);
    for (const name of requested) if (this.properties.get(def.name, name)) names.add(name);
    return [...names].sort();
  }

  /** The v3 `SimplePublicObject(WithAssociations)` JSON of a record. */
  serialize(rec: CrmRecord, opts: SerializeOptions = {}): Record<string, unknown> {
    const def = this.types.get(rec.type);
    const properties: Record<string, string | null> = {};
    for (const name of this.returnedProperties(def, opts.properties)) properties[name] = rec.values.get(name) ?? null;
    const body: Record<string, unknown> = {
      id: rec.id,
      properties,
      createdAt: rec.createdAt.toISOString(),
      updatedAt: rec.updatedAt.toISOString(),
      archived: rec.archived,
    };
    if (rec.archivedAt) body.archivedAt = rec.archivedAt.toISOString();
    if (opts.propertiesWithHistory && opts.propertiesWithHistory.length > 0) {
      const history: Record<string, unknown[]> = {};
      for (const name of opts.propertiesWithHistory) {
        if (!this.properties.get(rec.type, name)) continue;
        history[name] = (rec.history.get(name) ?? []).map((h) => ({
          value: h.value,
          timestamp: h.timestamp.toISOString(),
          sourceType: h.sourceType,
        }));
      }
      body.propertiesWithHistory = history;
    }
    if (opts.associations && opts.associations.length > 0) {
      const associations: Record<string, unknown> = {};
      for (const raw of opts.associations) {
        const toDef = this.types.resolve(raw);
        if (!toDef) continue;
        const results = this.associatedIds(rec, toDef.name).flatMap(({ toId, types }) =>
          types.map((t) => ({ id: toId, type: t.name })),
        );
        if (results.length > 0) associations[toDef.name] = { results };
      }
      if (Object.keys(associations).length > 0) body.associations = associations;
    }
    return body;
  }

  /** Live associated records of one type, with their association type definitions. */
  associatedIds(rec: CrmRecord, toType: ObjectTypeName): Array<{ toId: string; types: AssociationTypeDef[] }> {
    return this.associations
      .targets(rec.type, rec.id, toType)
      .filter(({ toId }) => {
        const target = this.recordsOf(toType).get(toId);
        return target !== undefined && !target.archived;
      })
      .map(({ toId, typeIds }) => ({
        toId,
        types: typeIds.map((id) => this.associations.type(id)).filter((t): t is AssociationTypeDef => t !== undefined),
      }));
  }

  counts(): Record<string, { live: number; archived: number; merged: number }> {
    const out: Record<string, { live: number; archived: number; merged: number }> = {};
    for (const def of this.types.list()) {
      const all = this.all(def.name);
      out[def.name] = {
        live: all.filter((r) => !r.archived).length,
        archived: all.filter((r) => r.archived && !r.mergedInto).length,
        merged: all.filter((r) => r.mergedInto !== undefined).length,
      };
    }
    return out;
  }
}

function splitList(value: string | undefined): string[] {
  return value ? value.split(';').filter((v) => v !== '') : [];
}

/**
 * A write that would give a unique-value property a value another record holds. HubSpot rejects it
 * with a 400 property validation error naming the property and the record that has the value.
 */
function uniqueViolation(def: ObjectTypeDef, property: string, value: string, holder: string, portalId: number): HubSpotApiError {
  return propertyValidationError([
    propertyResult(
      property,
      'INVALID_UNIQUE_VALUE',
      `${def.upperName} ${holder} already has that value for unique property ${property}`,
      portalId,
      value,
    ),
  ]);
}
