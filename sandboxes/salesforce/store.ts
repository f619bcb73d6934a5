import { SalesforceError } from './errors.js';
import type { IdGenerator } from './ids.js';
import { normalizeId, to15 } from './ids.js';
import type { FieldDef, FieldValue, ObjectDef, Schema } from './schema.js';
import { formatDateTime, indexKey, validateValue } from './values.js';

export type Row = Record<string, FieldValue>;

/** A lookup given by the parent's external id (`"Account": {"Ext__c": "x"}` or a CSV column `Account.Ext__c`). */
export interface ForeignKeyRef {
  kind: 'foreignKey';
  target: ObjectDef;
  field: FieldDef;
  value: FieldValue;
}

/** Parsed input of one write: field -> stored value, or a foreign key to resolve. */
export type Values = Map<FieldDef, FieldValue | ForeignKeyRef>;

interface Table {
  obj: ObjectDef;
  rows: Map<string, Row>;
  /** field lower-name -> index key -> ids of live records. Built lazily per unique/external-id field. */
  indexes: Map<string, Map<string, Set<string>>>;
}

interface UndoEntry {
  table: Table;
  id: string;
  before: Row | undefined;
}

export interface SandboxUser {
  id: string;
  username: string;
  organizationId: string;
}

const isForeignKey = (v: FieldValue | ForeignKeyRef): v is ForeignKeyRef =>
  v !== null && typeof v === 'object' && v.kind === 'foreignKey';

const READONLY_MESSAGE =
  'Please check the security settings of this field and verify that it is read/write for your profile or permission set.';

/**
 * In-memory records of every object, with Salesforce's write rules: required fields, unique and
 * external-id duplicates, reference integrity, system fields, soft delete to the recycle bin, and
 * cascade delete. Writes inside `begin()`/`rollback()` can be undone (allOrNone).
 */
export class RecordStore {
  private readonly tables = new Map<string, Table>();
  private undoLog: UndoEntry[] | undefined;
  readonly user: SandboxUser;

  constructor(
    readonly schema: Schema,
    private readonly ids: IdGenerator,
    private readonly now: () => Date,
  ) {
    this.user = {
      id: ids.next('005'),
      username: 'sandbox.user@example.com',
      organizationId: ids.next('00D'),
    };
    this.seedUser();
  }

  private seedUser(): void {
    const obj = this.object('User');
    const stamp = formatDateTime(this.now().getTime());
    this.put(this.table(obj), this.user.id, {
      Id: this.user.id,
      Username: this.user.username,
      FirstName: 'Sandbox',
      LastName: 'User',
      Name: 'Sandbox User',
      Email: this.user.username,
      Alias: 'sandbox',
      IsActive: true,
      IsDeleted: false,
      CreatedDate: stamp,
      CreatedById: this.user.id,
      LastModifiedDate: stamp,
      LastModifiedById: this.user.id,
      SystemModstamp: stamp,
    });
  }

  /** Drops every record (the sandbox user comes back). Ids are never reused. */
  reset(): void {
    this.tables.clear();
    this.undoLog = undefined;
    this.seedUser();
  }

  private object(name: string): ObjectDef {
    const obj = this.schema.get(name);
    if (!obj) throw new Error(`unknown object ${name}`);
    return obj;
  }

  private table(obj: ObjectDef): Table {
    let t = this.tables.get(obj.lower);
    if (!t) {
      t = { obj, rows: new Map(), indexes: new Map() };
      this.tables.set(obj.lower, t);
    }
    return t;
  }

  // --- reads -----------------------------------------------------------------------------------------

  /** Any record (deleted ones included) by id, or undefined. */
  get(obj: ObjectDef, id: string): Row | undefined {
    const canonical = normalizeId(id);
    return canonical ? this.tables.get(obj.lower)?.rows.get(canonical) : undefined;
  }

