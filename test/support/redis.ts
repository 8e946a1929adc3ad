import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';

/** The machine's Redis, which `.ci/run` starts; tests give every stream and group a name of their own. */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const START_HINT = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no';

export type TestRedis = ReturnType<typeof createClient>;

/** Connects a plain client (no reconnection: a test that loses it should fail, not wait). */
export async function connectRedis(): Promise<TestRedis> {
  const client = createClient({ url: REDIS_URL, socket: { reconnectStrategy: false, connectTimeout: 2000 } });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Why Redis cannot be used here, or undefined when it answers PING. */
export async function redisUnavailable(): Promise<string | undefined> {
  try {
    const client = await connectRedis();
    try {
      await client.ping();
    } finally {
      client.destroy();
    }
    return undefined;
  } catch (err) {
    return `Redis is not reachable at ${REDIS_URL} (${err instanceof Error ? err.message : String(err)}); start it with: ${START_HINT}`;
  }
}

/**
 * Skips the test when Redis is absent on a developer's machine; under CI (`.ci/run`
 * starts Redis) an absent Redis fails it instead, so CI can never pass by skipping.
 */
export function requireRedis(reason: string | undefined, ctx: { skip: (note: string) => void }): void {
  if (reason === undefined) return;
  if (process.env.CI === 'true') throw new Error(`${reason} (CI must have Redis: .ci/run starts it)`);
  ctx.skip(reason);
}

/** A prefix no other test (nor an earlier run) uses: the streams and group of one test. */
export function uniquePrefix(name: string): string {
  return `test:${name}:${Date.now().toString(36)}${randomBytes(3).toString('hex')}:`;
}

/** Deletes every key under `prefix` (the test's streams). */
export async function deleteKeys(client: TestRedis, prefix: string): Promise<void> {
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
    if (keys.length > 0) await client.del(keys);
  }
}

/** Pending entries of `group` on `stream`: the count, and per consumer. */
export async function pendingOf(client: TestRedis, stream: string, group: string): Promise<{ pending: number; consumers: Record<string, number> }> {
  const summary = await client.xPending(stream, group);
  const consumers: Record<string, number> = {};
  for (const { name, deliveriesCounter } of summary.consumers ?? []) consumers[String(name)] = Number(deliveriesCounter);
  return { pending: Number(summary.pending), consumers };
}

/** Kills the Redis connections whose client name starts with `namePrefix` (CLIENT KILL ID, nothing else). */
export async function killConnections(client: TestRedis, namePrefix: string): Promise<number> {
  const list = String(await client.sendCommand(['CLIENT', 'LIST', 'TYPE', 'normal']));
  const ids = list
    .split('\n')
    .map((line) => Object.fromEntries(line.split(' ').map((field) => field.split('=') as [string, string])))
    .filter((fields) => fields.name?.startsWith(namePrefix))
    .map((fields) => fields.id!);
  for (const id of ids) await client.sendCommand(['CLIENT', 'KILL', 'ID', id]);
  return ids.length;
}
