import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A small OpenAPI 3 response checker: finds the operation for a method and concrete path across a set
 * of documents, picks the response schema for the status (falling back to `default`), resolves `$ref`s
 * and checks required fields, types, enums, date-time formats and unknown fields. It is what the
 * sandbox's conformance tests hold every answer to.
 */

type Schema = Record<string, unknown>;

interface OpenApiDocument {
  paths: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, Schema>; responses?: Record<string, Schema> };
}

export interface CheckerOptions {
  /**
   * Accept `null` as a value of string maps (`additionalProperties: {type: string}`). HubSpot answers a
   * requested property that has no value with null, and the official client types property maps as
   * `{[key: string]: string | null}`, though the documents say string.
   */
  allowNullInStringMaps?: boolean;
  /** Fields the documents do not declare but the real API sends (e.g. `status` on error bodies). */
  allowedExtraFields?: readonly string[];
  /** Rewrites tried as alternative paths, e.g. `/crm/v3/objects/deals` -> `/crm/v3/objects/0-3` for the deals document. */
  pathAliases?: ReadonlyArray<readonly [RegExp, string]>;
}

export interface OperationMatch {
  document: string;
  template: string;
  method: string;
}

export interface CheckResult {
  /** `undefined` when no document describes the method and path. */
  operation?: OperationMatch;
  /** The status the schema was taken from: the exact one, or `default`. */
  responseKey?: string;
  problems: string[];
}

interface LoadedDocument {
  name: string;
  doc: OpenApiDocument;
  templates: Array<{ template: string; regex: RegExp; literals: number }>;
}


export class OpenApiChecker {
  private readonly docs: LoadedDocument[];

