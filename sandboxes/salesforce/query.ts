import { SalesforceError } from './errors.js';
import { normalizeId, type IdGenerator } from './ids.js';
import { isNumberType, isStringType, type FieldDef, type FieldValue, type ObjectDef, type Schema } from './schema.js';
import { parseSoql, soqlError, type CompareOp, type Condition, type FieldRef, type LikePart, type Literal, type SoqlQuery } from './soql.js';
import type { RecordStore, Row } from './store.js';
import { dateMs, parseDateTimeMs } from './values.js';

const DAY = 86_400_000;
/** Salesforce's documented batch-size bounds for `Sforce-Query-Options: batchSize=N`. */
export const DEFAULT_BATCH_SIZE = 2000;
const MIN_BATCH_SIZE = 200;
const MAX_OFFSET = 2000;
const FIELDS_FUNCTION_LIMIT = 200;

export type OutputRecord = Record<string, unknown>;

export interface QueryPage {
  totalSize: number;
  done: boolean;
  nextRecordsUrl?: string;
  records: OutputRecord[];
}

/** A field path resolved against the schema: reference hops, then the final field. */
interface BoundPath {
  hops: Array<{ field: FieldDef; outputName: string; polymorphic: boolean }>;
  final: FieldDef | 'Type';
  outputName: string;
  text: string;
}

type Matcher = (row: Row) => boolean;

interface Cursor {
  records: OutputRecord[];
  batchSize: number;
  lastUsed: number;
}

const fieldNotFoundMessage = (field: string, entity: string): string =>
  `No such column '${field}' on entity '${entity}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`;

const relationshipNotFoundMessage = (rel: string): string =>
  `Didn't understand relationship '${rel}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`;

// Polymorphic lookups (Task.What, Task.Who) resolve to Salesforce's "Name" entity, which has only these.
const NAME_ENTITY_FIELDS = new Map([
  ['id', 'Id'],
  ['name', 'Name'],
  ['type', 'Type'],
]);

export function parseBatchSize(header: string | undefined): number {
  const m = header ? /batchSize\s*=\s*(\d+)/i.exec(header) : null;
  if (!m) return DEFAULT_BATCH_SIZE;
  return Math.min(DEFAULT_BATCH_SIZE, Math.max(MIN_BATCH_SIZE, Number(m[1])));
}

/**
 * Runs SOQL against the store and pages results behind query locators. Like Salesforce, a result set is
 * fixed when the query runs, and a user may hold a limited number of open cursors (the oldest is
 * released when a new one is needed).
 */
export class QueryEngine {
  private readonly cursors = new Map<string, Cursor>();

  constructor(
    private readonly schema: Schema,
    private readonly store: RecordStore,
    private readonly ids: IdGenerator,
    private readonly now: () => Date,
    private readonly maxOpenCursors: number,
  ) {}

  reset(): void {
    this.cursors.clear();
  }

  openCursors(): number {
    return this.cursors.size;
  }

