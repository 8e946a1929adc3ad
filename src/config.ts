import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { INGEST_TOPICS, isIngestTopic, type IngestTopic } from './contracts/ingest.js';
import { weakSecretReason } from './secret-strength.js';

/**
 * Configuration, parsed once from the environment at the edge. Only this module reads
 * `process.env`. A bad value stops start-up with one line per offending variable.
 */

const list = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  );

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
    .optional()
    .transform((value) => (value === undefined || value === '' ? fallback : ['true', '1', 'yes'].includes(value)));

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? String(fallback) : value.trim()))
    .pipe(z.coerce.number<string>().int().min(min).max(max));

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value));

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(3000, 0, 65535),
  HOST: optionalText,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  LOG_PRETTY: z.enum(['true', 'false', '1', '0', 'yes', 'no', '']).optional(),
  JWT_SECRET: optionalText,
  JWT_PUBLIC_KEY: optionalText,
  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  JWT_CLOCK_TOLERANCE_SECONDS: int(30, 0, 300),
  API_KEYS: list,
  REQUIRE_SIGNED_REQUESTS: bool(false),
  ALLOWED_ORIGINS: list,
  PUBLIC_URL: optionalText,
  CHAT_SESSIONS_DIR: z.string().trim().min(1).default('./chat_sessions'),
  CHAT_INDEX_MAX_MESSAGES: int(1_000_000, 1_000, 1_000_000_000),
  CHAT_MAX_SESSIONS_PER_USER: int(1000, 1, 10_000_000),
  CHAT_MESSAGES_PER_USER_PER_MINUTE: int(120, 1, 10_000_000),
  CHAT_SESSIONS_PER_PEER_PER_HOUR: int(20, 1, 10_000_000),
  CHAT_OFFLINE_MAX_MESSAGES: int(500, 1, 100_000),
  PERSIST_NOTIFICATIONS: bool(false),
  INBOX_MAX_PER_USER: int(1000, 1, 1_000_000),
  INBOX_TTL_DAYS: int(90, 1, 3650),
  INBOX_DB_PATH: optionalText,
  JOBS_DB_PATH: optionalText,
  RATE_LIMIT_HTTP_PER_MINUTE: int(100, 1, 10_000_000),
  RATE_LIMIT_WS_MESSAGES_PER_MINUTE: int(1000, 1, 10_000_000),
  RATE_LIMIT_WS_CONNECTIONS_PER_MINUTE: int(100, 1, 10_000_000),
  RATE_LIMIT_RELAY_BYTES_PER_MINUTE: int(16 * 1024 * 1024, 1024, 1_000_000_000_000),
  MAX_CONNECTIONS: int(10_000, 1, 10_000_000),
  MAX_CONNECTIONS_PER_ADDRESS: int(256, 1, 10_000_000),
  SOCKET_CONNECT_TIMEOUT_MS: int(5_000, 100, 60_000),
  MAX_RELAY_BYTES: int(64 * 1024, 256, 100 * 1024 * 1024),
  MAX_BODY_BYTES: int(100 * 1024, 1024, 50 * 1024 * 1024),
  MAX_HTTP_BUFFER_SIZE: int(1024 * 1024, 1024, 100 * 1024 * 1024),
  MAX_MESSAGE_BYTES: int(10 * 1024, 1, 1024 * 1024),
  MAX_PAYLOAD_DEPTH: int(32, 2, 512),
  ALLOW_ANONYMOUS: z.enum(['true', 'false', '1', '0', 'yes', 'no', '']).optional(),
  ENABLE_TEST_ENDPOINTS: z.enum(['true', 'false', '1', '0', 'yes', 'no', '']).optional(),
  EVENT_WEBHOOK_URL: optionalText.pipe(z.url().optional()),
  EVENT_WEBHOOK_SECRET: optionalText,
  EVENT_WEBHOOK_TIMEOUT_MS: int(5000, 100, 60_000),
  SHUTDOWN_TIMEOUT_MS: int(10_000, 100, 600_000),
  HTTP_HEADERS_TIMEOUT_MS: int(10_000, 100, 600_000),
  HTTP_REQUEST_TIMEOUT_MS: int(30_000, 100, 600_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(5_000, 100, 600_000),
  RECOVERY_MAX_PACKETS: int(10_000, 1, 10_000_000),
  TRUST_PROXY: optionalText,
  NODE_ID: optionalText.pipe(z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'letters, digits and . _ : - only, at most 64').optional()),
  INGEST_REDIS_URL: optionalText,
  INGEST_STREAMS: list,
  INGEST_STREAM_PREFIX: z.string().trim().regex(/^[A-Za-z0-9_.:{}-]{0,64}$/, 'must be at most 64 characters of letters, digits and _.:{}-').default(''),
  INGEST_GROUP: z.string().trim().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 characters of letters, digits and _.:-').default('realtime-notify'),
  INGEST_BATCH_SIZE: int(100, 1, 10_000),
  INGEST_CLAIM_IDLE_MS: int(60_000, 100, 24 * 3600 * 1000),
  DATABASE_URL: optionalText,
  DATABASE_POOL_MAX: int(10, 1, 1000),
  REDIS_URL: optionalText,
  REDIS_KEY_PREFIX: z.string().trim().regex(/^[A-Za-z0-9_.:{}-]{1,64}$/, 'must be 1-64 characters of letters, digits and _.:{}-').default('rns'),
  CLUSTER_HEARTBEAT_MS: int(3_000, 100, 60_000),
});

