import { z } from 'zod';
import { NOTIFICATION_PRIORITIES } from './inbox.js';

/**
 * Zod schemas of every REST body and socket payload. They are the single source for
 * validation, for the TypeScript types clients import, and for /openapi.json.
 */

/** Names Socket.IO reserves, plus `error`, which carries this server's error reports. */
export const RESERVED_EVENT_NAMES: ReadonlySet<string> = new Set([
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
  'error',
]);

export const eventNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'must be 1-64 characters of letters, digits and :_.-')
  .refine((name) => !RESERVED_EVENT_NAMES.has(name), 'is reserved by Socket.IO or this server')
  .meta({ description: 'Event name a publisher may use', example: 'notification' });

export const roomNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 characters of letters, digits and _.:-')
  .meta({ description: 'Room name', example: 'news' });

export const userIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\s/\\]+$/, 'must not contain whitespace or slashes')
  .meta({ description: 'Application user id', example: 'user-123' });

export const tenantIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of letters, digits and _.-')
  .meta({ description: 'Tenant id; scopes user rooms so tenants never see each other', example: 'acme' });

/** Any JSON value a publisher sends along; forwarded to sockets as is. */
const jsonPayload = z.unknown().meta({ description: 'Any JSON value, delivered as sent' });

export const notifyBodySchema = z
  .record(z.string(), z.unknown())
  .meta({
    id: 'NotifyRequest',
    description: 'Any JSON object; delivered as the `notification` event with `id` and `timestamp` added when absent',
    example: { title: 'New Message', message: 'You have a new message', type: 'info' },
  });

export const notificationPrioritySchema = z.enum(NOTIFICATION_PRIORITIES);

export const pushBodySchema = z
  .object({
    userId: userIdSchema.optional(),
    userIds: z.array(userIdSchema).min(1).max(1000).optional(),
    tenantId: tenantIdSchema.optional(),
    event: eventNameSchema.default('notification'),
    data: jsonPayload.default({}),
    persist: z.boolean().optional().meta({ description: "Store it in each user's inbox first (default: PERSIST_NOTIFICATIONS)" }),
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(10 * 365 * 24 * 3600)
      .optional()
      .meta({ description: 'Stored notifications expire after this (never later than INBOX_TTL_DAYS)' }),
    idempotencyKey: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .meta({ description: 'A retry with the same key answers as the first call did, storing and delivering nothing again' }),
    priority: notificationPrioritySchema.optional().meta({ description: "The stored record's priority (otherwise `data.priority`)" }),
  })
  .refine((body) => (body.userId === undefined) !== (body.userIds === undefined), {
    message: 'exactly one of userId or userIds is required',
    path: ['userId'],
  })
  .meta({ id: 'PushRequest' });

export const broadcastBodySchema = z
  .object({ event: eventNameSchema.default('notification'), data: jsonPayload.default({}) })
  .meta({ id: 'BroadcastRequest' });

export const roomBodySchema = z
  .object({ room: roomNameSchema, event: eventNameSchema.default('notification'), data: jsonPayload.default({}) })
  .meta({ id: 'RoomRequest' });

export type NotifyBody = z.infer<typeof notifyBodySchema>;
export type PushBody = z.infer<typeof pushBodySchema>;
export type BroadcastBody = z.infer<typeof broadcastBodySchema>;
export type RoomBody = z.infer<typeof roomBodySchema>;

// ---- Responses (documented in /openapi.json; handlers build them with these types) ----

const isoTimestamp = z.string().meta({ description: 'ISO 8601 timestamp', example: '2026-01-01T00:00:00.000Z' });

export const notifyResponseSchema = z
  .object({
    message: z.literal('Notification sent successfully'),
    recipients: z.number().int(),
    id: z.string(),
    timestamp: isoTimestamp,
  })
  .meta({ id: 'NotifyResponse' });

export const pushResponseSchema = z
  .object({
    success: z.literal(true),
    delivered: z.boolean(),
    recipients: z.number().int(),
    messageId: z.string(),
    timestamp: isoTimestamp,
    notificationIds: z
      .array(z.string())
      .optional()
      .meta({ description: 'When stored: one inbox notification id per user, in the order of `userIds`' }),
  })
  .meta({ id: 'PushResponse' });

