import { existsSync } from 'node:fs';
import { Histogram } from '../lib/histogram.js';
import { createPoster, type PostAnswer } from '../lib/http-client.js';
import { now, type HttpLoadResult } from '../lib/protocol.js';
import { writeProfileSummary } from '../lib/profile.js';
import { ROOT, SECRETS } from '../lib/servers.js';
import {
  connectEverywhere,
  connectLists,
  cpuPerOperation,
  dealAcross,
  loadDiagnostics,
  measure,
  mergedLatency,
  sleep,
  sumReceived,
  userIds,
  warmUp,
  type ConnectSummary,
  type Measured,
  type RunContext,
  type Scenario,
} from './kit.js';

const EVENT = 'bench:inbox';
const PUSH_PATH = '/api/push';
/** What the server sends on connect; the number after `"count":` is checked against what was stored. */
const UNREAD_COUNT = { event: 'notification:unread-count', numberKey: '"count":' } as const;
/** The most userIds one push takes. */
const MAX_USERS_PER_PUSH = 1000;
/** Persisted pushes in flight while filling inboxes: enough to keep the store busy, few enough to stay a backend's pace. */
const FILL_WINDOW = 4;
/** Time for the server to finish with closed sockets before the next CPU window. */
const SETTLE_MS = 200;
/** Handshakes in flight per client process while latency is measured. */
const LATENCY_CONCURRENCY = 2;
/** Fan-out pushes sent before the measured ones, so that they do not pay for JIT warm-up. */
const FANOUT_WARMUPS = 2;

/** A seed 004-shaped body: the server takes type, title and message from it without reshaping. */
const notification = (t: number) => ({ type: 'info', title: 'Bench', message: 'You have a new message', orderId: 42, t });

type Poster = ReturnType<typeof createPoster>;

/**
 * With --profile, a phase's windows go to a profile of their own, `<label>-<phase>.cpuprofile`
 * with a text summary beside it: the run's own file keeps only the last window of all (a
 * connect window).
 */
function inPhase(ctx: RunContext, phase: string): RunContext {
  if (ctx.profileFile === undefined) return ctx;
  return { ...ctx, profileFile: ctx.profileFile.replace(/\.cpuprofile$/, `-${phase}.cpuprofile`) };
}

function summarizePhaseProfile(ctx: RunContext, phase: string): void {
  const file = inPhase(ctx, phase).profileFile;
  if (file === undefined || file === ctx.profileFile || !existsSync(file)) return;
  writeProfileSummary(file, ROOT, `${ctx.label} ${phase}: its measured window (${file})`);
}

/**
 * Every push must be answered 200, and a benchmark of pushes that are not stored measures
 * nothing: a persisted one must also answer one notification id per user.
 */
