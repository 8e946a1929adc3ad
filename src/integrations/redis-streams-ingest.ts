import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import type { IngestTopic } from '../contracts/ingest.js';
import type { Ingest, IngestEntry, IngestHandler, IngestObserver } from '../domain/ingest.js';
import { isAppError } from '../errors.js';
import type { Logger } from '../observability/logger.js';

export interface RedisStreamsIngestOptions {
  /** INGEST_REDIS_URL; never logged (it may hold a password). */
  url: string;
  streams: readonly { topic: IngestTopic; stream: string }[];
  group: string;
  /** This process's name in the group; by default host, pid and a random suffix. */
  consumer?: string;
  /** Entries read at once (XREADGROUP COUNT) and handled together. */
  batchSize: number;
  /** An entry pending this long is claimed from whichever consumer holds it (XAUTOCLAIM). */
  claimIdleMs: number;
  handle: IngestHandler;
  observer: IngestObserver;
  logger: Logger;
  /** How long stop() waits for the batch in hand before closing the connection. */
  stopTimeoutMs: number;
}

/** How long one XREADGROUP waits for new entries at most (less when claims are due sooner). */
const BLOCK_MS = 2000;
/**
 * A connection silent this long is taken for dead and replaced. A live one is never silent
 * longer than a blocked read (BLOCK_MS): without this, a read on a connection whose peer
 * vanished without closing it (a network partition) would wait forever.
 */
const SOCKET_TIMEOUT_MS = BLOCK_MS + 8000;
/** Consumers left by processes that are gone are deleted from the group once idle this long, holding nothing. */
const DEAD_CONSUMER_IDLE_MS = 3600_000;