  /** Resolves an id of any object through its key prefix. */
  getById(id: string): { obj: ObjectDef; row: Row } | undefined {
    const canonical = normalizeId(id);
    if (!canonical) return undefined;
    const obj = this.schema.byKeyPrefix(canonical.slice(0, 3));
    const row = obj ? this.tables.get(obj.lower)?.rows.get(canonical) : undefined;
    return obj && row ? { obj, row } : undefined;
  }

  /** Records in creation order; the recycle bin only when asked (queryAll). */
  rows(obj: ObjectDef, includeDeleted = false): Row[] {
    const t = this.tables.get(obj.lower);
    if (!t) return [];
    const out: Row[] = [];
    for (const row of t.rows.values()) if (includeDeleted || row.IsDeleted !== true) out.push(row);
    return out;
  }

  count(obj: ObjectDef): { live: number; deleted: number } {
    let live = 0;
    let deleted = 0;
    for (const row of this.tables.get(obj.lower)?.rows.values() ?? []) {
      if (row.IsDeleted === true) deleted++;
      else live++;
    }
    return { live, deleted };
  }

  /** Live records whose field equals the value, via the field's index (external-id and unique lookups). */
  findBy(obj: ObjectDef, field: FieldDef, value: FieldValue): Row[] {
    if (field.type === 'id') {
      const row = typeof value === 'string' ? this.get(obj, value) : undefined;
      return row && row.IsDeleted !== true ? [row] : [];
    }
    const key = indexKey(field, value);
    if (key === undefined) return [];
    const table = this.table(obj);
    const ids = this.index(table, field).get(key);
    const out: Row[] = [];
    for (const id of ids ?? []) {
      const row = table.rows.get(id);
      if (row) out.push(row);
    }
    return out;
  }

  private index(table: Table, field: FieldDef): Map<string, Set<string>> {
    let idx = table.indexes.get(field.lower);
    if (!idx) {
      idx = new Map();
      for (const [id, row] of table.rows) addToIndex(idx, field, row, id);
      table.indexes.set(field.lower, idx);
    }
    return idx;
  }

  // --- transactions ----------------------------------------------------------------------------------

  begin(): void {
    if (this.undoLog) throw new Error('nested transaction');
    this.undoLog = [];
  }

  commit(): void {
    this.undoLog = undefined;
  }

  rollback(): void {
    const log = this.undoLog ?? [];
    this.undoLog = undefined;
    for (let i = log.length - 1; i >= 0; i--) {
      const entry = log[i];
      if (entry) this.put(entry.table, entry.id, entry.before);
    }
  }

  /** The only place records change: keeps indexes in step and records before-images for rollback. */
  private put(table: Table, id: string, row: Row | undefined): void {
    const before = table.rows.get(id);
    if (this.undoLog) this.undoLog.push({ table, id, before });
    for (const [lower, idx] of table.indexes) {
      const field = table.obj.fieldsByLower.get(lower);
      if (!field) continue;
      if (before) removeFromIndex(idx, field, before, id);
      if (row) addToIndex(idx, field, row, id);
    }
    if (row) table.rows.set(id, row);
    else table.rows.delete(id);
  }

  // --- writes ----------------------------------------------------------------------------------------

  insert(obj: ObjectDef, values: Values): Row {
    if (obj.readOnly) throw new SalesforceError('INVALID_TYPE_FOR_OPERATION', `entity type cannot be inserted: ${obj.name}`, { fields: [] });
    const readOnly = [...values.keys()].filter((f) => !f.createable);
    if (readOnly.length > 0) throw unableToWrite(readOnly);
    const resolved = this.resolve(obj, values);
    const stamp = formatDateTime(this.now().getTime());
    const id = this.ids.next(obj.keyPrefix);
    const row: Row = {};
    for (const f of obj.fields) row[f.name] = f.defaultValue;
    for (const [f, v] of resolved) row[f.name] = v;
    row.Id = id;
    if (obj.fieldsByLower.has('ownerid') && (row.OwnerId ?? null) === null) row.OwnerId = this.user.id;
    Object.assign(row, { IsDeleted: false, CreatedDate: stamp, CreatedById: this.user.id, LastModifiedDate: stamp, LastModifiedById: this.user.id, SystemModstamp: stamp });
    const missing = obj.fields.filter((f) => !f.nillable && f.createable && (row[f.name] ?? null) === null);
    if (missing.length > 0) throw requiredMissing(missing);
    this.checkUnique(obj, row, resolved, undefined);
    derive(obj, row);
    this.put(this.table(obj), id, row);
    return row;
  }

