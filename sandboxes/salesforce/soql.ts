import { SalesforceError } from './errors.js';

/**
 * Parser for the SOQL subset the sync uses:
 *   SELECT fields | COUNT() | FIELDS(ALL|STANDARD|CUSTOM) FROM Object
 *   [WHERE cond] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]
 * Conditions: = != <> < > <= >= LIKE IN NOT IN INCLUDES EXCLUDES, AND/OR/NOT, parentheses. As in real
 * SOQL, AND and OR cannot be mixed at one level without parentheses.
 */

export type Literal =
  | { kind: 'string'; value: string; like: LikePart[]; pos: number }
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'boolean'; value: boolean; pos: number }
  | { kind: 'null'; pos: number }
  | { kind: 'date'; value: string; pos: number }
  | { kind: 'datetime'; value: string; pos: number }
  | { kind: 'dateLiteral'; name: string; n: number | undefined; pos: number };

export type LikePart = { text: string } | { wildcard: '%' | '_' };

export type CompareOp = '=' | '!=' | '<' | '>' | '<=' | '>=' | 'LIKE' | 'IN' | 'NOT IN' | 'INCLUDES' | 'EXCLUDES';

export interface FieldRef {
  path: string[];
  text: string;
  pos: number;
}

export type Condition =
  | { kind: 'and' | 'or'; items: Condition[] }
  | { kind: 'not'; item: Condition }
  | { kind: 'compare'; field: FieldRef; op: CompareOp; value: Literal | Literal[] };

export type SelectItem = { kind: 'field'; field: FieldRef } | { kind: 'count'; pos: number } | { kind: 'fields'; which: 'ALL' | 'STANDARD' | 'CUSTOM'; pos: number };

export interface OrderItem {
  field: FieldRef;
  desc: boolean;
  nullsLast: boolean;
}

export interface SoqlQuery {
  text: string;
  select: SelectItem[];
  object: { name: string; pos: number };
  where: Condition | undefined;
  orderBy: OrderItem[];
  limit: number | undefined;
  offset: { value: number; pos: number } | undefined;
}

type TokenKind = 'ident' | 'string' | 'number' | 'date' | 'datetime' | 'op' | 'punct' | 'eof';

interface Token {
  kind: TokenKind;
  text: string;
  pos: number;
  value?: string;
  like?: LikePart[];
}

/** The caret-pointing message format Salesforce uses for every SOQL error. */
export function soqlError(errorCode: string, soql: string, pos: number, message: string): SalesforceError {
  const before = soql.slice(0, pos);
  const row = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = soql.indexOf('\n', pos) === -1 ? soql.length : soql.indexOf('\n', pos);
  const column = pos - lineStart + 1;
  const line = soql.slice(lineStart, lineEnd);
  return new SalesforceError(errorCode, `\n${line}\n${' '.repeat(column - 1)}^\nERROR at Row:${row}:Column:${column}\n${message}`);
}

const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}(?![\dT])/;
const NUMBER_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)/;
const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/;