export type Environment = 'development' | 'production' | 'test';

export interface Config {
  readonly env: Environment;
  readonly isProduction: boolean;
  readonly port: number;
  readonly host: string;
  readonly log: { readonly level: string; readonly pretty: boolean };
  readonly jwt: {
    /** HS256 secret. Generated per process in development when not configured. */
    readonly secret: string;
    readonly secretGenerated: boolean;
    /** PEM public key for RS256/ES256 tokens, when configured. */
    readonly publicKey: string | undefined;
    readonly issuer: string | undefined;
    readonly audience: string | undefined;
    readonly clockToleranceSeconds: number;
  };
  readonly apiKeys: readonly string[];
  /** True when no API key is configured outside production: delivery endpoints are open. */
  readonly openDelivery: boolean;
  readonly requireSignedRequests: boolean;
  /** Origins browsers may call from: ALLOWED_ORIGINS plus PUBLIC_URL's origin. */
  readonly allowedOrigins: readonly string[];
  /**
   * Development with no ALLOWED_ORIGINS: the page on loopback (localhost, 127.0.0.1,
   * [::1]) at the port actually bound is allowed too (see domain/origin-policy.ts).
   */
  readonly allowLoopbackOrigins: boolean;
  /** Where users reach the server (PUBLIC_URL), when it differs from how it listens. */
  readonly publicUrl: string | undefined;
  readonly chatSessionsDir: string;
  /** Messages of all sessions kept indexed in memory; idle sessions beyond it are read again on use. */
  readonly chatIndexMaxMessages: number;
  /** What one user (token or registered socket) may make the server store; API-key callers are exempt. */
  readonly chatQuotas: {
    /** Sessions a user created and has not deleted; beyond it FORBIDDEN. */
    readonly maxSessionsPerUser: number;
    /** Messages per user per minute, across sockets and REST; beyond it RATE_LIMITED. */
    readonly messagesPerMinute: number;
    /** New sessions a user may open to one other user per hour; beyond it RATE_LIMITED. */
    readonly sessionsPerPeerPerHour: number;
  };
  /** Undelivered messages pushed in all when a user connects; the rest are named in `chat:pending`. */
  readonly chatOfflineMaxMessages: number;
  /** The notification inbox: durable per-user notifications with read state. */
  readonly inbox: {
    /** Whether `/api/push` stores the notification when the request does not say (`persist`). */
    readonly persistByDefault: boolean;
    /** Notifications kept per inbox; beyond it the oldest read ones go first, then the oldest. */
    readonly maxPerUser: number;
    /** Days a notification is kept at most; a push's `ttlSeconds` can only shorten it. */
    readonly ttlDays: number;
    /** The SQLite database file (INBOX_DB_PATH); by default `inbox.sqlite` in CHAT_SESSIONS_DIR, beside the chat data. */
    readonly dbPath: string;
  };
  /** Jobs (seed 003): their SQLite database file (JOBS_DB_PATH); by default `jobs.sqlite` in CHAT_SESSIONS_DIR. */
  readonly jobs: { readonly dbPath: string };
  readonly rateLimits: {
    readonly httpPerMinute: number;
    readonly wsMessagesPerMinute: number;
    readonly wsConnectionsPerMinute: number;
    /** Bytes a connection may have relayed per minute, counted once per recipient. */
    readonly relayBytesPerMinute: number;
  };
  readonly maxBodyBytes: number;
  readonly maxHttpBufferSize: number;
  readonly maxMessageBytes: number;
  /** Deepest nesting of objects/arrays accepted in an HTTP body or socket payload. */
  readonly maxPayloadDepth: number;
  /** Open Engine.IO connections, in all and per client address (the address as `req.ip` sees it). */
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  /** How long a new connection may take to send Socket.IO's CONNECT and pass authentication. */
  readonly socketConnectTimeoutMs: number;
  /** Largest `message` / `client:message` payload relayed to other sockets. */
  readonly maxRelayBytes: number;
  readonly allowAnonymous: boolean;
  /** The seed 003/004 development helpers (`test:*` socket events, `POST /socket/test/*`) exist. */
  readonly testHelpers: boolean;
  readonly eventWebhook: { readonly url: string | undefined; readonly secret: string; readonly timeoutMs: number };
  readonly shutdownTimeoutMs: number;
  /**
   * Bounds on how long the HTTP server waits for a client: the request head, the whole
   * request (head and body), and an idle keep-alive connection between requests.
   */
  readonly httpTimeouts: { readonly headersMs: number; readonly requestMs: number; readonly keepAliveMs: number };
  /** Room and broadcast emits kept for connection state recovery, at most (newest kept). */
  readonly recoveryMaxPackets: number;
  /** Express `trust proxy` setting: false, a hop count, or a list of addresses. */
  readonly trustProxy: boolean | number | string;
  /** This process's name in logs, metrics (`node_info`) and /api/status: NODE_ID, else hostname-pid. */
  readonly nodeId: string;
  /**
   * The stream ingest (seed 004's Kafka topics on Redis Streams consumer groups); undefined
   * (off) without INGEST_REDIS_URL.
   */
  readonly ingest:
    | {
        readonly redisUrl: string;
        /** Each ingested topic and the Redis stream it is read from: INGEST_STREAM_PREFIX + topic. */
        readonly streams: readonly { readonly topic: IngestTopic; readonly stream: string }[];
        readonly group: string;
        /** Entries read at once (XREADGROUP COUNT), handled together. */
        readonly batchSize: number;
        /** An entry pending this long with another consumer (dead, or failing) is claimed (XAUTOCLAIM). */
        readonly claimIdleMs: number;
      }
    | undefined;
  /**
   * PostgreSQL (DATABASE_URL): when set, chat sessions, the notification inbox and jobs
   * are stored there instead of in files and SQLite; undefined (off) without it.
   */
  readonly database:
    | {
        readonly url: string;
        /** Connections this process opens at most (DATABASE_POOL_MAX). */
        readonly poolMax: number;
      }
    | undefined;
  /**
   * Cluster mode (REDIS_URL): nodes sharing this Redis deliver to each other's sockets and
   * share presence, rate limits and signature nonces; undefined (one node) without it.
   */
  readonly cluster:
    | {
        readonly redisUrl: string;
        /** Prefix of every key and channel this deployment uses in Redis (REDIS_KEY_PREFIX), so several can share one. */
        readonly keyPrefix: string;
        /**
         * How often a node tells Redis it is alive and refreshes its presence (CLUSTER_HEARTBEAT_MS); a
         * node silent for 3 of them is dead, and its sockets leave every count. The same on every node.
         */
        readonly heartbeatMs: number;
      }
    | undefined;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Least estimated randomness of production secrets (see secret-strength.ts). A JWT secret
 * can be attacked offline from any token a user holds, so it needs the most; keys and the
 * webhook secret start at 16 characters and 48 bits still refuses the obviously weak.
 */
const SECRET_MIN_BITS = { jwt: 96, apiKey: 48, webhook: 48 } as const;
const GENERATE = {
  jwt: 'generate one with: openssl rand -base64 48',
  apiKey: 'generate one with: openssl rand -hex 24',
  webhook: 'generate one with: openssl rand -hex 32',
} as const;
const PRODUCTION_REFUSES = ', which NODE_ENV=production refuses; ';

const truthy = (value: string | undefined, fallback: boolean) =>
  value === undefined || value === '' ? fallback : ['true', '1', 'yes'].includes(value);

function parseTrustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

/**
 * Parses and validates the environment. Throws ConfigError naming every bad variable.
 * `env` defaults to `process.env`; tests pass their own object.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`),
    );
  }
  const e = parsed.data;
  const isProduction = e.NODE_ENV === 'production';
  const problems: string[] = [];

  if (isProduction) {
    if (e.API_KEYS.length === 0) problems.push('API_KEYS: required when NODE_ENV=production');
    e.API_KEYS.forEach((key, index) => {
      const reason = key.length < 16 ? 'is shorter than 16 characters' : weakSecretReason(key, SECRET_MIN_BITS.apiKey);
      if (reason) problems.push(`API_KEYS: key #${index + 1} ${reason}${PRODUCTION_REFUSES}${GENERATE.apiKey}`);
    });
    if (!e.JWT_SECRET && !e.JWT_PUBLIC_KEY) {
      problems.push('JWT_SECRET: required when NODE_ENV=production (at least 32 bytes)');
    }
    if (truthy(e.ALLOW_ANONYMOUS, false)) {
      problems.push('ALLOW_ANONYMOUS: anonymous sockets are a development convenience and are refused in production');
    }
  }
  if (e.JWT_SECRET !== undefined && isProduction) {
    const reason = Buffer.byteLength(e.JWT_SECRET) < 32 ? 'is shorter than 32 bytes' : weakSecretReason(e.JWT_SECRET, SECRET_MIN_BITS.jwt);
    if (reason) problems.push(`JWT_SECRET: ${reason}${PRODUCTION_REFUSES}${GENERATE.jwt}`);
  }
  if (e.EVENT_WEBHOOK_SECRET !== undefined && e.EVENT_WEBHOOK_SECRET.length >= 16 && isProduction) {
    const reason = weakSecretReason(e.EVENT_WEBHOOK_SECRET, SECRET_MIN_BITS.webhook);
    if (reason) problems.push(`EVENT_WEBHOOK_SECRET: ${reason}${PRODUCTION_REFUSES}${GENERATE.webhook}`);
  }
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
    problems.push('HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (the request timeout includes the headers)');
  }
  if (e.EVENT_WEBHOOK_URL !== undefined && (e.EVENT_WEBHOOK_SECRET === undefined || e.EVENT_WEBHOOK_SECRET.length < 16)) {
    problems.push('EVENT_WEBHOOK_SECRET: required (at least 16 characters) when EVENT_WEBHOOK_URL is set; it signs each call');
  }
  if (e.JWT_PUBLIC_KEY !== undefined && !e.JWT_PUBLIC_KEY.includes('BEGIN PUBLIC KEY')) {
    problems.push('JWT_PUBLIC_KEY: must be a PEM public key (-----BEGIN PUBLIC KEY-----)');
  }
  for (const origin of e.ALLOWED_ORIGINS) {
    if (origin === '*') {
      problems.push('ALLOWED_ORIGINS: "*" is not allowed; list the origins that may call the server');
    } else if (!URL.canParse(origin) || new URL(origin).origin !== origin) {
      problems.push(`ALLOWED_ORIGINS: "${origin}" is not an origin (scheme://host[:port], no path)`);
    }
  }
  if (e.PUBLIC_URL !== undefined && (!URL.canParse(e.PUBLIC_URL) || !/^https?:$/.test(new URL(e.PUBLIC_URL).protocol))) {
    problems.push(`PUBLIC_URL: "${e.PUBLIC_URL}" is not an http(s) URL`);
  }
  if (e.INGEST_REDIS_URL !== undefined && (!URL.canParse(e.INGEST_REDIS_URL) || !/^rediss?:$/.test(new URL(e.INGEST_REDIS_URL).protocol))) {
    problems.push('INGEST_REDIS_URL: must be a redis:// or rediss:// URL');
  }
  for (const stream of e.INGEST_STREAMS) {
    if (!isIngestTopic(stream)) problems.push(`INGEST_STREAMS: "${stream}" has no mapping; the topics that can be ingested are ${INGEST_TOPICS.join(', ')}`);
  }
  if (e.DATABASE_URL !== undefined && (!URL.canParse(e.DATABASE_URL) || !/^postgres(ql)?:$/.test(new URL(e.DATABASE_URL).protocol))) {
    problems.push('DATABASE_URL: must be a postgres:// or postgresql:// URL');
  }
  if (e.REDIS_URL !== undefined && (!URL.canParse(e.REDIS_URL) || !/^rediss?:$/.test(new URL(e.REDIS_URL).protocol))) {
    problems.push('REDIS_URL: must be a redis:// or rediss:// URL');
  } else if (e.REDIS_URL !== undefined && e.DATABASE_URL === undefined) {
    // Every node joined through Redis serves every user, so each would write chat
    // sessions, inboxes and jobs into its own files, and a user would find them only on
    // the node that wrote them (or two nodes would corrupt one shared folder).
    problems.push(
      'REDIS_URL: cluster mode needs shared storage; chat sessions, the inbox and jobs are in files on this machine (CHAT_SESSIONS_DIR), which other nodes cannot use. Set DATABASE_URL (PostgreSQL) too, or unset REDIS_URL to run one node on files',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const port = e.PORT;
  const publicOrigin = e.PUBLIC_URL === undefined ? undefined : new URL(e.PUBLIC_URL).origin;
  const allowLoopbackOrigins = e.ALLOWED_ORIGINS.length === 0 && !isProduction;
  const allowedOrigins = [
    ...new Set([
      ...(allowLoopbackOrigins ? [`http://localhost:${port}`, `http://127.0.0.1:${port}`] : e.ALLOWED_ORIGINS),
      ...(publicOrigin === undefined ? [] : [publicOrigin]),
    ]),
  ];

  const config: Config = {
    env: e.NODE_ENV,
    isProduction,
    port,
    // Development is open by default, so it listens on loopback only unless told otherwise.
    host: e.HOST ?? (isProduction ? '0.0.0.0' : '127.0.0.1'),
    log: {
      level: e.LOG_LEVEL ?? (e.NODE_ENV === 'test' ? 'silent' : 'info'),
      pretty: truthy(e.LOG_PRETTY, e.NODE_ENV === 'development'),
    },
    jwt: {
      secret: e.JWT_SECRET ?? randomBytes(48).toString('base64url'),
      secretGenerated: e.JWT_SECRET === undefined,
      publicKey: e.JWT_PUBLIC_KEY?.replace(/\\n/g, '\n'),
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      clockToleranceSeconds: e.JWT_CLOCK_TOLERANCE_SECONDS,
    },
    apiKeys: Object.freeze([...e.API_KEYS]),
    openDelivery: !isProduction && e.API_KEYS.length === 0,
    requireSignedRequests: e.REQUIRE_SIGNED_REQUESTS,
    allowedOrigins: Object.freeze(allowedOrigins),
    allowLoopbackOrigins,
    publicUrl: e.PUBLIC_URL,
    chatSessionsDir: e.CHAT_SESSIONS_DIR,
    chatIndexMaxMessages: e.CHAT_INDEX_MAX_MESSAGES,
    chatQuotas: {
      maxSessionsPerUser: e.CHAT_MAX_SESSIONS_PER_USER,
      messagesPerMinute: e.CHAT_MESSAGES_PER_USER_PER_MINUTE,
      sessionsPerPeerPerHour: e.CHAT_SESSIONS_PER_PEER_PER_HOUR,
    },
    chatOfflineMaxMessages: e.CHAT_OFFLINE_MAX_MESSAGES,
    inbox: {
      persistByDefault: e.PERSIST_NOTIFICATIONS,
      maxPerUser: e.INBOX_MAX_PER_USER,
      ttlDays: e.INBOX_TTL_DAYS,
      dbPath: e.INBOX_DB_PATH ?? path.join(e.CHAT_SESSIONS_DIR, 'inbox.sqlite'),
    },
    jobs: { dbPath: e.JOBS_DB_PATH ?? path.join(e.CHAT_SESSIONS_DIR, 'jobs.sqlite') },
    rateLimits: {
      httpPerMinute: e.RATE_LIMIT_HTTP_PER_MINUTE,
      wsMessagesPerMinute: e.RATE_LIMIT_WS_MESSAGES_PER_MINUTE,
      wsConnectionsPerMinute: e.RATE_LIMIT_WS_CONNECTIONS_PER_MINUTE,
      relayBytesPerMinute: e.RATE_LIMIT_RELAY_BYTES_PER_MINUTE,
    },
    maxBodyBytes: e.MAX_BODY_BYTES,
    maxHttpBufferSize: e.MAX_HTTP_BUFFER_SIZE,
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    maxPayloadDepth: e.MAX_PAYLOAD_DEPTH,
    maxConnections: e.MAX_CONNECTIONS,
    maxConnectionsPerAddress: e.MAX_CONNECTIONS_PER_ADDRESS,
    socketConnectTimeoutMs: e.SOCKET_CONNECT_TIMEOUT_MS,
    maxRelayBytes: e.MAX_RELAY_BYTES,
    allowAnonymous: truthy(e.ALLOW_ANONYMOUS, !isProduction),
    // Seed 003/004 development helpers (test:* socket events, /socket/test/*): on outside
    // production; in production only when ENABLE_TEST_ENDPOINTS=true is set explicitly.
    testHelpers: truthy(e.ENABLE_TEST_ENDPOINTS, !isProduction),
    eventWebhook: { url: e.EVENT_WEBHOOK_URL, secret: e.EVENT_WEBHOOK_SECRET ?? '', timeoutMs: e.EVENT_WEBHOOK_TIMEOUT_MS },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    httpTimeouts: { headersMs: e.HTTP_HEADERS_TIMEOUT_MS, requestMs: e.HTTP_REQUEST_TIMEOUT_MS, keepAliveMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS },
    recoveryMaxPackets: e.RECOVERY_MAX_PACKETS,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    nodeId: e.NODE_ID ?? `${os.hostname()}-${process.pid}`,
    ingest:
      e.INGEST_REDIS_URL === undefined
        ? undefined
        : {
            redisUrl: e.INGEST_REDIS_URL,
            streams: [...new Set(e.INGEST_STREAMS.length > 0 ? e.INGEST_STREAMS : INGEST_TOPICS)]
              .filter(isIngestTopic)
              .map((topic) => ({ topic, stream: `${e.INGEST_STREAM_PREFIX}${topic}` })),
            group: e.INGEST_GROUP,
            batchSize: e.INGEST_BATCH_SIZE,
            claimIdleMs: e.INGEST_CLAIM_IDLE_MS,
          },
    database: e.DATABASE_URL === undefined ? undefined : { url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX },
    cluster: e.REDIS_URL === undefined ? undefined : { redisUrl: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX, heartbeatMs: e.CLUSTER_HEARTBEAT_MS },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