export const deliveryResponseSchema = z
  .object({
    success: z.literal(true),
    recipients: z.number().int(),
    messageId: z.string(),
    timestamp: isoTimestamp,
  })
  .meta({ id: 'DeliveryResponse' });

/** The most items one POST /api/batch takes. */
export const BATCH_MAX_ITEMS = 1000;
export const BATCH_OPS = ['push', 'broadcast', 'room'] as const;
export type BatchOp = (typeof BATCH_OPS)[number];

export const batchBodySchema = z
  .object({
    items: z
      .array(z.unknown())
      .min(1)
      .max(BATCH_MAX_ITEMS)
      .meta({
        description:
          'Each item is `{ "op": "push" | "broadcast" | "room", ...the body of POST /api/push, /api/broadcast or /api/room }`. ' +
          'An item that is not valid fails alone, with INVALID_REQUEST in its result.',
      }),
    parallel: z
      .boolean()
      .optional()
      .meta({
        description:
          'Run the items concurrently (persisted pushes then share durable writes, and the answer comes sooner); ' +
          'by default they run one after another, in order, each delivered before the next starts.',
      }),
  })
  .meta({ id: 'BatchRequest' });

const batchItemErrorSchema = z
  .object({
    success: z.literal(false),
    error: z.string(),
    code: z.string().meta({ description: 'A code from the error catalog' }),
    retryAfter: z.number().int().optional(),
  })
  .meta({ id: 'BatchItemError' });

export const batchResponseSchema = z
  .object({
    success: z.literal(true),
    results: z.array(
      z.object({
        op: z.string().optional().meta({ description: "The item's op, when it named one" }),
        status: z.number().int().meta({ description: 'The HTTP status the item would have been answered with on its own endpoint' }),
        body: z.union([pushResponseSchema, deliveryResponseSchema, batchItemErrorSchema]).meta({ description: "That endpoint's answer" }),
        replayed: z.literal(true).optional().meta({ description: 'A push answered from its idempotency key (the header Idempotent-Replayed of /api/push)' }),
      }),
    ),
    succeeded: z.number().int(),
    failed: z.number().int(),
  })
  .meta({ id: 'BatchResponse' });

export type BatchBody = z.infer<typeof batchBodySchema>;
export type BatchResponse = z.infer<typeof batchResponseSchema>;
export type BatchItemResult = BatchResponse['results'][number];

export const healthResponseSchema = z
  .object({
    status: z.enum(['healthy', 'shutting_down']),
    connections: z.number().int().optional(),
    uptime: z.number().optional(),
    timestamp: isoTimestamp,
  })
  .meta({ id: 'HealthResponse' });

export const statusResponseSchema = z
  .object({
    success: z.literal(true),
    status: z.literal('ok'),
    connections: z.number().int(),
    activeConnections: z.number().int(),
    activeUsers: z.number().int(),
    rooms: z.number().int(),
    uptime: z.number(),
    memory: z.object({ rss: z.number(), heapTotal: z.number(), heapUsed: z.number(), external: z.number() }),
    timestamp: isoTimestamp,
    nodeId: z.string().meta({ description: 'The process that answered (NODE_ID, else hostname-pid)' }),
  })
  .meta({ id: 'StatusResponse' });

export const errorResponseSchema = z
  .object({
    success: z.literal(false),
    error: z.string(),
    code: z.string(),
    requestId: z.string(),
    message: z.string().optional(),
    retryAfter: z.number().optional(),
  })
  .meta({ id: 'ErrorResponse' });

export type NotifyResponse = z.infer<typeof notifyResponseSchema>;
export type PushResponse = z.infer<typeof pushResponseSchema>;
export type DeliveryResponse = z.infer<typeof deliveryResponseSchema>;
export type StatusResponse = z.infer<typeof statusResponseSchema>;

// ---- More REST answers, for /openapi.json (each route declares its answers by status) ----

export const readyResponseSchema = z
  .object({ status: z.enum(['ready', 'not_ready']), checks: z.record(z.string(), z.boolean()), timestamp: isoTimestamp })
  .meta({ id: 'ReadyResponse' });

export const versionResponseSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    environment: z.string(),
    apiKeyRequired: z.boolean().meta({ description: 'Whether /notify and /api/* need X-API-Key (false only in open development mode)' }),
    nodeId: z.string().meta({ description: 'The process that answered (NODE_ID, else hostname-pid): in cluster mode, the node a client reached' }),
  })
  .meta({ id: 'VersionResponse' });

