/**
 * The tables of every PostgreSQL store, one migration per entry, applied in order by
 * postgres-database.ts and recorded in `schema_migrations`. A migration is appended, never
 * edited, so every existing database can be brought forward. All tables live in the
 * connection's current schema (`search_path`), so one database can hold several
 * deployments (or test runs) apart.
 *
 * Notification inbox (the SQLite store's tables, with the same meaning):
 * - `inboxes`: one row per (tenant, user) ('' is no tenant) with how many notifications it
 *   holds and how many of them are unread, kept in the same transactions as the rows, so
 *   an unread count is one row read; and the newest `created_at` given in it, so times
 *   never decrease as ids increase within an inbox, even across nodes with skewed clocks.
 *   Every write to an inbox locks this row first: that orders writes to one inbox (and
 *   its ids) across nodes.
 * - `notifications`: `id` is a bigserial, never given twice. Times are epoch ms.
 * - `inbox_idempotency_keys`: the first result of an idempotent append, until `expires_at`.
 *
 * Chat sessions:
 * - `chat_sessions`: one row per session; `last_seq` is the seq of its last message. An
 *   append increments it and inserts the message in one transaction, so the row lock
 *   serializes the appends of one session across nodes and seqs stay gap-free.
 * - `chat_cursors`: one row per participant (delivered and read positions); the list of a
 *   user's sessions is read from here.
 * - `chat_messages`: keyed by (session, seq); a clientMessageId is unique per session.
 *
 * Jobs (the SQLite store's tables, with the same meaning):
 * - `jobs`: one row per job; `record` is the job as clients receive it (JSON text, which
 *   keeps the id's type), `key` the id as text (the number 1 and the string "1" are one
 *   job), `seq` the creation order pages are cut by. Changes lock the row (FOR UPDATE).
 * - `job_ids`: the next integer id for a job created without one; its row lock orders
 *   the nodes that take ids. Ids a node considers are also locked by key (an advisory
 *   lock), as a create with its own id does, so the two never race for one key.
 *
 * `health_probes` is written by the readiness probe after a failure (see postgres-database.ts).
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'notification inbox',
    sql: `
    CREATE TABLE inboxes (
      id bigserial PRIMARY KEY,
      tenant_id text NOT NULL,
      user_id text NOT NULL,
      total integer NOT NULL,
      unread integer NOT NULL,
      last_created_at bigint NOT NULL,
      UNIQUE (tenant_id, user_id)
    );
    CREATE TABLE notifications (
      id bigserial PRIMARY KEY,
      inbox_id bigint NOT NULL,
      type text NOT NULL,
      priority text,
      title text,
      message text,
      data text,
      event text NOT NULL,
      created_at bigint NOT NULL,
      read_at bigint,
      expires_at bigint
    );
    CREATE INDEX notifications_by_inbox ON notifications (inbox_id, id);
    CREATE INDEX notifications_by_inbox_creation ON notifications (inbox_id, created_at);
    CREATE INDEX notifications_expiring_by_inbox ON notifications (inbox_id, expires_at) WHERE expires_at IS NOT NULL;
    CREATE INDEX notifications_by_creation ON notifications (created_at);
    CREATE INDEX notifications_expiring ON notifications (expires_at) WHERE expires_at IS NOT NULL;
    CREATE TABLE inbox_idempotency_keys (
      key text PRIMARY KEY,
      result text NOT NULL,
      expires_at bigint NOT NULL
    );
    CREATE INDEX inbox_idempotency_keys_by_expiry ON inbox_idempotency_keys (expires_at);
    `,
  },
  {
    version: 2,
    name: 'chat sessions',
    sql: `
    CREATE TABLE chat_sessions (
      session_id uuid PRIMARY KEY,
      machine_id text NOT NULL,
      sender_user_id text NOT NULL,
      receiver_user_id text NOT NULL,
      tenant_id text NOT NULL,
      created_at timestamptz NOT NULL,
      last_seq integer NOT NULL DEFAULT 0
    );
    CREATE INDEX chat_sessions_by_creator ON chat_sessions (sender_user_id, tenant_id);
    CREATE TABLE chat_cursors (
      session_id uuid NOT NULL REFERENCES chat_sessions ON DELETE CASCADE,
      user_id text NOT NULL,
      delivered integer NOT NULL DEFAULT 0,
      read integer NOT NULL DEFAULT 0,
      PRIMARY KEY (session_id, user_id)
    );
    CREATE INDEX chat_cursors_by_user ON chat_cursors (user_id);
    CREATE TABLE chat_messages (
      session_id uuid NOT NULL REFERENCES chat_sessions ON DELETE CASCADE,
      seq integer NOT NULL,
      id uuid NOT NULL,
      sender_user_id text NOT NULL,
      receiver_user_id text NOT NULL,
      message text NOT NULL,
      sent_at timestamptz NOT NULL,
      machine_id text NOT NULL,
      client_message_id text,
      PRIMARY KEY (session_id, seq),
      UNIQUE (session_id, client_message_id)
    );
    CREATE INDEX chat_messages_by_receiver ON chat_messages (session_id, receiver_user_id, seq);
    `,
  },
  {
    version: 3,
    name: 'readiness probes',
    sql: `
    CREATE TABLE health_probes (
      probe text PRIMARY KEY,
      probed_at timestamptz NOT NULL
    );
    `,
  },
  {
    version: 4,
    name: 'jobs',
    sql: `
    CREATE TABLE jobs (
      seq bigserial PRIMARY KEY,
      key text NOT NULL UNIQUE,
      tenant_id text NOT NULL,
      creator_id text,
      assignee_id text,
      state text NOT NULL,
      record text NOT NULL
    );
    CREATE INDEX jobs_by_assignee ON jobs (tenant_id, assignee_id, seq);
    CREATE INDEX jobs_by_creator ON jobs (tenant_id, creator_id, seq);
    CREATE TABLE job_ids (
      id integer PRIMARY KEY CHECK (id = 1),
      next bigint NOT NULL
    );
    INSERT INTO job_ids (id, next) VALUES (1, 1);
    `,
  },
];
