import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, waitFor, type TestSocket } from '../support/client.js';
import { clusterSkipReason } from '../support/cluster.js';
import { createTestSchema, type TestSchema } from '../support/postgres.js';
import { REDIS_URL, connectRedis, deleteKeys, uniquePrefix } from '../support/redis.js';

/**
 * `npm run cluster:demo` as a newcomer runs it (docs/scaling.md): three real nodes on the
 * machine's Redis and PostgreSQL (here on free ports, a key prefix and a schema of this
 * test's own), a /notify on one reaching sockets on the others, and Ctrl-C, sent as a
 * terminal sends it (SIGINT to the whole foreground process group), leaving no process
 * behind. Without Redis or PostgreSQL the demo says so in one line per service.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const skipped = await clusterSkipReason();

interface Demo {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const NPM_RUN = ['npm', 'run', '--silent', 'cluster:demo'];
/** What the npm script runs, without npm and its shell in between. */
const SCRIPT = [process.execPath, '--import', 'tsx', 'scripts/cluster-demo.ts'];

/**
 * Runs the demo (`npm run --silent cluster:demo` unless told otherwise) in a process group
 * of its own (detached), as a shell runs a foreground job, so that the test can send
 * Ctrl-C's SIGINT to that group only, and find any process of it left behind.
 */
function runDemo(env: Record<string, string>, [command, ...args]: string[] = NPM_RUN): Demo {
  const child = spawn(command!, args, {
    cwd: ROOT,
    env: { ...process.env, API_KEYS: '', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

/** Resolves once the demo's stdout matches `pattern`; rejects if the demo exits first. */
function printed(demo: Demo, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!pattern.test(demo.stdout())) return;
      demo.child.stdout!.off('data', check);
      resolve();
    };
    demo.child.stdout!.on('data', check);
    check();
    void demo.exit.then(({ code, signal }) =>
      reject(new Error(`the demo exited (${signal ?? code}) before printing ${pattern}:\n${demo.stdout()}\n${demo.stderr()}`)),
    );
  });
}

/** Ports free right now: each bound on port 0 and released. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Whether a process (or, with a negative id, any process of a group) still exists. */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

describe.skipIf(skipped !== undefined)('npm run cluster:demo', () => {
  let schema: TestSchema;
  const demos: Demo[] = [];
  let keyPrefix: string;
  const sockets: TestSocket[] = [];
  const listedNodes = (demo: Demo) =>
    [...demo.stdout().matchAll(/^ {2}(node-\d) {2}(http:\/\/\S+) {2}pid (\d+)$/gm)].map(([, nodeId, url, pid]) => ({
      nodeId: nodeId!,
      url: url!,
      pid: Number(pid),
    }));

  beforeAll(async () => {
    schema = await createTestSchema('cluster_demo');
    keyPrefix = uniquePrefix('cluster-demo').replace(/:$/, '');
  });
  afterAll(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    // Only when a test failed half-way: the groups this file started, each by its id.
    for (const { child } of demos) if (child.pid !== undefined && exists(-child.pid)) process.kill(-child.pid, 'SIGKILL');
    await schema?.drop();
    const redis = await connectRedis();
    try {
      await deleteKeys(redis, `${keyPrefix}:`);
    } finally {
      redis.destroy();
    }
  });

  it('starts three nodes that deliver to each other, and Ctrl-C stops every process it started', { timeout: 150_000 }, async () => {
    const ports = await freePorts(3);
    const demo = runDemo({ CLUSTER_DEMO_PORTS: ports.join(','), REDIS_URL, DATABASE_URL: schema.url, REDIS_KEY_PREFIX: keyPrefix });
    demos.push(demo);
    await printed(demo, /^Ctrl-C stops every node\.$/m);

    const listed = listedNodes(demo);
    expect(listed.map(({ nodeId, url }) => ({ nodeId, url }))).toEqual(ports.map((port, i) => ({ nodeId: `node-${i + 1}`, url: `http://127.0.0.1:${port}` })));
    expect(demo.stdout()).toContain(`curl -X POST ${listed[0]!.url}/notify`);

    for (const node of listed) {
      await request(node.url).get('/health').expect(200);
      expect((await request(node.url).get('/api/version').expect(200)).body.nodeId).toBe(node.nodeId);
    }

    // The demo's own suggestion: a /notify on node-1 reaches pages on the other nodes.
    for (const node of listed.slice(1)) sockets.push(await connectClient(node.url));
    const arrived = sockets.map((socket) => waitFor<{ title: string }>(socket, 'notification', 10_000));
    await request(listed[0]!.url).post('/notify').send({ title: 'Hello from node-1' }).expect(200);
    for (const notification of await Promise.all(arrived)) expect(notification.title).toBe('Hello from node-1');
    for (const socket of sockets.splice(0)) socket.close();

    // Ctrl-C in a terminal: SIGINT to every process of the foreground job.
    const group = demo.child.pid!;
    process.kill(-group, 'SIGINT');
    await demo.exit;
    expect(demo.stdout()).toContain('All nodes stopped.');
    for (const node of listed) expect(exists(node.pid), `${node.nodeId} (pid ${node.pid}) is still running`).toBe(false);
    expect(exists(-group), 'a process of the demo is still running').toBe(false);
  });

  it('stops its nodes when it alone is told to stop (SIGTERM to its pid, as a process manager does)', { timeout: 150_000 }, async () => {
    const ports = await freePorts(2);
    const demo = runDemo({ CLUSTER_DEMO_PORTS: ports.join(','), REDIS_URL, DATABASE_URL: schema.url, REDIS_KEY_PREFIX: keyPrefix }, SCRIPT);
    demos.push(demo);
    await printed(demo, /^Ctrl-C stops every node\.$/m);
    const listed = listedNodes(demo);
    expect(listed.map(({ nodeId }) => nodeId)).toEqual(['node-1', 'node-2']);
    for (const node of listed) await request(node.url).get('/health').expect(200);

    demo.child.kill('SIGTERM');
    expect(await demo.exit).toEqual({ code: 0, signal: null });
    expect(demo.stdout()).toContain('All nodes stopped.');
    for (const node of listed) expect(exists(node.pid), `${node.nodeId} (pid ${node.pid}) is still running`).toBe(false);
    expect(exists(-demo.child.pid!), 'a process of the demo is still running').toBe(false);
  });
});

describe('npm run cluster:demo without Redis and PostgreSQL', () => {
  it('says in one line per service that it cannot reach it and how to start it, with no stack trace', { timeout: 60_000 }, async () => {
    const [redisPort, postgresPort] = await freePorts(2);
    const demo = runDemo({
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      DATABASE_URL: `postgres://demo:secret-password@127.0.0.1:${postgresPort}/demo`,
      CLUSTER_DEMO_PORTS: '1',
    });
    const { code } = await demo.exit;
    expect(code).toBe(1);
    const lines = demo.stderr().trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^cluster demo: Redis is not reachable at 127\\.0\\.0\\.1:${redisPort} \\(.*ECONNREFUSED.*\\); start it with: redis-server `));
    expect(lines[1]).toMatch(new RegExp(`^cluster demo: PostgreSQL is not reachable at 127\\.0\\.0\\.1:${postgresPort}/demo \\(.*ECONNREFUSED.*\\); start it with: pg_ctlcluster `));
    expect(demo.stderr()).not.toContain('secret-password');
    // Nothing was started.
    expect(demo.stdout()).not.toContain('Starting');
  });
});
