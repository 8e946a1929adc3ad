import { parseArgs } from 'node:util';
import { SERVER_KINDS, type ServerKind } from './servers.js';

export const SCENARIO_IDS = ['connect', 'memory', 'notify', 'push', 'batch', 'inbox', 'relay', 'durable', 'soak'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];
/** What `--nodes N` (N > 1) runs: fan-out and push, the deliveries that cross nodes. */
export const CLUSTER_SCENARIO_IDS: readonly ScenarioId[] = ['notify', 'push'];
/** More processes than this on one machine measure the scheduler, not the servers. */
const MAX_NODES = 8;

export interface BenchOptions {
  scenarios: ScenarioId[];
  servers: ServerKind[];
  /**
   * Server processes per cluster. Above 1, ours runs as one node and as N nodes sharing
   * Redis and PostgreSQL, and the reference as N nodes on the same Redis adapter.
   */
  nodes: number;
  reps: number;
  soakReps: number;
  /** Seconds of each measured window (notify, push, relay, durable, each inbox push phase). */
  duration: number;
  /** Seconds of traffic before each measured window. */
  warmup: number;
  workers: number;
  /** Handshakes in flight at once, per worker. */
  concurrency: number;
  connectClients: number;
  memoryClients: number;
  notifyClients: number;
  notifyWindow: number;
  pushUsers: number;
  /** Pushes per POST /api/batch in the batch scenario. */
  batchSize: number;
  httpConnections: number;
  /** Users of the inbox scenario's pushes, every other one online; the 1,000-user push goes to the first 1,000. */
  inboxUsers: number;
  /** 1,000-user persisted pushes, sent one at a time, whose latency is measured. */
  inboxFanouts: number;
  /** Unread notifications of each user in the connect comparison. */
  inboxUnread: number;
  /** Sockets connected with that many unread, and as many with none. */
  inboxConnectClients: number;
  relayPairs: number;
  durableSessions: number;
  /** Requests in flight per sender (relay, durable). */
  window: number;
  messageBytes: number;
  soakClients: number;
  /** Seconds. */
  soakDuration: number;
  soakSample: number;
  soakChurn: number;
  soakRelay: number;
  soakNotify: number;
  soakPush: number;
  warmupConnections: number;
  oursFrom: 'dist' | 'source';
  /** A built main.js to run as ours instead (what-if experiments on a patched copy). */
  oursEntry: string | undefined;
  /** Extra environment for ours (what-if experiments, e.g. UV_THREADPOOL_SIZE=16). */
  oursEnv: Record<string, string>;
  profile: boolean;
  heapSnapshot: boolean;
  smoke: boolean;
  /** One server process per kind for every run (smoke checks only: runs are then not independent). */
  reuseServers: boolean;
  json: string | undefined;
  append: boolean;
  results: string | undefined;
  note: string | undefined;
  quiet: boolean;
}

export const DEFAULTS: BenchOptions = {
  scenarios: [...SCENARIO_IDS],
  servers: [...SERVER_KINDS],
  nodes: 1,
  reps: 3,
  soakReps: 1,
  duration: 4,
  warmup: 1,
  workers: 2,
  concurrency: 50,
  connectClients: 1000,
  memoryClients: 10_000,
  notifyClients: 1000,
  notifyWindow: 8,
  pushUsers: 100,
  batchSize: 100,
  httpConnections: 10,
  inboxUsers: 1000,
  inboxFanouts: 100,
  inboxUnread: 1000,
  inboxConnectClients: 100,
  relayPairs: 100,
  durableSessions: 100,
  window: 4,
  messageBytes: 64,
  soakClients: 10_000,
  soakDuration: 90,
  soakSample: 10,
  soakChurn: 50,
  soakRelay: 200,
  soakNotify: 1,
  soakPush: 100,
  warmupConnections: 100,
  oursFrom: 'dist',
  oursEntry: undefined,
  oursEnv: {},
  profile: false,
  heapSnapshot: false,
  smoke: false,
  reuseServers: false,
  json: undefined,
  append: true,
  results: undefined,
  note: undefined,
  quiet: false,
};

