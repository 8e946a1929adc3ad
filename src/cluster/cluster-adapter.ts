import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Adapter, BroadcastOptions, Session } from 'socket.io-adapter';
import { EVENT_PACKET, createHeldPackets, type OutgoingPacket, type PacketOptions, type Recipient } from '../realtime/recovery-packets.js';
import { ADAPTER_BLOCK_MS, type ClusterRedisClient } from './redis-connection.js';

/** Stream entries read per round trip by each node. */
const READ_COUNT = 500;

/**
 * The members of socket.io-adapter 2.5's ClusterAdapter this module replaces on each
 * instance. They are called through `this`, so replacing them on the instance changes
 * what the class's own `broadcast` and `onMessage` do: ClusterAdapter.broadcast publishes,
 * calls `addOffsetIfNecessary`, then the in-memory broadcast, which calls `_encode` and
 * `apply`. test/integration/cluster-delivery.test.ts fails if that ever changes (no offsets
 * for plain clients, recovery on another node).
 */
interface ClusterAdapterInternals {
  nsp: { name: string; sockets: Map<string, Recipient> };
  broadcast(packet: OutgoingPacket, opts: BroadcastOptions): Promise<void> | void;
  addOffsetIfNecessary(packet: OutgoingPacket, opts: BroadcastOptions, offset: string): void;
  _encode(packet: OutgoingPacket, options: PacketOptions): unknown[];
  apply(opts: BroadcastOptions, callback: (socket: Recipient) => void): void;
  persistSession(session: Session): void;
  restoreSession(pid: string, offset: string): Promise<Session | undefined>;
  takeMissedPackets?: (socketId: string) => unknown[][];
}

/**
 * The Socket.IO adapter of cluster mode: @socket.io/redis-streams-adapter (every room and
 * broadcast emit is appended to one Redis stream that every node reads; requests such as
 * fetchSockets go over Pub/Sub; recovery sessions are Redis keys, so a client recovers on
 * any node), with the three rules the single-node adapter (realtime/recovery-adapter.ts)
 * applies, kept across nodes:
 *
 * - Opt-in: the stream adapter appends the entry id to every event for every recipient.
 *   Here only sockets that asked for recovery (`auth.recovery: true`, which keeps their
 *   `pid`) get it; every other socket gets each event as exactly its payload, and no
 *   session is persisted for it.
 * - Bounded: the stream keeps about `maxPackets` entries (XADD MAXLEN ~); a client that
 *   was away while more went by is not recovered, and is told so.
 * - Held until authenticated: a recovered session's missed packets are handed back by
 *   `takeMissedPackets` once the socket has passed the gate, never before.
 *
 * And one saving: an emit to a single socket of this node that did not opt in (every ack
 * reply and greeting) is delivered here without a trip through Redis, since no other node
 * has that socket and it can never be replayed.
 */
export function createClusterAdapter(
  client: ClusterRedisClient,
  options: { keyPrefix: string; maxPackets: number },
): (nsp: unknown) => Adapter {
  const factory = createAdapter(client, {
    streamName: `${options.keyPrefix}:socket.io`,
    channelPrefix: `${options.keyPrefix}:socket.io`,
    sessionKeyPrefix: `${options.keyPrefix}:socket.io:session:`,
    maxLen: options.maxPackets,
    readCount: READ_COUNT,
    blockTimeInMs: ADAPTER_BLOCK_MS,
  });
  // Socket.IO calls it with `new`: a plain function returning the adapter, not an arrow.
  return function clusterAdapter(nsp: unknown) {
    const adapter = factory(nsp);
    applyRecoveryRules(adapter as unknown as ClusterAdapterInternals);
    return adapter as unknown as Adapter;
  };
}

function applyRecoveryRules(adapter: ClusterAdapterInternals): void {
  const broadcast = adapter.broadcast.bind(adapter);
  const encode = adapter._encode.bind(adapter);
  const apply = adapter.apply.bind(adapter);
  const persistSession = adapter.persistSession.bind(adapter);
  const restoreSession = adapter.restoreSession.bind(adapter);
  const held = createHeldPackets();
  /** The offset of the packet being broadcast, between addOffsetIfNecessary and _encode. */
  let pending: { packet: OutgoingPacket; offset: string } | undefined;
  /** The same, between _encode and the apply that writes it to each recipient. */
  let armed: { packet: OutgoingPacket; offset: string; options: PacketOptions } | undefined;

  adapter.broadcast = (packet, opts) => {
    const only = opts.rooms.size === 1 && (opts.except?.size ?? 0) === 0 ? adapter.nsp.sockets.get(opts.rooms.values().next().value!) : undefined;
    if (only !== undefined && only.pid === undefined) {
      return broadcast(packet, { ...opts, flags: { ...opts.flags, local: true } });
    }
    return broadcast(packet, opts);
  };

  adapter.addOffsetIfNecessary = (packet, opts, offset) => {
    if (packet.type === EVENT_PACKET && packet.id === undefined && opts.flags?.volatile === undefined) pending = { packet, offset };
  };

  adapter._encode = (packet, packetOptions) => {
    if (pending?.packet === packet) {
      armed = { ...pending, options: packetOptions };
      pending = undefined;
    }
    return encode(packet, packetOptions);
  };

  adapter.apply = (opts, callback) => {
    const withOffset = armed;
    armed = undefined;
    if (withOffset === undefined) {
      apply(opts, callback);
      return;
    }
    let encoded: unknown[] | undefined;
    const { packet, offset, options: packetOptions } = withOffset;
    apply(opts, (socket) => {
      if (socket.pid === undefined) {
        callback(socket);
        return;
      }
      const recoverable = { ...packet, data: [...packet.data, offset] };
      encoded ??= encode(recoverable, packetOptions);
      socket.notifyOutgoingListeners?.(recoverable);
      socket.client.writeToEngine(encoded, packetOptions);
    });
  };

  adapter.persistSession = (session) => {
    // Sockets that did not opt in have no pid: nothing to resume, nothing to keep.
    if (session.pid === undefined) return;
    persistSession(session);
  };

  adapter.restoreSession = async (pid, offset) => {
    const session = await restoreSession(pid, offset);
    if (!session) return session;
    // The session went through msgpack, which stores an undefined field as nil: a field
    // the socket never had would come back null (socket.data's fields are never null).
    const data = session.data as Record<string, unknown> | undefined;
    for (const key of Object.keys(data ?? {})) if (data![key] === null) delete data![key];
    if (session.missedPackets.length === 0) return session;
    held.hold(session.sid, session.missedPackets);
    return { ...session, missedPackets: [] };
  };

  adapter.takeMissedPackets = (socketId) => held.take(socketId);
}
