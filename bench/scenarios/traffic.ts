import { Histogram } from '../lib/histogram.js';
import type { SenderPair } from '../lib/protocol.js';
import {
  connectLists,
  cpuPerOperation,
  dealAcross,
  heapMiB,
  loadDiagnostics,
  measure,
  mergedLatency,
  sleep,
  sumReceived,
  warmUp,
  type RunContext,
  type Scenario,
} from './kit.js';

/**
 * Pairs of sockets, both ends in the same client process: the sender keeps --window
 * requests in flight and sends the next as soon as one is acknowledged; the receiver
 * counts what the server delivers to its user room.
 */
async function runPairs(ctx: RunContext, kind: 'relay' | 'chat', pairCount: number, prefix: string, event: string) {
  const { options, workers } = ctx;
  await warmUp(ctx);
  const pairs: SenderPair[] = Array.from({ length: pairCount }, (_, p) => ({ from: `${prefix}-${p}-a`, to: `${prefix}-${p}-b` }));
  const byWorker = dealAcross(pairs, workers.size);
  await connectLists(
    ctx,
    byWorker.map((list) => list.flatMap((pair) => [pair.from, pair.to])),
    byWorker.map((_, i) => i),
  );
  await workers.all({ cmd: 'track', events: [event] });
  await Promise.all(
    byWorker.map((senders, i) =>
      workers.call(i, { cmd: 'traffic-start', kind, senders, window: options.window, messageBytes: options.messageBytes }),
    ),
  );
  await sleep(options.warmup * 1000);
  const measured = await measure(ctx, () => sleep(options.duration * 1000));
  await workers.all({ cmd: 'traffic-stop' });
  const heapAfter = await heapMiB(ctx);
  await workers.all({ cmd: 'close-all', graceful: false });
  return { ...measured, heapAfter };
}

export const relayScenario: Scenario = {
  id: 'relay',
  title: 'client -> server -> user room (point to point)',
  describe: (o) => `${o.relayPairs} pairs, client:message with ack, ${o.window} in flight per sender, ${o.warmup} s warm-up + ${o.duration} s measured`,
  metrics: [
    { key: 'messagesPerSecond', label: 'messages/s', unit: '/s', better: 'higher', goal: { type: 'min-ratio', value: 0.8 } },
    { key: 'p99Ms', label: 'delivery p99', unit: 'ms', better: 'lower', goal: { type: 'max-ratio', value: 1 / 0.8 } },
    { key: 'p50Ms', label: 'delivery p50', unit: 'ms', better: 'lower' },
    { key: 'ackP99Ms', label: 'ack p99', unit: 'ms', better: 'lower' },
    { key: 'cpuPerMessage', label: 'server CPU per message', unit: 'µs', better: 'lower' },
  ],
  repetitions: (o) => o.reps,
  sockets: (o) => 2 * o.relayPairs,
  async run(ctx) {
    const measured = await runPairs(ctx, 'relay', ctx.options.relayPairs, 'r', 'client:message');
    const notes: string[] = [];
    const wallMs = Math.max(...measured.clients.map((c) => c.wallMs));
    const delivered = sumReceived(measured.clients, 'client:message');
    const ackErrors = measured.clients.reduce((sum, c) => sum + c.ackErrors, 0);
    if (ackErrors > 0) notes.push(`${ackErrors} client:message refused: ${measured.clients.flatMap((c) => c.errors).slice(0, 2).join('; ')}`);
    if (delivered === 0) throw new Error(`no client:message was delivered (${notes.join('; ') || 'no error seen'})`);
    const latency = mergedLatency(measured.clients, 'client:message');
    const acks = measured.clients.map((c) => c.ackLatency);
    return {
      metrics: {
        messagesPerSecond: (delivered / wallMs) * 1000,
        p99Ms: latency.percentile(99),
        p50Ms: latency.percentile(50),
        ackP99Ms: Histogram.from(acks).percentile(99),
        cpuPerMessage: cpuPerOperation(measured, delivered),
      },
      diagnostics: { ackErrors, heapAfterTrafficMiB: measured.heapAfter, ...loadDiagnostics(measured, notes) },
      notes,
    };
  },
};

export const durableScenario: Scenario = {
  id: 'durable',
  title: 'send_message with durable ack (reference: non-durable relay)',
  describe: (o) =>
    `${o.durableSessions} sessions, send_message with ack, ${o.window} in flight per sender, ${o.messageBytes}-byte text, ${o.warmup} s warm-up + ${o.duration} s measured`,
  metrics: [
    { key: 'messagesPerSecond', label: 'acked messages/s', unit: '/s', better: 'higher', goal: { type: 'min-ratio', value: 0.5 } },
    { key: 'ackP99Ms', label: 'ack p99', unit: 'ms', better: 'lower', goal: { type: 'max-ratio', value: 1 / 0.5 } },
    { key: 'ackP50Ms', label: 'ack p50', unit: 'ms', better: 'lower' },
    { key: 'cpuPerMessage', label: 'server CPU per message', unit: 'µs', better: 'lower' },
  ],
  repetitions: (o) => o.reps,
  sockets: (o) => 2 * o.durableSessions,
  async run(ctx) {
    const measured = await runPairs(ctx, 'chat', ctx.options.durableSessions, 'd', 'new_message');
    const notes: string[] = [];
    const wallMs = Math.max(...measured.clients.map((c) => c.wallMs));
    const acked = measured.clients.reduce((sum, c) => sum + c.acked, 0);
    const ackErrors = measured.clients.reduce((sum, c) => sum + c.ackErrors, 0);
    if (ackErrors > 0) notes.push(`${ackErrors} send_message refused: ${measured.clients.flatMap((c) => c.errors).slice(0, 2).join('; ')}`);
    if (acked - ackErrors <= 0) throw new Error(`no send_message was acknowledged (${notes.join('; ') || 'no error seen'})`);
    const acks = Histogram.from(measured.clients.map((c) => c.ackLatency));
    const delivered = sumReceived(measured.clients, 'new_message');
    return {
      metrics: {
        messagesPerSecond: ((acked - ackErrors) / wallMs) * 1000,
        ackP99Ms: acks.percentile(99),
        ackP50Ms: acks.percentile(50),
        cpuPerMessage: cpuPerOperation(measured, acked - ackErrors),
      },
      diagnostics: {
        ackErrors,
        deliveredPerSecond: (delivered / wallMs) * 1000,
        heapAfterTrafficMiB: measured.heapAfter,
        ...loadDiagnostics(measured, notes),
      },
      notes,
    };
  },
};
