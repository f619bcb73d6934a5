import { compareIds } from './associations.js';
import { invalidInput, validationError } from './errors.js';
import { isRecord } from './json.js';
import { resolveObjectType, type ObjectTypeDef, type ObjectTypeName } from './object-types.js';
import { parseInstant, type PropertyDefinition } from './properties.js';
import type { CrmRecord } from './store.js';

export const OPERATORS = [
  'EQ',
  'NEQ',
  'LT',
  'LTE',
  'GT',
  'GTE',
  'BETWEEN',
  'IN',
  'NOT_IN',
  'HAS_PROPERTY',
  'NOT_HAS_PROPERTY',
  'CONTAINS_TOKEN',
  'NOT_CONTAINS_TOKEN',
] as const;
export type Operator = (typeof OPERATORS)[number];

/** HubSpot's documented search limits. */
export const SEARCH_LIMITS = {
  maxFilterGroups: 5,
  maxFiltersPerGroup: 6,
  maxFilters: 18,
  maxLimit: 200,
  defaultLimit: 10,
  /** Paging stops at 10,000 results; asking beyond it is a 400. */
  maxResults: 10_000,
  maxQueryLength: 3000,
} as const;

export interface Filter {
  kind: 'property';
  propertyName: string;
  operator: Operator;
  value?: string;
  highValue?: string;
  values?: string[];
  def: PropertyDefinition;
}

/** `associations.<type>` pseudo-properties: records associated with the given record id(s). */
export interface AssociationFilter {
  kind: 'association';
  propertyName: string;
  operator: Operator;
  toType: ObjectTypeName;
  value?: string;
  values?: string[];
}

const ASSOCIATION_OPERATORS: readonly Operator[] = ['EQ', 'NEQ', 'IN', 'NOT_IN', 'HAS_PROPERTY', 'NOT_HAS_PROPERTY'];

export interface Sort {
  propertyName: string;
  direction: 'ASCENDING' | 'DESCENDING';
  def: PropertyDefinition;
}

export interface SearchRequest {
  filterGroups: Array<Array<Filter | AssociationFilter>>;
  sorts: Sort[];
  query?: string;
  properties?: string[];
  limit: number;
  after: number;
}

const VALUE_OPERATORS: readonly Operator[] = ['EQ', 'NEQ', 'LT', 'LTE', 'GT', 'GTE', 'CONTAINS_TOKEN', 'NOT_CONTAINS_TOKEN'];

/** Parses and validates a `PublicObjectSearchRequest` against HubSpot's limits and the object's properties. */
export function parseSearchRequest(
  body: unknown,
  lookup: (name: string) => PropertyDefinition | undefined,
  resolveType: (raw: string) => ObjectTypeDef | undefined = resolveObjectType,
): SearchRequest {
  if (!isRecord(body)) throw invalidInput('Cannot build PublicObjectSearchRequest, expected a JSON object');
  const rawGroups = body.filterGroups ?? [];
  if (!Array.isArray(rawGroups)) throw invalidInput('Cannot deserialize `filterGroups`: expected an array');
  if (rawGroups.length > SEARCH_LIMITS.maxFilterGroups) {
    throw validationError(
      `Too many filter groups: ${rawGroups.length}. The maximum number of filterGroups is ${SEARCH_LIMITS.maxFilterGroups}.`,
    );
  }
  let total = 0;
  const filterGroups = rawGroups.map((group: unknown) => {
    if (!isRecord(group) || !Array.isArray(group.filters)) {
      throw invalidInput('Cannot build FilterGroup, some of required attributes are not set [filters]');
    }
    if (group.filters.length > SEARCH_LIMITS.maxFiltersPerGroup) {
      throw validationError(
        `Too many filters in a filter group: ${group.filters.length}. The maximum number of filters per filterGroup is ${SEARCH_LIMITS.maxFiltersPerGroup}.`,
      );
    }
    total += group.filters.length;
    return (group.filters as unknown[]).map((f) => parseFilter(f, lookup, resolveType));
  });
  if (total > SEARCH_LIMITS.maxFilters) {
    throw validationError(`Too many filters: ${total}. The maximum number of filters across all filterGroups is ${SEARCH_LIMITS.maxFilters}.`);
  }
  const sorts = parseSorts(body.sorts, lookup);
  const limit = parseNumber(body.limit, 'limit') ?? SEARCH_LIMITS.defaultLimit;
  if (limit < 0 || limit > SEARCH_LIMITS.maxLimit) {
    throw validationError(`limit must be between 0 and ${SEARCH_LIMITS.maxLimit}, got ${limit}`);
  }
  const after = parseNumber(body.after, 'after') ?? 0;
  if (after < 0) throw validationError(`after must be a non-negative paging cursor, got ${after}`);
  if (after >= SEARCH_LIMITS.maxResults) {
    throw validationError(
      `Search results are limited to ${SEARCH_LIMITS.maxResults} records; paging beyond ${SEARCH_LIMITS.maxResults} (after=${after}) is not supported.`,
    );
  }
  const request: SearchRequest = { filterGroups, sorts, limit, after };
  if (body.query !== undefined && body.query !== null) {
    if (typeof body.query !== 'string') throw invalidInput('Cannot deserialize `query`: expected a string');
    if (body.query.length > SEARCH_LIMITS.maxQueryLength) {
      throw validationError(`query must be at most ${SEARCH_LIMITS.maxQueryLength} characters`);
    }
    if (body.query.trim() !== '') request.query = body.query;
  }
  if (body.properties !== undefined && body.properties !== null) {
    if (!Array.isArray(body.properties) || body.properties.some((p) => typeof p !== 'string')) {
      throw invalidInput('Cannot deserialize `properties`: expected an array of strings');
    }
    request.properties = body.properties as string[];
  }
  return request;
}

