/**
 * `npm run cluster:demo`: three nodes of one cluster on this machine (docs/scaling.md,
 * "Three nodes on one machine"). Each node is the real server (src/main.ts through tsx, as
 * `npm run dev` runs it) on its own port, joined to the others through Redis and sharing
 * one PostgreSQL database. The demo checks that both are reachable first, prints where
 * the nodes listen and what to try, prefixes each node's log lines with its name, and on
 * Ctrl-C stops the nodes it started (each by its own pid) before it exits.
 *
 * Environment (all optional): REDIS_URL (redis://127.0.0.1:6379), DATABASE_URL
 * (postgres://<you>@127.0.0.1:5432/postgres), REDIS_KEY_PREFIX (demo), CLUSTER_DEMO_PORTS
 * (3001,3002,3003: one node per port), API_KEYS (none: the API is open, development),
 * JWT_SECRET (random for this run, the same on every node), LOG_LEVEL (warn).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createClient } from 'redis';
import { describeDatabaseUrl } from '../src/storage/postgres/postgres-database.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HOST = '127.0.0.1';
/** How long the nodes may take to start (tsx compiles the server in each, at once). */
const START_TIMEOUT_MS = 90_000;
/** How long the nodes may take to stop after SIGTERM (their own bound is SHUTDOWN_TIMEOUT_MS, 10 s) before SIGKILL. */
const STOP_TIMEOUT_MS = 15_000;
const REDIS_HINT = 'start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no (or set REDIS_URL)';
const POSTGRES_HINT = 'start it with: pg_ctlcluster $(ls /etc/postgresql) main start (or set DATABASE_URL)';

const env = process.env;
const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const databaseUrl = env.DATABASE_URL ?? `postgres://${encodeURIComponent(userInfo().username)}@127.0.0.1:5432/postgres`;
const keyPrefix = env.REDIS_KEY_PREFIX ?? 'demo';
const apiKey = (env.API_KEYS ?? '').split(',')[0]?.trim() ?? '';
// Shared by every node: a development token one node signs is accepted by the others,
// so a client that moves to another node keeps its identity.
const jwtSecret = env.JWT_SECRET ?? randomBytes(48).toString('base64url');

interface DemoNode {
  nodeId: string;
  port: number;
  url: string;
  child: ChildProcess;
  /** The last lines it printed, for the one line that says why it did not start. */
  lastLines: string[];
}

const say = (line: string) => process.stdout.write(`${line}\n`);
/** A refusal in one line, no stack trace, and exit code 1. */
function fail(lines: string[]): never {
  for (const line of lines) process.stderr.write(`cluster demo: ${line}\n`);
  process.exit(1);
}

function parsePorts(text: string): number[] {
  const ports = text.split(',').map((part) => Number(part.trim()));
  if (ports.length === 0 || ports.some((port) => !Number.isInteger(port) || port < 1 || port > 65535) || new Set(ports).size !== ports.length) {
    fail([`CLUSTER_DEMO_PORTS must be distinct port numbers separated by commas (got "${text}")`]);
  }
  return ports;
}

/** An error in words: node's connect errors to "localhost" are AggregateErrors with an empty message. */
function reasonOf(err: unknown): string {
  const inner = err instanceof AggregateError && err.errors.length > 0 ? err.errors[0] : err;
  if (inner instanceof Error) return inner.message || (inner as { code?: string }).code || inner.name;
  return String(inner);
}