  run(soql: string, options: { includeDeleted: boolean; batchSize: number; version: string }): QueryPage {
    const query = parseSoql(soql);
    const obj = this.schema.get(query.object.name);
    if (!obj) {
      throw soqlError(
        'INVALID_TYPE',
        soql,
        query.object.pos,
        `sObject type '${query.object.name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
      );
    }
    const isCount = query.select.some((s) => s.kind === 'count');
    if (isCount && query.select.length > 1) {
      const second = query.select[1];
      throw soqlError('MALFORMED_QUERY', soql, second && second.kind === 'field' ? second.field.pos : 0, 'COUNT() must be the only element in the SELECT list');
    }
    const selected = isCount ? [] : this.bindSelect(query, obj);
    const matcher = query.where ? this.bindCondition(query, obj, query.where) : () => true;
    const order = query.orderBy.map((o) => {
      const path = this.bindPath(query, obj, o.field);
      if (path.final !== 'Type' && !path.final.sortable) {
        throw soqlError('INVALID_FIELD', soql, o.field.pos, `field '${path.final.name}' can not be sorted in a query call`);
      }
      return { path, desc: o.desc, nullsLast: o.nullsLast };
    });
    if (query.offset && query.offset.value > MAX_OFFSET) {
      throw soqlError('NUMBER_OUTSIDE_VALID_RANGE', soql, query.offset.pos, `Maximum SOQL offset allowed is ${MAX_OFFSET}`);
    }

    // A selective filter reads its rows through an index; the full filter still runs on them.
    const indexed = !options.includeDeleted && query.where ? this.indexedCandidates(query, obj, query.where) : null;
    let rows = (indexed ?? this.store.rows(obj, options.includeDeleted)).filter(matcher);
    if (order.length > 0) {
      const keyed = rows.map((row, i) => ({ row, i, keys: order.map((o) => this.valueAt(row, o.path)) }));
      keyed.sort((a, b) => {
        for (let k = 0; k < order.length; k++) {
          const o = order[k];
          if (!o) continue;
          const c = compareForSort(a.keys[k] ?? null, b.keys[k] ?? null, o.desc, o.nullsLast);
          if (c !== 0) return c;
        }
        return a.i - b.i;
      });
      rows = keyed.map((k) => k.row);
    }
    const start = query.offset?.value ?? 0;
    rows = rows.slice(start, query.limit !== undefined ? start + query.limit : undefined);
    if (isCount) return { totalSize: rows.length, done: true, records: [] };

    const records = rows.map((row) => this.project(obj, row, selected, options.version));
    return this.page(records, 0, options.batchSize, options.version, undefined);
  }

  /** Follows a locator `<cursorId>-<offset>` (jsforce sends only the last path segment of nextRecordsUrl). */
  more(locator: string, version: string): QueryPage {
    const m = /^(01g[A-Za-z0-9]{15})-(\d+)$/.exec(locator);
    const cursor = m ? this.cursors.get(m[1] as string) : undefined;
    const offset = m ? Number(m[2]) : NaN;
    if (!m || !cursor || offset > cursor.records.length) throw new SalesforceError('INVALID_QUERY_LOCATOR', 'invalid query locator');
    return this.page(cursor.records, offset, cursor.batchSize, version, m[1]);
  }

  private page(records: OutputRecord[], offset: number, batchSize: number, version: string, cursorId: string | undefined): QueryPage {
    const end = offset + batchSize;
    if (end >= records.length) {
      if (cursorId) this.cursors.delete(cursorId);
      return { totalSize: records.length, done: true, records: records.slice(offset) };
    }
    let id = cursorId;
    if (!id) {
      id = this.ids.next('01g');
      while (this.cursors.size >= this.maxOpenCursors) {
        const oldest = [...this.cursors.entries()].sort((a, b) => a[1].lastUsed - b[1].lastUsed)[0];
        if (!oldest) break;
        this.cursors.delete(oldest[0]);
      }
    }
    this.cursors.set(id, { records, batchSize, lastUsed: Date.now() });
    return {
      totalSize: records.length,
      done: false,
      nextRecordsUrl: `/services/data/v${version}/query/${id}-${end}`,
      records: records.slice(offset, end),
    };
  }

  // --- binding ---------------------------------------------------------------------------------------

  private bindSelect(query: SoqlQuery, obj: ObjectDef): BoundPath[] {
    const out: BoundPath[] = [];
    const seen = new Set<string>();
    const add = (path: BoundPath, pos: number) => {
      const key = path.text.toLowerCase();
      if (seen.has(key)) throw soqlError('MALFORMED_QUERY', query.text, pos, `duplicate field selected: ${path.text}`);
      seen.add(key);
      out.push(path);
    };
    for (const item of query.select) {
      if (item.kind === 'field') {
        add(this.bindPath(query, obj, item.field), item.field.pos);
      } else if (item.kind === 'fields') {
        if (item.which !== 'STANDARD' && (query.limit === undefined || query.limit > FIELDS_FUNCTION_LIMIT)) {
          throw soqlError('MALFORMED_QUERY', query.text, item.pos, `The SOQL FIELDS function must have a LIMIT of at most ${FIELDS_FUNCTION_LIMIT}`);
        }
        for (const f of obj.fields) {
          if ((item.which === 'STANDARD' && f.custom) || (item.which === 'CUSTOM' && !f.custom)) continue;
          if (!seen.has(f.lower)) add({ hops: [], final: f, outputName: f.name, text: f.name }, item.pos);
        }
      }
    }
    return out;
  }

  private bindPath(query: SoqlQuery, root: ObjectDef, ref: FieldRef): BoundPath {
    let segments = ref.path;
    // `SELECT Account.Name FROM Account` may prefix fields with the object's own name.
    if (segments.length > 1 && segments[0]?.toLowerCase() === root.lower && !root.relationships.has(root.lower)) {
      segments = segments.slice(1);
    }
    const hops: BoundPath['hops'] = [];
    let obj: ObjectDef | undefined = root;
    for (let i = 0; i < segments.length - 1; i++) {
      const seg = segments[i] as string;
      const rel: FieldDef | undefined = obj?.relationships.get(seg.toLowerCase());
      if (!obj || !rel) throw soqlError('INVALID_FIELD', query.text, ref.pos, relationshipNotFoundMessage(seg));
      const polymorphic: boolean = rel.referenceTo.length > 1;
      hops.push({ field: rel, outputName: rel.relationshipName ?? seg, polymorphic });
      obj = polymorphic ? undefined : this.schema.get(rel.referenceTo[0] ?? '');
      if (polymorphic && i < segments.length - 2) throw soqlError('INVALID_FIELD', query.text, ref.pos, relationshipNotFoundMessage(segments[i + 1] as string));
    }
    const last = segments[segments.length - 1] as string;
    let final: FieldDef | 'Type' | undefined;
    if (obj) final = obj.fieldsByLower.get(last.toLowerCase());
    else {
      // Id and Name read the same way on every target object; Account's definitions stand in for them.
      const name = NAME_ENTITY_FIELDS.get(last.toLowerCase());
      final = name === 'Type' ? 'Type' : name ? this.schema.get('Account')?.fieldsByLower.get(name.toLowerCase()) : undefined;
    }
    if (!final) throw soqlError('INVALID_FIELD', query.text, ref.pos, fieldNotFoundMessage(last, obj ? obj.name : 'Name'));
    const outputName = final === 'Type' ? 'Type' : final.name;
    const text = [...hops.map((h) => h.outputName), outputName].join('.');
    return { hops, final, outputName, text };
  }

  /**
   * The rows a filter can only match, read through indexes as Salesforce's query optimizer does for a
   * selective filter (Id, lookups, External ID and unique fields, and Contact and Lead Email are indexed):
   * `=`/`IN` on such a field, an AND with one such term, an OR whose every branch is one. A superset of the
   * matches in the table's order, or null when the filter is not selective that way (then every row is scanned).
   */
  private indexedCandidates(query: SoqlQuery, obj: ObjectDef, cond: Condition): Row[] | null {
    switch (cond.kind) {
      case 'and': {
        let best: Row[] | null = null;
        for (const item of cond.items) {
          const rows = this.indexedCandidates(query, obj, item);
          if (rows && (!best || rows.length < best.length)) best = rows;
        }
        return best;
      }
      case 'or': {
        const parts = cond.items.map((item) => this.indexedCandidates(query, obj, item));
        if (parts.some((p) => p === null)) return null;
        const byId = new Map<string, Row>();
        for (const part of parts) for (const row of part!) byId.set(String(row.Id), row);
        return [...byId.values()].sort((a, b) => (String(a.Id) < String(b.Id) ? -1 : String(a.Id) > String(b.Id) ? 1 : 0));
      }
      case 'not':
        return null;
      case 'compare': {
        if ((cond.op !== '=' && cond.op !== 'IN') || cond.field.path.length !== 1) return null;
        const field = obj.fieldsByLower.get(cond.field.path[0]!.toLowerCase());
        const emailIndexed = field?.lower === 'email' && (obj.lower === 'contact' || obj.lower === 'lead');
        if (!field || !(field.type === 'id' || field.type === 'reference' || field.externalId || field.unique || emailIndexed)) return null;
        const literals = Array.isArray(cond.value) ? cond.value : [cond.value];
        if (literals.some((l) => l.kind !== 'string')) return null;
        const byId = new Map<string, Row>();
        for (const l of literals) for (const row of this.store.findBy(obj, field, (l as { value: string }).value)) byId.set(String(row.Id), row);
        return [...byId.values()].sort((a, b) => (String(a.Id) < String(b.Id) ? -1 : String(a.Id) > String(b.Id) ? 1 : 0));
      }
    }
  }

  private bindCondition(query: SoqlQuery, obj: ObjectDef, cond: Condition): Matcher {
    switch (cond.kind) {
      case 'and': {
        const ms = cond.items.map((c) => this.bindCondition(query, obj, c));
        return (row) => ms.every((m) => m(row));
      }
      case 'or': {
        const ms = cond.items.map((c) => this.bindCondition(query, obj, c));
        return (row) => ms.some((m) => m(row));
      }
      case 'not': {
        const m = this.bindCondition(query, obj, cond.item);
        return (row) => !m(row);
      }
      case 'compare':
        return this.bindCompare(query, obj, cond.field, cond.op, cond.value);
    }
  }

  private bindCompare(query: SoqlQuery, obj: ObjectDef, ref: FieldRef, op: CompareOp, value: Literal | Literal[]): Matcher {
    const path = this.bindPath(query, obj, ref);
    const field = path.final === 'Type' ? undefined : path.final;
    if (field && !field.filterable) {
      throw soqlError('INVALID_FIELD', query.text, ref.pos, `field '${field.name}' can not be filtered in a query call`);
    }
    const fieldType = field ? field.type : 'string';
    const fieldName = field ? field.name : 'Type';
    const get = (row: Row) => this.valueAt(row, path);
    const badOperator = () => soqlError('INVALID_QUERY_FILTER_OPERATOR', query.text, ref.pos, `invalid operator on field: ${fieldName}`);

    if (op === 'INCLUDES' || op === 'EXCLUDES') {
      if (fieldType !== 'multipicklist') throw badOperator();
      const wanted = (value as Literal[]).map((l) => this.operand(query, field, fieldName, l).toString().toLowerCase().split(';'));
      return (row) => {
        const v = get(row);
        const have = new Set(typeof v === 'string' ? v.toLowerCase().split(';') : []);
        const hit = wanted.some((all) => all.every((x) => have.has(x)));
        return op === 'INCLUDES' ? hit : !hit;
      };
    }
    if (op === 'IN' || op === 'NOT IN') {
      const operands = (value as Literal[]).map((l) => (l.kind === 'null' ? null : this.operand(query, field, fieldName, l)));
      return (row) => {
        const v = get(row);
        const hit = operands.some((o) => (o === null ? v === null : v !== null && equalsOperand(fieldType, v, o)));
        return op === 'IN' ? hit : !hit;
      };
    }
    const lit = value as Literal;
    if (op === 'LIKE') {
      if (!(isStringType(fieldType) || fieldType === 'id' || fieldType === 'reference') || lit.kind !== 'string') throw badOperator();
      const re = likeToRegExp(lit.like);
      return (row) => {
        const v = get(row);
        return typeof v === 'string' && re.test(v);
      };
    }
    if (lit.kind === 'null') {
      if (op === '=') return (row) => get(row) === null;
      if (op === '!=') return (row) => get(row) !== null;
      return () => false;
    }
    if (fieldType === 'boolean' && op !== '=' && op !== '!=') throw badOperator();
    if (lit.kind === 'dateLiteral') {
      if (fieldType !== 'date' && fieldType !== 'datetime') {
        throw soqlError('INVALID_QUERY_FILTER_OPERATOR', query.text, lit.pos, typeMismatch(fieldName, fieldType));
      }
      const [start, end] = dateLiteralRange(lit.name, lit.n, this.now());
      return (row) => {
        const v = get(row);
        if (v === null || typeof v !== 'string') return op === '!=';
        const ms = fieldType === 'date' ? dateMs(v) : (parseDateTimeMs(v) ?? NaN);
        switch (op) {
          case '=':
            return ms >= start && ms < end;
          case '!=':
            return !(ms >= start && ms < end);
          case '<':
            return ms < start;
          case '<=':
            return ms < end;
          case '>':
            return ms >= end;
          default:
            return ms >= start;
        }
      };
    }
    const operand = this.operand(query, field, fieldName, lit);
    return (row) => {
      const v = get(row);
      // In SOQL a null field satisfies `!=` a value and nothing else.
      if (v === null) return op === '!=';
      const c = compareOperand(fieldType, v, operand);
      switch (op) {
        case '=':
          return c === 0;
        case '!=':
          return c !== 0;
        case '<':
          return c < 0;
        case '<=':
          return c <= 0;
        case '>':
          return c > 0;
        default:
          return c >= 0;
      }
    };
  }

  /** Checks a literal against the field's type the way Salesforce does, and returns a comparable value. */
  private operand(query: SoqlQuery, field: FieldDef | undefined, fieldName: string, lit: Literal): string | number | boolean {
    const type = field ? field.type : 'string';
    const fail = () => soqlError('INVALID_QUERY_FILTER_OPERATOR', query.text, lit.pos, typeMismatch(fieldName, type));
    if (type === 'id' || type === 'reference') {
      if (lit.kind !== 'string') throw fail();
      if (lit.value === '') return '';
      const id = normalizeId(lit.value);
      if (!id) throw soqlError('INVALID_QUERY_FILTER_OPERATOR', query.text, lit.pos, `invalid ID field: ${lit.value}`);
      return id;
    }
    if (isStringType(type)) {
      if (lit.kind !== 'string') throw fail();
      return lit.value;
    }
    if (isNumberType(type)) {
      if (lit.kind !== 'number') throw fail();
      return lit.value;
    }
    if (type === 'boolean') {
      if (lit.kind !== 'boolean') throw fail();
      return lit.value;
    }
    if (type === 'date') {
      if (lit.kind !== 'date') throw fail();
      return dateMs(lit.value);
    }
    if (type === 'datetime') {
      if (lit.kind !== 'datetime') throw fail();
      return parseDateTimeMs(lit.value) ?? NaN;
    }
    throw fail();
  }

  // --- evaluation ------------------------------------------------------------------------------------

  private valueAt(row: Row, path: BoundPath): FieldValue {
    let current: { obj: ObjectDef; row: Row } | undefined = undefined;
    let r: Row = row;
    for (const hop of path.hops) {
      const id = r[hop.field.name];
      current = typeof id === 'string' ? this.store.getById(id) : undefined;
      if (!current) return null;
      r = current.row;
    }
    if (path.final === 'Type') return current ? current.obj.name : null;
    return r[path.final.name] ?? null;
  }

  private project(obj: ObjectDef, row: Row, paths: BoundPath[], version: string): OutputRecord {
    const out: OutputRecord = { attributes: attributes(obj, row, version) };
    for (const path of paths) {
      let target = out;
      let r: Row | undefined = row;
      let broken = false;
      let currentObj: ObjectDef = obj;
      for (const hop of path.hops) {
        const existing = target[hop.outputName];
        const id: FieldValue | undefined = r?.[hop.field.name];
        const parent: { obj: ObjectDef; row: Row } | undefined = typeof id === 'string' ? this.store.getById(id) : undefined;
        if (!parent) {
          if (existing === undefined) target[hop.outputName] = null;
          broken = true;
          break;
        }
        if (existing === undefined || existing === null) target[hop.outputName] = { attributes: attributes(parent.obj, parent.row, version) };
        target = target[hop.outputName] as OutputRecord;
        r = parent.row;
        currentObj = parent.obj;
      }
      if (broken) continue;
      target[path.outputName] = path.final === 'Type' ? currentObj.name : (r?.[path.final.name] ?? null);
    }
    return out;
  }
}

export function attributes(obj: ObjectDef, row: Row, version: string): { type: string; url: string } {
  return { type: obj.name, url: `/services/data/v${version}/sobjects/${obj.name}/${String(row.Id)}` };
}

function typeMismatch(fieldName: string, type: string): string {
  const soapName: Record<string, string> = { datetime: 'dateTime', int: 'integer', currency: 'currency', percent: 'percent', double: 'double', date: 'date', boolean: 'boolean' };
  const quoted = isStringType(type as FieldDef['type']) || type === 'id' || type === 'reference';
  return quoted
    ? `value of filter criterion for field '${fieldName}' must be of type ${type === 'id' || type === 'reference' ? 'id' : 'string'} and should be enclosed in quotes`
    : `value of filter criterion for field '${fieldName}' must be of type ${soapName[type] ?? type} and should not be enclosed in quotes`;
}

function toComparable(type: string, v: FieldValue): string | number | boolean {
  if (typeof v === 'string') {
    if (type === 'date') return dateMs(v);
    if (type === 'datetime') return parseDateTimeMs(v) ?? NaN;
    if (type === 'id' || type === 'reference') return v;
    return v.toLowerCase();
  }
  return v as number | boolean;
}

function compareOperand(type: string, v: FieldValue, operand: string | number | boolean): number {
  const a = toComparable(type, v);
  const b = typeof operand === 'string' && type !== 'id' && type !== 'reference' ? operand.toLowerCase() : operand;
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function equalsOperand(type: string, v: FieldValue, operand: string | number | boolean): boolean {
  return compareOperand(type, v, operand) === 0;
}

function compareForSort(a: FieldValue, b: FieldValue, desc: boolean, nullsLast: boolean): number {
  if (a === null || b === null) {
    if (a === b) return 0;
    return (a === null) === nullsLast ? 1 : -1;
  }
  const x = typeof a === 'string' ? a.toLowerCase() : a;
  const y = typeof b === 'string' ? b.toLowerCase() : b;
  const c = x === y ? 0 : x < y ? -1 : 1;
  return desc ? -c : c;
}

function likeToRegExp(parts: LikePart[]): RegExp {
  const src = parts
    .map((p) => ('text' in p ? p.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : p.wildcard === '%' ? '[\\s\\S]*' : '[\\s\\S]'))
    .join('');
  return new RegExp(`^${src}$`, 'i');
}

/** [start, end) in epoch ms for a SOQL date literal, in the sandbox user's time zone (GMT). */
export function dateLiteralRange(name: string, n: number | undefined, now: Date): [number, number] {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const count = n ?? 0;
  const month = (offset: number) => Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1);
  const year = (offset: number) => Date.UTC(now.getUTCFullYear() + offset, 0, 1);
  const weekStart = today - new Date(today).getUTCDay() * DAY;
  switch (name) {
    case 'TODAY':
      return [today, today + DAY];
    case 'YESTERDAY':
      return [today - DAY, today];
    case 'TOMORROW':
      return [today + DAY, today + 2 * DAY];
    case 'LAST_WEEK':
      return [weekStart - 7 * DAY, weekStart];
    case 'THIS_WEEK':
      return [weekStart, weekStart + 7 * DAY];
    case 'NEXT_WEEK':
      return [weekStart + 7 * DAY, weekStart + 14 * DAY];
    case 'LAST_MONTH':
      return [month(-1), month(0)];
    case 'THIS_MONTH':
      return [month(0), month(1)];
    case 'NEXT_MONTH':
      return [month(1), month(2)];
    case 'LAST_YEAR':
      return [year(-1), year(0)];
    case 'THIS_YEAR':
      return [year(0), year(1)];
    case 'NEXT_YEAR':
      return [year(1), year(2)];
    case 'LAST_N_DAYS':
      return [today - count * DAY, today + DAY];
    case 'NEXT_N_DAYS':
      return [today + DAY, today + (count + 1) * DAY];
    case 'N_DAYS_AGO':
      return [today - count * DAY, today - (count - 1) * DAY];
    case 'LAST_N_MONTHS':
      return [month(-count), month(0)];
    default:
      // NEXT_N_MONTHS
      return [month(1), month(1 + count)];
  }
}
