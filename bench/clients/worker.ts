/**
 * A client load-generator process. The orchestrator forks a few of these (never in the
 * server's process) and drives them over IPC with the commands of bench/lib/protocol.ts:
 * connect sockets, count and time deliveries, run closed-loop senders, churn, HTTP load.
 *
 * It stops by itself when the orchestrator goes away (IPC disconnect) or after
 * BENCH_MAX_LIFETIME_MS, whichever comes first.
 */
import autocannon from 'autocannon';
import jwt from 'jsonwebtoken';
import { Histogram } from '../lib/histogram.js';
import {
  now,
  type ConnectCommand,
  type ConnectResult,
  type HttpLoadCommand,
  type HttpLoadResult,
  type SoakReport,
  type SoakStartCommand,
  type StatusReport,
  type TrafficStartCommand,
  type WindowReport,
  type WorkerCommand,
  type WorkerEvent,
  type WorkerReply,
  type WorkerRequest,
} from '../lib/protocol.js';
import { LiteSocket, numberAfter } from './lite-socket.js';

interface Client {
  userId: string;
  token: string;
  /** The node this client connects (and reconnects) to. */
  url: string;
  socket: LiteSocket;
  lastSeq: number;
  /** Set while this worker closes the socket on purpose, so it is not counted as a drop. */
  closing: boolean;
}

const MAX_ERRORS_KEPT = 5;

const clients: Client[] = [];
const byUser = new Map<string, Client>();
let handshakeTimeoutMs = 20_000;

// What is counted between window-start and window-stop.
const tracked = new Set<string>();
let sequenceEvent: string | undefined;
let received: Record<string, number> = {};
let latency: Record<string, Histogram> = {};
let ackLatency = new Histogram();
let sent = 0;
let acked = 0;
let ackErrors = 0;
let disconnects = 0;
let errors: string[] = [];
let windowStart = { at: now(), cpu: process.cpuUsage(), elu: performance.eventLoopUtilization() };

const noteError = (message: string) => {
  if (errors.length < MAX_ERRORS_KEPT) errors.push(message.slice(0, 300));
};

const send = (message: WorkerReply | WorkerEvent) => process.send?.(message);

function signToken(userId: string, secret: string): string {
  return jwt.sign({ userId }, secret, { algorithm: 'HS256', expiresIn: 3600 });
}

function onEvent(client: Client, raw: string): void {
  if (tracked.size === 0) return;
  // 42["name",…]
  const name = raw.slice(4, raw.indexOf('"', 4));
  if (!tracked.has(name)) return;
  received[name] = (received[name] ?? 0) + 1;
  const sentAt = numberAfter(raw, '"t":');
  if (Number.isFinite(sentAt)) (latency[name] ??= new Histogram()).record(now() - sentAt);
  if (name === sequenceEvent) {
    const seq = numberAfter(raw, '"seq":');
    if (seq > client.lastSeq) client.lastSeq = seq;
  }
}

/** Gives `client` a new, not yet connected socket for its user, wired to the counters. */
function openSocket(client: Pick<Client, 'userId' | 'token' | 'url'> & Partial<Client>): Client {
  const socket = new LiteSocket({ url: client.url, auth: { token: client.token, userId: client.userId }, timeoutMs: handshakeTimeoutMs });
  const wired = Object.assign(client, { socket, lastSeq: client.lastSeq ?? 0, closing: false }) as Client;
  socket.onEvent = (raw) => onEvent(wired, raw);
  socket.onClose = (reason) => {
    // A socket this worker replaced or closed on purpose is not a drop.
    if (wired.socket !== socket || wired.closing) return;
    disconnects += 1;
    noteError(`${wired.userId} disconnected: ${reason}`);
  };
  return wired;
}

/**
 * Starts listening for the first `event` on a socket that is not yet connected: the server
 * may send it in the same read as the CONNECT answer, before an await after connect() runs.
 */
