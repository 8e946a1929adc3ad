import { SessionAwareAdapter } from 'socket.io-adapter';
import type { AppSocket } from './socket-types.js';
import { untyped } from './socket-types.js';

type BroadcastArgs = Parameters<SessionAwareAdapter['broadcast']>;

/** How long held packets wait for their socket to pass the authentication gate. */
const HOLD_MS = 30_000;

interface HoldsMissedPackets {
  takeMissedPackets(socketId: string): unknown[][];
}

/**
 * Socket.IO's connection-state-recovery adapter, changed in the two ways this server
 * needs, in one place:
 *
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
    private readonly held = new Map<string, { packets: unknown[][]; timer: NodeJS.Timeout }>();

    override broadcast(...args: BroadcastArgs): void {
      super.broadcast(...args);
      const packets = (this as unknown as { packets: unknown[] }).packets;
      if (packets.length > maxPackets + slack) packets.splice(0, packets.length - maxPackets);
    }

    override async restoreSession(pid: string, offset: string): ReturnType<SessionAwareAdapter['restoreSession']> {
      const session = await super.restoreSession(pid, offset);
      if (!session || session.missedPackets.length === 0) return session;
      const timer = setTimeout(() => this.held.delete(session.sid), HOLD_MS);
      timer.unref();
      this.held.set(session.sid, { packets: session.missedPackets as unknown[][], timer });
      return { ...session, missedPackets: [] };
    }

    takeMissedPackets(socketId: string): unknown[][] {
      const entry = this.held.get(socketId);
      if (!entry) return [];
      this.held.delete(socketId);
      clearTimeout(entry.timer);
      return entry.packets;
    }
  };
}

/** Sends a recovered socket, now past the authentication gate, the packets it missed. */
export function replayMissedPackets(socket: AppSocket): void {
  const adapter: object = socket.nsp.adapter;
  if (!('takeMissedPackets' in adapter)) return;
  // Each packet is [event, ...args, offset]; the trailing offset lets the client resume
  // from here on its next recovery, exactly as Socket.IO itself sends it.
  for (const [event, ...args] of (adapter as HoldsMissedPackets).takeMissedPackets(socket.id)) {
    untyped(socket).emit(String(event), ...args);
  }
}
