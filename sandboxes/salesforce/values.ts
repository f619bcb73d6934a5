import { SalesforceError, jsonParserError } from './errors.js';
import { normalizeId } from './ids.js';
import { isNumberType, isStringType, type FieldDef, type FieldValue } from './schema.js';

/**
 * Storage formats: strings, numbers and booleans as themselves, dates as `YYYY-MM-DD`, datetimes as
 * Salesforce prints them (`2024-05-01T12:00:00.000+0000`), ids in their canonical 18-char form.
 */

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

function validCalendarDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

export function parseDate(s: string): string | undefined {
  const m = DATE_RE.exec(s);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return validCalendarDate(y, mo, d) ? s : undefined;
}

/** Epoch milliseconds of an ISO-8601 date or datetime (UTC when no offset), or undefined. */
export function parseDateTimeMs(s: string): number | undefined {
  const m = DATETIME_RE.exec(s);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!validCalendarDate(y, mo, d)) return undefined;
  const h = Number(m[4] ?? 0);
  const mi = Number(m[5] ?? 0);
  const sec = Number(m[6] ?? 0);
  if (h > 23 || mi > 59 || sec > 59) return undefined;
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  let offsetMin = 0;
  const tz = m[8];
  if (tz && tz !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
  }
  return Date.UTC(y, mo - 1, d, h, mi, sec, ms) - offsetMin * 60_000;
}

export function formatDateTime(ms: number): string {
  const t = new Date(ms);
  return (
    `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}` +
    `T${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}.${pad(t.getUTCMilliseconds(), 3)}+0000`
  );
}

export const dateMs = (s: string): number => Date.parse(`${s}T00:00:00Z`);

/** The type name Salesforce's JSON deserializer uses in its messages. */
function jacksonType(f: FieldDef): string {
  switch (f.type) {
    case 'boolean':
      return 'boolean';
    case 'int':
      return 'int';
    case 'double':
    case 'currency':
    case 'percent':
      return 'double';
    case 'date':
      return 'date';
    case 'datetime':
      return 'datetime';
    case 'id':
    case 'reference':
      return 'reference';
    default:
      return 'string';
  }
}

function jacksonToken(v: unknown): [string, string] {
  if (v === true) return ['VALUE_TRUE', 'true'];
  if (v === false) return ['VALUE_FALSE', 'false'];
  if (typeof v === 'number') return [Number.isInteger(v) ? 'VALUE_NUMBER_INT' : 'VALUE_NUMBER_FLOAT', String(v)];
  if (Array.isArray(v)) return ['START_ARRAY', '['];
  if (v !== null && typeof v === 'object') return ['START_OBJECT', '{'];
  return ['VALUE_STRING', String(v)];
}

export interface SourcePosition {
  line: number;
  column: number;
}

/** Where a key's value starts in a raw JSON body, for the `at [line:L, column:C]` part of parser errors. */
export function locateKey(raw: string | undefined, key: string): SourcePosition {
  if (!raw) return { line: 1, column: 1 };
  const re = new RegExp(`"${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\s*:\\s*`, 'i');
  const m = re.exec(raw);
  const offset = m ? m.index + m[0].length : 0;
  const before = raw.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return { line, column };
}

function cannotDeserialize(f: FieldDef, v: unknown, at: SourcePosition): SalesforceError {
  const [token, shown] = jacksonToken(v);
  return jsonParserError(
    `Cannot deserialize instance of ${jacksonType(f)} from ${token} value ${shown} or request may be missing a required field at [line:${at.line}, column:${at.column}]`,
  );
}

/**
 * Converts one JSON value to its stored form. Type errors are request-level JSON_PARSER_ERRORs, as
 * Salesforce fails deserialization before any DML runs.
 */
export function fromJson(f: FieldDef, v: unknown, at: () => SourcePosition): FieldValue {
  if (v === null) return null;
  if (isStringType(f.type)) {
    if (typeof v === 'string') return v === '' ? null : v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw cannotDeserialize(f, v, at());
  }
  switch (f.type) {
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
      throw cannotDeserialize(f, v, at());
    case 'int':
    case 'double':
    case 'currency':
    case 'percent': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isFinite(n) || (f.type === 'int' && !Number.isInteger(n))) throw cannotDeserialize(f, v, at());
      return n;
    }
    case 'date': {
      const d = typeof v === 'string' ? parseDate(v) : undefined;
      if (d === undefined) throw cannotDeserialize(f, v, at());
      return d;
    }
    case 'datetime': {
      const ms = typeof v === 'string' ? parseDateTimeMs(v) : undefined;
      if (ms === undefined) throw cannotDeserialize(f, v, at());
      return formatDateTime(ms);
    }
    case 'id':
    case 'reference':
      if (typeof v === 'string') return v === '' ? null : v;
      throw cannotDeserialize(f, v, at());
    default:
      throw cannotDeserialize(f, v, at());
  }
}

