import type { Context, Hono } from 'hono';
import type { RouteContext } from '../context.js';
import { invalidInput, notFoundError } from '../errors.js';
import { queryBoolean, readObject, requireArray } from '../json.js';
import type { SchemaSerializeOptions, SchemaStore } from '../schemas.js';

/**
 * The schemas API (custom object definitions). The official client calls `/crm-object-schemas/v3/schemas`;
 * HubSpot's guides still show `/crm/v3/schemas`, which it serves as well, so both are mounted.
 */
export function mountSchemaRoutes(app: Hono, ctx: RouteContext, schemas: SchemaStore): void {
  for (const base of ['/crm-object-schemas/v3/schemas', '/crm/v3/schemas']) {
    app.get(base, (c) => {
      const list = queryBoolean(c, 'archived') ? schemas.archivedSchemas() : schemas.live();
      return c.json({ results: list.map((s) => schemas.serialize(s, serializeOptions(c))) }, 200);
    });

    app.post(base, async (c) => {
      const schema = schemas.create(await readObject(c, 'ObjectSchemaEgg'));
      return c.json(schemas.serialize(schema), 201);
    });

    app.post(`${base}/batch/read`, async (c) => {
      const body = await readObject(c, 'ObjectSchemaBatchReadRequest', ['inputs']);
      const inputs = requireArray(body, 'inputs', 'ObjectSchemaBatchReadRequest');
      if (inputs.some((i) => typeof i !== 'string')) throw invalidInput('Cannot deserialize `inputs`: expected an array of strings');
      const options: SchemaSerializeOptions = {
        includePropertyDefinitions: body.includePropertyDefinitions !== false,
        includeAssociationDefinitions: body.includeAssociationDefinitions !== false,
        includeAuditMetadata: body.includeAuditMetadata !== false,
      };
      const found = (inputs as string[]).map((raw) => schemas.find(raw)).filter((s) => s !== undefined);
      return c.json({ results: [...new Set(found)].map((s) => schemas.serialize(s, options)) }, 200);
    });

    app.get(`${base}/:objectType`, (c) => c.json(schemas.serialize(schemas.require(c.req.param('objectType')), serializeOptions(c)), 200));

    app.patch(`${base}/:objectType`, async (c) => {
      const schema = schemas.require(c.req.param('objectType'));
      return c.json(schemas.typeDefinition(schemas.update(schema, await readObject(c, 'ObjectTypeDefinitionPatch'))), 200);
    });

    app.delete(`${base}/:objectType`, (c) => {
      const raw = c.req.param('objectType');
      if (queryBoolean(c, 'archived')) {
        const archived = schemas.find(raw, true);
        if (!archived) throw notFoundError(`Unable to find archived object type ${raw}`);
        schemas.purge(archived);
      } else {
        schemas.archive(schemas.require(raw));
      }
      return c.body(null, 204);
    });

    app.post(`${base}/:objectType/associations`, async (c) => {
      const schema = schemas.require(c.req.param('objectType'));
      const created = schemas.createAssociation(schema, await readObject(c, 'AssociationDefinitionEgg', ['fromObjectTypeId', 'toObjectTypeId']));
      return c.json({ ...schemas.serializeAssociation(created), createdAt: ctx.now().toISOString() }, 201);
    });

    app.delete(`${base}/:objectType/associations/:associationIdentifier`, (c) => {
      schemas.deleteAssociation(schemas.require(c.req.param('objectType')), c.req.param('associationIdentifier'));
      return c.body(null, 204);
    });
  }
}

/** includePropertyDefinitions, includeAssociationDefinitions, includeAuditMetadata: all default to true. */
function serializeOptions(c: Context): SchemaSerializeOptions {
  const flag = (name: string) => c.req.query(name)?.toLowerCase() !== 'false';
  return {
    includePropertyDefinitions: flag('includePropertyDefinitions'),
    includeAssociationDefinitions: flag('includeAssociationDefinitions'),
    includeAuditMetadata: flag('includeAuditMetadata'),
  };
}
