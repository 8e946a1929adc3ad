import type { ChatSession } from '../../domain/chat-store.js';
import { AppError } from '../../errors.js';
import { canonicalSessionId } from './session-paths.js';

export const sessionNotFound = (): AppError => new AppError('NOT_FOUND', 'Chat session not found');

/** What the registry needs of a session: its id and who takes part in it. */
export interface RegisteredSession {
  readonly id: string;
  readonly session: Pick<ChatSession, 'participants'>;
}

/**
 * The sessions the store knows, by id and by participant: which session an id names, and
 * which sessions a user's list holds, without reading any file. Entries are added when a
 * session is created or found at start-up and removed when it is deleted.
 */
export interface SessionRegistry<E extends RegisteredSession> {
  add(entry: E): void;
  remove(entry: E): void;
  /** The entry of a canonical id, if registered. */
  get(canonicalId: string): E | undefined;
  /** The entry `sessionId` names; INVALID_REQUEST for a malformed id, NOT_FOUND for an unknown one. */
  lookup(sessionId: string): E;
  /** Ids of the sessions `userId` takes part in. */
  idsOf(userId: string): Iterable<string>;
  entries(): Iterable<E>;
}

export function createSessionRegistry<E extends RegisteredSession>(): SessionRegistry<E> {
  const sessions = new Map<string, E>();
  const sessionIdsByUser = new Map<string, Set<string>>();

  return {
    add(entry) {
      sessions.set(entry.id, entry);
      for (const userId of entry.session.participants) {
        let ids = sessionIdsByUser.get(userId);
        if (ids === undefined) sessionIdsByUser.set(userId, (ids = new Set()));
        ids.add(entry.id);
      }
    },

    remove(entry) {
      sessions.delete(entry.id);
      for (const userId of entry.session.participants) {
        const ids = sessionIdsByUser.get(userId);
        ids?.delete(entry.id);
        if (ids?.size === 0) sessionIdsByUser.delete(userId);
      }
    },

    get(canonicalId) {
      return sessions.get(canonicalId);
    },

    lookup(sessionId) {
      const entry = sessions.get(canonicalSessionId(sessionId));
      if (entry === undefined) throw sessionNotFound();
      return entry;
    },

    idsOf(userId) {
      return sessionIdsByUser.get(userId) ?? [];
    },

    entries() {
      return sessions.values();
    },
  };
}