export const presenceResponseSchema = z
  .object({ userId: z.string(), online: z.boolean(), connections: z.number().int() })
  .meta({ id: 'PresenceResponse' });

export const connectionsResponseSchema = z
  .object({
    success: z.literal(true),
    count: z.number().int(),
    connections: z.array(
      z.object({
        socketId: z.string(),
        userId: z.string().nullable(),
        tenantId: z.string().nullable(),
        machineId: z.string().nullable(),
        authenticated: z.boolean(),
        connectedAt: isoTimestamp,
        rooms: z.array(z.string()),
      }),
    ),
  })
  .meta({ id: 'ConnectionsResponse' });

export const socketStatusResponseSchema = z
  .object({
    ok: z.literal(true),
    socketio: z.object({ ready: z.boolean(), connectedUsers: z.number().int(), totalConnections: z.number().int(), endpoint: z.string() }),
    events: z.array(z.string()),
    rooms: z.array(z.string()),
    message: z.string(),
  })
  .meta({ id: 'SocketStatusResponse' });

export const socketConnectionsResponseSchema = z
  .object({
    ok: z.literal(true),
    you: z.object({ userId: z.string(), connected: z.boolean() }),
    server: z.object({ connectedUsers: z.number().int(), totalConnections: z.number().int() }),
  })
  .meta({ id: 'SocketConnectionsResponse' });

export const devTokenResponseSchema = z
  .object({ token: z.string(), expiresAt: isoTimestamp })
  .meta({ id: 'DevTokenResponse' });

const chatMessageSchema = z
  .object({
    id: z.string(),
    seq: z.number().int(),
    senderUserId: z.string(),
    receiverUserId: z.string(),
    message: z.string(),
    timestamp: isoTimestamp,
    machineId: z.string(),
    clientMessageId: z.string().optional(),
  });

const chatSessionSchema = z
  .object({
    sessionId: z.string(),
    machineId: z.string(),
    senderUserId: z.string(),
    receiverUserId: z.string(),
    createdAt: isoTimestamp,
    participants: z.tuple([z.string(), z.string()]),
    tenantId: z.string().optional(),
    cursors: z.record(z.string(), z.object({ delivered: z.number().int(), read: z.number().int() })),
  });

const messagePage = { messages: z.array(chatMessageSchema), nextAfter: z.number().int().optional() };

export const chatSessionResponseSchema = chatSessionSchema.extend(messagePage).meta({ id: 'ChatSessionWithMessages' });

export const chatMessagesResponseSchema = z
  .object({ success: z.literal(true), sessionId: z.string(), ...messagePage })
  .meta({ id: 'ChatMessagesResponse' });

export const chatSessionListResponseSchema = z
  .object({
    success: z.literal(true),
    userId: z.string(),
    count: z.number().int(),
    sessions: z.array(
      chatSessionSchema.extend({
        lastMessage: chatMessageSchema.nullable(),
        messageCount: z.number().int(),
        unreadCount: z.number().int(),
        undeliveredCount: z.number().int(),
      }),
    ),
    nextCursor: z.string().optional(),
  })
  .meta({ id: 'ChatSessionListResponse' });

export const chatSessionCreatedResponseSchema = z
  .object({ success: z.literal(true), sessionId: z.string(), session: chatSessionSchema })
  .meta({ id: 'ChatSessionCreatedResponse' });

export const chatMessageSentResponseSchema = z
  .object({
    success: z.literal(true),
    sessionId: z.string(),
    messageId: z.string(),
    seq: z.number().int(),
    timestamp: isoTimestamp,
    duplicate: z.boolean(),
    delivered: z.boolean(),
    message: chatMessageSchema,
  })
  .meta({ id: 'ChatMessageSentResponse' });

export const chatSessionDeletedResponseSchema = z
  .object({ success: z.literal(true), sessionId: z.string() })
  .meta({ id: 'ChatSessionDeletedResponse' });

// ---- Socket payloads (client → server) ----

const actionNameSchema = z.string().regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'must be 1-64 characters of letters, digits and :_.-');
export const machineIdSchema = z.string().min(1).max(128).regex(/^[^\s/\\]+$/, 'must not contain whitespace or slashes');

