import { AppError } from '../errors.js';
import type { RateLimiter } from './rate-limit.js';

/**
 * Per-user storage quotas of chat (issue 10, item 3): what one user may make the server
 * store, whichever of their sockets or REST calls they use.
 */
export interface ChatQuotaLimits {
  /** Sessions a user may have created and not deleted (CHAT_MAX_SESSIONS_PER_USER). */
  maxSessionsPerUser: number;
  /** Messages a user may send per minute, across all sessions (CHAT_MESSAGES_PER_USER_PER_MINUTE). */
  messagesPerMinute: number;
  /** New sessions a user may open to one other user per hour (CHAT_SESSIONS_PER_PEER_PER_HOUR). */
  sessionsPerPeerPerHour: number;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/**
 * Where the two windows are counted when not in this process: in cluster mode, limiters
 * in Redis (keyed alike), so that a user's sockets and REST calls on every node spend from
 * one window. Their fixed windows run on Redis's clock, not on the injected one.
 */
export interface ChatQuotaWindows {
  /** CHAT_MESSAGES_PER_USER_PER_MINUTE: points = messagesPerMinute, a 60 s window. */
  messages: RateLimiter;
  /** CHAT_SESSIONS_PER_PEER_PER_HOUR: points = sessionsPerPeerPerHour, a 3600 s window. */
  peerSessions: RateLimiter;
}

type Taken = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * Fixed windows keyed by caller, on an injected clock. Only allowed events count, so a
 * refused caller does not push its own window further away. Windows live in memory: they
 * start empty after a restart. A cluster passes ChatQuotaWindows instead.
 */
export function createKeyedWindow(options: { points: number; windowMs: number; now: () => number }) {
  const { points, windowMs, now } = options;
  /** Oldest window first: one is (re)inserted when it starts, and all last windowMs. */
  const windows = new Map<string, { start: number; spent: number }>();

  return {
    /** Spends a point of `key`'s window; when none is left, says in how many ms the window ends. */
    take(key: string): Taken {
      const at = now();
      for (const [oldKey, window] of windows) {
        if (at - window.start < windowMs) break;
        windows.delete(oldKey);
      }
      let window = windows.get(key);
      if (window === undefined) {
        window = { start: at, spent: 0 };
        windows.set(key, window);
      }
      if (window.spent >= points) return { allowed: false, retryAfterMs: window.start + windowMs - at };
      window.spent += 1;
      return { allowed: true };
    },
    /** Keys with a window still open (memory held). */
    get size() {
      return windows.size;
    },
  };
}

/**
 * The quota checks of the chat service. A check throws the AppError the caller answers
 * with: RATE_LIMITED with `retryAfter` for the windows, FORBIDDEN for the session total,
 * which waiting does not cure (deleting a session does).
 */
export function createChatQuotas(limits: ChatQuotaLimits, now: () => number, shared?: ChatQuotaWindows) {
  const messages = shared === undefined ? createKeyedWindow({ points: limits.messagesPerMinute, windowMs: MINUTE_MS, now }) : fromLimiter(shared.messages);
  const peerSessions =
    shared === undefined ? createKeyedWindow({ points: limits.sessionsPerPeerPerHour, windowMs: HOUR_MS, now }) : fromLimiter(shared.peerSessions);
  const creating = new Map<string, Promise<unknown>>();

  // JSON of an array: no separator a user id could contain can make two keys collide.
  const userKey = (userId: string, tenantId: string | undefined) => JSON.stringify([tenantId ?? null, userId]);

  const spend = async (window: { take(key: string): Taken | Promise<Taken> }, key: string, what: string) => {
    const taken = await window.take(key);
    if (!taken.allowed) {
      throw new AppError('RATE_LIMITED', `Too many ${what}`, { retryAfter: Math.max(1, Math.ceil(taken.retryAfterMs / 1000)) });
    }
  };

  return {
    limits,

    spendMessage(userId: string, tenantId: string | undefined): Promise<void> {
      return spend(messages, userKey(userId, tenantId), `chat messages; at most ${limits.messagesPerMinute} a minute`);
    },

    spendPeerSession(userId: string, tenantId: string | undefined, peerUserId: string): Promise<void> {
      const key = JSON.stringify([tenantId ?? null, userId, peerUserId]);
      return spend(peerSessions, key, `new chat sessions with this user; at most ${limits.sessionsPerPeerPerHour} an hour`);
    },

    /** FORBIDDEN when the user already created as many sessions as allowed. */
    checkSessionTotal(created: number): void {
      if (created >= limits.maxSessionsPerUser) {
        throw new AppError(
          'FORBIDDEN',
          `Chat session quota reached: a user may have ${limits.maxSessionsPerUser} sessions they created; delete one to open another`,
        );
      }
    },

    /**
     * Runs a user's session creations one at a time, so that counting the stored sessions
     * and creating one cannot interleave with another creation of the same user.
     */
    oneCreationAtATime<T>(userId: string, tenantId: string | undefined, create: () => Promise<T>): Promise<T> {
      const key = userKey(userId, tenantId);
      const running = (creating.get(key) ?? Promise.resolve()).then(create);
      const settled = running.then(noop, noop);
      creating.set(key, settled);
      void settled.then(() => {
        if (creating.get(key) === settled) creating.delete(key);
      });
      return running;
    },
  };
}

export type ChatQuotas = ReturnType<typeof createChatQuotas>;

/** A shared limiter as a quota window. Refused calls count there too, which in a fixed window refuses the same calls. */
function fromLimiter(limiter: RateLimiter) {
  return {
    async take(key: string): Promise<Taken> {
      const result = await limiter.consume(key);
      return result.allowed ? { allowed: true } : { allowed: false, retryAfterMs: result.resetMs };
    },
  };
}

function noop(): void {
  // Only the settling of a creation matters to the next one, not its outcome.
}
