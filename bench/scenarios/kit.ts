import { Histogram } from '../lib/histogram.js';
import type { BenchOptions, ScenarioId } from '../lib/options.js';
import type { ConnectCommand, ConnectResult, HttpLoadResult, WindowReport } from '../lib/protocol.js';
import { SECRETS, usageBetween, type RunningServer, type ServerKind, type ServerUsage } from '../lib/servers.js';
import type { WorkerPool } from '../lib/workers.js';

/** What one run of a scenario (one server, one repetition) works with. */
export interface RunContext {
  kind: ServerKind;
  server: RunningServer;
  workers: WorkerPool;
  options: BenchOptions;
  runDir: string;
  label: string;
  /** 1-based repetition of this scenario on this server. */
  rep: number;
  /** With --profile: where the server's CPU profile of the measured window goes. */
  profileFile: string | undefined;
  log(message: string): void;
}

/** A goal on ours / reference (ratio) or on ours alone (absolute, in the metric's unit). */
export type Goal =
  | { type: 'min-ratio'; value: number }
  | { type: 'max-ratio'; value: number }
  | { type: 'min'; value: number }
  | { type: 'max'; value: number };

export interface MetricSpec {
  key: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  goal?: Goal;
}

export interface RunResult {
  metrics: Record<string, number>;
  /** Context for reading the metrics: CPU of server and clients, counts, errors. */
  diagnostics: Record<string, number>;
  notes: string[];
  /** Scenario-specific raw data kept in the JSON results (e.g. soak heap samples). */
  series?: unknown;
}