export const registerPayloadSchema = z.object({ userId: userIdSchema });
export const registerUserPayloadSchema = z.object({ machineId: machineIdSchema, userId: userIdSchema });
export const pingPayloadSchema = z.object({ timestamp: z.union([z.number(), z.string()]).optional() }).optional();
export const relayPayloadSchema = z.unknown();
export const clientEventPayloadSchema = z.object({ type: actionNameSchema, data: z.unknown().optional() });
export const clientActionPayloadSchema = z.object({ action: actionNameSchema, params: z.unknown().optional() });
export const clientMessagePayloadSchema = z.object({
  content: z.string().max(64 * 1024),
  type: z.string().max(64).optional(),
  metadata: z
    .looseObject({ to: userIdSchema.optional(), room: roomNameSchema.optional() })
    .optional(),
});
export const roomPayloadSchema = z.object({ room: roomNameSchema });
export const channelPayloadSchema = roomNameSchema;
export const authRefreshPayloadSchema = z.object({ token: z.string().min(1).max(8192) });

export type RegisterPayload = z.input<typeof registerPayloadSchema>;
export type RegisterUserPayload = z.input<typeof registerUserPayloadSchema>;
export type PingPayload = z.input<typeof pingPayloadSchema>;
export type ClientEventPayload = z.input<typeof clientEventPayloadSchema>;
export type ClientActionPayload = z.input<typeof clientActionPayloadSchema>;
export type ClientMessagePayload = z.input<typeof clientMessagePayloadSchema>;
export type RoomPayload = z.input<typeof roomPayloadSchema>;
export type AuthRefreshPayload = z.input<typeof authRefreshPayloadSchema>;

export const devTokenBodySchema = z
  .object({
    userId: userIdSchema,
    tenantId: tenantIdSchema.optional(),
    rooms: z.array(z.string().min(1).max(128)).max(50).optional(),
    expiresInSeconds: z.number().int().min(10).max(7 * 24 * 3600).default(3600),
  })
  .meta({ id: 'DevTokenRequest' });

export const connectionsQuerySchema = z.object({
  userId: userIdSchema.optional(),
  tenantId: tenantIdSchema.optional(),
  limit: z.coerce.number<string>().int().min(1).max(1000).default(100),
});

// ---- Chat sessions (seed 001) ----

export const sessionIdSchema = z
  .uuid({ message: 'must be a UUID' })
  .meta({ description: 'Chat session id (UUID)', example: '0b7f5c62-3c1e-4d2a-9f3e-6a1d2c4b5e6f' });
const clientMessageIdSchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 characters of letters, digits and _.:-');

export const createChatSessionPayloadSchema = z
  .object({
    machineId: machineIdSchema,
    /** The creator; with a token it must be the token's user and may be omitted. */
    senderUserId: userIdSchema.optional(),
    receiverUserId: userIdSchema,
  })
  .meta({ id: 'CreateChatSessionRequest' });

export const sendMessagePayloadSchema = z
  .object({
    sessionId: sessionIdSchema,
    machineId: machineIdSchema.optional(),
    senderUserId: userIdSchema.optional(),
    receiverUserId: userIdSchema.optional(),
    /** Byte length is checked against MAX_MESSAGE_BYTES after parsing. */
    message: z.string().min(1, 'must not be empty'),
    clientMessageId: clientMessageIdSchema.optional(),
  })
  .meta({ id: 'SendMessageRequest' });

export const messageReadPayloadSchema = z.object({ sessionId: sessionIdSchema, seq: z.number().int().min(0) });
export const typingPayloadSchema = z.object({ sessionId: sessionIdSchema });

export const messagePageQuerySchema = z.object({
  after: z.coerce.number<string>().int().min(0).default(0),
  limit: z.coerce.number<string>().int().min(1).max(500).default(100),
});

export const sessionListQuerySchema = z.object({
  limit: z.coerce.number<string>().int().min(1).max(200).default(50),
  /** `nextCursor` of the previous page, as given. */
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,256}$/, 'must be a nextCursor as given')
    .optional()
    .meta({ description: "`nextCursor` of the previous page; absent for the first page" }),
});

export type CreateChatSessionPayload = z.input<typeof createChatSessionPayloadSchema>;
export type SendMessagePayload = z.input<typeof sendMessagePayloadSchema>;
export type MessageReadPayload = z.input<typeof messageReadPayloadSchema>;
export type TypingPayload = z.input<typeof typingPayloadSchema>;

