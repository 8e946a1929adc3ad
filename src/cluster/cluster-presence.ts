import { createHash } from 'node:crypto';
import { AppError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { AppServer } from '../realtime/socket-types.js';
import type { ClusterRedis, ClusterRedisClient } from './redis-connection.js';

/** The field of a node's presence hash that holds its open connections; no room name begins with `#`. */
export const CONNECTIONS_FIELD = '#connections';
/** Written only when the hash is written whole: a hash without it was lost (or rebuilt in part) and is written again. */
const WHOLE_FIELD = '#since';
/** A node whose last heartbeat is older than this many heartbeats is dead: readers leave it out. */
export const DEAD_AFTER_HEARTBEATS = 3;
/** A node's hash outlives its last heartbeat by this many heartbeats, then Redis drops it (and the registry forgets the node). */
const KEEP_HEARTBEATS = 10;
/** Fields read per HMGET inside a script: Lua's unpack has a stack limit. */
const HMGET_CHUNK = 256;
/** How long a graceful stop waits for Redis to forget the node. */
const STOP_TIMEOUT_MS = 1_000;
/**
 * Totals read within this long of a previous read share it. They cost Redis O(rooms in the
 * cluster), and /socket/status, which reads them, is open to anyone: this bounds what a
 * flood of it costs Redis to 4 reads a second per node.
 */
const TOTALS_REUSE_MS = 250;

/** Cluster-wide counts, every live node included. */
export interface ClusterTotals {
  nodes: number;
  connections: number;
  /** Distinct user rooms with a socket on any node. */
  users: number;
  /** Distinct rooms (user rooms included; socket-id rooms never) with a socket on any node. */
  rooms: number;
}

/** What delivery and presence code reads from the cluster (see createClusterPresence). */
export interface ClusterView {
  /** Whether this node reaches Redis now (redis-connection.ts): when not, nothing cross-node can be promised. */
  available(): boolean;
  /**
   * Sockets in each of `fields` (room names, or CONNECTIONS_FIELD) on the live nodes other
   * than this one: this node's own part comes from its adapter, exactly. One script call;
   * calls made in the same tick share it. Rejects with SERVICE_UNAVAILABLE.
   */
  countElsewhere(fields: readonly string[]): Promise<number[]>;
  /**
   * Cluster totals, this node included; O(rooms in the cluster) in Redis, so a read less
   * than TOTALS_REUSE_MS old is shared. Rejects with SERVICE_UNAVAILABLE.
   */
  totals(): Promise<ClusterTotals>;
  /** Sockets in a watched room on the other live nodes, as of the last heartbeat (0 before the first). */
  watchedElsewhere(room: string): number;
}

export interface ClusterPresence extends ClusterView {
  /** Starts publishing this node's rooms and heartbeating; call once the cluster adapter is in place. */
  start(): Promise<void>;
  /** Removes this node from Redis (registry entry and hash); bounded, never throws. */
  stop(): Promise<void>;
}

export interface ClusterPresenceOptions {
  io: AppServer;
  redis: ClusterRedis;
  keyPrefix: string;
  nodeId: string;
  heartbeatMs: number;
  logger: Logger;
  /** Rooms whose count elsewhere is read with every heartbeat, for watchedElsewhere (the event mirror's room). */
  watchedRooms?: readonly string[];
  /** Told of every failed presence write or heartbeat (a metric). */
  onWriteError?: () => void;
}

interface Script {
  source: string;
  sha: string;
}

const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });

// Redis's own clock (TIME) stamps and judges heartbeats, so clock skew between nodes cannot make one look dead.
const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: registry, own hash. ARGV: node id, keep ms, whole-marker field. Returns 1 when the own hash is whole. */
const HEARTBEAT = script(`${NOW_MS}
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return redis.call('HEXISTS', KEYS[2], ARGV[3])`);

