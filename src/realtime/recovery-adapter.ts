import type { ExtendedError } from 'socket.io';
import { SessionAwareAdapter, type BroadcastOptions } from 'socket.io-adapter';
import { EVENT_PACKET, createHeldPackets, type HoldsMissedPackets, type OutgoingPacket, type PacketOptions, type Recipient } from './recovery-packets.js';
import type { AppSocket } from './socket-types.js';
import { untyped } from './socket-types.js';

/**
 * Members socket.io-adapter 2.5 declares private but that a subclass must reach to
 * replace `broadcast`: the recipient walk, the encoder (it also pre-frames the WebSocket
 * message once for all recipients) and the recovery buffer.
 */
interface AdapterInternals {
  nsp: { name: string };
  packets: { id: string; opts: BroadcastOptions; data: unknown[]; emittedAt: number }[];
  /** Sessions of dropped sockets that may still resume, by private session id. */
  sessions: Map<string, unknown>;
  apply(opts: BroadcastOptions, callback: (socket: Recipient) => void): void;
  _encode(packet: OutgoingPacket, options: PacketOptions): unknown[];
}

/**
 * Socket.IO's connection-state-recovery adapter, changed in the three ways this server
 * needs, in one place:
 *
 * - Opt-in: Socket.IO appends a recovery offset to every event it keeps, so every client
 *   receives `[event, payload, offset]`. JavaScript handlers ignore the extra argument;
 *   python-socketio calls a one-parameter handler with two (TypeError, event lost) and
 *   Dart hands it a list. Here only sockets that asked for recovery (`auth.recovery:
 *   true`, which keeps Socket.IO's `pid` on the socket) get the offset; every other
 *   socket gets each event as exactly its payload, and has no session to persist.
 * - Bounded: the stock adapter keeps every emit for the whole recovery window (2
 *   minutes) whatever the traffic (120 MiB of heap after seconds of relaying in bench/).
 *   This one also keeps at most `maxPackets` of the most recent emits. A client that was
 *   away while more went by is not recovered; Socket.IO connects it afresh and the server
 *   tells it with `system:state_recovery_failed`, so nothing is lost silently.
 * - Held until authenticated: Socket.IO writes a recovered session's missed packets to
 *   the wire while it builds the socket, before any middleware runs, so a client whose
 *   token was revoked or has expired would receive them and only then be refused. Here
 *   they are taken out of the restored session and handed back by
 *   `replayMissedPackets` once the socket has passed the gate; a refused socket's
 *   packets are dropped unsent.
 *
 * It trims the adapter's `packets` list, which socket.io-adapter 2.5 keeps oldest first;
 * test/integration/socket-expiry-and-recovery.test.ts fails if that ever changes.
 */