  update(obj: ObjectDef, id: string, values: Values): Row {
    const existing = this.get(obj, id);
    if (!existing) throw new SalesforceError('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', { fields: [] });
    if (existing.IsDeleted === true) throw new SalesforceError('ENTITY_IS_DELETED', 'entity is deleted', { fields: [] });
    if (obj.readOnly) throw new SalesforceError('INVALID_TYPE_FOR_OPERATION', `entity type cannot be updated: ${obj.name}`, { fields: [] });
    const readOnly = [...values.keys()].filter((f) => !f.updateable && f.name !== 'Id');
    if (readOnly.length > 0) throw unableToWrite(readOnly);
    values.delete(obj.fieldsByLower.get('id') as FieldDef);
    const resolved = this.resolve(obj, values);
    const missing = [...resolved].filter(([f, v]) => !f.nillable && v === null).map(([f]) => f);
    if (missing.length > 0) throw requiredMissing(missing);
    const row: Row = { ...existing };
    for (const [f, v] of resolved) row[f.name] = v;
    this.checkUnique(obj, row, resolved, existing.Id as string);
    const stamp = formatDateTime(this.now().getTime());
    Object.assign(row, { LastModifiedDate: stamp, LastModifiedById: this.user.id, SystemModstamp: stamp });
    derive(obj, row);
    this.put(this.table(obj), existing.Id as string, row);
    return row;
  }

  /**
   * Moves a record (and, through cascade-delete lookups, its children) to the recycle bin; other lookups
   * pointing at it are cleared. `hard` removes the record itself for good (Bulk hardDelete).
   */
  delete(obj: ObjectDef, id: string, options: { hard?: boolean } = {}): void {
    const existing = this.get(obj, id);
    if (!existing) throw new SalesforceError('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', { fields: [] });
    if (existing.IsDeleted === true && !options.hard) throw new SalesforceError('ENTITY_IS_DELETED', 'entity is deleted', { fields: [] });
    if (obj.readOnly) throw new SalesforceError('INVALID_TYPE_FOR_OPERATION', `entity type cannot be deleted: ${obj.name}`, { fields: [] });
    const canonical = existing.Id as string;
    const stamp = formatDateTime(this.now().getTime());
    if (options.hard) this.put(this.table(obj), canonical, undefined);
    else this.put(this.table(obj), canonical, { ...existing, IsDeleted: true, SystemModstamp: stamp });
    for (const { child, field } of this.schema.childRelationships(obj)) {
      for (const row of this.rows(child)) {
        if (row[field.name] !== canonical) continue;
        if (field.cascadeDelete) this.delete(child, row.Id as string);
        else this.put(this.table(child), row.Id as string, { ...row, [field.name]: null, SystemModstamp: stamp });
      }
    }
  }

