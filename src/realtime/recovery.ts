import type { AppServer, AppSocket } from './socket-types.js';
import { untyped } from './socket-types.js';

/** How long held packets wait for their socket to pass the authentication gate. */
const HOLD_MS = 30_000;

/**
 * Socket.IO writes a recovered session's missed packets to the wire while it builds the
 * socket, before any middleware runs: a client whose token was revoked or has expired
 * would receive them and only then be refused. This guard takes the missed packets out
 * of the restored session and hands them back only once the socket has passed the
 * authentication gate and connected; packets of a refused socket are dropped unsent.
 */
export function createRecoveryGuard(io: AppServer) {
  const held = new Map<string, { packets: unknown[][]; timer: NodeJS.Timeout }>();
  const adapter = io.of('/').adapter;
  const restore = adapter.restoreSession.bind(adapter);

  adapter.restoreSession = async (pid, offset) => {
    const session = await restore(pid, offset);
    if (!session || session.missedPackets.length === 0) return session;
    const timer = setTimeout(() => held.delete(session.sid), HOLD_MS);
    timer.unref();
    held.set(session.sid, { packets: session.missedPackets as unknown[][], timer });
    return { ...session, missedPackets: [] };
  };

  return {
    /** Sends the held missed packets of a recovered socket that has just connected. */
    replayMissedPackets(socket: AppSocket): void {
      const entry = held.get(socket.id);
      if (!entry) return;
      held.delete(socket.id);
      clearTimeout(entry.timer);
      // Each packet is [event, ...args, offset]; the trailing offset lets the client
      // resume from here on its next recovery, exactly as Socket.IO itself sends it.
      for (const [event, ...args] of entry.packets) untyped(socket).emit(String(event), ...args);
    },
  };
}

export type RecoveryGuard = ReturnType<typeof createRecoveryGuard>;
