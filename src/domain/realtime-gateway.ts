/**
 * The port through which HTTP (and any other non-socket code) reaches connected
 * clients. The composition root injects the Socket.IO implementation; `http/` never
 * imports `realtime/`.
 *
 * Every method resolves to the number of sockets the event was handed to on this node
 * (in a cluster, on every live node). Delivery is at-most-once: a socket that drops
 * while the packet is in flight does not get it again from here. In a cluster, every
 * method first fails with SERVICE_UNAVAILABLE while this node cannot reach Redis: nothing
 * is sent, rather than a delivery claimed that other nodes never see.
 */
export interface RealtimeGateway {
  /** Emits to every connected socket. */
  broadcast(event: string, payload: unknown): Promise<number>;
  /** Emits to every socket of the given users (within a tenant, when given). */
  emitToUsers(target: { userIds: readonly string[]; tenantId?: string | undefined }, event: string, payload: unknown): Promise<number>;
  /**
   * Emits several events, in order, to every socket of one user (within a tenant, when
   * given), each socket getting them in one write where its transport allows it: for
   * the inbox, which follows every change with an unread count.
   */
  emitSequenceToUser(target: { userId: string; tenantId?: string | undefined }, events: readonly (readonly [event: string, payload: unknown])[]): Promise<number>;
  /** Emits to every socket in a room. */
  emitToRoom(room: string, event: string, payload: unknown): Promise<number>;
  /**
   * Live counts, from Socket.IO's own rooms (the source of truth for who is connected);
   * cluster-wide in a cluster, unless `scope` is `'node'`: this node's alone, which never
   * asks Redis (for liveness, which must not fail with Redis).
   */
  stats(scope?: 'cluster' | 'node'): Promise<RealtimeStats>;
  /** Number of sockets the user has open (within a tenant, when given). */
  connectionsOf(userId: string, tenantId?: string): Promise<number>;
  /** Connected sockets, oldest first, at most `limit` (optionally one user's only). */
  listConnections(options: { userId?: string | undefined; tenantId?: string | undefined; limit: number }): Promise<ConnectionInfo[]>;
}

export interface ConnectionInfo {
  socketId: string;
  userId: string | null;
  tenantId: string | null;
  machineId: string | null;
  authenticated: boolean;
  connectedAt: string;
  /** Rooms the client joined itself (not its user room). */
  rooms: string[];
}

export interface RealtimeStats {
  connections: number;
  users: number;
  rooms: number;
}
