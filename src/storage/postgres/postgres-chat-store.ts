import { v4 as uuidv4, validate as isUuid } from 'uuid';
import { advancedCursor, assertCursor, assertPage, byNewestActivity, cursorOf, cursorsOf, newSessionRecord } from '../../domain/chat-rules.js';
import type { ChatMessage, ChatSession, ChatSessionSummary, ChatStore, ParticipantCursor } from '../../domain/chat-store.js';
import { AppError } from '../../errors.js';
import type { PostgresDatabase } from './postgres-database.js';
import { createStoreLifecycle } from './store-lifecycle.js';

export interface PostgresChatStoreOptions {
  /** The process's shared database; the store runs its migrations at open() and leaves closing it to the owner. */
  database: PostgresDatabase;
  now?: () => Date;
}

/** Most messages one page holds, whatever `limit` asks: a larger one gets a shorter page and `nextAfter`. */
const MAX_PAGE = 1000;

interface SessionRow {
  session_id: string;
  machine_id: string;
  sender_user_id: string;
  receiver_user_id: string;
  tenant_id: string;
  created_at: Date;
  last_seq: number;
  /** [user, delivered, read] per participant. */
  cursors: [string, number, number][] | null;
}

interface MessageRow {
  id: string;
  seq: number;
  sender_user_id: string;
  receiver_user_id: string;
  message: string;
  /** A Date, or its JSON text when the row arrives inside JSON. */
  sent_at: Date | string;
  machine_id: string;
  client_message_id: string | null;
}

const SESSION_COLUMNS = `s.session_id, s.machine_id, s.sender_user_id, s.receiver_user_id, s.tenant_id, s.created_at, s.last_seq,
  (SELECT json_agg(json_build_array(c.user_id, c.delivered, c.read)) FROM chat_cursors c WHERE c.session_id = s.session_id) AS cursors`;
const MESSAGE_COLUMNS = 'id, seq, sender_user_id, receiver_user_id, message, sent_at, machine_id, client_message_id';

const notFound = () => new AppError('NOT_FOUND', 'Chat session not found');

function canonicalId(sessionId: string): string {
  if (!isUuid(sessionId)) throw new AppError('INVALID_REQUEST', 'sessionId must be a UUID');
  return sessionId.toLowerCase();
}

function toSession(row: SessionRow): ChatSession {
  const participants: [string, string] = [row.sender_user_id, row.receiver_user_id];
  const stored = new Map<string, ParticipantCursor>((row.cursors ?? []).map(([userId, delivered, read]) => [userId, { delivered, read }]));
  return {
    sessionId: row.session_id,
    machineId: row.machine_id,
    senderUserId: row.sender_user_id,
    receiverUserId: row.receiver_user_id,
    createdAt: row.created_at.toISOString(),
    participants,
    ...(row.tenant_id !== '' ? { tenantId: row.tenant_id } : {}),
    cursors: cursorsOf(participants.map((userId) => [userId, stored.get(userId) ?? { delivered: 0, read: 0 }])),
  };
}

function toMessage(row: MessageRow): ChatMessage {
  return {
    id: row.id,
    seq: row.seq,
    senderUserId: row.sender_user_id,
    receiverUserId: row.receiver_user_id,
    message: row.message,
    timestamp: new Date(row.sent_at).toISOString(),
    machineId: row.machine_id,
    ...(row.client_message_id !== null ? { clientMessageId: row.client_message_id } : {}),
  };
}

/**
 * The ChatStore in PostgreSQL, for cluster mode: every node reads and writes the same
 * sessions. Same semantics as the file store (the contract suite runs against both); how
 * they are kept with several writers:
 *
 * - An append increments the session row's `last_seq` and inserts the message with that
 *   seq in one transaction. The UPDATE locks the row until COMMIT, so concurrent appends
 *   to one session, from any node, take seqs one after the other; a transaction that
 *   fails rolls its increment back with it, so seqs stay gap-free.
 * - A clientMessageId is unique per session (a unique index): a retry's INSERT conflicts,
 *   the transaction rolls back (increment included) and the first message is answered.
 * - Cursors move with GREATEST, so concurrent advances from two nodes keep the furthest.
 * - `appendMessage` resolves after COMMIT: a resolved append is durable.
 * - Nothing is held in memory: `indexStats()` reports zero.
 */
