import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createClient } from 'redis';
import type { ProbeMemory } from '../server-probe.js';
import { startServer, type PreparedServers, type RunningServer, type ServerKind, type StartOptions, type UsageReading } from './servers.js';

/**
 * `--nodes N`: a server as N processes on one machine, joined the way a deployment joins
 * them. Ours: REDIS_URL (cluster mode) and DATABASE_URL, as src/config.ts requires both.
 * The reference: the same Socket.IO adapter on the same Redis (bench/reference/server.ts
 * reads REDIS_URL). Each cluster gets a Redis key prefix and a PostgreSQL schema nobody
 * else uses, removed when it stops, so runs never see each other's streams or rows.
 */
export const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? `postgres://${encodeURIComponent(userInfo().username)}@127.0.0.1:5432/test`;

/** Host and port only: never a password from the URL in a message. */
const whereIs = (url: string) => (URL.canParse(url) ? new URL(url).host : url.replace(/\/\/[^@]*@/, '//'));

async function withRedis<T>(run: (client: ReturnType<typeof createClient>) => Promise<T>): Promise<T> {
  const client = createClient({ url: BENCH_REDIS_URL, socket: { reconnectStrategy: false, connectTimeout: 2000 } });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await run(client);
  } finally {
    client.destroy();
  }
}

async function withPostgres<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Why clusters cannot run here (Redis or PostgreSQL not answering), or undefined. */
export async function clusterServicesUnavailable(): Promise<string | undefined> {
  try {
    await withRedis((client) => client.ping());
  } catch (err) {
    return `--nodes needs Redis: none answers at ${whereIs(BENCH_REDIS_URL)} (${(err as Error).message}); start one or set BENCH_REDIS_URL`;
  }
  try {
    await withPostgres((client) => client.query('SELECT 1'));
  } catch (err) {
    return `--nodes needs PostgreSQL for ours: none answers at ${whereIs(BENCH_DATABASE_URL)} (${(err as Error).message}); start it or set BENCH_DATABASE_URL`;
  }
  return undefined;
}

/** Redis CPU (user + system) in milliseconds since it started. */
function redisCpuMs(info: string): number {
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

/** `file` for the first node, `name-node2.ext` and so on for the others. */
function nodeFile(file: string, index: number): string {
  if (index === 0) return file;
  const ext = path.extname(file);
  return `${file.slice(0, file.length - ext.length)}-node${index + 1}${ext}`;
}

function sumMemory(readings: readonly ProbeMemory[]): ProbeMemory {
  const sum = (key: keyof ProbeMemory) => readings.reduce((total, r) => total + r[key], 0);
  return { heapUsed: sum('heapUsed'), heapTotal: sum('heapTotal'), rss: sum('rss'), external: sum('external'), arrayBuffers: sum('arrayBuffers') };
}

function sumUsage(readings: readonly UsageReading[]): UsageReading {
  const sum = (key: 'cpuUser' | 'cpuSystem' | 'eluIdle' | 'eluActive') => readings.reduce((total, r) => total + r[key], 0);
  return {
    cpuUser: sum('cpuUser'),
    cpuSystem: sum('cpuSystem'),
    eluIdle: sum('eluIdle'),
    eluActive: sum('eluActive'),
    // Each process's clock starts at its own start-up: one node's clock times the window.
    at: readings[0]!.at,
    processes: readings.length,
  };
}

/**
 * Starts `nodes` processes of `kind` (all at once: ours' migrations run under an advisory
 * lock) and answers them as one RunningServer: its usage and memory are sums over the
 * nodes, and stop() stops them all, then removes the cluster's keys and schema.
 */
export async function startCluster(kind: ServerKind, prepared: PreparedServers, options: StartOptions & { nodes: number }): Promise<RunningServer> {
  const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const keyPrefix = `bench:${id}`;
  const schema = kind === 'ours' ? `bench_${id}` : undefined;
  let databaseUrl: string | undefined;
  if (schema !== undefined) {
    await withPostgres((client) => client.query(`CREATE SCHEMA ${schema}`));
    const url = new URL(BENCH_DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    databaseUrl = url.toString();
  }
  const cleanUp = async () => {
    if (schema !== undefined) await withPostgres((client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    await withRedis(async (client) => {
      for await (const keys of client.scanIterator({ MATCH: `${keyPrefix}:*`, COUNT: 1000 })) if (keys.length > 0) await client.del(keys);
    });
  };

  const started = await Promise.allSettled(
    Array.from({ length: options.nodes }, (_, i) =>
      startServer(kind, prepared, {
        ...options,
        label: `${options.label}-node${i + 1}`,
        clusterEnv: {
          REDIS_URL: BENCH_REDIS_URL,
          REDIS_KEY_PREFIX: keyPrefix,
          ...(databaseUrl !== undefined ? { DATABASE_URL: databaseUrl, NODE_ID: `bench-node-${i + 1}` } : {}),
        },
      }),
    ),
  );
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure !== undefined) {
    await Promise.all(nodes.map((node) => node.stop()));
    await cleanUp().catch(() => undefined);
    throw failure.reason;
  }

  // One connection for the INFO readings of the measured windows.
  const redis = createClient({ url: BENCH_REDIS_URL, socket: { reconnectStrategy: false, connectTimeout: 2000 } });
  redis.on('error', () => undefined);
  await redis.connect();
  const first = nodes[0]!;
  return {
    kind,
    url: first.url,
    urls: nodes.map((node) => node.url),
    pid: first.pid,
    logFile: first.logFile,
    memory: async () => sumMemory(await Promise.all(nodes.map((node) => node.memory()))),
    usage: async () => sumUsage(await Promise.all(nodes.map((node) => node.usage()))),
    redisCpuMs: async () => redisCpuMs(await redis.info('cpu')),
    heapSnapshot: async (file) => (await Promise.all(nodes.map((node, i) => node.heapSnapshot(nodeFile(file, i)))))[0]!,
    profileStart: async () => {
      await Promise.all(nodes.map((node) => node.profileStart()));
    },
    // The first node's profile is `file` (the one the run summarizes); the others sit beside it.
    profileStop: async (file) => (await Promise.all(nodes.map((node, i) => node.profileStop(nodeFile(file, i)))))[0]!,
    async stop() {
      const codes = await Promise.all(nodes.map((node) => node.stop()));
      redis.destroy();
      // Leftovers cost disk and memory, not correctness (no later run uses these names): said, not thrown.
      await cleanUp().catch((err: unknown) => console.error(`could not remove Redis keys ${keyPrefix}:* or schema ${schema ?? '-'}: ${(err as Error).message}`));
      return codes.find((code) => code !== 0 && code !== null) ?? codes[0] ?? null;
    },
  };
}