/** KEYS: registry. ARGV: hash prefix, own node id, dead-after ms, fields... Returns each field's sum over the other live nodes. */
const COUNT_ELSEWHERE = script(`${NOW_MS}
local nodes = redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[3]), '+inf')
local n = #ARGV - 3
local sums = {}
for i = 1, n do sums[i] = 0 end
for _, node in ipairs(nodes) do
  if node ~= ARGV[2] then
    local key = ARGV[1] .. node
    for from = 1, n, ${HMGET_CHUNK} do
      local to = math.min(from + ${HMGET_CHUNK - 1}, n)
      local values = redis.call('HMGET', key, unpack(ARGV, from + 3, to + 3))
      for i = 1, #values do
        if values[i] then sums[from + i - 1] = sums[from + i - 1] + tonumber(values[i]) end
      end
    end
  end
end
return sums`);

/** KEYS: registry. ARGV: hash prefix, dead-after ms, connections field. Returns { nodes, connections, users, rooms }. */
const TOTALS = script(`${NOW_MS}
local nodes = redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[2]), '+inf')
local connections, users, rooms = 0, 0, 0
local seen = {}
for _, node in ipairs(nodes) do
  local flat = redis.call('HGETALL', ARGV[1] .. node)
  for i = 1, #flat, 2 do
    local field, count = flat[i], tonumber(flat[i + 1])
    if field == ARGV[3] then
      connections = connections + count
    elseif count > 0 and string.sub(field, 1, 1) ~= '#' and not seen[field] then
      seen[field] = true
      rooms = rooms + 1
      if string.find(field, '^user:') or string.find(field, '^tenant:[^:]+:user:') then users = users + 1 end
    end
  end
end
return { #nodes, connections, users, rooms }`);

/** Runs a script by its SHA, sending its text only when Redis does not have it (first use, or after a restart). */
async function run(client: ClusterRedisClient, { source, sha }: Script, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await client.evalSha(sha, { keys, arguments: args });
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return client.eval(source, { keys, arguments: args });
  }
}

/** What every cross-node count or emit answers while this node cannot reach Redis. */
export const clusterUnavailable = (cause?: unknown) =>
  new AppError('SERVICE_UNAVAILABLE', 'This node cannot reach Redis, so it cannot count or reach sockets on other nodes; nothing was sent. Retry shortly', {
    cause,
  });

/**
 * Cross-node socket counts, the Centrifuge way (docs/redis-streams-adapter-notes.md §7-8):
 * each node publishes its own per-room socket counts to Redis and reads the other live
 * nodes' counts from there.
 *
 * - This node's truth is its adapter's rooms. The in-memory adapter (which the stream
 *   adapter extends) emits `join-room` / `leave-room`; the rooms they touch are written to
 *   the hash `{prefix}:presence:{nodeId}` (field = room, value = sockets here; the
 *   CONNECTIONS_FIELD holds `nsp.sockets.size`) once per tick, as absolute values read
 *   from the adapter, not increments: a write lost in an outage or answered twice cannot
 *   leave a count off, and an empty room's field is deleted. Socket-id rooms are not
 *   written (one field per socket, and nobody counts them across nodes). The socket path
 *   never waits for these writes; a failure is counted and logged, never thrown.
 * - The hash is written whole at start, after every reconnect (Redis may be a fresh,
 *   empty one) and whenever a heartbeat finds it incomplete (it expired while the node
 *   was frozen); a failed write also asks for a whole one.
 * - Every heartbeat (CLUSTER_HEARTBEAT_MS) stamps the node in the registry ZSET
 *   `{prefix}:nodes` with Redis's time and extends the hash's life. Readers leave out
 *   nodes whose stamp is older than DEAD_AFTER_HEARTBEATS heartbeats, so the sockets of a
 *   node that died without a word leave every count within 3 heartbeats of its last one,
 *   plus the read that notices. A graceful stop removes the node at once.
 * - Reads are one Lua script each (EVALSHA): the sum over the other live nodes' hashes,
 *   O(live nodes × rooms asked); totals read every live hash, O(rooms in the cluster).
 *   The scripts name keys they compute, which a single Redis (not Redis Cluster) allows.
 */