/** `host:pid:random`: a new name per process, so a restarted node never mistakes a dead one's entries for its own. */
export function defaultConsumerName(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
const isNoGroup = (err: unknown) => errorText(err).startsWith('NOGROUP');
const isBusyGroup = (err: unknown) => errorText(err).startsWith('BUSYGROUP');

/** A stream entry as node-redis answers XREADGROUP and XAUTOCLAIM. */
interface StreamMessage {
  id: string;
  message: Record<string, string>;
}

/**
 * The ingest on Redis Streams consumer groups (one stream per seed 004 topic), with
 * node-redis: the Ingest port's guarantees (domain/ingest.ts) kept as follows.
 *
 * - One loop, one connection: XREADGROUP `>` (COUNT INGEST_BATCH_SIZE, BLOCK 2 s) over every
 *   stream, handle the batch concurrently, XACK what was done, read again. An entry whose
 *   handling failed (storage unavailable) is not acknowledged and stays in the group's
 *   pending list.
 * - Claims: at start and every INGEST_CLAIM_IDLE_MS / 2, XAUTOCLAIM takes every entry pending
 *   longer than INGEST_CLAIM_IDLE_MS, whichever consumer holds it (a dead node's, or this
 *   one's failed entries), and handles it again; the inbox's idempotency key makes that
 *   store and deliver nothing twice.
 * - Groups are created with MKSTREAM at `0`: entries a producer wrote before this server's
 *   first start, or after Redis lost the group, are consumed rather than skipped
 *   (`$` would lose them). A stream with a history not meant for this server should have
 *   its group created at `$` beforehand (`XGROUP CREATE <stream> <group> $ MKSTREAM`).
 * - Redis away: node-redis reconnects with backoff for as long as it takes (also after a
 *   socket timeout, which its default strategy would give up on); the loop's command in
 *   flight fails, the loop waits and goes on once the connection is back. A group that
 *   vanished (Redis restarted empty) is created again.
 */
export function createRedisStreamsIngest(options: RedisStreamsIngestOptions): Ingest {
  const { group, batchSize, claimIdleMs, handle, observer, logger } = options;
  const consumer = options.consumer ?? defaultConsumerName();
  const topicOf = new Map(options.streams.map(({ topic, stream }) => [stream, topic]));
  const claimIntervalMs = Math.max(100, Math.floor(claimIdleMs / 2));
  // Claims run between reads: a read never blocks past the next claim pass.
  const blockMs = Math.min(BLOCK_MS, claimIntervalMs);

  const client = createClient({
    url: options.url,
    // Named, so that an operator (or a test) can find this connection in CLIENT LIST.
    name: `realtime-notify-ingest:${consumer}`,
    socket: {
      socketTimeout: SOCKET_TIMEOUT_MS,
      reconnectStrategy: (retries) => Math.min(100 * 2 ** Math.min(retries, 5), 3000) + Math.floor(Math.random() * 100),
    },
  });
  let stopping = false;
  let loop: Promise<void> | undefined;
  /** The batch being handled and acknowledged, which stop() lets finish. */
  let batch: Promise<void> | undefined;
  let wake: () => void = () => undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  let connectedOnce = false;
  let outageReported = false;
  client.on('ready', () => {
    observer.connected(true);
    logger.info({ group, consumer, streams: [...topicOf.keys()] }, connectedOnce ? 'ingest: Redis connection back' : 'ingest: consuming');
    connectedOnce = true;
    outageReported = false;
  });
  client.on('error', (err: unknown) => {
    observer.connected(false);
    // node-redis reports every failed reconnect; one warning per outage is enough.
    if (!outageReported && !stopping) logger.warn({ err: errorText(err) }, 'ingest: Redis unreachable; reconnecting until it is back');
    else logger.debug({ err: errorText(err) }, 'ingest: Redis still unreachable');
    outageReported = true;
  });

  async function createGroups(): Promise<void> {
    for (const stream of topicOf.keys()) {
      try {
        await client.xGroupCreate(stream, group, '0', { MKSTREAM: true });
        logger.info({ stream, group }, 'ingest: consumer group created');
      } catch (err) {
        if (!isBusyGroup(err)) throw err;
      }
    }
  }

  /** Handles entries of one stream, then acknowledges those that are done with. */
  async function handleEntries(stream: string, messages: readonly StreamMessage[]): Promise<void> {
    const topic = topicOf.get(stream);
    if (topic === undefined || messages.length === 0) return;
    const done = await Promise.all(
      messages.map(async ({ id, message }): Promise<string | undefined> => {
        const entry: IngestEntry = { topic, stream, id, producedAt: Number(id.split('-')[0]), value: message.value, key: message.key };
        try {
          const result = await handle(entry);
          observer.handled(topic, result.outcome);
          if (result.outcome === 'rejected') {
            observer.rejected(topic, result.reason);
            logger.warn({ stream, entryId: id, reason: result.reason, detail: result.detail }, 'ingest: entry rejected (acknowledged, not retried)');
          }
          return id;
        } catch (err) {
          observer.handled(topic, 'failed');
          const expected = isAppError(err) && err.code === 'STORAGE_UNAVAILABLE';
          logger[expected ? 'warn' : 'error']({ stream, entryId: id, err }, 'ingest: entry not handled; left pending, to be claimed again');
          return undefined;
        }
      }),
    );
    const ids = done.filter((id): id is string => id !== undefined);
    if (ids.length > 0) await client.xAck(stream, group, ids);
  }

  function handleBatch(work: () => Promise<void>): Promise<void> {
    batch = work().finally(() => {
      batch = undefined;
    });
    return batch;
  }

  /** Claims and handles every entry pending longer than claimIdleMs, then forgets consumers long gone. */
  async function claimStale(): Promise<void> {
    for (const stream of topicOf.keys()) {
      let cursor = '0-0';
      do {
        const claimed = await client.xAutoClaim(stream, group, consumer, claimIdleMs, cursor, { COUNT: batchSize });
        cursor = String(claimed.nextId);
        const messages = claimed.messages.filter((message): message is NonNullable<typeof message> => message !== null) as unknown as StreamMessage[];
        if (messages.length > 0) {
          logger.info({ stream, entries: messages.length }, 'ingest: claimed entries left pending');
          await handleBatch(() => handleEntries(stream, messages));
        }
      } while (cursor !== '0-0' && !stopping);
      for (const other of await client.xInfoConsumers(stream, group)) {
        if (other.name !== consumer && other.pending === 0 && other.idle > DEAD_CONSUMER_IDLE_MS) {
          await client.xGroupDelConsumer(stream, group, String(other.name));
        }
      }
    }
  }

  async function run(): Promise<void> {
    let groupsReady = false;
    let nextClaimAt = 0;
    let failures = 0;
    while (!stopping) {
      try {
        if (!groupsReady) {
          await createGroups();
          groupsReady = true;
        }
        if (Date.now() >= nextClaimAt) {
          await claimStale();
          nextClaimAt = Date.now() + claimIntervalMs;
        }
        if (stopping) break;
        const streams = [...topicOf.keys()].map((key) => ({ key, id: '>' }));
        const reply = (await client.xReadGroup(group, consumer, streams, { COUNT: batchSize, BLOCK: blockMs })) as
          | { name: string; messages: StreamMessage[] }[]
          | null;
        failures = 0;
        if (reply !== null) await handleBatch(async () => void (await Promise.all(reply.map(({ name, messages }) => handleEntries(String(name), messages)))));
      } catch (err) {
        if (stopping) break;
        // Redis restarted without its data: the groups (and streams) are gone; make them again.
        if (isNoGroup(err)) groupsReady = false;
        failures += 1;
        // A refusal from a reachable Redis (a key that is not a stream, say) is worth one
        // warning per streak; failures while the connection is down are reported by 'error'.
        const level = failures === 1 && client.isReady && !isNoGroup(err) ? 'warn' : 'debug';
        logger[level]({ err: errorText(err), failures }, 'ingest: reading the streams failed; retrying');
        await pause(Math.min(50 * 2 ** Math.min(failures, 6), 2000));
      }
    }
  }

  return {
    start() {
      if (loop !== undefined) return;
      // Does not wait: with Redis down at start, the server starts and the ingest follows
      // once Redis is there (commands queue until the connection is ready).
      client.connect().catch((err: unknown) => logger.warn({ err: errorText(err) }, 'ingest: could not connect to Redis'));
      loop = run();
    },
    async stop() {
      if (stopping) return loop;
      stopping = true;
      wake();
      const deadline = Date.now() + options.stopTimeoutMs;
      if (batch !== undefined) await within(batch, options.stopTimeoutMs);
      // Ends a blocked read at once; whatever it had been handed stays pending, to be claimed.
      if (client.isOpen) client.destroy();
      if (loop !== undefined) await within(loop, Math.max(100, deadline - Date.now()));
      observer.connected(false);
    },
  };
}

/** Waits for `work` (its failure included) for at most `ms`. */
async function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([work.catch(() => undefined), late]);
  clearTimeout(timer);
}