/** Bulk and SOAP report a bad value on one record as INVALID_TYPE_ON_FIELD_IN_RECORD. */
const notOfType = (f: FieldDef, cell: string): SalesforceError =>
  new SalesforceError('INVALID_TYPE_ON_FIELD_IN_RECORD', `${f.label}: value not of required type: ${cell}`, { fields: [f.name] });

/**
 * Converts one Bulk API CSV cell. An empty cell means "leave as is" (undefined); `#N/A` sets null.
 */
export function fromCsv(f: FieldDef, cell: string): FieldValue | undefined {
  if (cell === '') return undefined;
  if (cell === '#N/A') return null;
  if (isStringType(f.type) || f.type === 'id' || f.type === 'reference') return cell;
  switch (f.type) {
    case 'boolean': {
      const s = cell.trim().toLowerCase();
      if (s === 'true' || s === '1' || s === 'yes') return true;
      if (s === 'false' || s === '0' || s === 'no') return false;
      throw notOfType(f, cell);
    }
    case 'int':
    case 'double':
    case 'currency':
    case 'percent': {
      const n = Number(cell.trim());
      if (cell.trim() === '' || !Number.isFinite(n) || (f.type === 'int' && !Number.isInteger(n))) throw notOfType(f, cell);
      return n;
    }
    case 'date': {
      // Bulk also accepts a datetime for a date column and keeps its date part.
      const d = parseDate(cell.trim()) ?? (parseDateTimeMs(cell.trim()) !== undefined ? cell.trim().slice(0, 10) : undefined);
      if (d === undefined) throw notOfType(f, cell);
      return d;
    }
    case 'datetime': {
      const ms = parseDateTimeMs(cell.trim());
      if (ms === undefined) throw notOfType(f, cell);
      return formatDateTime(ms);
    }
    default:
      throw notOfType(f, cell);
  }
}

/**
 * Field-level checks shared by every write path; returns the value to store (numbers rounded to scale).
 * Reference existence is checked by the store, which can see other records.
 */
export function validateValue(f: FieldDef, v: FieldValue): FieldValue {
  if (v === null) return null;
  if (isStringType(f.type) && typeof v === 'string') {
    if (v.length > f.length) {
      throw new SalesforceError('STRING_TOO_LONG', `${f.label}: data value too large: ${v} (max length=${f.length})`, { fields: [f.name] });
    }
    if (f.type === 'email' && !EMAIL_RE.test(v)) {
      throw new SalesforceError('INVALID_EMAIL_ADDRESS', `${f.label}: invalid email address: ${v}`, { fields: [f.name] });
    }
    if (f.restrictedPicklist) {
      const values = f.type === 'multipicklist' ? v.split(';') : [v];
      const bad = values.find((x) => !f.picklistValues.includes(x));
      if (bad !== undefined) {
        throw new SalesforceError('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', `${f.label}: bad value for restricted picklist field: ${bad}`, {
          fields: [f.name],
        });
      }
    }
    return v;
  }
  if (isNumberType(f.type) && typeof v === 'number') {
    const factor = 10 ** f.scale;
    const rounded = Math.round(v * factor) / factor;
    if (Math.abs(rounded) >= 10 ** (f.precision - f.scale)) {
      throw new SalesforceError('NUMBER_OUTSIDE_VALID_RANGE', `${f.label}: value outside of valid range on numeric field: ${v}`, {
        fields: [f.name],
      });
    }
    return rounded;
  }
  return v;
}

/** Key used by unique and external-id indexes: text is case-insensitive unless the field says otherwise. */
export function indexKey(f: FieldDef, v: FieldValue): string | undefined {
  if (v === null) return undefined;
  if (typeof v === 'string') {
    if (f.type === 'id' || f.type === 'reference') return normalizeId(v) ?? v;
    return f.caseSensitive ? v : v.toLowerCase();
  }
  return String(v);
}
