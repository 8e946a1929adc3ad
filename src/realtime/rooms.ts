import type { AppSocket } from './socket-types.js';

/**
 * The one place room names are built. Users' private rooms are `user:{userId}`, or
 * `tenant:{tenantId}:user:{userId}` when the token names a tenant, so two tenants'
 * users with the same id never share a room. Clients can never join rooms with the
 * reserved prefixes themselves; `tenant_` is seed 003's spelling of a user room (below).
 */
export const RESERVED_ROOM_PREFIXES = ['user:', 'tenant:', 'tenant_', 'session:'] as const;

export function userRoom(userId: string, tenantId?: string): string {
  return tenantId === undefined ? `user:${userId}` : `tenant:${tenantId}:user:${userId}`;
}

// A tenant id has no `:`, so the first `:user_` ends it; the user id is the rest.
const SEED_USER_ROOM = /^tenant_([A-Za-z0-9_.-]{1,64}):user_([^\s/\\]{1,128})$/;

/**
 * The server's room for a room name that backends written for seed 003 use,
 * `tenant_{tenantId}:user_{userId}`, or undefined for any other name. Delivery maps the
 * name here rather than joining every socket to a second room: that would cost every
 * connection a room entry and a join, for a name only `/api/room` ever uses.
 */
export function seedUserRoomAlias(room: string): string | undefined {
  const match = SEED_USER_ROOM.exec(room);
  return match === null ? undefined : userRoom(match[2]!, match[1]!);
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

/**
 * Every socket sits in a room named after its id, and with connection state recovery
 * even its replies (`pong`, `server:response`, ...) go through that room: a client in
 * another socket's id room would hear them. Socket ids are 20 characters of base64url
 * (Socket.IO's base64id); any room of that form is refused, because the ids of sockets
 * on other nodes, or of a socket away and about to recover, cannot be looked up here.
 */
const SOCKET_ID_FORM = /^[A-Za-z0-9_-]{20}$/;
const SOCKET_ID_REFUSAL = 'Rooms named like a socket id (20 letters, digits, _ or -) cannot be joined or left by clients';

export function isSocketIdRoom(room: string): boolean {
  return SOCKET_ID_FORM.test(room);
}

/** Rooms a client may hold at once, beyond its own socket room and user room. */
export const MAX_CLIENT_ROOMS = 100;

function grantMatches(pattern: string, room: string): boolean {
  if (!pattern.includes('*')) return pattern === room;
  const escaped = pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`).test(room);
}

/**
 * Why a client may not join `room`, or undefined when it may. Reserved prefixes and
 * socket ids are never joinable; `private:*` rooms need a matching pattern in the
 * token's `rooms` claim.
 */
export function joinRefusal(room: string, grants: readonly string[]): string | undefined {
  if (isReservedRoom(room)) return `Rooms starting with ${RESERVED_ROOM_PREFIXES.join(', ')} cannot be joined by clients`;
  if (isSocketIdRoom(room)) return SOCKET_ID_REFUSAL;
  if (room.startsWith('private:') && !grants.some((pattern) => grantMatches(pattern, room))) {
    return 'Private rooms need a matching rooms claim in the token';
  }
  return undefined;
}

/**
 * The seed 004 monitoring room: its sockets get `kafka-event` for every delivery and every
 * ingested entry, whoever they were for. See eventStreamRefusal for who may join.
 */
export const EVENT_STREAM_ROOM = 'kafka-events';

/**
 * Why a socket may not join the monitoring room, or undefined when it may (or `room` is
 * another room). It carries every user's payloads, so: where the stream is open
 * (development), any identified socket (a token's user, or one that registered); in
 * production only a token whose `rooms` claim matches `kafka-events`, as for `private:*`.
 */
export function eventStreamRefusal(
  room: string,
  socket: { userId: string | undefined; grants: readonly string[] },
  openToIdentified: boolean,
): string | undefined {
  if (room !== EVENT_STREAM_ROOM) return undefined;
  if (socket.grants.some((pattern) => grantMatches(pattern, room))) return undefined;
  if (!openToIdentified) return `${EVENT_STREAM_ROOM} needs a matching rooms claim in the token`;
  if (socket.userId === undefined) return `Identify first (a token, or register) to subscribe to ${EVENT_STREAM_ROOM}`;
  return undefined;
}

/** Why a client may not leave `room`, or undefined when it may. */
export function leaveRefusal(room: string): string | undefined {
  if (isReservedRoom(room)) return 'Reserved rooms cannot be left by clients';
  if (isSocketIdRoom(room)) return SOCKET_ID_REFUSAL;
  return undefined;
}

/** Sockets in `room` on this node other than `socket`: who `socket.to(room)` reaches. */
export function othersIn(socket: AppSocket, room: string): number {
  return (socket.nsp.adapter.rooms.get(room)?.size ?? 0) - (socket.rooms.has(room) ? 1 : 0);
}

/** The rooms a client joined itself: everything but its socket-id room and reserved rooms. */
export function clientRoomsOf(socketId: string, rooms: ReadonlySet<string>): string[] {
  return [...rooms].filter((room) => room !== socketId && !isReservedRoom(room));
}