function firstEvent(client: Client, event: string): (timeoutMs: number) => Promise<string> {
  const prefix = `42["${event}"`;
  const counting = client.socket.onEvent;
  let arrived: string | undefined;
  let waiter: ((raw: string) => void) | undefined;
  client.socket.onEvent = (raw) => {
    counting?.(raw);
    if (arrived === undefined && raw.startsWith(prefix)) {
      arrived = raw;
      client.socket.onEvent = counting;
      waiter?.(raw);
    }
  };
  return (timeoutMs) =>
    new Promise<string>((resolve, reject) => {
      if (arrived !== undefined) return resolve(arrived);
      const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms of connecting`)), timeoutMs);
      waiter = (raw) => {
        clearTimeout(timer);
        resolve(raw);
      };
    });
}

async function connect(cmd: ConnectCommand): Promise<ConnectResult> {
  handshakeTimeoutMs = cmd.timeoutMs;
  // Tokens are signed before the clock starts: signing is the backend's cost, not the server's.
  const pending = cmd.userIds.map((userId, k) => ({ userId, token: signToken(userId, cmd.jwtSecret), url: cmd.urls[k % cmd.urls.length]! }));
  const histogram = new Histogram();
  const byWaited = new Map<number, Histogram>();
  const failures: string[] = [];
  let connected = 0;
  let failed = 0;
  let next = 0;
  const startedAt = now();
  const one = async () => {
    while (next < pending.length) {
      const { userId, token, url } = pending[next++]!;
      const client = openSocket({ userId, token, url });
      const waited = cmd.waitFor !== undefined ? firstEvent(client, cmd.waitFor.event) : undefined;
      const t0 = now();
      try {
        await client.socket.connect();
        const value =
          waited !== undefined && cmd.waitFor !== undefined ? numberAfter(await waited(cmd.timeoutMs - (now() - t0)), cmd.waitFor.numberKey) : undefined;
        const ms = now() - t0;
        histogram.record(ms);
        if (value !== undefined) {
          let group = byWaited.get(value);
          if (group === undefined) byWaited.set(value, (group = new Histogram()));
          group.record(ms);
        }
        connected += 1;
        clients.push(client);
        byUser.set(userId, client);
      } catch (err) {
        failed += 1;
        if (failures.length < MAX_ERRORS_KEPT) failures.push(`${userId}: ${(err as Error).message}`);
        // Connected but the awaited event never came: not kept, so not left open either.
        client.closing = true;
        client.socket.terminate();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(cmd.concurrency, pending.length)) }, one));
  return {
    connected,
    failed,
    errors: failures,
    startedAt,
    endedAt: now(),
    latency: histogram.toJSON(),
    latencyByWaited: Object.fromEntries([...byWaited].map(([value, group]) => [String(value), group.toJSON()])),
  };
}

let progressTimer: NodeJS.Timeout | undefined;
let lastProgress = -1;

function reportProgress(): void {
  let lowest = Number.POSITIVE_INFINITY;
  for (const client of clients) if (client.socket.connected && client.lastSeq < lowest) lowest = client.lastSeq;
  if (Number.isFinite(lowest) && lowest !== lastProgress) {
    lastProgress = lowest;
    send({ event: 'progress', seq: lowest });
  }
}

function track(events: string[], sequence: string | undefined): void {
  tracked.clear();
  for (const event of events) tracked.add(event);
  sequenceEvent = sequence;
  clearInterval(progressTimer);
  progressTimer = undefined;
  if (sequence !== undefined) {
    for (const client of clients) client.lastSeq = 0;
    lastProgress = -1;
    progressTimer = setInterval(reportProgress, 5);
  }
}

function startWindow(): void {
  received = {};
  latency = {};
  ackLatency = new Histogram();
  sent = 0;
  acked = 0;
  ackErrors = 0;
  disconnects = 0;
  errors = [];
  windowStart = { at: now(), cpu: process.cpuUsage(), elu: performance.eventLoopUtilization() };
}

function stopWindow(): WindowReport {
  const wallMs = now() - windowStart.at;
  const cpu = process.cpuUsage(windowStart.cpu);
  return {
    wallMs,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    elu: performance.eventLoopUtilization(windowStart.elu).utilization,
    received: { ...received },
    latency: Object.fromEntries(Object.entries(latency).map(([name, histogram]) => [name, histogram.toJSON()])),
    sent,
    acked,
    ackErrors,
    ackLatency: ackLatency.toJSON(),
    disconnects,
    errors: [...errors],
  };
}

let trafficRunning = false;
let loops: Promise<void>[] = [];

async function sendLoop(client: Client, event: string, build: (sentAt: number) => unknown): Promise<void> {
  while (trafficRunning && client.socket.connected) {
    const sentAt = now();
    sent += 1;
    try {
      const reply = await client.socket.emitWithAck(event, build(sentAt));
      acked += 1;
      ackLatency.record(now() - sentAt);
      if (reply.includes('"success":false')) {
        ackErrors += 1;
        noteError(`${event} refused: ${reply}`);
      }
    } catch (err) {
      ackErrors += 1;
      noteError(`${event}: ${(err as Error).message}`);
    }
  }
}

async function startTraffic(cmd: TrafficStartCommand): Promise<{ senders: number }> {
  const text = 'x'.repeat(Math.max(1, cmd.messageBytes));
  const senders = cmd.senders.map(({ from, to }) => {
    const client = byUser.get(from);
    if (client === undefined) throw new Error(`no socket for sender ${from}`);
    return { client, to };
  });
  const plans = await Promise.all(
    senders.map(async ({ client, to }) => {
      if (cmd.kind === 'relay') {
        return { client, event: 'client:message', build: (t: number) => ({ content: text, metadata: { to, t } }) };
      }
      const reply = await client.socket.emitWithAck('create_chat_session', { machineId: 'bench', receiverUserId: to });
      const sessionId = (JSON.parse(reply) as [{ sessionId?: string }])[0]?.sessionId;
      if (typeof sessionId !== 'string') throw new Error(`create_chat_session failed: ${reply.slice(0, 300)}`);
      return { client, event: 'send_message', build: () => ({ sessionId, receiverUserId: to, message: text }) };
    }),
  );
  trafficRunning = true;
  loops = [];
  for (const plan of plans) {
    for (let i = 0; i < cmd.window; i++) loops.push(sendLoop(plan.client, plan.event, plan.build));
  }
  return { senders: plans.length };
}

async function stopTraffic(): Promise<{ stopped: boolean }> {
  trafficRunning = false;
  const all = Promise.all(loops).then(() => true);
  const stopped = await Promise.race([all, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000))]);
  loops = [];
  return { stopped };
}

let soakTimer: NodeJS.Timeout | undefined;
let soak: SoakReport = { churned: 0, reconnectFailures: 0, relaysSent: 0, relayErrors: 0, received: {}, connected: 0, errors: [] };
const reconnecting = new Set<Promise<void>>();

function startSoak(cmd: SoakStartCommand): { sockets: number } {
  handshakeTimeoutMs = cmd.timeoutMs;
  soak = { churned: 0, reconnectFailures: 0, relaysSent: 0, relayErrors: 0, received: {}, connected: 0, errors: [] };
  let churnBudget = 0;
  let relayBudget = 0;
  let abrupt = false;
  const down: Client[] = [];
  const pick = () => clients[Math.floor(Math.random() * clients.length)];

  const reopen = (client: Client) => {
    const attempt = openSocket(client)
      .socket.connect()
      .catch((err: unknown) => {
        soak.reconnectFailures += 1;
        if (soak.errors.length < MAX_ERRORS_KEPT) soak.errors.push(`reconnect ${client.userId}: ${(err as Error).message}`);
        down.push(client);
      })
      .finally(() => reconnecting.delete(attempt));
    reconnecting.add(attempt);
  };

  soakTimer = setInterval(() => {
    // Sockets whose reconnection failed are retried first, one tick later.
    for (const client of down.splice(0)) reopen(client);
    churnBudget += cmd.churnPerSecond / 10;
    while (churnBudget >= 1 && clients.length > 0) {
      churnBudget -= 1;
      const client = pick()!;
      if (!client.socket.connected) continue;
      client.closing = true;
      // Half leave the way socket.io-client's disconnect() does, half vanish as on a lost network.
      if (abrupt) client.socket.terminate();
      else client.socket.disconnect();
      abrupt = !abrupt;
      soak.churned += 1;
      reopen(client);
    }
    relayBudget += cmd.relayPerSecond / 10;
    while (relayBudget >= 1 && clients.length > 0 && cmd.targets.length > 0) {
      relayBudget -= 1;
      const client = pick()!;
      if (!client.socket.connected) continue;
      const to = cmd.targets[Math.floor(Math.random() * cmd.targets.length)]!;
      soak.relaysSent += 1;
      client.socket.emitWithAck('client:message', { content: 'soak', metadata: { to, t: now() } }).then(
        (reply) => {
          if (reply.includes('"success":false')) soak.relayErrors += 1;
        },
        () => {
          soak.relayErrors += 1;
        },
      );
    }
  }, 100);
  return { sockets: clients.length };
}

async function stopSoak(): Promise<SoakReport> {
  clearInterval(soakTimer);
  soakTimer = undefined;
  await Promise.race([Promise.all([...reconnecting]), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  soak.received = { ...received };
  soak.connected = clients.filter((client) => client.socket.connected).length;
  return soak;
}

async function closeAll(graceful: boolean): Promise<{ closed: number }> {
  track([], undefined);
  const closing = clients.splice(0);
  byUser.clear();
  await Promise.race([
    Promise.all(
      closing.map(
        (client) =>
          new Promise<void>((resolve) => {
            client.closing = true;
            if (!client.socket.connected) return resolve();
            client.socket.onClose = () => resolve();
            if (graceful) client.socket.disconnect();
            else client.socket.terminate();
          }),
      ),
    ),
    new Promise((resolve) => setTimeout(resolve, 10_000)),
  ]);
  return { closed: closing.length };
}

async function httpLoad(cmd: HttpLoadCommand): Promise<HttpLoadResult> {
  let next = 0;
  const run = (duration: number) =>
    autocannon({
      // autocannon takes a list too (connection i goes to url i % length); its types say string only.
      url: cmd.urls.length === 1 ? cmd.urls[0]! : (cmd.urls as unknown as string),
      connections: cmd.connections,
      duration,
      requests: [
        {
          method: 'POST',
          path: cmd.path,
          headers: { 'content-type': 'application/json', 'x-api-key': cmd.apiKey },
          setupRequest: (request) => ({ ...request, body: cmd.bodies[next++ % cmd.bodies.length]!.replace('"t":0', `"t":${now()}`) }),
        },
      ],
    });
  if (cmd.warmupSeconds > 0) await run(cmd.warmupSeconds);
  const cpu = process.cpuUsage();
  const started = now();
  const result = await run(cmd.durationSeconds);
  const used = process.cpuUsage(cpu);
  return {
    requests: result['2xx'],
    requestsPerSecond: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationSeconds: result.duration,
    cpuPercent: ((used.user + used.system) / 1000 / (now() - started)) * 100,
  };
}

function status(): StatusReport {
  return { sockets: clients.length, connected: clients.filter((c) => c.socket.connected).length, rssBytes: process.memoryUsage.rss() };
}

async function dispatch(command: WorkerCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'connect':
      return connect(command);
    case 'track':
      track(command.events, command.sequenceEvent);
      return { tracking: command.events };
    case 'window-start':
      startWindow();
      return { started: true };
    case 'window-stop':
      return stopWindow();
    case 'traffic-start':
      return startTraffic(command);
    case 'traffic-stop':
      return stopTraffic();
    case 'soak-start':
      return startSoak(command);
    case 'soak-stop':
      return stopSoak();
    case 'close-all':
      return closeAll(command.graceful);
    case 'http-load':
      return httpLoad(command);
    case 'status':
      return status();
  }
}

process.on('message', (message: WorkerRequest) => {
  dispatch(message).then(
    (result) => send({ id: message.id, ok: true, result }),
    (err: unknown) => send({ id: message.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
// Never outlive the orchestrator, and never run unbounded.
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(2), Number(process.env.BENCH_MAX_LIFETIME_MS ?? 3_600_000)).unref();
send({ event: 'ready' });
