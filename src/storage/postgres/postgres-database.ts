import pg from 'pg';
import type { Logger } from '../../observability/logger.js';
import { isConnectionFailure, isRetryable, isUnavailable, toStoreError } from './postgres-errors.js';
import { MIGRATIONS, type Migration } from './postgres-schema.js';

export interface PostgresDatabaseOptions {
  /** DATABASE_URL: postgres://user:password@host:port/database, with `?options=-c search_path=...` for another schema. */
  url: string;
  /** DATABASE_POOL_MAX: connections this process opens at most. */
  poolMax: number;
  /** application_name of every connection, so an operator (or a test) can find them in pg_stat_activity. */
  applicationName: string;
  logger: Logger;
  /** How long a query waits for a free connection, or for a new one to open, before failing. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** statement_timeout of every connection. Default 30 s. */
  statementTimeoutMs?: number;
  migrations?: readonly Migration[];
}

/** The statements of one transaction. */
export interface Transaction {
  query<R extends object>(text: string, values?: readonly unknown[]): Promise<R[]>;
  /** Ends the transaction with ROLLBACK instead of COMMIT, whatever `run` returns. */
  rollbackInstead(): void;
}

/**
 * One PostgreSQL database shared by every store of a process: a bounded pool, the schema
 * migrations, and the two ways the stores reach it, with the failure rules in one place.
 *
 * - `transaction` is how anything is written. It resolves only after COMMIT returned: a
 *   resolved write is durable (synchronous_commit as the server has it, on by default).
 *   A deadlock, or a connection lost before COMMIT was sent (nothing was committed then),
 *   runs the transaction again on another connection, at most twice. A connection lost
 *   during COMMIT is not retried: the outcome is unknown, and the caller is told
 *   STORAGE_UNAVAILABLE, so nothing is acknowledged that might not be stored.
 * - `read` runs one statement, again on another connection when the first was lost.
 * - Failures that mean the database cannot serve (refused or lost connection, pool
 *   timeout, admin shutdown, disk full…) reject with AppError STORAGE_UNAVAILABLE and turn
 *   `isWritable()` false; the next committed transaction turns it true again. While it is
 *   false, `isWritable()` starts a small write (at most one a second) so that readiness
 *   comes back by itself once the database does, even with no traffic.
 *
 * The pool opens connections on demand and drops broken ones, so the database coming back
 * needs no restart of this process.
 */
export interface PostgresDatabase {
  /** Host, port and database, for logs (never the password). */
  readonly target: string;
  /** Brings the schema up to date; several processes may call it at once. Later calls share the first success. */
  migrate(): Promise<void>;
  read<R extends object>(action: string, text: string, values?: readonly unknown[]): Promise<R[]>;
  transaction<T>(action: string, run: (tx: Transaction) => Promise<T>): Promise<T>;
  isWritable(): boolean;
  /** Closes every connection. Idempotent. */
  close(): Promise<void>;
}

/** Attempts per transaction or read when the connection was lost, or on a deadlock. */
const MAX_ATTEMPTS = 3;
/** Least time between two readiness probes. */
const PROBE_INTERVAL_MS = 1000;
/** pg_advisory_lock's first key for schema migrations; the second is the schema's name. */
const MIGRATION_LOCK = 0x6d696772;

/** postgres://host:port/database without credentials or options. */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return '(unparsable DATABASE_URL)';
  }
}

