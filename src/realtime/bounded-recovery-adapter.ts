import { SessionAwareAdapter } from 'socket.io-adapter';

type BroadcastArgs = Parameters<SessionAwareAdapter['broadcast']>;

/**
 * Socket.IO's recovery adapter keeps every room and broadcast emit for the whole
 * recovery window (2 minutes), whatever the traffic: in bench/ that was 120 MiB of heap
 * after a few seconds of relaying and most of the relay's p99 (GC). This one keeps at
 * most `maxPackets` of the most recent emits as well. A client that was away while more
 * than that went by cannot be recovered; Socket.IO then connects it afresh and the
 * server tells it with `system:state_recovery_failed`, so nothing is lost silently.
 *
 * It trims the adapter's `packets` list, which socket.io-adapter 2.5 keeps oldest first;
 * test/integration/socket-expiry-and-recovery.test.ts fails if that ever changes.
 */
export function createBoundedRecoveryAdapter(maxPackets: number): typeof SessionAwareAdapter {
  // Trim in batches, not on every emit: splice moves the whole array.
  const slack = Math.max(1, Math.ceil(maxPackets / 10));
  return class BoundedRecoveryAdapter extends SessionAwareAdapter {
    override broadcast(...args: BroadcastArgs): void {
      super.broadcast(...args);
      const packets = (this as unknown as { packets: unknown[] }).packets;
      if (packets.length > maxPackets + slack) packets.splice(0, packets.length - maxPackets);
    }
  };
}