export function createClusterPresence(options: ClusterPresenceOptions): ClusterPresence {
  const { io, redis, keyPrefix, nodeId, heartbeatMs, logger } = options;
  const { client } = redis;
  const watchedRooms = options.watchedRooms ?? [];
  const nsp = io.of('/');
  const registryKey = `${keyPrefix}:nodes`;
  const hashPrefix = `${keyPrefix}:presence:`;
  const ownKey = `${hashPrefix}${nodeId}`;
  const deadAfterMs = String(DEAD_AFTER_HEARTBEATS * heartbeatMs);
  const keepMs = KEEP_HEARTBEATS * heartbeatMs;

  let started = false;
  let stopped = false;
  let needsWhole = true;
  let failing = false;
  let beating = false;
  let heartbeat: NodeJS.Timeout | undefined;
  /** Fields changed since the last write: room names, or CONNECTIONS_FIELD. */
  const dirty = new Set<string>();
  let flushScheduled = false;
  const watched = new Map<string, number>();

  const localCount = (field: string) => (field === CONNECTIONS_FIELD ? nsp.sockets.size : (nsp.adapter.rooms.get(field)?.size ?? 0));

  function succeeded(): void {
    if (failing) logger.info('cluster presence written again');
    failing = false;
  }

  function failed(err: unknown): void {
    needsWhole = true;
    options.onWriteError?.();
    if (failing) return;
    failing = true;
    logger.warn({ err }, 'cluster presence write failed: other nodes may count this one wrong until it is written again');
  }

  /** Writes this node's hash anew from the adapter; the snapshot is taken now, so later writes come after it. */
  function writeWhole(): Promise<void> {
    needsWhole = false;
    dirty.clear();
    // A Map, not an object: a room may be called `__proto__`.
    const fields = new Map([
      [CONNECTIONS_FIELD, String(nsp.sockets.size)],
      [WHOLE_FIELD, String(Date.now())],
    ]);
    for (const [name, members] of nsp.adapter.rooms) {
      // Every socket sits in a room named after its own id: not a room anyone counts.
      if (members.size === 1 && members.has(name)) continue;
      fields.set(name, String(members.size));
    }
    return client.multi().del(ownKey).hSet(ownKey, fields).pExpire(ownKey, keepMs).exec().then(succeeded, failed);
  }

  function flush(): void {
    flushScheduled = false;
    if (stopped || dirty.size === 0) return;
    if (!client.isReady) {
      // Not queued through an outage (the client's queue is bounded and the adapter needs it):
      // the whole hash is written on `ready` instead.
      dirty.clear();
      needsWhole = true;
      return;
    }
    if (needsWhole) {
      void writeWhole();
      return;
    }
    const set = new Map<string, string>();
    const gone: string[] = [];
    for (const field of dirty) {
      const count = localCount(field);
      if (count > 0 || field === CONNECTIONS_FIELD) set.set(field, String(count));
      else gone.push(field);
    }
    dirty.clear();
    const writes: Promise<unknown>[] = [];
    if (set.size > 0) writes.push(client.hSet(ownKey, set));
    if (gone.length > 0) writes.push(client.hDel(ownKey, gone));
    Promise.all(writes).then(succeeded, failed);
  }

  const onMembership = (room: string, socketId: string) => {
    if (stopped) return;
    dirty.add(room === socketId ? CONNECTIONS_FIELD : room);
    if (flushScheduled) return;
    flushScheduled = true;
    // Once per tick: a burst of connects costs one HSET, not one per join.
    setImmediate(flush);
  };

  async function beat(): Promise<void> {
    if (beating || stopped || !client.isReady) return;
    beating = true;
    try {
      // Issued before the heartbeat on the same connection, so the heartbeat sees it.
      if (needsWhole) void writeWhole();
      const [whole, counts] = await Promise.all([
        run(client, HEARTBEAT, [registryKey, ownKey], [nodeId, String(keepMs), WHOLE_FIELD]),
        watchedRooms.length === 0 ? Promise.resolve([]) : countScript(watchedRooms),
      ]);
      watchedRooms.forEach((room, index) => watched.set(room, counts[index] ?? 0));
      if (Number(whole) !== 1) {
        logger.info('cluster presence was missing or partial in Redis: writing it whole');
        await writeWhole();
      }
      succeeded();
    } catch (err) {
      failed(err);
    } finally {
      beating = false;
    }
  }

  async function countScript(fields: readonly string[]): Promise<number[]> {
    const reply = (await run(client, COUNT_ELSEWHERE, [registryKey], [hashPrefix, nodeId, deadAfterMs, ...fields])) as unknown[];
    return reply.map(Number);
  }

  // Counts asked for in one tick (an inbox push counts each of its users) share one script call.
  let batch: { fields: Map<string, number>; waiters: { indices: number[]; resolve: (counts: number[]) => void; reject: (err: unknown) => void }[] } | undefined;

  function runBatch(): void {
    const { fields, waiters } = batch!;
    batch = undefined;
    countScript([...fields.keys()]).then(
      (sums) => {
        for (const waiter of waiters) waiter.resolve(waiter.indices.map((index) => sums[index] ?? 0));
      },
      (err: unknown) => {
        const error = clusterUnavailable(err);
        for (const waiter of waiters) waiter.reject(error);
      },
    );
  }

  let recentTotals: { at: number; read: Promise<ClusterTotals> } | undefined;

  async function readTotals(): Promise<ClusterTotals> {
    // This node's pending changes go first, on the same connection: the totals include them.
    if (flushScheduled) flush();
    try {
      const reply = (await run(client, TOTALS, [registryKey], [hashPrefix, deadAfterMs, CONNECTIONS_FIELD])) as unknown[];
      const [nodes = 0, connections = 0, users = 0, rooms = 0] = reply.map(Number);
      return { nodes, connections, users, rooms };
    } catch (err) {
      throw clusterUnavailable(err);
    }
  }

  const onReady = () => {
    // Redis may have restarted empty: this node's hash and registry entry are written again
    // now, ahead of the probe's PING that makes this node available again.
    if (stopped) return;
    void writeWhole();
    void beat();
  };

  return {
    available: () => redis.available(),

    countElsewhere(fields) {
      if (!redis.available()) return Promise.reject(clusterUnavailable());
      if (fields.length === 0) return Promise.resolve([]);
      return new Promise((resolve, reject) => {
        if (batch === undefined) {
          batch = { fields: new Map(), waiters: [] };
          process.nextTick(runBatch);
        }
        const pending = batch;
        const indices = fields.map((field) => {
          let index = pending.fields.get(field);
          if (index === undefined) {
            index = pending.fields.size;
            pending.fields.set(field, index);
          }
          return index;
        });
        pending.waiters.push({ indices, resolve, reject });
      });
    },

    totals() {
      if (!redis.available()) return Promise.reject(clusterUnavailable());
      const now = Date.now();
      if (recentTotals === undefined || now - recentTotals.at >= TOTALS_REUSE_MS) {
        const read = readTotals();
        recentTotals = { at: now, read };
        // A failed read is not shared: the next caller asks Redis again.
        read.catch(() => {
          if (recentTotals?.read === read) recentTotals = undefined;
        });
      }
      return recentTotals.read;
    },

    watchedElsewhere: (room) => watched.get(room) ?? 0,

    async start() {
      if (started) return;
      started = true;
      nsp.adapter.on('join-room', onMembership);
      nsp.adapter.on('leave-room', onMembership);
      client.on('ready', onReady);
      await writeWhole();
      await beat();
      heartbeat = setInterval(() => void beat(), heartbeatMs);
      heartbeat.unref();
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(heartbeat);
      nsp.adapter.off('join-room', onMembership);
      nsp.adapter.off('leave-room', onMembership);
      client.off('ready', onReady);
      if (!started || !client.isReady) return;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.multi().zRem(registryKey, nodeId).del(ownKey).exec(),
          new Promise((resolve) => {
            timer = setTimeout(resolve, STOP_TIMEOUT_MS);
          }),
        ]);
      } catch (err) {
        logger.warn({ err }, 'could not remove this node from the cluster presence; it leaves the counts within 3 heartbeats');
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
