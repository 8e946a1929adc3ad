/**
 * The one place room names are built. Users' private rooms are `user:{userId}`, or
 * `tenant:{tenantId}:user:{userId}` when the token names a tenant, so two tenants'
 * users with the same id never share a room. Clients can never join rooms with the
 * reserved prefixes themselves.
 */
export const RESERVED_ROOM_PREFIXES = ['user:', 'tenant:', 'session:'] as const;

export function userRoom(userId: string, tenantId?: string): string {
  return tenantId === undefined ? `user:${userId}` : `tenant:${tenantId}:user:${userId}`;
}

export function sessionRoom(sessionId: string): string {
  return `session:${sessionId}`;
}

export function isUserRoom(room: string): boolean {
  return room.startsWith('user:') || /^tenant:[^:]+:user:/.test(room);
}

export function isReservedRoom(room: string): boolean {
  return RESERVED_ROOM_PREFIXES.some((prefix) => room.startsWith(prefix));
}