function tokenize(soql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < soql.length) {
    const ch = soql.charAt(i);
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const rest = soql.slice(i);
    if (ch === "'") {
      const { value, like, end } = readString(soql, i);
      tokens.push({ kind: 'string', text: soql.slice(i, end), pos: i, value, like });
      i = end;
      continue;
    }
    let m = DATETIME_RE.exec(rest) ?? null;
    if (m) {
      tokens.push({ kind: 'datetime', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    m = DATE_RE.exec(rest);
    if (m) {
      tokens.push({ kind: 'date', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    m = /^(?:!=|<>|<=|>=|=|<|>)/.exec(rest);
    if (m) {
      tokens.push({ kind: 'op', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    // A sign only starts a number where a value is expected (after an operator, '(' or ',').
    const prev = tokens[tokens.length - 1];
    const signAllowed = !prev || prev.kind === 'op' || (prev.kind === 'punct' && prev.text !== ')');
    m = NUMBER_RE.exec(rest);
    if (m && (signAllowed || /^[\d.]/.test(ch))) {
      tokens.push({ kind: 'number', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    m = IDENT_RE.exec(rest);
    if (m) {
      tokens.push({ kind: 'ident', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    if ('(),:'.includes(ch)) {
      tokens.push({ kind: 'punct', text: ch, pos: i });
      i++;
      continue;
    }
    throw soqlError('MALFORMED_QUERY', soql, i, `unexpected token: '${ch}'`);
  }
  tokens.push({ kind: 'eof', text: '<EOF>', pos: soql.length });
  return tokens;
}

/** SOQL string escapes; `\%` and `\_` stay literal characters for LIKE instead of wildcards. */
function readString(soql: string, start: number): { value: string; like: LikePart[]; end: number } {
  let value = '';
  const like: LikePart[] = [];
  const pushText = (t: string) => {
    const last = like[like.length - 1];
    if (last && 'text' in last) last.text += t;
    else like.push({ text: t });
  };
  let i = start + 1;
  while (i < soql.length) {
    const ch = soql.charAt(i);
    if (ch === "'") return { value, like, end: i + 1 };
    if (ch === '\\') {
      const next = soql.charAt(i + 1);
      const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', '"': '"', "'": "'", '\\': '\\', '%': '%', _: '_' };
      const decoded = map[next];
      if (decoded === undefined) {
        throw soqlError('MALFORMED_QUERY', soql, i, 'Invalid string literal: illegal escape sequence');
      }
      value += decoded;
      pushText(decoded);
      i += 2;
      continue;
    }
    value += ch;
    if (ch === '%' || ch === '_') like.push({ wildcard: ch });
    else pushText(ch);
    i++;
  }
  throw soqlError('MALFORMED_QUERY', soql, start, 'unterminated string literal');
}

const DATE_LITERALS = new Set(['TODAY', 'YESTERDAY', 'TOMORROW', 'LAST_WEEK', 'THIS_WEEK', 'NEXT_WEEK', 'LAST_MONTH', 'THIS_MONTH', 'NEXT_MONTH', 'LAST_YEAR', 'THIS_YEAR', 'NEXT_YEAR']);
const DATE_LITERALS_N = new Set(['LAST_N_DAYS', 'NEXT_N_DAYS', 'N_DAYS_AGO', 'LAST_N_MONTHS', 'NEXT_N_MONTHS']);
const RESERVED = new Set(['SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'NOT', 'ORDER', 'BY', 'LIMIT', 'OFFSET', 'IN', 'LIKE', 'NULL', 'TRUE', 'FALSE', 'ASC', 'DESC', 'NULLS', 'FIRST', 'LAST', 'GROUP', 'HAVING', 'WITH', 'FOR', 'INCLUDES', 'EXCLUDES']);

class Parser {
  private i = 0;
  constructor(
    private readonly soql: string,
    private readonly tokens: Token[],
  ) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (this.i < this.tokens.length - 1) this.i++;
    return t;
  }

  private isKeyword(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'ident' && t.text.toUpperCase() === word;
  }

  private unexpected(t: Token = this.peek()): SalesforceError {
    return soqlError('MALFORMED_QUERY', this.soql, t.pos, t.kind === 'eof' ? 'unexpected token: <EOF>' : `unexpected token: '${t.text}'`);
  }

  private expectKeyword(word: string): Token {
    if (!this.isKeyword(word)) throw this.unexpected();
    return this.next();
  }

  private expectPunct(p: string): Token {
    const t = this.peek();
    if (t.kind !== 'punct' || t.text !== p) throw this.unexpected();
    return this.next();
  }

  parse(): SoqlQuery {
    this.expectKeyword('SELECT');
    const select = this.parseSelectList();
    this.expectKeyword('FROM');
    const objTok = this.next();
    if (objTok.kind !== 'ident' || objTok.text.includes('.') || RESERVED.has(objTok.text.toUpperCase())) throw this.unexpected(objTok);
    let where: Condition | undefined;
    if (this.isKeyword('WHERE')) {
      this.next();
      where = this.parseCondition();
    }
    const orderBy: OrderItem[] = [];
    if (this.isKeyword('ORDER')) {
      this.next();
      this.expectKeyword('BY');
      do {
        const field = this.parseFieldRef();
        let desc = false;
        if (this.isKeyword('ASC')) this.next();
        else if (this.isKeyword('DESC')) {
          this.next();
          desc = true;
        }
        // Nulls sort as the lowest value unless told otherwise.
        let nullsLast = desc;
        if (this.isKeyword('NULLS')) {
          this.next();
          if (this.isKeyword('FIRST')) nullsLast = false;
          else if (this.isKeyword('LAST')) nullsLast = true;
          else throw this.unexpected();
          this.next();
        }
        orderBy.push({ field, desc, nullsLast });
      } while (this.peek().kind === 'punct' && this.peek().text === ',' && this.next());
    }
    let limit: number | undefined;
    if (this.isKeyword('LIMIT')) {
      this.next();
      limit = this.parseNonNegativeInt();
    }
    let offset: { value: number; pos: number } | undefined;
    if (this.isKeyword('OFFSET')) {
      this.next();
      const pos = this.peek().pos;
      offset = { value: this.parseNonNegativeInt(), pos };
    }
    if (this.peek().kind !== 'eof') throw this.unexpected();
    return { text: this.soql, select, object: { name: objTok.text, pos: objTok.pos }, where, orderBy, limit, offset };
  }

  private parseNonNegativeInt(): number {
    const t = this.next();
    if (t.kind !== 'number' || !/^\d+$/.test(t.text)) throw this.unexpected(t);
    return Number(t.text);
  }

  private parseSelectList(): SelectItem[] {
    const items: SelectItem[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'ident' && t.text.toUpperCase() === 'COUNT' && this.peek(1).text === '(') {
        this.next();
        this.next();
        if (this.peek().text !== ')') {
          throw soqlError('MALFORMED_QUERY', this.soql, this.peek().pos, 'Aggregate queries are not supported by this sandbox; use COUNT()');
        }
        this.next();
        items.push({ kind: 'count', pos: t.pos });
      } else if (t.kind === 'ident' && t.text.toUpperCase() === 'FIELDS' && this.peek(1).text === '(') {
        this.next();
        this.next();
        const which = this.next();
        const w = which.text.toUpperCase();
        if (w !== 'ALL' && w !== 'STANDARD' && w !== 'CUSTOM') throw this.unexpected(which);
        this.expectPunct(')');
        items.push({ kind: 'fields', which: w, pos: t.pos });
      } else if (t.kind === 'punct' && t.text === '(') {
        throw soqlError('MALFORMED_QUERY', this.soql, t.pos, 'Relationship subqueries are not supported by this sandbox');
      } else {
        items.push({ kind: 'field', field: this.parseFieldRef() });
      }
      if (this.peek().kind === 'punct' && this.peek().text === ',') {
        this.next();
        continue;
      }
      return items;
    }
  }

  private parseFieldRef(): FieldRef {
    const t = this.next();
    if (t.kind !== 'ident' || RESERVED.has(t.text.toUpperCase())) throw this.unexpected(t);
    return { path: t.text.split('.'), text: t.text, pos: t.pos };
  }

  /** One level of AND or OR (never both), each operand a NOT, a parenthesised group or a comparison. */
  private parseCondition(): Condition {
    const first = this.parseUnary();
    let connector: 'AND' | 'OR' | undefined;
    const items = [first];
    for (;;) {
      const t = this.peek();
      const word = t.kind === 'ident' ? t.text.toUpperCase() : '';
      if (word !== 'AND' && word !== 'OR') break;
      if (connector && connector !== word) throw this.unexpected(t);
      connector = word;
      this.next();
      items.push(this.parseUnary());
    }
    if (!connector) return first;
    return { kind: connector === 'AND' ? 'and' : 'or', items };
  }

  private parseUnary(): Condition {
    if (this.isKeyword('NOT')) {
      this.next();
      return { kind: 'not', item: this.parseUnary() };
    }
    if (this.peek().kind === 'punct' && this.peek().text === '(') {
      this.next();
      const inner = this.parseCondition();
      this.expectPunct(')');
      return inner;
    }
    return this.parseComparison();
  }

  private parseComparison(): Condition {
    const field = this.parseFieldRef();
    const t = this.next();
    let op: CompareOp;
    if (t.kind === 'op') {
      op = t.text === '<>' ? '!=' : (t.text as CompareOp);
    } else if (t.kind === 'ident') {
      const word = t.text.toUpperCase();
      if (word === 'LIKE' || word === 'IN' || word === 'INCLUDES' || word === 'EXCLUDES') op = word;
      else if (word === 'NOT' && this.isKeyword('IN')) {
        this.next();
        op = 'NOT IN';
      } else throw this.unexpected(t);
    } else throw this.unexpected(t);
    if (op === 'IN' || op === 'NOT IN' || op === 'INCLUDES' || op === 'EXCLUDES') {
      this.expectPunct('(');
      const values: Literal[] = [];
      do values.push(this.parseLiteral());
      while (this.peek().text === ',' && this.next());
      this.expectPunct(')');
      return { kind: 'compare', field, op, value: values };
    }
    return { kind: 'compare', field, op, value: this.parseLiteral() };
  }

  private parseLiteral(): Literal {
    const t = this.next();
    switch (t.kind) {
      case 'string':
        return { kind: 'string', value: t.value ?? '', like: t.like ?? [], pos: t.pos };
      case 'number':
        return { kind: 'number', value: Number(t.text), pos: t.pos };
      case 'date':
        return { kind: 'date', value: t.text, pos: t.pos };
      case 'datetime':
        return { kind: 'datetime', value: t.text, pos: t.pos };
      case 'ident': {
        const word = t.text.toUpperCase();
        if (word === 'NULL') return { kind: 'null', pos: t.pos };
        if (word === 'TRUE' || word === 'FALSE') return { kind: 'boolean', value: word === 'TRUE', pos: t.pos };
        if (DATE_LITERALS.has(word)) return { kind: 'dateLiteral', name: word, n: undefined, pos: t.pos };
        if (DATE_LITERALS_N.has(word)) {
          this.expectPunct(':');
          const n = this.next();
          if (n.kind !== 'number' || !/^\d+$/.test(n.text)) throw this.unexpected(n);
          return { kind: 'dateLiteral', name: word, n: Number(n.text), pos: t.pos };
        }
        throw this.unexpected(t);
      }
      default:
        throw this.unexpected(t);
    }
  }
}

export function parseSoql(soql: string): SoqlQuery {
  return new Parser(soql, tokenize(soql)).parse();
}
