import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createPostgresChatStore } from '../../src/storage/postgres/postgres-chat-store.js';
import { createPostgresDatabase, type PostgresDatabase } from '../../src/storage/postgres/postgres-database.js';
import { createPostgresInboxStore } from '../../src/storage/postgres/postgres-inbox-store.js';
import { systemClock } from '../../src/domain/clock.js';
import { MIGRATIONS } from '../../src/storage/postgres/postgres-schema.js';
import { rejectionCode, silentLogger } from '../support/chat-store-harness.js';
import { createTestSchema, DATABASE_URL, postgresSkipReason, terminateBackends, withSearchPath, type TestSchema } from '../support/postgres.js';
import { closedPort } from '../support/tcp-proxy.js';
import { eventually } from '../support/eventually.js';

/**
 * The PostgreSQL database every store shares: migrations with several processes starting
 * at once, the pool's bound, and what each kind of failure becomes.
 */

const skipped = await postgresSkipReason();

describe.skipIf(skipped !== undefined)('the PostgreSQL database of the stores', () => {
  const databases: PostgresDatabase[] = [];
  let schema: TestSchema | undefined;

  const open = (url: string, options: { poolMax?: number; applicationName?: string; connectTimeoutMs?: number } = {}) => {
    const database = createPostgresDatabase({
      url,
      poolMax: options.poolMax ?? 4,
      applicationName: options.applicationName ?? 'postgres-database-test',
      connectTimeoutMs: options.connectTimeoutMs,
      logger: silentLogger(),
    });
    databases.push(database);
    return database;
  };

  afterEach(async () => {
    for (const database of databases.splice(0)) await database.close();
    await schema?.drop();
    schema = undefined;
  });

  it('migrates once when several nodes start at once, and again finds nothing to do', async () => {
    schema = await createTestSchema('migrate_race');
    const nodes = Array.from({ length: 6 }, () => open(schema!.url));
    await Promise.all(nodes.map((node) => node.migrate()));
    const applied = await schema.query<{ version: number; applied_at: Date }>('SELECT version, applied_at FROM schema_migrations ORDER BY version');
    expect(applied.map((row) => row.version)).toEqual(MIGRATIONS.map((m) => m.version));

    await open(schema.url).migrate();
    expect(await schema.query('SELECT version, applied_at FROM schema_migrations ORDER BY version')).toEqual(applied);
    const tables = await schema.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema.name]);
    expect(tables.map((row) => row.table_name)).toEqual(expect.arrayContaining(['chat_messages', 'chat_sessions', 'inboxes', 'notifications', 'schema_migrations']));
  });

  it('refuses a schema a newer server has migrated, and a search_path with no schema', async () => {
    schema = await createTestSchema('migrate_newer');
    await open(schema.url).migrate();
    await schema.query("INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')");
    await expect(open(schema.url).migrate()).rejects.toThrow(/version 999, newer than this server knows/);
    await expect(open(withSearchPath(DATABASE_URL, 'no_such_schema_here')).migrate()).rejects.toThrow(/names no existing schema/);
  });

  it('opens no more connections than the pool allows, however many statements wait', async () => {
    schema = await createTestSchema('pool_bound');
    const applicationName = `bound-${schema.name}`;
    const database = open(schema.url, { poolMax: 2, applicationName });
    await database.migrate();
    let most = 0;
    const watch = setInterval(() => {
      void schema!
        .query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName])
        .then(([row]) => (most = Math.max(most, row?.n ?? 0)));
    }, 20);
    try {
      await Promise.all(Array.from({ length: 20 }, () => database.read('sleep', 'SELECT pg_sleep(0.05)')));
    } finally {
      clearInterval(watch);
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2);
  });

  it('answers STORAGE_UNAVAILABLE for a refused connection and a pool timeout, and reports unwritable until a write succeeds', async () => {
    const refused = open(`postgres://root@127.0.0.1:${await closedPort()}/test`);
    expect(await rejectionCode(refused.read('read', 'SELECT 1'))).toBe('STORAGE_UNAVAILABLE');
    expect(await rejectionCode(refused.transaction('write', (tx) => tx.query('SELECT 1')))).toBe('STORAGE_UNAVAILABLE');
    expect(refused.isWritable()).toBe(false);

    schema = await createTestSchema('pool_timeout');
    const busy = open(schema.url, { poolMax: 1, connectTimeoutMs: 200 });
    await busy.migrate();
    const holding = busy.transaction('hold the only connection', (tx) => tx.query('SELECT pg_sleep(1)'));
    const waited = busy.read('read', 'SELECT 1').then(
      () => undefined,
      (err: unknown) => err,
    );
    const error = await waited;
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('STORAGE_UNAVAILABLE');
    expect(busy.isWritable()).toBe(false);
    await holding;
    expect(busy.isWritable()).toBe(true);
  });

  it('commits nothing of a transaction whose connection was ended, and runs it again on another', async () => {
    schema = await createTestSchema('terminated_tx');
    const applicationName = `tx-${schema.name}`;
    const database = open(schema.url, { applicationName });
    await database.migrate();
    let attempts = 0;
    const running = database.transaction('insert then wait', async (tx) => {
      attempts += 1;
      await tx.query("INSERT INTO health_probes (probe, probed_at) VALUES ('attempt-' || $1::text, now())", [attempts]);
      if (attempts === 1) await tx.query('SELECT pg_sleep(5)');
      return attempts;
    });
    // The first attempt is inside its transaction, sleeping, when its connection is ended.
    const sleeping = () =>
      schema!.query("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query LIKE '%pg_sleep%'", [applicationName]);
    await eventually(async () => (await sleeping()).length > 0, 'the first attempt reached pg_sleep', 5_000, 10);
    expect(await terminateBackends(applicationName)).toBeGreaterThan(0);
    expect(await running).toBe(2);
    expect(await schema.query('SELECT probe FROM health_probes ORDER BY probe')).toEqual([{ probe: 'attempt-2' }]);
  });

  it('refuses text PostgreSQL cannot hold (a NUL character) with INVALID_REQUEST, not as an outage', async () => {
    schema = await createTestSchema('nul_text');
    const database = open(schema.url);
    const chat = createPostgresChatStore({ database });
    const inbox = createPostgresInboxStore({ database, clock: systemClock, maxPerUser: 10, retentionMs: 60_000, logger: silentLogger() });
    await chat.open();
    await inbox.open();
    try {
      const { sessionId } = await chat.createSession({ machineId: 'm', senderUserId: 'alice', receiverUserId: 'bob' });
      const nul = { senderUserId: 'alice', receiverUserId: 'bob', message: 'a\u0000b', machineId: 'm' };
      expect(await rejectionCode(chat.appendMessage(sessionId, nul))).toBe('INVALID_REQUEST');
      expect(await rejectionCode(inbox.append([{ userId: 'bob', type: 'info', event: 'notification', title: 'x\u0000' }]))).toBe('INVALID_REQUEST');
      expect(await rejectionCode(inbox.list({ userId: 'b\u0000b' }, { limit: 1 }))).toBe('INVALID_REQUEST');
      expect(database.isWritable()).toBe(true);
      expect((await chat.appendMessage(sessionId, { ...nul, message: 'ab' })).message.seq).toBe(1);
    } finally {
      await inbox.close();
      await chat.close();
    }
  });

  it('does not run a transaction again when its own code throws, and tells the caller that error', async () => {
    schema = await createTestSchema('own_error');
    const database = open(schema.url);
    await database.migrate();
    let attempts = 0;
    const refusal = new AppError('FORBIDDEN', 'no');
    await expect(
      database.transaction('refuse', async (tx) => {
        attempts += 1;
        await tx.query("INSERT INTO health_probes (probe, probed_at) VALUES ('refused', now())");
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    expect(attempts).toBe(1);
    expect(await schema.query('SELECT probe FROM health_probes')).toEqual([]);
    expect(database.isWritable()).toBe(true);
  });
});

if (skipped !== undefined) {
  describe('the PostgreSQL database of the stores', () => {
    it.skip(`skipped: ${skipped}`, () => undefined);
  });
}
