/**
 * What the two recovery adapters (recovery-adapter.ts on one node, cluster/cluster-adapter.ts
 * across nodes) share: the parts of Socket.IO's packets and sockets they handle, and the
 * missed packets of recovered sessions held until their socket passed authentication.
 */

/** How long held packets wait for their socket to pass the authentication gate. */
const HOLD_MS = 30_000;

/** Socket.IO's EVENT packet type; only events are kept for recovery and carry an offset. */
export const EVENT_PACKET = 2;

/** The packet Socket.IO hands its adapter: `data` is `[event, ...args]`, `id` set when an ack is expected. */
export interface OutgoingPacket {
  type: number;
  data: unknown[];
  id?: number;
  nsp?: string;
}

export interface PacketOptions {
  preEncoded: true;
  volatile: boolean | undefined;
  compress: boolean | undefined;
}

/** The parts of a server-side Socket an adapter writes to, as socket.io-adapter's own broadcast does. */
export interface Recipient {
  id: string;
  /** Set only for sockets that asked for recovery (see `acceptRecoveryOptIn` in recovery-adapter.ts). */
  pid?: string;
  client: { writeToEngine(encoded: unknown[], options: PacketOptions): void };
  notifyOutgoingListeners?: (packet: OutgoingPacket) => void;
}

/** An adapter that hands a recovered socket its missed packets only when asked (replayMissedPackets). */
export interface HoldsMissedPackets {
  takeMissedPackets(socketId: string): unknown[][];
}

/**
 * Socket.IO writes a recovered session's missed packets to the wire while it builds the
 * socket, before any middleware runs. The adapters take them out of the restored session
 * and keep them here, for at most HOLD_MS, until the socket passed the authentication gate;
 * a refused socket's packets are dropped unsent.
 */
export function createHeldPackets() {
  const held = new Map<string, { packets: unknown[][]; timer: NodeJS.Timeout }>();
  return {
    hold(socketId: string, packets: unknown[][]): void {
      const timer = setTimeout(() => held.delete(socketId), HOLD_MS);
      timer.unref();
      held.set(socketId, { packets, timer });
    },
    take(socketId: string): unknown[][] {
      const entry = held.get(socketId);
      if (!entry) return [];
      held.delete(socketId);
      clearTimeout(entry.timer);
      return entry.packets;
    },
  };
}
