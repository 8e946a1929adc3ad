import { z } from 'zod';
import { errorResponseSchema } from '../contracts/schemas.js';
import { SIGNED_ACCESS, type Access, type RouteDefinition } from './route-definition.js';

/** Who may call, as OpenAPI security requirements (alternatives: any one of them suffices). */
const SECURITY: Record<Access, Array<Record<string, []>> | undefined> = {
  public: undefined,
  apiKey: [{ apiKey: [] }],
  dev: [{ apiKey: [] }],
  apiKeyOrUser: [{ apiKey: [] }, { bearer: [] }],
  user: [{ bearer: [] }],
  testHelper: [{ bearer: [] }],
};

const TO_JSON_SCHEMA = { io: 'input', unrepresentable: 'any' } as const;

type JsonSchema = Record<string, unknown>;

/** Removes the keys zod adds for a standalone document; inside OpenAPI they only confuse. */
function bare(schema: JsonSchema): JsonSchema {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

function idOf(schema: z.ZodType, where: string): string {
  const id = z.globalRegistry.get(schema)?.id;
  if (id === undefined) throw new Error(`${where}: body and response schemas need a meta id (they become components)`);
  return id;
}

/**
 * The OpenAPI 3.1 document of exactly the routes given (those mounted in this
 * configuration), generated from their declarations: paths, methods, who may call
 * (`security`), parameters, bodies and answers come from the same objects the router and
 * the validation use. zod 4's own `toJSONSchema` writes the schemas (JSON Schema 2020-12,
 * which OpenAPI 3.1 uses as is), so no second schema library is involved.
 */
export function buildOpenApiDocument(info: { name: string; version: string }, routes: readonly RouteDefinition[]) {
  const components = z.registry<{ id: string }>();
  const ref = (schema: z.ZodType, where: string) => {
    const id = idOf(schema, where);
    if (!components.has(schema)) components.add(schema, { id });
    return { $ref: `#/components/schemas/${id}` };
  };
  const errorBody = { description: 'Error (see `code`)', content: { 'application/json': { schema: ref(errorResponseSchema, 'errors') } } };

  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const where = `${route.method.toUpperCase()} ${route.path}`;
    const { body, params, query } = route.request;

    const responses: Record<string, unknown> = {};
    for (const [status, answer] of Object.entries(route.responses)) {
      // A declared failure without a schema has the common error body.
      const schema = answer.schema ?? (Number(status) >= 400 ? errorResponseSchema : undefined);
      const content =
        schema !== undefined
          ? { 'application/json': { schema: ref(schema, where) } }
          : answer.contentType !== undefined
            ? { [answer.contentType]: { schema: { type: 'string' } } }
            : undefined;
      responses[status] = { description: answer.description, ...(content ? { content } : {}) };
    }
    // The failures every route of this kind can answer, from its guards and schemas.
    const failures = new Set<number>();
    if (body !== undefined || params !== undefined || query !== undefined) failures.add(400);
    if (route.access !== 'public') [401, 429].forEach((status) => failures.add(status));
    if (route.method !== 'get') failures.add(403);
    if (body !== undefined) failures.add(413);
    // A full nonce store answers signed requests 503 rather than forget nonces.
    if (SIGNED_ACCESS.has(route.access)) failures.add(503);
    for (const status of [...failures].sort((a, b) => a - b)) responses[String(status)] ??= errorBody;

    const operation = {
      summary: route.summary,
      ...(route.description !== undefined ? { description: route.description } : {}),
      ...(SECURITY[route.access] !== undefined ? { security: SECURITY[route.access] } : {}),
      ...(params !== undefined || query !== undefined
        ? { parameters: [...parametersOf(params, 'path'), ...parametersOf(query, 'query')] }
        : {}),
      ...(body !== undefined
        ? { requestBody: { required: true, content: { 'application/json': { schema: ref(body, where) } } } }
        : {}),
      responses,
    };
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    (paths[path] ??= {})[route.method] = operation;
  }

  const { schemas } = z.toJSONSchema(components, { ...TO_JSON_SCHEMA, uri: (id) => `#/components/schemas/${id}` });
  return {
    openapi: '3.1.0',
    info: {
      title: info.name,
      version: info.version,
      description:
        'Real-time notification and chat server. Server-to-server routes take an `X-API-Key` header when API keys ' +
        'are configured, and optionally a request signature (`X-Signature`, see the README); chat routes also take ' +
        "a user's `Authorization: Bearer <JWT>` and then act as that user. Paths match exactly: case-sensitive, " +
        'no trailing slash.',
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: "A user's token: scopes chat routes to that user" },
      },
      schemas: Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, bare(schema as JsonSchema)])),
    },
    paths,
  };
}

function parametersOf(schema: z.ZodObject | undefined, location: 'path' | 'query') {
  if (schema === undefined) return [];
  const json = z.toJSONSchema(schema, TO_JSON_SCHEMA) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: location,
      // Path parameters are always required in OpenAPI; the `in: query` ones as their schema says.
      required: location === 'path' || (json.required ?? []).includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}