  constructor(
    documents: Array<{ name: string; doc: unknown }>,
    private readonly options: CheckerOptions = {},
  ) {
    this.docs = documents.map(({ name, doc }) => {
      const d = doc as OpenApiDocument;
      if (typeof d !== 'object' || d === null || typeof d.paths !== 'object') {
        throw new Error(`${name} is not an OpenAPI document with paths`);
      }
      return {
        name,
        doc: d,
        templates: Object.keys(d.paths).map((template) => ({
          template,
          regex: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`),
          literals: template.split('/').filter((s) => s !== '' && !s.startsWith('{')).length,
        })),
      };
    });
  }

  /** Loads every `*.json` OpenAPI document of a directory. */
  static async fromDirectory(dir: string, options: CheckerOptions = {}): Promise<OpenApiChecker> {
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    const documents = await Promise.all(
      files.map(async (name) => ({ name, doc: JSON.parse(await readFile(join(dir, name), 'utf8')) as unknown })),
    );
    return new OpenApiChecker(documents, options);
  }

  /** The most specific operation (most literal path segments) that declares this method for the path. */
  findOperation(method: string, path: string): OperationMatch | undefined {
    const m = method.toLowerCase();
    const clean = path.length > 1 ? path.replace(/\/+$/, '') : path;
    const candidates = [clean, ...(this.options.pathAliases ?? []).map(([re, to]) => clean.replace(re, to))];
    let best: (OperationMatch & { literals: number }) | undefined;
    for (const loaded of this.docs) {
      for (const t of loaded.templates) {
        const ops = loaded.doc.paths[t.template];
        if (!ops || !(m in ops) || !candidates.some((p) => t.regex.test(p))) continue;
        if (!best || t.literals > best.literals) best = { document: loaded.name, template: t.template, method: m, literals: t.literals };
      }
    }
    if (!best) return undefined;
    const { literals: _literals, ...match } = best;
    return match;
  }

  /** Checks one answer: its status must be declared (or covered by `default`) and its body must fit the schema. */
  checkResponse(method: string, path: string, status: number, bodyText: string): CheckResult {
    const operation = this.findOperation(method, path);
    if (!operation) return { problems: [`no operation in the documents for ${method.toUpperCase()} ${path}`] };
    const loaded = this.docs.find((d) => d.name === operation.document);
    const op = loaded?.doc.paths[operation.template]?.[operation.method] as Schema | undefined;
    const responses = (op?.responses ?? {}) as Record<string, Schema>;
    const responseKey = String(status) in responses ? String(status) : 'default' in responses ? 'default' : undefined;
    if (!loaded || responseKey === undefined) {
      return { operation, problems: [`status ${status} is not declared for ${operation.method.toUpperCase()} ${operation.template}`] };
    }
    const response = this.resolve(loaded.doc, responses[responseKey] ?? {});
    const content = response.content as Record<string, Schema> | undefined;
    const media = content && (content['application/json'] ?? content['*/*'] ?? Object.values(content)[0]);
    const schema = media?.schema as Schema | undefined;
    if (!schema) {
      return {
        operation,
        responseKey,
        problems: bodyText.trim() === '' ? [] : [`expected no body for ${status}, got ${bodyText.slice(0, 80)}`],
      };
    }
    let body: unknown;
    try {
      body = JSON.parse(bodyText);
    } catch {
      return { operation, responseKey, problems: [`body is not JSON: ${bodyText.slice(0, 80)}`] };
    }
    return { operation, responseKey, problems: this.validate(loaded.doc, schema, body, '$') };
  }

  /** Validates a value against a schema of the named document (exposed so the checker itself can be tested). */
  validateAgainst(documentName: string, schemaName: string, value: unknown): string[] {
    const loaded = this.docs.find((d) => d.name === documentName);
    const schema = loaded?.doc.components?.schemas?.[schemaName];
    if (!loaded || !schema) throw new Error(`no schema ${schemaName} in ${documentName}`);
    return this.validate(loaded.doc, schema, value, '$');
  }

  private resolve(doc: OpenApiDocument, schema: Schema): Schema {
    let current = schema;
    for (let hops = 0; typeof current.$ref === 'string' && hops < 32; hops++) {
      const ref = current.$ref;
      if (!ref.startsWith('#/')) throw new Error(`external $ref ${ref} is not supported`);
      let target: unknown = doc;
      for (const part of ref.slice(2).split('/')) target = (target as Record<string, unknown> | undefined)?.[part];
      if (typeof target !== 'object' || target === null) throw new Error(`unresolvable $ref ${ref}`);
      current = target as Schema;
    }
    return current;
  }

  private validate(doc: OpenApiDocument, raw: Schema, value: unknown, at: string, inStringMap = false): string[] {
    const schema = this.resolve(doc, raw);
    if (Array.isArray(schema.allOf)) return (schema.allOf as Schema[]).flatMap((s) => this.validate(doc, s, value, at));
    const alternatives = (schema.oneOf ?? schema.anyOf) as Schema[] | undefined;
    if (Array.isArray(alternatives)) {
      const outcomes = alternatives.map((s) => this.validate(doc, s, value, at));
      return outcomes.some((p) => p.length === 0) ? [] : [`${at}: matches none of the alternatives (${outcomes.flat()[0] ?? ''})`];
    }
    if (value === null) {
      if (schema.nullable === true) return [];
      if (inStringMap && this.options.allowNullInStringMaps && schema.type === 'string') return [];
      return [`${at}: is null`];
    }
    if (value === undefined) return [`${at}: is undefined`];
    const problems: string[] = [];
    if (Array.isArray(schema.enum) && !(schema.enum as unknown[]).includes(value)) {
      problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
    }
    const type = schema.type ?? (schema.properties || schema.additionalProperties ? 'object' : undefined);
    switch (type) {
      case 'object':
        problems.push(...this.validateObject(doc, schema, value, at));
        break;
      case 'array':
        if (!Array.isArray(value)) problems.push(`${at}: expected an array, got ${typeof value}`);
        else if (schema.items) value.forEach((v, i) => problems.push(...this.validate(doc, schema.items as Schema, v, `${at}[${i}]`)));
        break;
      case 'string':
        if (typeof value !== 'string') problems.push(`${at}: expected a string, got ${JSON.stringify(value)}`);
        else if (schema.format === 'date-time' && !isDateTime(value)) problems.push(`${at}: ${value} is not an ISO 8601 date-time`);
        else if (schema.format === 'uuid' && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
          problems.push(`${at}: ${value} is not a uuid`);
        }
        break;
      case 'integer':
        if (typeof value !== 'number' || !Number.isInteger(value)) problems.push(`${at}: expected an integer, got ${JSON.stringify(value)}`);
        break;
      case 'number':
        if (typeof value !== 'number') problems.push(`${at}: expected a number, got ${JSON.stringify(value)}`);
        break;
      case 'boolean':
        if (typeof value !== 'boolean') problems.push(`${at}: expected a boolean, got ${JSON.stringify(value)}`);
        break;
    }
    return problems;
  }

  private validateObject(doc: OpenApiDocument, schema: Schema, value: unknown, at: string): string[] {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: expected an object, got ${JSON.stringify(value)}`];
    const obj = value as Record<string, unknown>;
    const problems: string[] = [];
    for (const key of (schema.required as string[] | undefined) ?? []) {
      if (!(key in obj)) problems.push(`${at}: missing required field ${key}`);
    }
    const declared = (schema.properties ?? {}) as Record<string, Schema>;
    const additional = schema.additionalProperties;
    for (const [key, v] of Object.entries(obj)) {
      const field = declared[key];
      if (field) {
        problems.push(...this.validate(doc, field, v, `${at}.${key}`));
      } else if (typeof additional === 'object' && additional !== null) {
        const resolved = this.resolve(doc, additional as Schema);
        problems.push(...this.validate(doc, resolved, v, `${at}.${key}`, resolved.type === 'string'));
      } else if (additional !== true && !(this.options.allowedExtraFields ?? []).includes(key)) {
        problems.push(`${at}: unexpected field ${key}`);
      }
    }
    return problems;
  }
}

function isDateTime(s: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s));
}