export function createPostgresChatStore(options: PostgresChatStoreOptions): ChatStore {
  const { database: db } = options;
  const now = options.now ?? (() => new Date());
  const lifecycle = createStoreLifecycle({
    database: db,
    name: 'chat store',
    openedOnce: 'A chat store can be opened once',
    notOpen: 'The chat store is not open',
  });
  const { operate } = lifecycle;

  const readSession = async (sessionId: string): Promise<SessionRow | undefined> => {
    const [row] = await db.read<SessionRow>('read the chat session', `SELECT ${SESSION_COLUMNS} FROM chat_sessions s WHERE s.session_id = $1`, [sessionId]);
    return row;
  };

  const readByClientId = async (sessionId: string, clientMessageId: string): Promise<ChatMessage> => {
    const [row] = await db.read<MessageRow>(
      'read the chat session',
      `SELECT ${MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = $1 AND client_message_id = $2`,
      [sessionId, clientMessageId],
    );
    if (row === undefined) throw new Error(`the message ${clientMessageId} that conflicted in session ${sessionId} is gone`);
    return toMessage(row);
  };

  return {
    open: lifecycle.open,
    close: lifecycle.close,
    isWritable: lifecycle.isWritable,

    indexStats() {
      return { sessions: 0, messages: 0 };
    },

    createSession(input) {
      return operate(async () => {
        const session = newSessionRecord(uuidv4(), input, now());
        // One statement, so the session and its participants' cursors exist together or not at all.
        await db.transaction('create the chat session', (tx) =>
          tx.query(
            `WITH s AS (
               INSERT INTO chat_sessions (session_id, machine_id, sender_user_id, receiver_user_id, tenant_id, created_at)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING session_id
             )
             INSERT INTO chat_cursors (session_id, user_id) SELECT s.session_id, u FROM s, unnest($7::text[]) AS u ON CONFLICT DO NOTHING`,
            [
              session.sessionId,
              session.machineId,
              session.senderUserId,
              session.receiverUserId,
              session.tenantId ?? '',
              new Date(session.createdAt),
              session.participants,
            ],
          ),
        );
        return session;
      });
    },

    getSession(sessionId) {
      return operate(async () => {
        const row = await readSession(canonicalId(sessionId));
        return row === undefined ? undefined : toSession(row);
      });
    },

    deleteSession(sessionId) {
      return operate(async () => {
        const id = canonicalId(sessionId);
        // Messages and cursors go with it (ON DELETE CASCADE).
        const deleted = await db.transaction('delete the chat session', (tx) => tx.query('DELETE FROM chat_sessions WHERE session_id = $1 RETURNING 1', [id]));
        return deleted.length > 0;
      });
    },

    listSessionsOf(userId) {
      return operate(async () => {
        const rows = await db.read<SessionRow & { unread: number; undelivered: number; last_message: MessageRow | null }>(
          'list chat sessions',
          `SELECT ${SESSION_COLUMNS},
             (SELECT count(*) FROM chat_messages r WHERE r.session_id = s.session_id AND r.receiver_user_id = me.user_id AND r.seq > me.read)::int AS unread,
             (SELECT count(*) FROM chat_messages r WHERE r.session_id = s.session_id AND r.receiver_user_id = me.user_id AND r.seq > me.delivered)::int AS undelivered,
             (SELECT to_json(m) FROM (SELECT ${MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = s.session_id ORDER BY seq DESC LIMIT 1) m) AS last_message
           FROM chat_cursors me JOIN chat_sessions s ON s.session_id = me.session_id
           WHERE me.user_id = $1`,
          [userId],
        );
        const summaries = rows.map(
          (row): ChatSessionSummary => ({
            ...toSession(row),
            lastMessage: row.last_message === null ? null : toMessage(row.last_message),
            // Seqs are gap-free and messages are never removed one by one.
            messageCount: row.last_seq,
            unreadCount: row.unread,
            undeliveredCount: row.undelivered,
          }),
        );
        return summaries.sort(byNewestActivity);
      });
    },

    countSessionsCreatedBy(userId, tenantId) {
      return operate(async () => {
        const [row] = await db.read<{ count: number }>(
          'count chat sessions',
          'SELECT count(*)::int AS count FROM chat_sessions WHERE sender_user_id = $1 AND tenant_id = $2',
          [userId, tenantId ?? ''],
        );
        return row?.count ?? 0;
      });
    },

    appendMessage(sessionId, input) {
      return operate(async () => {
        const id = canonicalId(sessionId);
        const message: ChatMessage = {
          id: uuidv4(),
          seq: 0,
          senderUserId: input.senderUserId,
          receiverUserId: input.receiverUserId,
          message: input.message,
          timestamp: now().toISOString(),
          machineId: input.machineId,
          ...(input.clientMessageId !== undefined ? { clientMessageId: input.clientMessageId } : {}),
        };
        const outcome = await db.transaction('store the message', async (tx) => {
          // The UPDATE takes the session's row lock until COMMIT: the next append to this
          // session, on any node, waits here and then reads this one's seq.
          const [row] = await tx.query<{ seq: number | null; inserted: boolean }>(
            `WITH s AS (UPDATE chat_sessions SET last_seq = last_seq + 1 WHERE session_id = $1 RETURNING last_seq),
             ins AS (
               INSERT INTO chat_messages (session_id, seq, id, sender_user_id, receiver_user_id, message, sent_at, machine_id, client_message_id)
               SELECT $1, s.last_seq, $2, $3, $4, $5, $6, $7, $8 FROM s
               ON CONFLICT (session_id, client_message_id) DO NOTHING
               RETURNING seq
             )
             SELECT (SELECT last_seq FROM s) AS seq, EXISTS (SELECT 1 FROM ins) AS inserted`,
            [id, message.id, message.senderUserId, message.receiverUserId, message.message, new Date(message.timestamp), message.machineId, input.clientMessageId ?? null],
          );
          if (row === undefined || row.seq === null) throw notFound();
          // A retry: its clientMessageId is stored. Rolling back undoes the increment too.
          if (!row.inserted) tx.rollbackInstead();
          return { seq: row.seq, inserted: row.inserted };
        });
        if (!outcome.inserted) return { message: await readByClientId(id, input.clientMessageId!), duplicate: true };
        return { message: { ...message, seq: outcome.seq }, duplicate: false };
      });
    },

    readMessages(sessionId, page) {
      return operate(async () => {
        const id = canonicalId(sessionId);
        assertPage(page);
        const limit = Math.min(page.limit, MAX_PAGE);
        // One row with no message when the session has none after `after`; no row when there is no session.
        const rows = await db.read<{ last_seq: number } & { [K in keyof MessageRow]: MessageRow[K] | null }>(
          'read the chat session',
          `SELECT s.last_seq, m.* FROM chat_sessions s
           LEFT JOIN LATERAL (SELECT ${MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = s.session_id AND seq > $2 ORDER BY seq LIMIT $3) m ON true
           WHERE s.session_id = $1`,
          [id, page.after, limit],
        );
        const [first] = rows;
        if (first === undefined) throw notFound();
        const messages = rows.flatMap((row) => (row.seq === null ? [] : [toMessage(row as MessageRow)]));
        const last = messages.at(-1);
        return last !== undefined && last.seq < first.last_seq ? { messages, nextAfter: last.seq } : { messages };
      });
    },

    advanceCursor(sessionId, userId, cursor) {
      return operate(async () => {
        const row = await readSession(canonicalId(sessionId));
        if (row === undefined) throw notFound();
        const session = toSession(row);
        if (!session.participants.includes(userId)) {
          throw new AppError('FORBIDDEN', 'Only a participant of a chat session has cursors in it');
        }
        assertCursor(cursor);
        const current = cursorOf(session, userId);
        const next = advancedCursor(current, cursor, row.last_seq);
        if (next.read === current.read && next.delivered === current.delivered) return session;
        // GREATEST: another node may have moved the cursor further meanwhile; it never moves back.
        const cursors = await db.transaction('save the chat cursor', (tx) =>
          tx.query<{ user_id: string; delivered: number; read: number }>(
            `WITH up AS (
               UPDATE chat_cursors SET delivered = GREATEST(delivered, $3), read = GREATEST(read, $4)
               WHERE session_id = $1 AND user_id = $2 RETURNING user_id, delivered, read
             )
             SELECT user_id, delivered, read FROM up
             UNION ALL
             SELECT user_id, delivered, read FROM chat_cursors WHERE session_id = $1 AND user_id <> $2 AND EXISTS (SELECT 1 FROM up)`,
            [session.sessionId, userId, next.delivered, next.read],
          ),
        );
        if (cursors.length === 0) throw notFound();
        const stored = new Map(cursors.map((row) => [row.user_id, { delivered: row.delivered, read: row.read }]));
        return { ...session, cursors: cursorsOf(session.participants.map((user) => [user, stored.get(user) ?? cursorOf(session, user)])) };
      });
    },
  };
}
