import { execFile, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import type { ProbeCommand, ProbeMemory, ProbeUsage } from '../server-probe.js';
import { sleep, spawnNode, stopChild } from './processes.js';

export const SERVER_KINDS = ['ours', 'reference'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Credentials of the benchmark runs; both servers receive the same handshakes and headers. */
export const SECRETS = {
  apiKey: 'bench-api-key-0123456789abcdef',
  jwtSecret: 'bench-jwt-secret-that-is-at-least-32-bytes-long!!',
} as const;

/**
 * Production limits would cap a load test: they are raised, and only they. Everything
 * else (auth, validation, metrics, logs) stays as in production.
 */
export const RAISED_LIMITS = {
  RATE_LIMIT_HTTP_PER_MINUTE: '10000000',
  RATE_LIMIT_WS_MESSAGES_PER_MINUTE: '10000000',
  RATE_LIMIT_WS_CONNECTIONS_PER_MINUTE: '10000000',
  RATE_LIMIT_RELAY_BYTES_PER_MINUTE: '1000000000000',
  // Every benchmark client connects from 127.0.0.1.
  MAX_CONNECTIONS_PER_ADDRESS: '10000000',
  MAX_CONNECTIONS: '10000000',
  // The durable scenario sends as fast as the server acks, from few users.
  CHAT_MESSAGES_PER_USER_PER_MINUTE: '10000000',
  CHAT_SESSIONS_PER_PEER_PER_HOUR: '10000000',
  CHAT_MAX_SESSIONS_PER_USER: '10000000',
} as const;

export interface PreparedServers {
  /** What runs ours: dist/main.js (as production does) or src/main.ts through tsx. */
  ours: { entry: string; viaTsx: boolean; description: string };
  reference: { entry: string };
  probe: string;
  tsxImport: string;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

function mtimeOr(file: string, fallback: number): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return fallback;
  }
}

/** dist/ is stale when it is missing or any file under src/ (or the build config) is newer. */
export function distIsStale(): boolean {
  const built = mtimeOr(path.join(ROOT, 'dist', 'main.js'), -1);
  if (built < 0) return true;
  const sources = Math.max(newestMtime(path.join(ROOT, 'src')), mtimeOr(path.join(ROOT, 'tsconfig.build.json'), 0));
  return sources > built;
}

function buildOurs(log: (message: string) => void): Promise<void> {
  log('building ours (tsc -p tsconfig.build.json) because dist/ is missing or older than src/');
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`npm run build failed; fix the build or use --ours-from source:\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

/** Plain JavaScript of a bench TypeScript file, so the process that runs it carries no loader. */
function transpile(source: string, target: string): string {
  const output = ts.transpileModule(readFileSync(source, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
    fileName: source,
  }).outputText;
  writeFileSync(target, output);
  return target;
}

/**
 * Builds ours when needed and transpiles the reference server and the probe into
 * `buildDir` (inside the repository, so their imports resolve from its node_modules).
 */
export async function prepareServers(options: {
  buildDir: string;
  oursFrom: 'dist' | 'source';
  oursEntry?: string | undefined;
  log: (message: string) => void;
}): Promise<PreparedServers> {
  mkdirSync(options.buildDir, { recursive: true });
  let ours: PreparedServers['ours'];
  if (options.oursEntry !== undefined) {
    const entry = path.resolve(options.oursEntry);
    ours = { entry, viaTsx: entry.endsWith('.ts'), description: `node ${entry} (--ours-entry)` };
  } else if (options.oursFrom === 'dist') {
    if (distIsStale()) await buildOurs(options.log);
    ours = { entry: path.join(ROOT, 'dist', 'main.js'), viaTsx: false, description: 'node dist/main.js (built with tsc, as production)' };
  } else {
    ours = { entry: path.join(ROOT, 'src', 'main.ts'), viaTsx: true, description: 'node --import tsx src/main.ts (from source)' };
  }
  return {
    ours,
    reference: { entry: transpile(path.join(ROOT, 'bench', 'reference', 'server.ts'), path.join(options.buildDir, 'reference-server.mjs')) },
    probe: transpile(path.join(ROOT, 'bench', 'server-probe.ts'), path.join(options.buildDir, 'server-probe.mjs')),
    tsxImport: import.meta.resolve('tsx'),
  };
}

/** A port that was free a moment ago (the server binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', () => resolve(0));
    req.once('timeout', () => req.destroy());
    req.end();
  });
}

export interface ServerUsage {
  /** CPU (user + system) milliseconds, summed over the server's processes. */
  cpuMs: number;
  /** CPU (user + system) as a percentage of one core, summed over the server's processes (so above 100 for a cluster that used more than a core). */
  cpuPercent: number;
  /** Event-loop utilization, 0–1 (a cluster's: the mean of its nodes'): near 1 means the server was the bottleneck. */
  elu: number;
  /** Server processes measured: 1, or the nodes of a cluster. */
  processes: number;
}

/** A usage reading of the server: one process's, or the sum over a cluster's nodes. */
export type UsageReading = ProbeUsage & { processes: number };

export interface RunningServer {
  readonly kind: ServerKind;
  /** The first node's URL (the only one for a single process). */
  readonly url: string;
  /** Every node's URL, in node order: clients and requests are spread over these. */
  readonly urls: readonly string[];
  readonly pid: number;
  readonly logFile: string;
  /** Summed over a cluster's nodes. */
  memory(): Promise<ProbeMemory>;
  usage(): Promise<UsageReading>;
  /**
   * CPU milliseconds the cluster's Redis server has used since it started (INFO cpu): the
   * work a cluster moves out of the nodes. Whole-server figures, so anything else using
   * that Redis is counted too. Absent for a single process.
   */
  redisCpuMs?(): Promise<number>;
  heapSnapshot(file: string): Promise<string>;
  profileStart(): Promise<void>;
  /** Writes the CPU profile since profileStart() to `file`. */
  profileStop(file: string): Promise<string>;
  stop(): Promise<number | null>;
}

export function usageBetween(start: UsageReading, end: UsageReading): ServerUsage {
  const wallMs = end.at - start.at;
  const cpuMs = (end.cpuUser - start.cpuUser + end.cpuSystem - start.cpuSystem) / 1000;
  const active = end.eluActive - start.eluActive;
  const idle = end.eluIdle - start.eluIdle;
  return { cpuMs, cpuPercent: (cpuMs / wallMs) * 100, elu: active + idle > 0 ? active / (active + idle) : 0, processes: end.processes };
}

export interface StartOptions {
  runDir: string;
  /** Distinguishes this run's files (log, chat directory, profile). */
  label: string;
  /** Added to ours' environment (after the production settings, so it can override them). */
  extraEnv?: Record<string, string>;
  /** Added to either server's environment: a cluster node's settings (Redis, PostgreSQL, node id). */
  clusterEnv?: Record<string, string>;
  /** Descriptors the server may need (connections + margin). */
  openFiles: number;
  maxLifetimeMs: number;
}

/**
 * Starts one server as its own process, with the probe preloaded, on a fresh loopback
 * port, and resolves once GET /health answers 200. Ours runs as production does:
 * NODE_ENV=production, JWT on every socket, an API key on every request, metrics on,
 * info-level JSON logs to a file. Its environment is built from scratch, so nothing of
 * the caller's shell or a .env file (the working directory is the run's own) leaks in.
 */
export async function startServer(kind: ServerKind, prepared: PreparedServers, options: StartOptions): Promise<RunningServer> {
  const port = await freePort();
  const logFile = path.join(options.runDir, `${options.label}.log`);
  const chatDir = path.join(options.runDir, `${options.label}-chat`);
  mkdirSync(chatDir, { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PORT: String(port),
    HOST: '127.0.0.1',
    BENCH_MAX_LIFETIME_MS: String(options.maxLifetimeMs),
  };
  if (kind === 'ours') {
    Object.assign(env, {
      NODE_ENV: 'production',
      API_KEYS: SECRETS.apiKey,
      JWT_SECRET: SECRETS.jwtSecret,
      CHAT_SESSIONS_DIR: chatDir,
      LOG_LEVEL: 'info',
      LOG_PRETTY: 'false',
      // As `npm start` sets it: more libuv threads, so fsyncs of different sessions overlap.
      UV_THREADPOOL_SIZE: '16',
      ...RAISED_LIMITS,
      ...options.clusterEnv,
      ...options.extraEnv,
    });
  } else {
    Object.assign(env, { NODE_ENV: 'production', ...options.clusterEnv });
  }
  const args = ['--expose-gc', '--import', pathToFileURL(prepared.probe).href];
  if (kind === 'ours') {
    if (prepared.ours.viaTsx) args.push('--import', prepared.tsxImport);
    args.push(prepared.ours.entry);
  } else {
    args.push(prepared.reference.entry);
  }
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawnNode(args, { cwd: options.runDir, env, stdio: ['ignore', logFd, logFd, 'ipc'], openFiles: options.openFiles });
  } finally {
    closeSync(logFd);
  }

  let nextProbeId = 0;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  child.on('message', (message: { probeId?: number; ok?: boolean; result?: unknown; error?: string }) => {
    const waiting = message.probeId !== undefined ? pending.get(message.probeId) : undefined;
    if (waiting === undefined || message.probeId === undefined) return;
    pending.delete(message.probeId);
    if (message.ok) waiting.resolve(message.result);
    else waiting.reject(new Error(message.error ?? 'probe failed'));
  });
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${code ?? signal}`;
    for (const waiting of pending.values()) waiting.reject(new Error(`${kind} server ${exited}`));
    pending.clear();
  });
  const probe = <T>(command: ProbeCommand): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (exited !== undefined || !child.connected) return reject(new Error(`${kind} server ${exited ?? 'is not connected'}`));
      const probeId = nextProbeId++;
      pending.set(probeId, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ probeId, ...command });
    });

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while ((await httpStatus(`${url}/health`)) !== 200) {
    if (exited !== undefined || Date.now() > deadline) {
      await stopChild(child, 1000);
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
      throw new Error(`${kind} server did not become healthy (${exited ?? 'timed out'}); last log lines:\n${tail}`);
    }
    await sleep(50);
  }

  return {
    kind,
    url,
    urls: [url],
    pid: child.pid ?? -1,
    logFile,
    memory: () => probe<ProbeMemory>({ cmd: 'memory' }),
    usage: async () => ({ ...(await probe<ProbeUsage>({ cmd: 'usage' })), processes: 1 }),
    heapSnapshot: async (file) => (await probe<{ path: string }>({ cmd: 'snapshot', path: file })).path,
    profileStart: async () => {
      await probe({ cmd: 'profile-start' });
    },
    profileStop: async (file) => (await probe<{ path: string }>({ cmd: 'profile-stop', path: file })).path,
    // Ours drains for up to a second (it tells every socket); beyond 15 s something is wrong.
    stop: () => stopChild(child, 15_000),
  };
}