  /** Turns foreign-key references into ids and runs field-level validation, in field order. */
  private resolve(obj: ObjectDef, values: Values): Map<FieldDef, FieldValue> {
    const out = new Map<FieldDef, FieldValue>();
    for (const [f, raw] of values) {
      let v: FieldValue;
      if (isForeignKey(raw)) {
        const matches = this.findBy(raw.target, raw.field, raw.value);
        const first = matches[0];
        if (!first) {
          throw new SalesforceError(
            'INVALID_FIELD',
            `Foreign key external ID: ${String(raw.value)} not found for field ${raw.field.name} in entity ${raw.target.name}`,
            { fields: [] },
          );
        }
        if (matches.length > 1) {
          throw new SalesforceError(
            'INVALID_FIELD',
            `Foreign key external ID: ${String(raw.value)} matches more than one record for field ${raw.field.name} in entity ${raw.target.name}`,
            { fields: [] },
          );
        }
        v = first.Id as string;
      } else {
        v = validateValue(f, raw);
      }
      if (f.type === 'reference' && v !== null) v = this.checkReference(f, String(v));
      // A checkbox cannot hold null: clearing it unchecks it.
      if (f.type === 'boolean' && v === null) v = false;
      out.set(f, v);
    }
    return out;
  }

  private checkReference(f: FieldDef, raw: string): string {
    const id = normalizeId(raw);
    if (!id) throw new SalesforceError('MALFORMED_ID', `${f.label}: id value of incorrect type: ${raw}`, { fields: [f.name] });
    const target = this.schema.byKeyPrefix(id.slice(0, 3));
    if (!target || !f.referenceTo.includes(target.name)) {
      throw new SalesforceError('FIELD_INTEGRITY_EXCEPTION', `${f.label}: id value of incorrect type: ${raw}`, { fields: [f.name] });
    }
    const row = this.get(target, id);
    if (!row) throw new SalesforceError('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', { fields: [] });
    if (row.IsDeleted === true) throw new SalesforceError('ENTITY_IS_DELETED', 'entity is deleted', { fields: [] });
    return id;
  }

  private checkUnique(obj: ObjectDef, row: Row, changed: Map<FieldDef, FieldValue>, selfId: string | undefined): void {
    for (const f of obj.fields) {
      if (!f.unique || !changed.has(f)) continue;
      const v = row[f.name] ?? null;
      if (v === null) continue;
      const clash = this.findBy(obj, f, v).find((r) => r.Id !== selfId);
      if (clash) {
        throw new SalesforceError('DUPLICATE_VALUE', `duplicate value found: ${f.name} duplicates value on record with id: ${to15(clash.Id as string)}`, {
          fields: [],
        });
      }
    }
  }
}

function addToIndex(idx: Map<string, Set<string>>, field: FieldDef, row: Row, id: string): void {
  if (row.IsDeleted === true) return;
  const key = indexKey(field, row[field.name] ?? null);
  if (key === undefined) return;
  let set = idx.get(key);
  if (!set) idx.set(key, (set = new Set()));
  set.add(id);
}

function removeFromIndex(idx: Map<string, Set<string>>, field: FieldDef, row: Row, id: string): void {
  const key = indexKey(field, row[field.name] ?? null);
  if (key === undefined) return;
  const set = idx.get(key);
  set?.delete(id);
  if (set && set.size === 0) idx.delete(key);
}

function unableToWrite(fields: FieldDef[]): SalesforceError {
  const names = fields.map((f) => f.name);
  return new SalesforceError('INVALID_FIELD_FOR_INSERT_UPDATE', `Unable to create/update fields: ${names.join(', ')}. ${READONLY_MESSAGE}`, {
    fields: names,
  });
}

function requiredMissing(fields: FieldDef[]): SalesforceError {
  const names = fields.map((f) => f.name);
  return new SalesforceError('REQUIRED_FIELD_MISSING', `Required fields are missing: [${names.join(', ')}]`, { fields: names });
}

/** Fields Salesforce computes from others. */
function derive(obj: ObjectDef, row: Row): void {
  switch (obj.name) {
    case 'Contact':
    case 'User':
      row.Name = [row.FirstName, row.LastName].filter((x) => typeof x === 'string' && x !== '').join(' ');
      break;
    case 'Opportunity':
      row.IsClosed = row.StageName === 'Closed Won' || row.StageName === 'Closed Lost';
      row.IsWon = row.StageName === 'Closed Won';
      break;
    case 'Task':
      row.IsClosed = row.Status === 'Completed';
      break;
  }
}