function expectAnswered(answer: PostAnswer, users: number, persist: boolean): void {
  if (answer.status !== 200) throw new Error(`POST ${PUSH_PATH} (persist: ${persist}) answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  if (!persist) return;
  const ids = (JSON.parse(answer.body) as { notificationIds?: unknown }).notificationIds;
  if (!Array.isArray(ids) || ids.length !== users) {
    throw new Error(`persisted POST ${PUSH_PATH} to ${users} user(s) did not answer ${users} notificationIds: ${answer.body.slice(0, 300)}`);
  }
}

function pushTo(poster: Poster, users: readonly string[], persist: boolean): Promise<PostAnswer> {
  return poster.postForBody(PUSH_PATH, { userIds: users, event: EVENT, data: notification(now()), persist });
}

/** One push body per user, with or without `persist`. */
const pushBodies = (users: readonly string[], persist: boolean) =>
  users.map((userId) => JSON.stringify({ userId, event: EVENT, data: notification(0), persist }));

/** autocannon on POST /api/push from the `loader` worker, the bodies round robin. */
function httpLoad(ctx: RunContext, loader: number, bodies: string[], seconds: number): Promise<HttpLoadResult> {
  return ctx.workers.call<HttpLoadResult>(loader, {
    cmd: 'http-load',
    urls: [...ctx.server.urls],
    path: PUSH_PATH,
    apiKey: SECRETS.apiKey,
    bodies,
    connections: ctx.options.httpConnections,
    warmupSeconds: 0,
    durationSeconds: seconds,
  });
}

function expectAllAnswered(result: HttpLoadResult, what: string): void {
  if (result.non2xx > 0 || result.requests === 0) {
    throw new Error(`POST ${PUSH_PATH} (${what}) answered ${result.non2xx} non-2xx of ${result.requests + result.non2xx} (errors ${result.errors})`);
  }
}

/** Runs `phase` with and without `persist`, in the order given. */
async function bothWays<T>(persistedFirst: boolean, phase: (persist: boolean) => Promise<T>): Promise<{ persisted: T; plain: T }> {
  const first = await phase(persistedFirst);
  const second = await phase(!persistedFirst);
  return persistedFirst ? { persisted: first, plain: second } : { persisted: second, plain: first };
}

/** The measured windows of one kind of push, and what they add up to. */
interface PushWindows {
  windows: Measured<HttpLoadResult>[];
  requests: number;
  requestsPerSecond: number;
  /** autocannon reports percentiles per window, not histograms: the mean over the windows. */
  p50Ms: number;
  p99Ms: number;
  cpuPerRequestUs: number;
  /** Events received by the online users' sockets. */
  delivered: number;
}

function addUp(windows: Measured<HttpLoadResult>[]): PushWindows {
  const sum = (of: (m: Measured<HttpLoadResult>) => number) => windows.reduce((total, m) => total + of(m), 0);
  const requests = sum((m) => m.value.requests);
  return {
    windows,
    requests,
    requestsPerSecond: requests / sum((m) => m.value.durationSeconds),
    p50Ms: sum((m) => m.value.p50) / windows.length,
    p99Ms: sum((m) => m.value.p99) / windows.length,
    cpuPerRequestUs: (sum((m) => m.server.cpuMs) * 1000) / requests,
    delivered: sum((m) => sumReceived(m.clients, EVENT)),
  };
}

/**
 * Persisted and non-persisted pushes in four measured windows of half --duration each, in
 * the order A B B A: the first window after the warm-up measured about a fifth dearer in CPU
 * per request than the next, whichever kind it was (its profile: more GC), and A B B A gives
 * both kinds one early and one late window.
 */
async function pushWindows(ctx: RunContext, loader: number, users: readonly string[], persistedFirst: boolean) {
  const bodies = { persisted: pushBodies(users, true), plain: pushBodies(users, false) };
  const windows: { persisted: Measured<HttpLoadResult>[]; plain: Measured<HttpLoadResult>[] } = { persisted: [], plain: [] };
  const [a, b] = persistedFirst ? (['persisted', 'plain'] as const) : (['plain', 'persisted'] as const);
  for (const kind of [a, b, b, a]) {
    const measured = await measure(inPhase(ctx, `${kind}-${windows[kind].length + 1}`), () =>
      httpLoad(ctx, loader, bodies[kind], ctx.options.duration / 2),
    );
    expectAllAnswered(measured.value, kind);
    windows[kind].push(measured);
  }
  return { persisted: addUp(windows.persisted), plain: addUp(windows.plain) };
}

/**
 * Pushes to every user at once, one at a time: with `persist`, the latency of a single large
 * durable write; without, of the same delivery alone.
 */
async function fanOuts(ctx: RunContext, poster: Poster, users: readonly string[], persist: boolean): Promise<Measured<Histogram>> {
  for (let i = 0; i < FANOUT_WARMUPS; i++) expectAnswered(await pushTo(poster, users, persist), users.length, persist);
  return measure(ctx, async () => {
    const latency = new Histogram();
    for (let i = 0; i < ctx.options.inboxFanouts; i++) {
      const t0 = now();
      const answer = await pushTo(poster, users, persist);
      latency.record(now() - t0);
      expectAnswered(answer, users.length, persist);
    }
    return latency;
  });
}

/** Gives each of `users` `unread` notifications, by persisted pushes of up to 1,000 users each. */
async function fillInboxes(poster: Poster, users: readonly string[], unread: number): Promise<void> {
  const chunks: string[][] = [];
  for (let i = 0; i < users.length; i += MAX_USERS_PER_PUSH) chunks.push(users.slice(i, i + MAX_USERS_PER_PUSH));
  const total = unread * chunks.length;
  let next = 0;
  const sender = async () => {
    while (next < total) {
      const chunk = chunks[next++ % chunks.length]!;
      expectAnswered(await pushTo(poster, chunk, true), chunk.length, true);
    }
  };
  await Promise.all(Array.from({ length: Math.min(FILL_WINDOW, total) }, sender));
}

/**
 * Every socket is counted as connected once the server's unread count has arrived (what a
 * client waits for), and that count must be the one stored: a comparison of inboxes that
 * were not filled would compare nothing.
 */
function expectUnread(connected: ConnectSummary, expected: ReadonlyMap<number, number>): void {
  const told = [...connected.latencyByWaited].map(([count, latency]) => `${latency.count} x ${count}`).join(', ');
  const wanted = [...expected].map(([count, sockets]) => `${sockets} x ${count}`).join(', ');
  const matches =
    connected.latencyByWaited.size === expected.size &&
    [...expected].every(([count, sockets]) => connected.latencyByWaited.get(count)?.count === sockets);
  if (!matches) throw new Error(`sockets were told these unread counts (sockets x count): ${told}; expected ${wanted}`);
}

/**
 * Handshake latency of both groups, their handshakes interleaved: the machine's other load
 * then hits both alike, which two windows one after the other cannot promise. Few in flight,
 * so that a handshake's latency is its own cost rather than its wait behind a burst.
 */
async function connectLatency(ctx: RunContext, full: readonly string[], empty: readonly string[], unread: number) {
  const fullLists = dealAcross(full, ctx.workers.size);
  const emptyLists = dealAcross(empty, ctx.workers.size);
  // Interleaved within each worker's list (the groups are the same size), as pairs whose
  // order alternates: dealing one interleaved list out would give each worker one group, and
  // the first of each pair would always start a moment ahead.
  const lists = fullLists.map((fullList, w) =>
    fullList.flatMap((userId, i) => (i % 2 === 0 ? [userId, emptyLists[w]![i]!] : [emptyLists[w]![i]!, userId])),
  );
  const connected = await connectLists(ctx, lists, lists.map((_, w) => w), { waitFor: UNREAD_COUNT, concurrency: LATENCY_CONCURRENCY });
  await ctx.workers.all({ cmd: 'close-all', graceful: true });
  expectUnread(
    connected,
    new Map([
      [unread, full.length],
      [0, empty.length],
    ]),
  );
  return { fullP50Ms: connected.latencyByWaited.get(unread)!.percentile(50), emptyP50Ms: connected.latencyByWaited.get(0)!.percentile(50) };
}

/**
 * Server CPU per connection of each group, from windows of their own (a window's CPU cannot
 * be split between sockets), in the order full, empty, empty, full or its mirror, twice: a
 * linear drift of the machine's load then costs both groups the same.
 */
async function connectCpu(ctx: RunContext, full: readonly string[], empty: readonly string[], unread: number, fullFirst: boolean) {
  const cpuMs = { full: 0, empty: 0 };
  const connections = { full: 0, empty: 0 };
  const round = fullFirst ? (['full', 'empty', 'empty', 'full'] as const) : (['empty', 'full', 'full', 'empty'] as const);
  for (const group of [...round, ...round]) {
    const users = group === 'full' ? full : empty;
    const measured = await measure(ctx, () => connectEverywhere(ctx, users, { waitFor: UNREAD_COUNT }));
    await ctx.workers.all({ cmd: 'close-all', graceful: true });
    // The server's work for the closed sockets is not the next window's.
    await sleep(SETTLE_MS);
    expectUnread(measured.value, new Map([[group === 'full' ? unread : 0, users.length]]));
    cpuMs[group] += measured.server.cpuMs;
    connections[group] += measured.value.connected;
  }
  return { fullUs: (cpuMs.full * 1000) / connections.full, emptyUs: (cpuMs.empty * 1000) / connections.empty };
}

/**
 * The notification inbox, against ours alone (the reference stores nothing): the cost of
 * `persist: true` on POST /api/push measured against ours without it in the same run, the
 * latency of one persisted push to 1,000 users, and whether a full inbox makes connecting
 * dearer (it should not: the unread count is kept, not counted).
 */
export const inboxScenario: Scenario = {
  id: 'inbox',
  title: 'POST /api/push with persist: true, against ours without it; connecting with a full inbox',
  describe: (o) =>
    `${o.inboxUsers} users, every other one online: persisted vs non-persisted pushes (autocannon ${o.httpConnections} connections, ` +
    `${o.warmup * 2} s warm-up of both, then ${o.duration} s measured of each in windows ordered A B B A, A alternating by run); ` +
    `${o.inboxFanouts} pushes with userIds of ${Math.min(o.inboxUsers, MAX_USERS_PER_PUSH)}, one at a time, persisted and (as many) not; ` +
    `${o.inboxConnectClients} sockets with ${o.inboxUnread} unread each ("full") vs as many with none ("empty") connecting, done when their unread ` +
    `count arrives (latency: both groups interleaved, ${LATENCY_CONCURRENCY} handshakes in flight per client process; server CPU: two windows of each group)`,
  metrics: [
    { key: 'persistedPerSecond', label: 'persisted push requests/s', unit: '/s', better: 'higher' },
    { key: 'plainPerSecond', label: 'non-persisted push requests/s', unit: '/s', better: 'higher' },
    { key: 'persistedRatio', label: 'persisted / non-persisted requests/s', unit: 'x', better: 'higher', goal: { type: 'min', value: 0.7 } },
    { key: 'persistedP99Ms', label: 'persisted push p99', unit: 'ms', better: 'lower' },
    { key: 'plainP99Ms', label: 'non-persisted push p99', unit: 'ms', better: 'lower' },
    { key: 'cpuPerPersisted', label: 'server CPU per persisted push', unit: 'µs', better: 'lower' },
    { key: 'cpuPerPlain', label: 'server CPU per non-persisted push', unit: 'µs', better: 'lower' },
    { key: 'fanoutP50Ms', label: 'persisted push to 1,000 users p50', unit: 'ms', better: 'lower', goal: { type: 'max', value: 50 } },
    { key: 'fanoutP99Ms', label: 'persisted push to 1,000 users p99', unit: 'ms', better: 'lower' },
    { key: 'plainFanoutP50Ms', label: 'non-persisted push to 1,000 users p50', unit: 'ms', better: 'lower' },
    { key: 'connectEmptyP50Ms', label: 'connect + unread count p50, empty inbox', unit: 'ms', better: 'lower' },
    { key: 'connectFullP50Ms', label: 'connect + unread count p50, full inbox', unit: 'ms', better: 'lower' },
    { key: 'connectP50Ratio', label: 'connect p50 full / empty', unit: 'x', better: 'lower', goal: { type: 'max', value: 1.1 } },
    // No goal: two windows of a few hundred handshakes each vary by +-30 % on a shared machine
    // (measured with a stand-in whose count is O(1)); the interleaved latency above does not.
    { key: 'connectCpuRatio', label: 'server CPU per connection full / empty', unit: 'x', better: 'lower' },
  ],
  repetitions: (o) => o.reps,
  servers: ['ours'],
  sockets: (o) => Math.max(Math.ceil(o.inboxUsers / 2), 2 * o.inboxConnectClients, o.warmupConnections),
  async run(ctx) {
    const { options, workers } = ctx;
    const poster = createPoster(ctx.server.url, SECRETS.apiKey, FILL_WINDOW);
    try {
      await warmUp(ctx);
      const users = userIds('inbox', options.inboxUsers);
      expectAnswered(await pushTo(poster, users.slice(0, 1), true), 1, true);

      const loader = workers.size - 1;
      const receivers = workers.size > 1 ? Array.from({ length: workers.size - 1 }, (_, i) => i) : [0];
      const online = users.filter((_, i) => i % 2 === 0);
      await connectLists(ctx, dealAcross(online, receivers.length), receivers);
      await workers.all({ cmd: 'track', events: [EVENT] });
      // Both kinds mixed first: on a fresh server the first window would otherwise also pay for
      // JIT warm-up. Then which kind goes first alternates by run.
      if (options.warmup >= 1) {
        const plainBodies = pushBodies(users, false);
        const mixed = pushBodies(users, true).flatMap((body, i) => [body, plainBodies[i]!]);
        expectAllAnswered(await httpLoad(ctx, loader, mixed, options.warmup * 2), 'warm-up');
      }
      const persistedFirst = ctx.rep % 2 === 0;
      const { persisted, plain } = await pushWindows(ctx, loader, users, persistedFirst);
      const { persisted: fanout, plain: plainFanout } = await bothWays(persistedFirst, (persist) =>
        fanOuts(inPhase(ctx, persist ? 'fanout' : 'fanout-plain'), poster, users.slice(0, MAX_USERS_PER_PUSH), persist),
      );
      for (const phase of ['persisted-1', 'persisted-2', 'plain-1', 'plain-2', 'fanout', 'fanout-plain']) summarizePhaseProfile(ctx, phase);
      await workers.all({ cmd: 'close-all', graceful: false });

      const full = userIds('inbox-full', options.inboxConnectClients);
      const empty = userIds('inbox-empty', options.inboxConnectClients);
      await fillInboxes(poster, full, options.inboxUnread);
      const latency = await connectLatency(ctx, full, empty, options.inboxUnread);
      const cpu = await connectCpu(ctx, full, empty, options.inboxUnread, persistedFirst);

      const notes: string[] = [];
      // Of the pushes to online users, the share whose event reached the socket in the windows.
      const delivered = (w: PushWindows) => w.delivered / w.requests / (online.length / users.length);
      const fanoutDelivery = mergedLatency(fanout.clients, EVENT);
      return {
        metrics: {
          persistedPerSecond: persisted.requestsPerSecond,
          plainPerSecond: plain.requestsPerSecond,
          persistedRatio: persisted.requestsPerSecond / plain.requestsPerSecond,
          persistedP99Ms: persisted.p99Ms,
          plainP99Ms: plain.p99Ms,
          cpuPerPersisted: persisted.cpuPerRequestUs,
          cpuPerPlain: plain.cpuPerRequestUs,
          fanoutP50Ms: fanout.value.percentile(50),
          fanoutP99Ms: fanout.value.percentile(99),
          plainFanoutP50Ms: plainFanout.value.percentile(50),
          connectEmptyP50Ms: latency.emptyP50Ms,
          connectFullP50Ms: latency.fullP50Ms,
          connectP50Ratio: latency.fullP50Ms / latency.emptyP50Ms,
          connectCpuRatio: cpu.fullUs / cpu.emptyUs,
        },
        diagnostics: {
          persistedRequests: persisted.requests,
          plainRequests: plain.requests,
          persistedP50Ms: persisted.p50Ms,
          plainP50Ms: plain.p50Ms,
          persistedDeliveredRatio: delivered(persisted),
          plainDeliveredRatio: delivered(plain),
          fanoutDeliveryP50Ms: fanoutDelivery.percentile(50),
          fanoutDeliveryP99Ms: fanoutDelivery.percentile(99),
          cpuPerFanoutMs: cpuPerOperation(fanout, options.inboxFanouts) / 1000,
          cpuPerPlainFanoutMs: cpuPerOperation(plainFanout, options.inboxFanouts) / 1000,
          cpuPerConnectionEmpty: cpu.emptyUs,
          cpuPerConnectionFull: cpu.fullUs,
          plainServerElu: plain.windows[0]!.server.elu,
          ...loadDiagnostics(persisted.windows[0]!, notes),
        },
        notes,
      };
    } finally {
      poster.close();
    }
  },
};