/** Tiny counts and short windows: proves every scenario runs end to end, in seconds. */
const SMOKE: Partial<BenchOptions> = {
  reps: 1,
  soakReps: 1,
  duration: 0.3,
  warmup: 0.1,
  workers: 2,
  connectClients: 20,
  memoryClients: 20,
  notifyClients: 10,
  pushUsers: 5,
  batchSize: 5,
  httpConnections: 2,
  inboxUsers: 10,
  inboxFanouts: 3,
  inboxUnread: 5,
  inboxConnectClients: 4,
  relayPairs: 4,
  durableSessions: 4,
  soakClients: 20,
  soakDuration: 1,
  soakSample: 0.25,
  soakChurn: 4,
  soakRelay: 10,
  soakNotify: 2,
  soakPush: 10,
  warmupConnections: 4,
  oursFrom: 'source',
  reuseServers: true,
  append: false,
};

export const USAGE = `npm run bench -- [options]

Runs every scenario against ours and the bare reference (bench/reference/server.ts),
alternating, and prints medians, ranges and ours/reference ratios.

  --scenarios LIST        ${SCENARIO_IDS.join(',')} (default: all; inbox runs against ours only)
  --servers LIST          ours,reference (default: both)
  --nodes N               above 1: notify and push (the default scenarios then) against ours as
                          today's single node, ours as N nodes and the reference as N nodes on
                          the same Redis adapter. Each cluster shares the machine's Redis
                          (BENCH_REDIS_URL, default redis://127.0.0.1:6379) under a key prefix of
                          its own; ours' nodes also a PostgreSQL schema made for the run and
                          dropped after (BENCH_DATABASE_URL, default the local "test" database).
                          Sockets and HTTP requests spread evenly over the nodes; server CPU is
                          summed over them. Default 1 (no cluster)
  --reps N                repetitions per scenario and server (default ${DEFAULTS.reps})
  --duration S            measured seconds of notify/push/relay/durable, and of each inbox push phase (default ${DEFAULTS.duration})
  --warmup S              traffic seconds before each measured window (default ${DEFAULTS.warmup})
  --workers N             client processes (default ${DEFAULTS.workers})
  --concurrency N         handshakes in flight per client process (default ${DEFAULTS.concurrency})
  --connect-clients N     connect scenario (default ${DEFAULTS.connectClients})
  --memory-clients N      memory scenario (default ${DEFAULTS.memoryClients})
  --notify-clients N      notify fan-out receivers (default ${DEFAULTS.notifyClients})
  --notify-window N       notifications not yet received by every client, at most (default ${DEFAULTS.notifyWindow})
  --push-users N          /api/push target users, also of the batch scenario (default ${DEFAULTS.pushUsers})
  --batch-size N          pushes per POST /api/batch in the batch scenario (default ${DEFAULTS.batchSize})
  --http-connections N    autocannon connections (default ${DEFAULTS.httpConnections})
  --inbox-users N         inbox: persisted vs plain /api/push targets, every other one online;
                          the first 1,000 are the userIds of the fan-out push (default ${DEFAULTS.inboxUsers})
  --inbox-fanouts N       inbox: fan-out pushes, one at a time, whose latency is measured; as many
                          persisted as not (default ${DEFAULTS.inboxFanouts})
  --inbox-unread N        inbox: unread notifications per user when connecting; at most the
                          server's INBOX_MAX_PER_USER (default ${DEFAULTS.inboxUnread})
  --inbox-connect-clients N  inbox: sockets connected with that many unread, and as many with none (default ${DEFAULTS.inboxConnectClients})
  --relay-pairs N         client -> server -> user room pairs (default ${DEFAULTS.relayPairs})
  --durable-sessions N    send_message sessions (default ${DEFAULTS.durableSessions})
  --window N              requests in flight per sender, relay and durable (default ${DEFAULTS.window})
  --message-bytes N       message text size, relay and durable (default ${DEFAULTS.messageBytes})
  --soak-clients N        (default ${DEFAULTS.soakClients})
  --soak-duration S       seconds per soak run (default ${DEFAULTS.soakDuration}; the issue's full soak is 600)
  --soak-full             same as --soak-duration 600
  --soak-reps N           (default ${DEFAULTS.soakReps})
  --soak-sample S         seconds between post-GC heap samples (default ${DEFAULTS.soakSample})
  --soak-churn N          sockets closed and reopened per second (default ${DEFAULTS.soakChurn})
  --soak-relay N          client:message relays per second (default ${DEFAULTS.soakRelay})
  --soak-notify N         POST /notify per second (default ${DEFAULTS.soakNotify})
  --soak-push N           POST /api/push per second (default ${DEFAULTS.soakPush})
  --ours-from dist|source run ours from dist/ (built if stale; default) or src/ through tsx
  --ours-entry FILE       run this built main.js as ours (e.g. a patched copy, to try a fix)
  --ours-env KEY=VALUE    extra environment for ours; repeatable (e.g. UV_THREADPOOL_SIZE=16)
  --profile               CPU-profile each server's measured window; summaries in the run folder
                          (with --nodes: every node's profile, the first node's summarized)
  --heap-snapshot         write a heap snapshot of each server at the memory scenario's peak
  --smoke                 tiny counts, 1 repetition, one server per kind, ours from source,
                          no RESULTS.md: proves every scenario runs (what npm test runs)
  --reuse-servers         one server process per kind for all runs (quick checks only)
  --json FILE             where to write the JSON results (default bench/results/bench-<time>.json)
  --results FILE          the Markdown log to append to (default bench/RESULTS.md)
  --no-append             do not append to the Markdown log
  --note TEXT             a line for the Markdown log (e.g. "machine shared with other jobs")
  --quiet                 no progress lines
`;