async function redisProblem(): Promise<string | undefined> {
  const where = URL.canParse(redisUrl) ? new URL(redisUrl).host : 'REDIS_URL';
  const client = createClient({ url: redisUrl, socket: { connectTimeout: 3000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (err) {
    return `Redis is not reachable at ${where} (${reasonOf(err)}); ${REDIS_HINT}`;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

async function postgresProblem(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return `PostgreSQL is not reachable at ${describeDatabaseUrl(databaseUrl)} (${reasonOf(err)}); ${POSTGRES_HINT}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function startNode(nodeId: string, port: number, ports: number[]): DemoNode {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...env,
      NODE_ENV: 'development',
      HOST,
      PORT: String(port),
      NODE_ID: nodeId,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: keyPrefix,
      DATABASE_URL: databaseUrl,
      JWT_SECRET: jwtSecret,
      // Set even when empty, so that a .env file (which each node reads) does not change them.
      API_KEYS: env.API_KEYS ?? '',
      ALLOWED_ORIGINS: ports.flatMap((p) => [`http://localhost:${p}`, `http://${HOST}:${p}`]).join(','),
      LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const node: DemoNode = { nodeId, port, url: `http://${HOST}:${port}`, child, lastLines: [] };
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      node.lastLines = [...node.lastLines.slice(-4), line];
      say(`[${nodeId}] ${line}`);
    });
  }
  return node;
}

const exited = (node: DemoNode) => node.child.exitCode !== null || node.child.signalCode !== null;
const whenExited = (node: DemoNode) => (exited(node) ? Promise.resolve() : new Promise<void>((resolve) => node.child.once('exit', () => resolve())));

/** node:http rather than fetch, which refuses some ports outright (22, 6000, …) that a node may well use. */
function answersHealth(node: DemoNode): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get(`${node.url}/health`, { timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

/** Resolves once every node answers /health; rejects naming the first node that exited instead. */
async function waitUntilServing(nodes: DemoNode[]): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (const node of nodes) {
    while (!(await answersHealth(node))) {
      const down = nodes.find(exited);
      if (down) throw new Error(`${down.nodeId} did not start: ${down.lastLines.at(-1) ?? `exit code ${down.child.exitCode}`}`);
      if (Date.now() > deadline) throw new Error(`${node.nodeId} did not answer ${node.url}/health within ${START_TIMEOUT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

let stopping: Promise<void> | undefined;

/** SIGTERM to each node still running (by its pid), SIGKILL to any still there after STOP_TIMEOUT_MS. */
function stopNodes(nodes: DemoNode[]): Promise<void> {
  stopping ??= (async () => {
    const running = nodes.filter((node) => !exited(node));
    for (const node of running) node.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const node of running) if (!exited(node)) node.child.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await Promise.all(running.map(whenExited));
    clearTimeout(timer);
  })();
  return stopping;
}

function printHowToTry(nodes: DemoNode[]): void {
  const [first, second] = [nodes[0]!, nodes[1] ?? nodes[0]!];
  const keyHeader = apiKey === '' ? '' : ` -H 'X-API-Key: ${apiKey}'`;
  say('');
  say(`Cluster demo: ${nodes.length} nodes on Redis ${URL.canParse(redisUrl) ? new URL(redisUrl).host : redisUrl} (key prefix "${keyPrefix}") and PostgreSQL ${describeDatabaseUrl(databaseUrl)}`);
  for (const node of nodes) say(`  ${node.nodeId}  ${node.url}  pid ${node.child.pid}`);
  say('');
  say('Try it:');
  say(`  1. Open ${second.url} in a browser, click "Get a development token", then "Connect".`);
  say(`     The Server panel names the node the page is on: ${second.nodeId}. Open the other nodes' pages too.`);
  say(`  2. Send a notification to ${first.nodeId}; every page shows it, whichever node it is on:`);
  say(`     curl -X POST ${first.url}/notify -H 'Content-Type: application/json'${keyHeader} -d '{"title":"Hello from ${first.nodeId}"}'`);
  say('  3. Stop one node (kill <its pid>): the others keep serving; its pages say "Reconnecting…" until it is back.');
  say('Ctrl-C stops every node.');
  say('');
}

async function main(): Promise<void> {
  const ports = parsePorts(env.CLUSTER_DEMO_PORTS ?? '3001,3002,3003');
  const problems = (await Promise.all([redisProblem(), postgresProblem()])).filter((problem) => problem !== undefined);
  if (problems.length > 0) fail(problems);

  say(`Starting ${ports.length === 1 ? 'one node on port' : `${ports.length} nodes on ports`} ${ports.join(', ')}…`);
  const nodes = ports.map((port, i) => startNode(`node-${i + 1}`, port, ports));
  // Last resort (an exception here): no node outlives the demo. kill() is synchronous.
  process.once('exit', () => {
    for (const node of nodes) if (!exited(node)) node.child.kill('SIGKILL');
  });

  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) {
        // Asked twice: do not wait for the graceful shutdown.
        for (const node of nodes) if (!exited(node)) node.child.kill('SIGKILL');
        return;
      }
      interrupted = true;
      say('Stopping the nodes… (again to kill them at once)');
      void stopNodes(nodes).then(() => {
        say('All nodes stopped.');
        process.exit(0);
      });
    });
  }

  try {
    await waitUntilServing(nodes);
  } catch (err) {
    if (interrupted) return;
    await stopNodes(nodes);
    fail([reasonOf(err)]);
  }
  if (interrupted) return;
  printHowToTry(nodes);

  for (const node of nodes) {
    node.child.once('exit', (code, signal) => {
      if (interrupted) return;
      const left = nodes.filter((other) => !exited(other)).length;
      say(`[demo] ${node.nodeId} exited (${signal ?? `code ${code}`}); ${left} node${left === 1 ? '' : 's'} still serving`);
      if (left === 0) process.exit(1);
    });
  }
}

await main();
