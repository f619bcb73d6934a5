import type { AssociationTypeDef } from './associations.js';
import { HubSpotApiError, invalidInput, missingAttributes, notFoundError, validationError } from './errors.js';
import { isRecord } from './json.js';
import type { ObjectTypeDef, ObjectTypeName } from './object-types.js';
import { serializeProperty } from './properties.js';
import type { CrmStore } from './store.js';

/**
 * Custom object schemas, as HubSpot's schemas API (`/crm-object-schemas/v3/schemas`) defines them: a
 * schema creates an object type `2-<id>` named `p<portalId>_<name>`, its properties, and an unlabeled
 * association type with each of its `associatedObjects`. Once defined, the type is served by the
 * generic objects, properties and v4 associations routes like any standard object (see object-types.ts
 * for the names a path may use).
 */

export interface CustomObjectSchema {
  /** The numeric part of the object type id. */
  id: string;
  /** The name given at creation; HubSpot never changes it. */
  name: string;
  def: ObjectTypeDef;
  labels: { singular: string; plural: string };
  description?: string;
  primaryDisplayProperty?: string;
  requiredProperties: string[];
  searchableProperties: string[];
  secondaryDisplayProperties: string[];
  allowsSensitiveProperties: boolean;
  archived: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface SchemaSerializeOptions {
  includePropertyDefinitions?: boolean;
  includeAssociationDefinitions?: boolean;
  includeAuditMetadata?: boolean;
}

/** Letters, digits and underscores, starting with a letter (HubSpot's rule for a custom object's name). */
const SCHEMA_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Custom object type ids in a real portal look like 2-3508482; the sandbox counts up from here. */
const FIRST_SCHEMA_ID = 1_000_001;

export class SchemaStore {
  private schemas = new Map<ObjectTypeName, CustomObjectSchema>();
  private nextId = FIRST_SCHEMA_ID;

  constructor(
    private readonly store: CrmStore,
    private readonly now: () => Date,
  ) {}

  /** Called after the store's own reset, which already dropped the custom types. */
  reset(): void {
    this.schemas = new Map();
    this.nextId = FIRST_SCHEMA_ID;
  }

  live(): CustomObjectSchema[] {
    return [...this.schemas.values()].filter((s) => !s.archived);
  }

  archivedSchemas(): CustomObjectSchema[] {
    return [...this.schemas.values()].filter((s) => s.archived);
  }

  /** A schema by object type id, fully qualified name or `p_<name>`; archived ones only with `archived`. */
  find(raw: string, archived = false): CustomObjectSchema | undefined {
    if (!archived) {
      const def = this.store.types.resolve(raw);
      return def?.custom ? this.schemas.get(def.name) : undefined;
    }
    const key = raw.toLowerCase();
    return this.archivedSchemas().find((s) => [s.def.typeId, s.def.name, `p_${s.name}`].some((alias) => alias.toLowerCase() === key));
  }

  require(raw: string): CustomObjectSchema {
    const schema = this.find(raw);
    if (!schema) throw notFoundError(`Unable to find object type ${raw}`);
    return schema;
  }

  /**
   * `POST /schemas` (ObjectSchemaEgg). Everything is checked before the type becomes visible; a failure
   * half-way (a property HubSpot refuses, an unknown associated object) leaves no trace.
   */
  create(body: Record<string, unknown>): CustomObjectSchema {
    const missing = ['associatedObjects', 'labels', 'name', 'properties', 'requiredProperties'].filter((k) => body[k] === undefined || body[k] === null);
    if (missing.length > 0) throw missingAttributes('ObjectSchemaEgg', missing);
    const name = stringField(body, 'name', 'ObjectSchemaEgg');
    if (!SCHEMA_NAME.test(name)) {
      throw validationError(`Object type name '${name}' is invalid: use letters, numbers and underscores, starting with a letter.`);
    }
    // An archived schema keeps its name until it is purged (`DELETE ...?archived=true`), as in HubSpot.
    const clash = [...this.schemas.values()].find((s) => s.name.toLowerCase() === name.toLowerCase());
    if (clash) {
      throw new HubSpotApiError(
        409,
        'OBJECT_ALREADY_EXISTS',
        clash.archived
          ? `An archived object type named '${name}' exists (${clash.def.typeId}); purge it before reusing the name.`
          : `Object type with name '${name}' already exists (${clash.def.typeId}).`,
      );
    }
    const labels = readLabels(body.labels, true);
    const properties = stringArrayOrRecords(body.properties, 'properties');
    const names = properties.map((p) => {
      const absent = ['fieldType', 'label', 'name', 'type'].filter((k) => typeof p[k] !== 'string');
      if (absent.length > 0) throw missingAttributes('ObjectTypePropertyCreate', absent);
      return p.name as string;
    });
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate !== undefined) throw validationError(`Property '${duplicate}' is defined more than once.`);
    const associatedObjects = stringArray(body.associatedObjects, 'associatedObjects');