function parseNumber(raw: unknown, name: string): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n)) throw invalidInput(`Cannot deserialize \`${name}\`: ${JSON.stringify(raw)} is not an integer`);
  return n;
}

function parseFilter(
  raw: unknown,
  lookup: (name: string) => PropertyDefinition | undefined,
  resolveType: (raw: string) => ObjectTypeDef | undefined,
): Filter | AssociationFilter {
  if (!isRecord(raw)) throw invalidInput('Cannot build Filter, expected a JSON object');
  const missing = ['operator', 'propertyName'].filter((k) => typeof raw[k] !== 'string');
  if (missing.length > 0) throw invalidInput(`Cannot build Filter, some of required attributes are not set [${missing.join(', ')}]`);
  const operator = raw.operator as string;
  if (!(OPERATORS as readonly string[]).includes(operator)) {
    throw invalidInput(
      `Cannot deserialize value of type \`FilterOperatorEnum\` from String "${operator}": not one of the values accepted for Enum class: [${OPERATORS.join(', ')}]`,
    );
  }
  const propertyName = raw.propertyName as string;
  const association = /^associations\.(.+)$/.exec(propertyName);
  if (association) return parseAssociationFilter(raw, propertyName, operator as Operator, resolveType(association[1] ?? ''));
  const def = lookup(propertyName);
  if (!def) throw validationError(`Unable to search by property ${propertyName}: the property does not exist.`);
  const filter: Filter = { kind: 'property', propertyName, operator: operator as Operator, def };
  const value = scalar(raw.value);
  const highValue = scalar(raw.highValue);
  if (value !== undefined) filter.value = value;
  if (highValue !== undefined) filter.highValue = highValue;
  if (raw.values !== undefined && raw.values !== null) {
    if (!Array.isArray(raw.values)) throw invalidInput('Cannot deserialize `values`: expected an array');
    filter.values = raw.values.map((v) => scalar(v) ?? '');
  }
  if (VALUE_OPERATORS.includes(filter.operator) && filter.value === undefined) {
    throw validationError(`Operator ${operator} requires a value (property ${propertyName}).`);
  }
  if (filter.operator === 'BETWEEN' && (filter.value === undefined || filter.highValue === undefined)) {
    throw validationError(`Operator BETWEEN requires value and highValue (property ${propertyName}).`);
  }
  if ((filter.operator === 'IN' || filter.operator === 'NOT_IN') && (filter.values ?? []).length === 0) {
    throw validationError(`Operator ${operator} requires a non-empty values list (property ${propertyName}).`);
  }
  return filter;
}

