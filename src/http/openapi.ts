import { z } from 'zod';
import {
  broadcastBodySchema,
  deliveryResponseSchema,
  createChatSessionPayloadSchema,
  devTokenBodySchema,
  errorResponseSchema,
  sendMessagePayloadSchema,
  healthResponseSchema,
  notifyBodySchema,
  notifyResponseSchema,
  pushBodySchema,
  pushResponseSchema,
  roomBodySchema,
  statusResponseSchema,
} from '../contracts/schemas.js';

type Schema = z.ZodType;

const ref = (schema: Schema) => {
  const id = z.globalRegistry.get(schema)?.id;
  if (id === undefined) throw new Error('OpenAPI schemas need a meta id');
  return { $ref: `#/components/schemas/${id}` };
};

const json = (schema: Schema, description: string) => ({
  description,
  content: { 'application/json': { schema: ref(schema) } },
});

const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [String(status), json(errorResponseSchema, 'Error (see `code`)')]));

const protectedErrors = errors(400, 401, 413, 429, 500);

const sessionIdParameter = { name: 'sessionId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };

const post = (summary: string, body: Schema, ok: Schema, description?: string) => ({
  post: {
    summary,
    description,
    security: [{ apiKey: [] }],
    requestBody: { required: true, content: { 'application/json': { schema: ref(body) } } },
    responses: { '200': json(ok, 'Delivered'), ...protectedErrors },
  },
});

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate
 * requests, so the docs cannot drift from what the server accepts.
 */
export function buildOpenApiDocument(info: { name: string; version: string }) {
  const schemas = [
    notifyBodySchema,
    notifyResponseSchema,
    pushBodySchema,
    pushResponseSchema,
    broadcastBodySchema,
    roomBodySchema,
    deliveryResponseSchema,
    healthResponseSchema,
    statusResponseSchema,
    errorResponseSchema,
    devTokenBodySchema,
    createChatSessionPayloadSchema,
    sendMessagePayloadSchema,
  ];
  const components: Record<string, unknown> = {};
  for (const schema of schemas) {
    const id = z.globalRegistry.get(schema)?.id as string;
    const { $schema: _ignored, ...jsonSchema } = z.toJSONSchema(schema, {
      io: 'input',
      unrepresentable: 'any',
      reused: 'inline',
      override: (ctx) => {
        // Keep nested schemas inline: every component stands on its own.
        delete (ctx.jsonSchema as { id?: unknown }).id;
      },
    }) as Record<string, unknown>;
    const defs = jsonSchema.$defs as Record<string, unknown> | undefined;
    components[id] = defs?.[id] ?? jsonSchema;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: info.name,
      version: info.version,
      description:
        'Real-time notification and chat server. Delivery endpoints take an `X-API-Key` header when API keys ' +
        'are configured, and optionally a request signature (`X-Signature`, see the README).',
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: "A user's token: scopes chat routes to that user" },
      },
      schemas: components,
    },
    paths: {
      '/notify': post(
        'Broadcast a notification to every connected socket (seed 000)',
        notifyBodySchema,
        notifyResponseSchema,
        'Failures answer `{ error: "Failed to send notification", message, code, requestId }`.',
      ),
      '/api/push': post('Push an event to one user or up to 1000 users', pushBodySchema, pushResponseSchema),
      '/api/broadcast': post('Broadcast an event to every connected socket', broadcastBodySchema, deliveryResponseSchema),
      '/api/room': post('Emit an event to every socket in a room', roomBodySchema, deliveryResponseSchema),
      '/api/status': {
        get: {
          summary: 'Server status',
          security: [{ apiKey: [] }],
          responses: { '200': json(statusResponseSchema, 'Status'), ...errors(401, 429) },
        },
      },
      '/api/users/{userId}/presence': {
        get: {
          summary: 'Whether a user has sockets connected (`?tenantId=` for tenant users)',
          security: [{ apiKey: [] }],
          parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: '`{ userId, online, connections }`' }, ...errors(400, 401) },
        },
      },
      '/api/connections': {
        get: {
          summary: 'Connected sockets with user, tenant, machine id and rooms (`?userId=&tenantId=&limit=`)',
          security: [{ apiKey: [] }],
          responses: { '200': { description: '`{ success, count, connections[] }`' }, ...errors(400, 401) },
        },
      },
      '/api/dev/token': {
        post: {
          summary: 'Development only: a signed user token (`{ userId, tenantId?, rooms?, expiresInSeconds? }` → `{ token, expiresAt }`); 404 in production',
          security: [{ apiKey: [] }],
          requestBody: { required: true, content: { 'application/json': { schema: ref(devTokenBodySchema) } } },
          responses: { '200': { description: '`{ token, expiresAt }`' }, ...errors(400, 401, 404) },
        },
      },
      '/api/sessions': {
        post: {
          summary: 'Create a chat session (`tenantId` optional with an API key); 201 `{ success, sessionId, session }`',
          security: [{ apiKey: [] }, { bearer: [] }],
          requestBody: { required: true, content: { 'application/json': { schema: ref(createChatSessionPayloadSchema) } } },
          responses: { '201': { description: 'Created' }, ...errors(400, 401, 403, 503) },
        },
      },
      '/api/sessions/{sessionId}': {
        get: {
          summary: 'The session (seed 001 structure) with a page of messages: `?after=<seq>&limit=` (default 100, max 500), `nextAfter` when more remain',
          security: [{ apiKey: [] }, { bearer: [] }],
          parameters: [sessionIdParameter],
          responses: { '200': { description: 'Session' }, ...errors(400, 401, 404) },
        },
        delete: {
          summary: 'Delete the session and its messages',
          security: [{ apiKey: [] }, { bearer: [] }],
          parameters: [sessionIdParameter],
          responses: { '200': { description: '`{ success, sessionId }`' }, ...errors(400, 401, 404) },
        },
      },
      '/api/sessions/{sessionId}/messages': {
        get: {
          summary: 'A page of messages: `?after=<seq>&limit=`',
          security: [{ apiKey: [] }, { bearer: [] }],
          parameters: [sessionIdParameter],
          responses: { '200': { description: '`{ success, sessionId, messages, nextAfter? }`' }, ...errors(400, 401, 404) },
        },
        post: {
          summary:
            'Send a message (`{ senderUserId (API key only), message, machineId?, clientMessageId? }`); 201 once on disk, 200 for a retried clientMessageId',
          security: [{ apiKey: [] }, { bearer: [] }],
          parameters: [sessionIdParameter],
          requestBody: { required: true, content: { 'application/json': { schema: ref(sendMessagePayloadSchema) } } },
          responses: { '201': { description: 'Stored' }, '200': { description: 'Duplicate of a stored message' }, ...errors(400, 401, 403, 404, 413, 503) },
        },
      },
      '/api/users/{userId}/sessions': {
        get: {
          summary: "The user's sessions with lastMessage, messageCount, unreadCount",
          security: [{ apiKey: [] }, { bearer: [] }],
          parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: '`{ success, userId, count, sessions }`' }, ...errors(400, 401) },
        },
      },
      '/socket/status': { get: { summary: 'Socket.IO status (seed 004)', responses: { '200': { description: '`{ ok, socketio, events, rooms, message }`' } } } },
      '/socket/connections': {
        get: {
          summary: "The caller's own connection state (seed 004); `Authorization: Bearer <user JWT>`",
          responses: { '200': { description: '`{ ok, you: { userId, connected }, server }`' }, ...errors(401) },
        },
      },
      '/health': {
        get: {
          summary: 'Liveness',
          responses: { '200': json(healthResponseSchema, 'Healthy'), '503': json(healthResponseSchema, 'Draining') },
        },
      },
      '/ready': { get: { summary: 'Readiness (store writable, not draining)', responses: { '200': { description: 'Ready' }, '503': { description: 'Not ready' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'Prometheus text format' } } } },
      '/api/version': { get: { summary: 'Name and version', responses: { '200': { description: '`{ name, version }`' } } } },
    },
  };
}