    const id = String(this.nextId++);
    const lower = name.toLowerCase();
    const def: ObjectTypeDef = {
      name: `p${this.store.portalId}_${name}`,
      singular: name,
      typeId: `2-${id}`,
      upperName: name.toUpperCase(),
      createdProperty: 'hs_createdate',
      modifiedProperty: 'hs_lastmodifieddate',
      defaultProperties: ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'],
      searchableProperties: [],
      defaultGroup: `${lower}_information`,
      mergeable: false,
      custom: true,
    };
    this.store.addObjectType(def, [`p_${name}`]);
    this.store.properties.addObjectType(def, `${labels.singular} information`);
    try {
      for (const input of properties) {
        this.store.createProperty(def.name, { groupName: def.defaultGroup, ...input });
      }
      const at = this.now();
      const schema: CustomObjectSchema = {
        id,
        name,
        def,
        labels,
        requiredProperties: this.propertyNames(def, body.requiredProperties, 'requiredProperties'),
        searchableProperties: this.propertyNames(def, body.searchableProperties, 'searchableProperties'),
        secondaryDisplayProperties: this.propertyNames(def, body.secondaryDisplayProperties, 'secondaryDisplayProperties'),
        allowsSensitiveProperties: optionalBool(body, 'allowsSensitiveProperties') ?? false,
        archived: false,
        createdAt: at,
        updatedAt: at,
      };
      const description = optionalText(body, 'description');
      if (description !== undefined) schema.description = description;
      const primary = optionalText(body, 'primaryDisplayProperty');
      if (primary !== undefined) schema.primaryDisplayProperty = this.propertyNames(def, [primary], 'primaryDisplayProperty')[0] ?? primary;
      const targets = new Map(associatedObjects.map((raw) => this.resolveAssociated(raw)).map((t) => [t.name, t]));
      for (const target of targets.values()) this.associate(schema, def, target);
      if (optionalBool(body, 'shouldCreateSameObjectAssociation') === true && !targets.has(def.name)) this.associate(schema, def, def);
      this.apply(schema);
      this.schemas.set(def.name, schema);
      return schema;
    } catch (err) {
      this.store.removeObjectType(def.name);
      throw err;
    }
  }

  /** `PATCH /schemas/{objectType}` (ObjectTypeDefinitionPatch): display settings and required properties; the name never changes. */
  update(schema: CustomObjectSchema, body: Record<string, unknown>): CustomObjectSchema {
    const def = schema.def;
    if (body.labels !== undefined) {
      const labels = readLabels(body.labels, false);
      schema.labels = { singular: labels.singular || schema.labels.singular, plural: labels.plural || schema.labels.plural };
    }
    if (body.requiredProperties !== undefined) schema.requiredProperties = this.propertyNames(def, body.requiredProperties, 'requiredProperties');
    if (body.searchableProperties !== undefined) schema.searchableProperties = this.propertyNames(def, body.searchableProperties, 'searchableProperties');
    if (body.secondaryDisplayProperties !== undefined) {
      schema.secondaryDisplayProperties = this.propertyNames(def, body.secondaryDisplayProperties, 'secondaryDisplayProperties');
    }
    const primary = optionalText(body, 'primaryDisplayProperty');
    if (primary !== undefined) schema.primaryDisplayProperty = this.propertyNames(def, [primary], 'primaryDisplayProperty')[0] ?? primary;
    const description = optionalText(body, 'description');
    if (optionalBool(body, 'clearDescription') === true) delete schema.description;
    else if (description !== undefined) schema.description = description;
    schema.allowsSensitiveProperties = optionalBool(body, 'allowsSensitiveProperties') ?? schema.allowsSensitiveProperties;
    schema.updatedAt = this.now();
    this.apply(schema);
    return schema;
  }