function parseAssociationFilter(raw: Record<string, unknown>, propertyName: string, operator: Operator, toDef: ObjectTypeDef | undefined): AssociationFilter {
  if (!toDef) throw validationError(`Unable to search by property ${propertyName}: unknown object type ${propertyName.slice('associations.'.length)}.`);
  if (!ASSOCIATION_OPERATORS.includes(operator)) {
    throw validationError(`Operator ${operator} is not supported for ${propertyName}; use one of ${ASSOCIATION_OPERATORS.join(', ')}.`);
  }
  const filter: AssociationFilter = { kind: 'association', propertyName, operator, toType: toDef.name };
  const value = scalar(raw.value);
  if (value !== undefined) filter.value = value;
  if (Array.isArray(raw.values)) filter.values = raw.values.map((v) => scalar(v) ?? '');
  if ((operator === 'EQ' || operator === 'NEQ') && value === undefined) {
    throw validationError(`Operator ${operator} requires a value (property ${propertyName}).`);
  }
  if ((operator === 'IN' || operator === 'NOT_IN') && (filter.values ?? []).length === 0) {
    throw validationError(`Operator ${operator} requires a non-empty values list (property ${propertyName}).`);
  }
  return filter;
}

const scalar = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;

/**
 * Sorts arrive as `"createdate"`, `"-createdate"` (descending), or `{propertyName, direction}` (also
 * JSON-encoded in a string, since the spec types them as strings). HubSpot applies one sort rule.
 */
function parseSorts(raw: unknown, lookup: (name: string) => PropertyDefinition | undefined): Sort[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalidInput('Cannot deserialize `sorts`: expected an array');
  if (raw.length > 1) throw validationError('Only one sort rule can be applied to a search.');
  return raw.map((entry: unknown) => {
    let spec: unknown = entry;
    if (typeof entry === 'string' && entry.trim().startsWith('{')) {
      try {
        spec = JSON.parse(entry) as unknown;
      } catch {
        throw invalidInput(`Cannot deserialize sort ${entry}`);
      }
    }
    let propertyName: string;
    let direction: 'ASCENDING' | 'DESCENDING' = 'ASCENDING';
    if (typeof spec === 'string') {
      propertyName = spec.startsWith('-') ? spec.slice(1) : spec;
      if (spec.startsWith('-')) direction = 'DESCENDING';
    } else if (isRecord(spec) && typeof spec.propertyName === 'string') {
      propertyName = spec.propertyName;
      if (spec.direction === 'DESCENDING') direction = 'DESCENDING';
      else if (spec.direction !== undefined && spec.direction !== 'ASCENDING') {
        throw invalidInput(`Cannot deserialize sort direction ${JSON.stringify(spec.direction)}: use ASCENDING or DESCENDING`);
      }
    } else {
      throw invalidInput('Cannot build sort, some of required attributes are not set [propertyName]');
    }
    const def = lookup(propertyName);
    if (!def) throw validationError(`Unable to sort by property ${propertyName}: the property does not exist.`);
    return { propertyName, direction, def };
  });
}

type Comparable = { kind: 'number'; n: number } | { kind: 'string'; s: string };

/** Turns a stored or filter value into something comparable by the property's type. */
function comparable(def: PropertyDefinition, raw: string): Comparable | undefined {
  switch (def.type) {
    case 'number': {
      const n = Number(raw);
      return Number.isFinite(n) ? { kind: 'number', n } : undefined;
    }
    case 'date':
    case 'datetime': {
      const ms = parseInstant(raw);
      return ms === undefined ? undefined : { kind: 'number', n: ms };
    }
    default:
      return { kind: 'string', s: raw.toLowerCase() };
  }
}