export function createRecoveryAdapter(maxPackets: number): typeof SessionAwareAdapter {
  // Trim in batches, not on every emit: splice moves the whole array.
  const slack = Math.max(1, Math.ceil(maxPackets / 10));

  return class RecoveryAdapter extends SessionAwareAdapter implements HoldsMissedPackets {
    private readonly held = createHeldPackets();
    private lastOffset = 0;

    private get internals(): AdapterInternals {
      return this as unknown as AdapterInternals;
    }

    override broadcast(packet: OutgoingPacket, opts: BroadcastOptions): void {
      // Packets with an ack and volatile ones are never kept, so carry no offset: the
      // stock path sends every recipient the same bytes.
      if (packet.type !== EVENT_PACKET || packet.id !== undefined || opts.flags?.volatile !== undefined) {
        super.broadcast(packet, opts);
        return;
      }

      const withOffset: Recipient[] = [];
      const plain: Recipient[] = [];
      this.internals.apply(opts, (socket) => (socket.pid === undefined ? plain : withOffset).push(socket));

      // Not kept when no socket could ever ask for it: no recipient opted in, and no
      // session of a socket that dropped is waiting to resume (the packets a recovering
      // socket gets are those emitted after the last one it received, which carried an
      // offset, so a later emit matters only to a recipient with a pid or to a waiting
      // session). Without this every push and relay stayed in the buffer, promoted to the
      // old generation, whether or not any client used recovery. A reply to one socket
      // that did not opt in is never kept either (it can never be replayed).
      const toOnePlainSocket = withOffset.length === 0 && plain.length === 1 && opts.rooms.size === 1 && opts.rooms.has(plain[0]!.id);
      if (withOffset.length === 0 && (toOnePlainSocket || this.internals.sessions.size === 0)) {
        this.send(plain, packet, opts);
        return;
      }

      // Kept even with no opted-in recipient connected now: one that dropped a moment ago
      // recovers from this buffer.
      const offset = (++this.lastOffset).toString(36);
      const data = [...packet.data, offset];
      const packets = this.internals.packets;
      packets.push({ id: offset, opts, data, emittedAt: Date.now() });
      if (packets.length > maxPackets + slack) packets.splice(0, packets.length - maxPackets);

      // Encoded once per form actually needed: once when all recipients are of one kind.
      if (plain.length > 0) this.send(plain, packet, opts);
      if (withOffset.length > 0) this.send(withOffset, { ...packet, data }, opts);
    }

    /** Encodes `packet` once and writes it to each of `sockets`, as socket.io-adapter's broadcast does. */
    private send(sockets: readonly Recipient[], packet: OutgoingPacket, opts: BroadcastOptions): void {
      // An emit to a room with nobody in it (a push to an offline user) is not encoded for no one.
      if (sockets.length === 0) return;
      const options: PacketOptions = { preEncoded: true, volatile: opts.flags?.volatile, compress: opts.flags?.compress };
      packet.nsp = this.internals.nsp.name;
      const encoded = this.internals._encode(packet, options);
      for (const socket of sockets) {
        socket.notifyOutgoingListeners?.(packet);
        socket.client.writeToEngine(encoded, options);
      }
    }

    override persistSession(session: Parameters<SessionAwareAdapter['persistSession']>[0]): void {
      // Sockets that did not opt in have no pid: nothing to resume, nothing to keep.
      if (session.pid === undefined) return;
      super.persistSession(session);
    }

    override async restoreSession(pid: string, offset: string): ReturnType<SessionAwareAdapter['restoreSession']> {
      const session = await super.restoreSession(pid, offset);
      if (!session || session.missedPackets.length === 0) return session;
      this.held.hold(session.sid, session.missedPackets);
      return { ...session, missedPackets: [] };
    }

    takeMissedPackets(socketId: string): unknown[][] {
      return this.held.take(socketId);
    }
  };
}

/**
 * Connection middleware, registered before authentication: a socket whose handshake does
 * not carry `auth.recovery === true` loses the private session id Socket.IO gave it. That
 * one field is the opt-in everywhere: without it the CONNECT reply carries no `pid` (so
 * socket.io-client never tries to recover, nor reads a string payload as an offset), the
 * adapter sends no offsets and persists no session.
 */
export function acceptRecoveryOptIn(socket: AppSocket, next: (err?: ExtendedError) => void): void {
  const auth = socket.handshake.auth as { recovery?: unknown } | undefined;
  if (auth?.recovery !== true) (socket as unknown as { pid: string | undefined }).pid = undefined;
  next();
}

/** Sends a recovered socket, now past the authentication gate, the packets it missed. */
export function replayMissedPackets(socket: AppSocket): void {
  const adapter: object = socket.nsp.adapter;
  if (!('takeMissedPackets' in adapter)) return;
  // Each kept packet is [event, ...args, offset]. It is emitted again without its old
  // offset: the adapter gives it a new one (and keeps it), so the client's next recovery
  // resumes after the replay rather than replaying the greeting sent before it.
  for (const packet of (adapter as HoldsMissedPackets).takeMissedPackets(socket.id)) {
    const [event, ...args] = packet.slice(0, -1);
    untyped(socket).emit(String(event), ...args);
  }
}