function list<T extends string>(value: string, allowed: readonly T[], name: string): T[] {
  const items = value.split(',').map((item) => item.trim()).filter(Boolean);
  for (const item of items) if (!(allowed as readonly string[]).includes(item)) throw new Error(`--${name}: unknown "${item}" (one of ${allowed.join(', ')})`);
  return items as T[];
}

function positive(value: string, name: string, integer = true): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0 || (integer && !Number.isInteger(number))) {
    throw new Error(`--${name}: expected a positive ${integer ? 'integer' : 'number'}, got "${value}"`);
  }
  return number;
}

type NumericKey = { [K in keyof BenchOptions]: BenchOptions[K] extends number ? K : never }[keyof BenchOptions];

const NUMERIC: Record<string, { key: NumericKey; integer: boolean }> = {
  reps: { key: 'reps', integer: true },
  'soak-reps': { key: 'soakReps', integer: true },
  duration: { key: 'duration', integer: false },
  warmup: { key: 'warmup', integer: false },
  workers: { key: 'workers', integer: true },
  concurrency: { key: 'concurrency', integer: true },
  'connect-clients': { key: 'connectClients', integer: true },
  'memory-clients': { key: 'memoryClients', integer: true },
  'notify-clients': { key: 'notifyClients', integer: true },
  'notify-window': { key: 'notifyWindow', integer: true },
  'push-users': { key: 'pushUsers', integer: true },
  'batch-size': { key: 'batchSize', integer: true },
  'http-connections': { key: 'httpConnections', integer: true },
  'inbox-users': { key: 'inboxUsers', integer: true },
  'inbox-fanouts': { key: 'inboxFanouts', integer: true },
  'inbox-unread': { key: 'inboxUnread', integer: true },
  'inbox-connect-clients': { key: 'inboxConnectClients', integer: true },
  'relay-pairs': { key: 'relayPairs', integer: true },
  'durable-sessions': { key: 'durableSessions', integer: true },
  window: { key: 'window', integer: true },
  'message-bytes': { key: 'messageBytes', integer: true },
  'soak-clients': { key: 'soakClients', integer: true },
  'soak-duration': { key: 'soakDuration', integer: false },
  'soak-sample': { key: 'soakSample', integer: false },
  'soak-churn': { key: 'soakChurn', integer: false },
  'soak-relay': { key: 'soakRelay', integer: false },
  'soak-notify': { key: 'soakNotify', integer: false },
  'soak-push': { key: 'soakPush', integer: false },
  nodes: { key: 'nodes', integer: true },
};

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...Object.fromEntries(Object.keys(NUMERIC).map((name) => [name, { type: 'string' as const }])),
      scenarios: { type: 'string' },
      servers: { type: 'string' },
      'ours-from': { type: 'string' },
      'ours-entry': { type: 'string' },
      'ours-env': { type: 'string', multiple: true },
      'soak-full': { type: 'boolean' },
      profile: { type: 'boolean' },
      'heap-snapshot': { type: 'boolean' },
      smoke: { type: 'boolean' },
      'reuse-servers': { type: 'boolean' },
      json: { type: 'string' },
      results: { type: 'string' },
      'no-append': { type: 'boolean' },
      note: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  const options: BenchOptions = { ...DEFAULTS, ...(values.smoke === true ? SMOKE : {}), smoke: values.smoke === true };
  const given = values as Record<string, string | boolean | undefined>;
  for (const [name, { key, integer }] of Object.entries(NUMERIC)) {
    const value = given[name];
    if (typeof value === 'string') options[key] = positive(value, name, integer);
  }
  if (typeof values.scenarios === 'string') options.scenarios = list(values.scenarios, SCENARIO_IDS, 'scenarios');
  if (typeof values.servers === 'string') options.servers = list(values.servers, SERVER_KINDS, 'servers');
  const oursFrom = values['ours-from'];
  if (typeof oursFrom === 'string') {
    if (oursFrom !== 'dist' && oursFrom !== 'source') throw new Error(`--ours-from: expected dist or source, got "${oursFrom}"`);
    options.oursFrom = oursFrom;
  }
  if (typeof values['ours-entry'] === 'string') options.oursEntry = values['ours-entry'];
  for (const pair of values['ours-env'] ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--ours-env: expected KEY=VALUE, got "${pair}"`);
    options.oursEnv = { ...options.oursEnv, [pair.slice(0, at)]: pair.slice(at + 1) };
  }
  if (values['soak-full'] === true) options.soakDuration = 600;
  if (values['reuse-servers'] === true) options.reuseServers = true;
  if (values.profile === true) options.profile = true;
  if (values['heap-snapshot'] === true) options.heapSnapshot = true;
  if (typeof values.json === 'string') options.json = values.json;
  if (typeof values.results === 'string') options.results = values.results;
  if (values['no-append'] === true) options.append = false;
  if (typeof values.note === 'string') options.note = values.note;
  if (values.quiet === true) options.quiet = true;
  if (options.scenarios.length === 0) throw new Error('--scenarios: nothing to run');
  if (options.batchSize < 1 || options.batchSize > 1000) throw new Error(`--batch-size: 1 to 1000 (what POST /api/batch takes), got ${options.batchSize}`);
  if (options.nodes > MAX_NODES) throw new Error(`--nodes: at most ${MAX_NODES}, got ${options.nodes}`);
  if (options.nodes > 1) {
    if (typeof values.scenarios !== 'string') options.scenarios = [...CLUSTER_SCENARIO_IDS];
    const other = options.scenarios.filter((id) => !CLUSTER_SCENARIO_IDS.includes(id));
    if (other.length > 0) throw new Error(`--nodes ${options.nodes}: runs ${CLUSTER_SCENARIO_IDS.join(' and ')} only, not ${other.join(', ')}`);
  }
  return options;
}
