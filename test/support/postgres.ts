import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import pg from 'pg';
import { createPostgresDatabase, type PostgresDatabase } from '../../src/storage/postgres/postgres-database.js';
import { silentLogger } from './chat-store-harness.js';

/**
 * The machine's PostgreSQL, which `.ci/run` starts: TEST_DATABASE_URL, else DATABASE_URL,
 * else the local server's `test` database as the current user. Every test works in a
 * schema of its own (`createTestSchema`), created and dropped by the test, so no test sees
 * another's rows.
 */
export const DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? `postgres://${encodeURIComponent(userInfo().username)}@127.0.0.1:5432/test`;
const START_HINT = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or set TEST_DATABASE_URL)';

/** Why PostgreSQL cannot be used here, or undefined when it answers. */
export async function postgresUnavailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return `PostgreSQL is not reachable at ${DATABASE_URL} (${err instanceof Error ? err.message : String(err)}); start it with: ${START_HINT}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Resolved once per test file: undefined when PostgreSQL answers. Under CI (`.ci/run`
 * starts PostgreSQL) an absent server throws here, so CI fails instead of skipping.
 */
export async function postgresSkipReason(): Promise<string | undefined> {
  const reason = await postgresUnavailable();
  if (reason !== undefined && process.env.CI === 'true') throw new Error(`${reason} (CI must have PostgreSQL: .ci/run starts it)`);
  return reason;
}

/** `url` with its connections' search_path set to `schema`. */
export function withSearchPath(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('options', `-c search_path=${schema}`);
  return parsed.toString();
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

export interface TestSchema {
  name: string;
  /** DATABASE_URL pointing at the schema. */
  url: string;
  /** Runs one statement in the schema, from a connection of its own. */
  query<R extends object>(text: string, values?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

/** A new, empty schema with a name no other test (nor an earlier run) uses. */
export async function createTestSchema(label: string): Promise<TestSchema> {
  const name = `test_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  await admin((client) => client.query(`CREATE SCHEMA ${name}`));
  const url = withSearchPath(DATABASE_URL, name);
  return {
    name,
    url,
    async query<R extends object>(text: string, values?: unknown[]) {
      const client = new pg.Client({ connectionString: url });
      client.on('error', () => undefined);
      await client.connect();
      try {
        return (await client.query<R>(text, values)).rows;
      } finally {
        await client.end();
      }
    },
    async drop() {
      await admin((client) => client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`));
    },
  };
}

/** A database handle on a fresh schema, and what closes it and drops the schema. */
export async function databaseInFreshSchema(
  label: string,
  options: { poolMax?: number; applicationName?: string } = {},
): Promise<{ database: PostgresDatabase; schema: TestSchema; cleanup(): Promise<void> }> {
  const schema = await createTestSchema(label);
  const database = createPostgresDatabase({
    url: schema.url,
    poolMax: options.poolMax ?? 10,
    applicationName: options.applicationName ?? `test-${schema.name}`,
    logger: silentLogger(),
  });
  return {
    database,
    schema,
    async cleanup() {
      await database.close();
      await schema.drop();
    },
  };
}

/** Connections of this server whose application_name is `name`, ended by the server (as an admin or a restart would). */
export async function terminateBackends(name: string): Promise<number> {
  return admin(async (client) => {
    const { rows } = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
      [name],
    );
    for (const { pid } of rows) await client.query('SELECT pg_terminate_backend($1)', [pid]);
    return rows.length;
  });
}
