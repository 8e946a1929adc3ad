import { createClient, type RedisClientType } from 'redis';
import type { Logger } from '../observability/logger.js';

/** XREAD BLOCK of the Socket.IO adapter; the idle socket timeout must exceed it (see below). */
export const ADAPTER_BLOCK_MS = 5_000;
/** How often the connection is probed with PING, and how long a PING may take. */
const PROBE_INTERVAL_MS = 1_000;
const PROBE_TIMEOUT_MS = 1_000;
/** Commands waiting for Redis at most, per client: past it a command fails at once instead of growing the heap. */
const MAX_QUEUED_COMMANDS = 50_000;
/** How long the first connection may take before the server refuses to start. */
const FIRST_CONNECT_TIMEOUT_MS = 10_000;

export type ClusterRedisClient = RedisClientType;

/**
 * The one Redis connection of a cluster node (REDIS_URL): the Socket.IO adapter, presence,
 * rate limits and nonces all use it (the adapter duplicates it for its blocking reads and
 * its subscriptions). Settings follow docs/redis-streams-adapter-notes.md:
 *
 * - The offline queue stays on (with it off the adapter's read loop spins and starves the
 *   event loop), bounded so that an outage cannot grow the heap without end.
 * - The reconnect strategy never gives up: a client that gives up is closed for good, and
 *   the adapter's duplicates inherit the strategy.
 * - The socket timeout is longer than the adapter's blocking read, or the idle reader
 *   would be cut off every time.
 *
 * `available()` is what /ready and every cross-node publish ask: the client is connected
 * and the last PING (one a second) came back within a second. A half-open connection
 * (Redis frozen, a network cut) is noticed by the probe, not by the client.
 */
export interface ClusterRedis {
  readonly client: ClusterRedisClient;
  /** Connects, or rejects after FIRST_CONNECT_TIMEOUT_MS with a message naming the (redacted) URL. */
  connect(): Promise<void>;
  available(): boolean;
  close(): Promise<void>;
}

/** Where Redis is, for logs and errors: host and port only, never the URL's password. */
const whereIs = (url: string) => (URL.canParse(url) ? new URL(url).host : 'REDIS_URL');

export function createClusterRedis(options: { url: string; logger: Logger }): ClusterRedis {
  const { url, logger } = options;
  let probeOk = false;
  let probe: NodeJS.Timeout | undefined;
  let downSince: number | undefined;
  let closed = false;

  const client = createClient({
    url,
    pingInterval: 5_000,
    commandsQueueMaxLength: MAX_QUEUED_COMMANDS,
    socket: {
      connectTimeout: 5_000,
      socketTimeout: 3 * ADAPTER_BLOCK_MS,
      reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2_000) + Math.floor(Math.random() * 250),
    },
  }) as ClusterRedisClient;

  client.on('error', (err: unknown) => {
    // Every failed reconnect attempt reports here; one line per outage is enough.
    if (downSince !== undefined) return;
    downSince = Date.now();
    probeOk = false;
    logger.warn({ err, redis: whereIs(url) }, 'Redis connection lost: cross-node delivery is unavailable until it is back');
  });
  client.on('ready', () => {
    if (downSince !== undefined) logger.info({ downMs: Date.now() - downSince }, 'Redis connection back');
    downSince = undefined;
  });

  async function runProbe(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.ping(),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error('PING timed out')), PROBE_TIMEOUT_MS);
        }),
      ]);
      probeOk = true;
    } catch {
      probeOk = false;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    client,
    async connect() {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.connect(),
          new Promise((_resolve, reject) => {
            timer = setTimeout(
              () => reject(new Error(`REDIS_URL: could not connect to Redis at ${whereIs(url)} within ${FIRST_CONNECT_TIMEOUT_MS / 1000} s`)),
              FIRST_CONNECT_TIMEOUT_MS,
            );
          }),
        ]);
      } catch (err) {
        client.destroy();
        throw err;
      } finally {
        clearTimeout(timer);
      }
      await runProbe();
      probe = setInterval(() => void runProbe(), PROBE_INTERVAL_MS);
      probe.unref();
    },
    available: () => !closed && client.isReady && probeOk,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(probe);
      if (!client.isOpen) return;
      try {
        await client.close();
      } catch {
        client.destroy();
      }
    },
  };
}