  /**
   * `DELETE /schemas/{objectType}`: HubSpot deletes a custom object only once it has no records left.
   * The archived schema keeps its name reserved until purged.
   */
  archive(schema: CustomObjectSchema): void {
    const live = this.store.live(schema.def.name).length;
    if (live > 0) {
      throw validationError(`Object type ${schema.def.typeId} still has ${live} record(s); delete them before deleting the object type.`);
    }
    schema.archived = true;
    schema.updatedAt = this.now();
    this.store.hideObjectType(schema.def.name);
  }

  /** `DELETE /schemas/{objectType}?archived=true`: an archived schema is gone for good and its name is free again. */
  purge(schema: CustomObjectSchema): void {
    this.store.removeObjectType(schema.def.name);
    this.schemas.delete(schema.def.name);
  }

  /** `POST /schemas/{objectType}/associations` (AssociationDefinitionEgg). One side must be this object type. */
  createAssociation(schema: CustomObjectSchema, body: Record<string, unknown>): AssociationTypeDef {
    const from = this.resolveAssociated(stringField(body, 'fromObjectTypeId', 'AssociationDefinitionEgg'));
    const to = this.resolveAssociated(stringField(body, 'toObjectTypeId', 'AssociationDefinitionEgg'));
    if (from.name !== schema.def.name && to.name !== schema.def.name) {
      throw validationError(`An association of ${schema.def.typeId} must start or end at ${schema.def.typeId}.`);
    }
    const name = optionalText(body, 'name');
    const forward = this.store.associations.defineSchemaPair(
      from.name,
      to.name,
      name ?? `${from.singular}_to_${to.singular}`.toLowerCase(),
      `${to.singular}_to_${from.singular}`.toLowerCase(),
    );
    schema.updatedAt = this.now();
    return forward;
  }

  /** `DELETE /schemas/{objectType}/associations/{associationIdentifier}`: the type, its inverse and their edges. */
  deleteAssociation(schema: CustomObjectSchema, identifier: string): void {
    const def = this.associationDefinitions(schema).find((t) => String(t.typeId) === identifier);
    if (!def) throw notFoundError(`Unable to find association ${identifier} of object type ${schema.def.typeId}`);
    this.store.associations.removeType(def.typeId);
    schema.updatedAt = this.now();
  }

  /** The ObjectSchema JSON. */
  serialize(schema: CustomObjectSchema, opts: SchemaSerializeOptions = {}): Record<string, unknown> {
    const body: Record<string, unknown> = {
      ...this.typeDefinition(schema),
      properties: opts.includePropertyDefinitions === false ? [] : this.store.properties.list(schema.def.name).map(serializeProperty),
      associations: opts.includeAssociationDefinitions === false ? [] : this.associationDefinitions(schema).map((t) => this.serializeAssociation(t)),
    };
    delete body.portalId;
    if (opts.includeAuditMetadata === false) {
      delete body.createdAt;
      delete body.updatedAt;
    }
    return body;
  }

  /** The ObjectTypeDefinition JSON (what PATCH answers). */
  typeDefinition(schema: CustomObjectSchema): Record<string, unknown> {
    const body: Record<string, unknown> = {
      id: schema.id,
      objectTypeId: schema.def.typeId,
      fullyQualifiedName: schema.def.name,
      name: schema.name,
      labels: { ...schema.labels },
      requiredProperties: [...schema.requiredProperties],
      searchableProperties: [...schema.searchableProperties],
      secondaryDisplayProperties: [...schema.secondaryDisplayProperties],
      allowsSensitiveProperties: schema.allowsSensitiveProperties,
      portalId: this.store.portalId,
      archived: schema.archived,
      createdAt: schema.createdAt.toISOString(),
      updatedAt: schema.updatedAt.toISOString(),
    };
    if (schema.description !== undefined) body.description = schema.description;
    if (schema.primaryDisplayProperty !== undefined) body.primaryDisplayProperty = schema.primaryDisplayProperty;
    return body;
  }