export interface Scenario {
  id: ScenarioId;
  title: string;
  /** What this run does with these options, for the report. */
  describe(options: BenchOptions): string;
  metrics: MetricSpec[];
  repetitions(options: BenchOptions): number;
  /**
   * The servers this scenario can run against (default: every one chosen). A feature the
   * reference lacks (the inbox) is measured against ours alone, its goals absolute.
   */
  servers?: readonly ServerKind[];
  /** Most sockets connected at once, for descriptor limits. */
  sockets(options: BenchOptions): number;
  run(ctx: RunContext): Promise<RunResult>;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Deals `items` round robin into `parts` lists. */
export function dealAcross<T>(items: readonly T[], parts: number): T[][] {
  const lists: T[][] = Array.from({ length: parts }, () => []);
  items.forEach((item, index) => lists[index % parts]!.push(item));
  return lists;
}

export const userIds = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

/** Departures from the default handshakes. */
export interface ConnectHow {
  /** Handshakes in flight per worker (default --concurrency). */
  concurrency?: number;
  waitFor?: ConnectCommand['waitFor'];
}

export interface ConnectSummary {
  connected: number;
  failed: number;
  perSecond: number;
  latency: Histogram;
  /** With `waitFor`: the handshake latency of the sockets, by the number their awaited event carried. */
  latencyByWaited: Map<number, Histogram>;
}

/**
 * Connects `lists[i]` from worker `workers[i]`, all workers at once, and fails the run if
 * any socket was refused: a benchmark of refusals measures nothing.
 */
export async function connectLists(
  ctx: RunContext,
  lists: readonly string[][],
  workers: readonly number[],
  how: ConnectHow = {},
): Promise<ConnectSummary> {
  const results = await Promise.all(
    lists.map((ids, i) =>
      ids.length === 0
        ? undefined
        : ctx.workers.call<ConnectResult>(workers[i]!, {
            cmd: 'connect',
            urls: [...ctx.server.urls],
            userIds: ids,
            jwtSecret: SECRETS.jwtSecret,
            concurrency: how.concurrency ?? ctx.options.concurrency,
            timeoutMs: 30_000,
            waitFor: how.waitFor,
          }),
    ),
  );
  const done = results.filter((result): result is ConnectResult => result !== undefined);
  const connected = done.reduce((sum, r) => sum + r.connected, 0);
  const failed = done.reduce((sum, r) => sum + r.failed, 0);
  if (failed > 0) {
    throw new Error(`${failed} of ${connected + failed} sockets were refused by ${ctx.kind}: ${done.flatMap((r) => r.errors).slice(0, 5).join('; ')}`);
  }
  const startedAt = Math.min(...done.map((r) => r.startedAt));
  const endedAt = Math.max(...done.map((r) => r.endedAt));
  return {
    connected,
    failed,
    perSecond: (connected / (endedAt - startedAt)) * 1000,
    latency: Histogram.from(done.map((r) => r.latency)),
    latencyByWaited: mergeByWaited(done),
  };
}

function mergeByWaited(results: readonly ConnectResult[]): Map<number, Histogram> {
  const merged = new Map<number, Histogram>();
  for (const result of results) {
    for (const [value, data] of Object.entries(result.latencyByWaited)) {
      let group = merged.get(Number(value));
      if (group === undefined) merged.set(Number(value), (group = new Histogram()));
      group.merge(data);
    }
  }
  return merged;
}

/** Spreads `ids` over every worker. */
export function connectEverywhere(ctx: RunContext, ids: readonly string[], how: ConnectHow = {}): Promise<ConnectSummary> {
  const lists = dealAcross(ids, ctx.workers.size);
  return connectLists(ctx, lists, lists.map((_, i) => i), how);
}

/** A few connections opened and closed, so that the measured part does not pay for JIT warm-up. */
export async function warmUp(ctx: RunContext): Promise<void> {
  await connectEverywhere(ctx, userIds('warm', ctx.options.warmupConnections));
  await ctx.workers.all({ cmd: 'close-all', graceful: true });
}

export interface Measured<T> {
  value: T;
  server: ServerUsage;
  clients: WindowReport[];
  /** A cluster's Redis: its CPU milliseconds in the window (whole Redis server). */
  redisCpuMs?: number;
}

/** Runs `during` inside a measured window: worker counters and server CPU cover exactly it. */
export async function measure<T>(ctx: RunContext, during: () => Promise<T>): Promise<Measured<T>> {
  if (ctx.profileFile !== undefined) await ctx.server.profileStart();
  await ctx.workers.all({ cmd: 'window-start' });
  const redisBefore = await ctx.server.redisCpuMs?.();
  const before = await ctx.server.usage();
  const value = await during();
  const after = await ctx.server.usage();
  const redisAfter = await ctx.server.redisCpuMs?.();
  const clients = await ctx.workers.all<WindowReport>({ cmd: 'window-stop' });
  if (ctx.profileFile !== undefined) await ctx.server.profileStop(ctx.profileFile);
  const measured: Measured<T> = { value, server: usageBetween(before, after), clients };
  if (redisBefore !== undefined && redisAfter !== undefined) measured.redisCpuMs = redisAfter - redisBefore;
  return measured;
}

/**
 * Server CPU time per operation in the window, in microseconds. Unlike throughput, it
 * hardly depends on how much of the machine other processes take, so it compares the
 * two servers even on a shared machine.
 */
export const cpuPerOperation = (measured: Measured<unknown>, operations: number) =>
  operations > 0 ? (measured.server.cpuMs * 1000) / operations : Number.NaN;

/**
 * A cluster's diagnostics beyond its nodes: Redis CPU per operation in microseconds (the
 * delivery work a cluster moves out of the nodes) and the node count; nothing for a single process.
 */
export function clusterDiagnostics(measured: Measured<unknown>, operations: number): Record<string, number> {
  if (measured.redisCpuMs === undefined) return {};
  return { nodes: measured.server.processes, redisCpuPerOperation: operations > 0 ? (measured.redisCpuMs * 1000) / operations : Number.NaN };
}

/** Post-GC heap of the server, in MiB: what traffic left behind (e.g. buffers kept for connection recovery). */
export async function heapMiB(ctx: RunContext): Promise<number> {
  return (await ctx.server.memory()).heapUsed / 2 ** 20;
}

export function mergedLatency(reports: readonly WindowReport[], event: string): Histogram {
  return Histogram.from(reports.flatMap((report) => (report.latency[event] ? [report.latency[event]] : [])));
}

export const sumReceived = (reports: readonly WindowReport[], event: string) =>
  reports.reduce((sum, report) => sum + (report.received[event] ?? 0), 0);

/** Server and client CPU of a window, and a note when a client process rather than the server was the bottleneck. */
export function loadDiagnostics(measured: Measured<unknown>, notes: string[]): Record<string, number> {
  const clientCpu = Math.max(...measured.clients.map((c) => c.cpuPercent));
  const clientElu = Math.max(...measured.clients.map((c) => c.elu));
  if (clientElu > 0.9 && measured.server.elu < 0.85) {
    notes.push(`client-bound: a client process was busy ${(clientElu * 100).toFixed(0)}% while the server was ${(measured.server.elu * 100).toFixed(0)}%`);
  }
  // A cluster's CPU is summed over its nodes: what one node got is the share compared here.
  const perProcessCpu = measured.server.cpuPercent / measured.server.processes;
  if (measured.server.elu > 0.9 && perProcessCpu < 80) {
    const busy = (measured.server.elu * 100).toFixed(0);
    notes.push(
      measured.server.processes === 1
        ? `machine oversubscribed: the server had work ${busy}% of the time but got ${perProcessCpu.toFixed(0)}% of a core`
        : `machine oversubscribed: the ${measured.server.processes} nodes had work ${busy}% of the time but got ${perProcessCpu.toFixed(0)}% of a core each (means over the nodes)`,
    );
  }
  const disconnects = measured.clients.reduce((sum, c) => sum + c.disconnects, 0);
  if (disconnects > 0) notes.push(`${disconnects} sockets dropped during the window: ${measured.clients.flatMap((c) => c.errors).slice(0, 3).join('; ')}`);
  return {
    serverCpuPercent: measured.server.cpuPercent,
    serverElu: measured.server.elu,
    clientCpuMaxPercent: clientCpu,
    clientEluMax: clientElu,
    disconnects,
  };
}

/**
 * HTTP load the push-like scenarios share: `users` each get one socket (on the client
 * processes but the last, which runs autocannon), tracked for `event`; then `bodies` are
 * POSTed to `path` in turn, a warm-up then the measured window. A window with any non-2xx
 * answer, or with none at all, fails the run.
 */
export async function measureHttpPosts(
  ctx: RunContext,
  load: { users: readonly string[]; event: string; path: string; bodies: readonly string[] },
): Promise<Measured<HttpLoadResult>> {
  const { options, workers } = ctx;
  await warmUp(ctx);
  const loader = workers.size - 1;
  const receivers = workers.size > 1 ? Array.from({ length: workers.size - 1 }, (_, i) => i) : [0];
  await connectLists(ctx, dealAcross(load.users, receivers.length), receivers);
  await workers.all({ cmd: 'track', events: [load.event] });
  const post = (seconds: number) =>
    workers.call<HttpLoadResult>(loader, {
      cmd: 'http-load',
      urls: [...ctx.server.urls],
      path: load.path,
      apiKey: SECRETS.apiKey,
      bodies: [...load.bodies],
      connections: options.httpConnections,
      warmupSeconds: 0,
      durationSeconds: seconds,
    });
  // autocannon needs about a second to report anything: shorter warm-ups are skipped.
  if (options.warmup >= 1) await post(options.warmup);
  const measured = await measure(ctx, () => post(options.duration));
  await workers.all({ cmd: 'close-all', graceful: false });
  const result = measured.value;
  if (result.non2xx > 0 || result.requests === 0) {
    throw new Error(`POST ${load.path} answered ${result.non2xx} non-2xx of ${result.requests + result.non2xx} (errors ${result.errors})`);
  }
  return measured;
}