export function createPostgresDatabase(options: PostgresDatabaseOptions): PostgresDatabase {
  const { logger } = options;
  const target = describeDatabaseUrl(options.url);
  const migrations = options.migrations ?? MIGRATIONS;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    application_name: options.applicationName,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    // A process that stops mid-transaction (without its socket closing) holds row locks
    // that stop every other node's writes to those rows: the server ends such sessions.
    idle_in_transaction_session_timeout: 60_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  // An idle connection that breaks (the server restarted, an admin terminated it) is
  // dropped by the pool, which reports it here; without a listener it would end the process.
  pool.on('error', (err) => logger.warn({ err, database: target }, 'an idle PostgreSQL connection failed; the pool opens another when needed'));
  // A connection can also break while checked out, between two statements; the statement
  // that follows fails and the connection is dropped. This listener keeps the error event
  // of that moment from ending the process.
  pool.on('connect', (client) => {
    client.on('error', (err) => logger.debug({ err, database: target }, 'a PostgreSQL connection in use failed'));
  });

  let writable = true;
  let closed: Promise<void> | undefined;
  let migrated: Promise<void> | undefined;
  let probing = false;
  let lastProbe = 0;

  const written = () => {
    if (!writable) logger.info({ database: target }, 'PostgreSQL is writable again');
    writable = true;
  };

  const failed = (err: unknown, action: string) => {
    if (!isUnavailable(err)) return;
    if (writable) logger.error({ err, database: target, action }, 'PostgreSQL is unavailable; the node reports unready until a write succeeds');
    writable = false;
  };

  /** Hands a connection back; a broken one (or one whose state is unknown) is closed instead. */
  const release = (client: pg.PoolClient, err: unknown) => {
    client.release(err === undefined ? undefined : err instanceof Error ? err : new Error(String(err)));
  };

  /** A pooled connection; refused, unreachable, or none free in time: not retried, the caller is told at once. */
  async function connect(action: string): Promise<pg.PoolClient> {
    try {
      return await pool.connect();
    } catch (err) {
      failed(err, action);
      throw toStoreError(action, err);
    }
  }

  async function transaction<T>(action: string, run: (tx: Transaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      const client = await connect(action);
      let committing = false;
      try {
        let rollback = false;
        await client.query('BEGIN');
        const value = await run({
          query: async <R extends object>(text: string, values?: readonly unknown[]) => (await client.query<R>(text, values as unknown[])).rows,
          rollbackInstead: () => {
            rollback = true;
          },
        });
        committing = !rollback;
        await client.query(rollback ? 'ROLLBACK' : 'COMMIT');
        release(client, undefined);
        if (!rollback) written();
        return value;
      } catch (err) {
        release(client, isConnectionFailure(err) ? err : await rollbackQuietly(client));
        const again = !committing && attempt < MAX_ATTEMPTS && (isRetryable(err) || isConnectionFailure(err));
        if (again) {
          logger.debug({ err, action, attempt }, 'PostgreSQL transaction rolled back; running it again');
          continue;
        }
        failed(err, action);
        throw toStoreError(action, err);
      }
    }
  }

  async function read<R extends object>(action: string, text: string, values?: readonly unknown[]): Promise<R[]> {
    for (let attempt = 1; ; attempt += 1) {
      const client = await connect(action);
      try {
        const result = await client.query<R>(text, values as unknown[]);
        release(client, undefined);
        return result.rows;
      } catch (err) {
        const lost = isConnectionFailure(err);
        release(client, lost ? err : undefined);
        if (lost && attempt < MAX_ATTEMPTS) continue;
        failed(err, action);
        throw toStoreError(action, err);
      }
    }
  }

  /** undefined when the connection is back in a clean state, else why it is not. */
  async function rollbackQuietly(client: pg.PoolClient): Promise<unknown> {
    try {
      await client.query('ROLLBACK');
      return undefined;
    } catch (err) {
      return err ?? new Error('ROLLBACK failed');
    }
  }

  function probe(): void {
    if (closed !== undefined || probing || Date.now() - lastProbe < PROBE_INTERVAL_MS) return;
    probing = true;
    lastProbe = Date.now();
    transaction('probe writability', (tx) =>
      tx.query('INSERT INTO health_probes (probe, probed_at) VALUES ($1, now()) ON CONFLICT (probe) DO UPDATE SET probed_at = excluded.probed_at', [
        options.applicationName,
      ]),
    )
      .catch((err: unknown) => logger.debug({ err }, 'PostgreSQL readiness probe failed'))
      .finally(() => {
        probing = false;
      });
  }

  async function applyMigrations(): Promise<void> {
    const client = await pool.connect();
    let broken: unknown;
    try {
      // Every process starting at once waits here for the first to finish; the others then find nothing to do.
      await client.query("SELECT pg_advisory_lock($1, hashtext(coalesce(current_schema(), '')))", [MIGRATION_LOCK]);
      try {
        const [schema] = (await client.query<{ schema: string | null }>('SELECT current_schema() AS schema')).rows;
        if (schema === undefined || schema.schema === null) throw new Error('the search_path names no existing schema to create the tables in');
        await client.query(
          'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
        );
        const [row] = (await client.query<{ version: number }>('SELECT coalesce(max(version), 0) AS version FROM schema_migrations')).rows;
        const current = row?.version ?? 0;
        const newest = migrations.at(-1)?.version ?? 0;
        if (current > newest) {
          throw new Error(`the database schema ${schema.schema} is at version ${current}, newer than this server knows (${newest}); run a newer server`);
        }
        for (const migration of migrations.filter((m) => m.version > current)) {
          await client.query('BEGIN');
          try {
            await client.query(migration.sql);
            await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
            await client.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK').catch(() => undefined);
            throw err;
          }
          logger.info({ database: target, schema: schema.schema, version: migration.version, name: migration.name }, 'applied a database migration');
        }
      } finally {
        await client.query("SELECT pg_advisory_unlock($1, hashtext(coalesce(current_schema(), '')))", [MIGRATION_LOCK]);
      }
    } catch (err) {
      broken = err;
      throw err;
    } finally {
      release(client, isConnectionFailure(broken) ? broken : undefined);
    }
  }

  return {
    target,

    migrate() {
      migrated ??= applyMigrations().catch((err: unknown) => {
        // A later open() tries again rather than repeating this failure.
        migrated = undefined;
        throw err;
      });
      return migrated;
    },

    read,
    transaction,

    isWritable() {
      if (!writable) probe();
      return writable && closed === undefined;
    },

    close() {
      closed ??= pool.end();
      return closed;
    },
  };
}