  serializeAssociation(t: AssociationTypeDef): Record<string, unknown> {
    return {
      id: String(t.typeId),
      name: t.name,
      fromObjectTypeId: this.store.types.get(t.from).typeId,
      toObjectTypeId: this.store.types.get(t.to).typeId,
    };
  }

  /** The object's unlabeled association types, one per associated type, seen from this object. */
  private associationDefinitions(schema: CustomObjectSchema): AssociationTypeDef[] {
    return this.store.associations
      .typesOf(schema.def.name)
      .filter((t) => t.label === null && t.from === schema.def.name && this.store.types.has(t.to))
      .sort((a, b) => a.typeId - b.typeId);
  }

  /** Keeps the object type and the store in step with the schema's searchable and required properties. */
  private apply(schema: CustomObjectSchema): void {
    schema.def.searchableProperties = [...schema.searchableProperties];
    this.store.requiredProperties.set(schema.def.name, [...schema.requiredProperties]);
  }

  private associate(schema: CustomObjectSchema, def: ObjectTypeDef, target: ObjectTypeDef): void {
    this.store.associations.defineSchemaPair(def.name, target.name, `${schema.name}_to_${target.singular}`.toLowerCase(), `${target.singular}_to_${schema.name}`.toLowerCase());
  }

  /** `associatedObjects` entries: "CONTACT", "COMPANY", "DEAL", a type id ("0-1", "2-...") or a custom object's name. */
  private resolveAssociated(raw: string): ObjectTypeDef {
    const def = this.store.types.resolve(raw);
    if (!def) throw validationError(`Unable to infer object type from: ${raw}`);
    return def;
  }

  /** Names that must be live properties of the type (required, searchable, display properties). */
  private propertyNames(def: ObjectTypeDef, raw: unknown, field: string): string[] {
    if (raw === undefined || raw === null) return [];
    const names = stringArray(raw, field);
    const unknown = names.filter((n) => !this.store.properties.get(def.name, n));
    if (unknown.length > 0) throw validationError(`${field} names properties that ${def.typeId} does not have: ${unknown.join(', ')}`);
    return [...new Set(names)];
  }
}

function stringField(o: Record<string, unknown>, key: string, model: string): string {
  const v = o[key];
  if (typeof v === 'string' && v !== '') return v;
  if (v === undefined || v === null || v === '') throw missingAttributes(model, [key]);
  throw invalidInput(`Cannot deserialize \`${key}\` in ${model}: expected a string`);
}

function optionalText(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidInput(`Cannot deserialize \`${key}\`: expected a string`);
  return v;
}

function optionalBool(o: Record<string, unknown>, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidInput(`Cannot deserialize \`${key}\`: expected a boolean`);
  return v;
}

function stringArray(raw: unknown, field: string): string[] {
  if (!Array.isArray(raw) || raw.some((v) => typeof v !== 'string')) throw invalidInput(`Cannot deserialize \`${field}\`: expected an array of strings`);
  return raw as string[];
}

function stringArrayOrRecords(raw: unknown, field: string): Array<Record<string, unknown>> {
  if (!Array.isArray(raw)) throw invalidInput(`Cannot deserialize \`${field}\`: expected an array`);
  return raw.map((p: unknown) => {
    if (!isRecord(p)) throw invalidInput(`Cannot build ObjectTypePropertyCreate, expected a JSON object in \`${field}\``);
    return p;
  });
}

/** ObjectTypeDefinitionLabels; both are needed on create (HubSpot shows them everywhere the object appears). */
function readLabels(raw: unknown, required: boolean): { singular: string; plural: string } {
  if (!isRecord(raw)) throw invalidInput('Cannot build ObjectTypeDefinitionLabels, expected a JSON object');
  const singular = typeof raw.singular === 'string' ? raw.singular.trim() : '';
  const plural = typeof raw.plural === 'string' ? raw.plural.trim() : '';
  if (required && (singular === '' || plural === '')) {
    throw validationError('Object type labels need both a singular and a plural form.');
  }
  return { singular, plural };
}