// ---- Notification inbox ----

export const notificationIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be a notification id as the server gave it')
  .meta({ description: 'Inbox notification id, as the server gave it', example: '42' });

const queryFlag = z.enum(['true', 'false']).transform((value) => value === 'true');

export const notificationListQuerySchema = z.object({
  limit: z.coerce.number<string>().int().min(1).max(100).default(20),
  before: notificationIdSchema.optional().meta({ description: '`nextBefore` of the previous page; absent for the first page' }),
  unreadOnly: queryFlag.optional(),
  tenantId: tenantIdSchema.optional().meta({ description: "With an API key: the tenant of the inbox. With a user's token, the token's tenant" }),
});

/** The inbox addressed by the path: with a user's token, the tenant is the token's. */
export const inboxTenantQuerySchema = z.object({ tenantId: tenantIdSchema.optional() });

export const markNotificationsReadBodySchema = z
  .object({
    ids: z.array(notificationIdSchema).min(1).max(1000).optional(),
    all: z.literal(true).optional(),
  })
  .refine((body) => (body.ids === undefined) !== (body.all === undefined), {
    message: 'exactly one of ids or all: true is required',
    path: ['ids'],
  })
  .meta({ id: 'MarkNotificationsReadRequest', description: '`{ ids }` marks those read, `{ all: true }` every unread one' });

const notificationRecordSchema = z
  .object({
    id: z.string(),
    userId: z.string(),
    tenantId: z.string().optional(),
    type: z.string().meta({ description: "'info' | 'success' | 'warning' | 'error', or any string of at most 32 characters" }),
    priority: notificationPrioritySchema.optional(),
    title: z.string().optional(),
    message: z.string().optional(),
    data: z.unknown().optional(),
    event: z.string(),
    createdAt: isoTimestamp,
    readAt: isoTimestamp.nullable(),
    expiresAt: isoTimestamp.optional(),
  })
  .meta({ id: 'NotificationRecord' });

export const notificationPageResponseSchema = z
  .object({
    success: z.literal(true),
    notifications: z.array(notificationRecordSchema).meta({ description: 'Newest first' }),
    nextBefore: z.string().optional().meta({ description: 'Present when older notifications follow: the `before` of the next page' }),
    unreadCount: z.number().int(),
  })
  .meta({ id: 'NotificationPageResponse' });

export const unreadCountResponseSchema = z
  .object({ success: z.literal(true), count: z.number().int() })
  .meta({ id: 'UnreadCountResponse' });

export const notificationsReadResponseSchema = z
  .object({ success: z.literal(true), changed: z.number().int().meta({ description: 'How many were unread and are now read' }) })
  .meta({ id: 'NotificationsReadResponse' });

export const notificationDeletedResponseSchema = z
  .object({ success: z.literal(true), notificationId: z.string() })
  .meta({ id: 'NotificationDeletedResponse' });

export type NotificationListQuery = z.output<typeof notificationListQuerySchema>;
export type MarkNotificationsReadBody = z.input<typeof markNotificationsReadBodySchema>;

// ---- Notification inbox: socket payloads (client → server) ----

/** Seed 003 clients hold ids as numbers or as strings; both name the same notification. */
const socketNotificationIdSchema = z.union([
  notificationIdSchema,
  z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).transform(String),
]);

/** Absent, or `{}`: the newest 20. */
export const notificationListPayloadSchema = z
  .object({
    limit: z.number().int().min(1).max(100).optional(),
    before: socketNotificationIdSchema.optional(),
    unreadOnly: z.boolean().optional(),
  })
  .optional();
export const notificationReadPayloadSchema = z.object({ notificationId: socketNotificationIdSchema });
export const notificationReadAllPayloadSchema = z.object({}).optional();
export const notificationDeletePayloadSchema = z.object({ notificationId: socketNotificationIdSchema });

export type NotificationListPayload = z.input<typeof notificationListPayloadSchema>;
export type NotificationReadPayload = z.input<typeof notificationReadPayloadSchema>;
export type NotificationReadAllPayload = z.input<typeof notificationReadAllPayloadSchema>;
export type NotificationDeletePayload = z.input<typeof notificationDeletePayloadSchema>;