function compare(a: Comparable, b: Comparable): number {
  if (a.kind === 'number' && b.kind === 'number') return a.n - b.n;
  const sa = a.kind === 'string' ? a.s : String(a.n);
  const sb = b.kind === 'string' ? b.s : String(b.n);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

const tokens = (s: string): string[] => s.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((t) => t !== '');

function wildcard(pattern: string): RegExp {
  const escaped = pattern.toLowerCase().replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

function containsToken(stored: string, value: string): boolean {
  if (value.includes('*')) {
    const re = wildcard(value);
    return re.test(stored.toLowerCase()) || stored.split(/\s+/).some((part) => re.test(part.toLowerCase()));
  }
  const have = tokens(stored);
  return tokens(value).every((t) => have.includes(t));
}

/** Ids of the live records of a type a record is associated with. */
export type AssociatedIds = (rec: CrmRecord, toType: ObjectTypeName) => string[];

function matchesAssociation(rec: CrmRecord, f: AssociationFilter, associated: AssociatedIds): boolean {
  const ids = associated(rec, f.toType);
  switch (f.operator) {
    case 'EQ':
      return ids.includes(f.value ?? '');
    case 'NEQ':
      return !ids.includes(f.value ?? '');
    case 'IN':
      return ids.some((id) => (f.values ?? []).includes(id));
    case 'NOT_IN':
      return !ids.some((id) => (f.values ?? []).includes(id));
    case 'HAS_PROPERTY':
      return ids.length > 0;
    default:
      return ids.length === 0;
  }
}

/** Whether one record's stored value satisfies one filter; multi-value (checkbox) values match on any member. */
export function matchesFilter(rec: CrmRecord, f: Filter): boolean {
  const stored = rec.values.get(f.propertyName);
  const equalsAny = (candidates: string[]): boolean => {
    if (stored === undefined) return false;
    const members = f.def.fieldType === 'checkbox' ? stored.split(';') : [stored];
    return members.some((m) => {
      const a = comparable(f.def, m);
      return candidates.some((c) => {
        const b = comparable(f.def, c);
        return a !== undefined && b !== undefined && compare(a, b) === 0;
      });
    });
  };
  const ordered = (test: (cmp: number) => boolean, against: string): boolean => {
    if (stored === undefined) return false;
    const a = comparable(f.def, stored);
    const b = comparable(f.def, against);
    return a !== undefined && b !== undefined && test(compare(a, b));
  };
  switch (f.operator) {
    case 'HAS_PROPERTY':
      return stored !== undefined;
    case 'NOT_HAS_PROPERTY':
      return stored === undefined;
    case 'EQ':
      return equalsAny([f.value ?? '']);
    case 'NEQ':
      return !equalsAny([f.value ?? '']);
    case 'IN':
      return equalsAny(f.values ?? []);
    case 'NOT_IN':
      return !equalsAny(f.values ?? []);
    case 'LT':
      return ordered((c) => c < 0, f.value ?? '');
    case 'LTE':
      return ordered((c) => c <= 0, f.value ?? '');
    case 'GT':
      return ordered((c) => c > 0, f.value ?? '');
    case 'GTE':
      return ordered((c) => c >= 0, f.value ?? '');
    case 'BETWEEN':
      return ordered((c) => c >= 0, f.value ?? '') && ordered((c) => c <= 0, f.highValue ?? '');
    case 'CONTAINS_TOKEN':
      return stored !== undefined && containsToken(stored, f.value ?? '');
    case 'NOT_CONTAINS_TOKEN':
      return stored === undefined || !containsToken(stored, f.value ?? '');
  }
}

/** The free-text `query`: every query word must start some word of one of the type's searchable properties. */
function matchesQuery(rec: CrmRecord, def: ObjectTypeDef, query: string): boolean {
  const words = def.searchableProperties.flatMap((p) => tokens(rec.values.get(p) ?? ''));
  return tokens(query).every((q) => words.some((w) => w.startsWith(q)));
}

export interface SearchPage {
  total: number;
  results: CrmRecord[];
  nextAfter?: string;
}

/**
 * Runs a search over live records: OR of filter groups, AND within a group (`associations.<type>`
 * filters match associated record ids), the optional query, one sort (records without the sort
 * property last), ties and the default order by id.
 */
export function runSearch(records: CrmRecord[], def: ObjectTypeDef, req: SearchRequest, associated: AssociatedIds): SearchPage {
  const matches = records.filter(
    (rec) =>
      !rec.archived &&
      (req.filterGroups.length === 0 ||
        req.filterGroups.some((group) =>
          group.every((f) => (f.kind === 'association' ? matchesAssociation(rec, f, associated) : matchesFilter(rec, f))),
        )) &&
      (req.query === undefined || matchesQuery(rec, def, req.query)),
  );
  const sort = req.sorts[0];
  matches.sort((a, b) => {
    if (sort) {
      const va = a.values.get(sort.propertyName);
      const vb = b.values.get(sort.propertyName);
      if (va !== undefined && vb === undefined) return -1;
      if (va === undefined && vb !== undefined) return 1;
      if (va !== undefined && vb !== undefined) {
        const ca = comparable(sort.def, va);
        const cb = comparable(sort.def, vb);
        if (ca && cb) {
          const c = compare(ca, cb);
          if (c !== 0) return sort.direction === 'DESCENDING' ? -c : c;
        }
      }
    }
    return compareIds(a.id, b.id);
  });
  const end = Math.min(req.after + req.limit, matches.length, SEARCH_LIMITS.maxResults);
  const page: SearchPage = { total: matches.length, results: matches.slice(req.after, end) };
  if (end < Math.min(matches.length, SEARCH_LIMITS.maxResults) && req.limit > 0) page.nextAfter = String(end);
  return page;
}
