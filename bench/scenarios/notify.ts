import { createPoster } from '../lib/http-client.js';
import { now } from '../lib/protocol.js';
import { SECRETS } from '../lib/servers.js';
import {
  clusterDiagnostics,
  connectEverywhere,
  cpuPerOperation,
  heapMiB,
  loadDiagnostics,
  measure,
  mergedLatency,
  sleep,
  sumReceived,
  userIds,
  warmUp,
  type RunContext,
  type Scenario,
} from './kit.js';

/**
 * Keeps POST /notify going with a bounded backlog: the next notification is posted only
 * while fewer than --notify-window notifications are still missing on some client (the
 * client processes report the lowest sequence number every socket has received). So the
 * server runs flat out, yet queues cannot grow without bound and the latency measured is
 * that of a saturated server, not of an ever-growing backlog.
 *
 * A cluster's nodes take the POSTs in turn, so each notification reaches the sockets of
 * the other nodes through the cluster.
 */
function startPublisher(ctx: RunContext) {
  const window = ctx.options.notifyWindow;
  const posters = ctx.server.urls.map((url) => createPoster(url, SECRETS.apiKey, window));
  const progress = new Map<number, number>();
  let seq = 0;
  let inFlight = 0;
  let running = true;
  let failures = 0;
  let lastFailure = '';
  let lastProgressAt = now();
  let stalled = false;
  const everywhere = () => (progress.size === 0 ? 0 : Math.min(...progress.values()));

  const pump = () => {
    while (running && inFlight < window && seq - everywhere() < window) {
      seq += 1;
      inFlight += 1;
      const body = { title: 'Bench', message: 'You have a new message', type: 'info', seq, t: now() };
      posters[seq % posters.length]!
        .post('/notify', body)
        .then(
          (status) => {
            if (status !== 200) {
              failures += 1;
              lastFailure = `HTTP ${status}`;
            }
          },
          (err: unknown) => {
            failures += 1;
            lastFailure = (err as Error).message;
          },
        )
        .finally(() => {
          inFlight -= 1;
          pump();
        });
    }
  };
  ctx.workers.onProgress((worker, received) => {
    progress.set(worker, received);
    lastProgressAt = now();
    pump();
  });
  const watchdog = setInterval(() => {
    if (seq > everywhere() && now() - lastProgressAt > 5000) {
      stalled = true;
      running = false;
    }
  }, 500);
  pump();

  return {
    async stop() {
      running = false;
      clearInterval(watchdog);
      for (let waited = 0; inFlight > 0 && waited < 10_000; waited += 20) await sleep(20);
      // Every connected socket must catch up with the last notification: one that does not
      // within 10 s (a node that never hears of the other nodes' notifications) makes the run fail.
      for (let waited = 0; failures === 0 && everywhere() < seq && waited < 10_000; waited += 20) await sleep(20);
      ctx.workers.onProgress(undefined);
      for (const poster of posters) poster.close();
      return { sent: seq, failures, lastFailure, stalled, lowestEverywhere: everywhere() };
    },
  };
}

export const notifyScenario: Scenario = {
  id: 'notify',
  title: 'POST /notify fan-out',
  describe: (o) =>
    `${o.notifyClients} clients, at most ${o.notifyWindow} notifications outstanding, ${o.warmup} s warm-up + ${o.duration} s measured`,
  metrics: [
    { key: 'deliveriesPerSecond', label: 'deliveries/s', unit: '/s', better: 'higher', goal: { type: 'min-ratio', value: 0.9 } },
    { key: 'p50Ms', label: 'end-to-end p50', unit: 'ms', better: 'lower', goal: { type: 'max-ratio', value: 1 / 0.9 } },
    { key: 'p99Ms', label: 'end-to-end p99', unit: 'ms', better: 'lower', goal: { type: 'max-ratio', value: 1 / 0.9 } },
    { key: 'cpuPerDelivery', label: 'server CPU per delivery', unit: 'µs', better: 'lower' },
  ],
  repetitions: (o) => o.reps,
  sockets: (o) => o.notifyClients,
  async run(ctx) {
    const { options } = ctx;
    await warmUp(ctx);
    await connectEverywhere(ctx, userIds('n', options.notifyClients));
    await ctx.workers.all({ cmd: 'track', events: ['notification'], sequenceEvent: 'notification' });
    const publisher = startPublisher(ctx);
    await sleep(options.warmup * 1000);
    const measured = await measure(ctx, () => sleep(options.duration * 1000));
    const published = await publisher.stop();
    if (published.failures === 0 && published.lowestEverywhere < published.sent) {
      throw new Error(`notification ${published.sent} (the last) had not reached every socket 10 s later: some socket's latest is ${published.lowestEverywhere}`);
    }
    const heapAfter = await heapMiB(ctx);
    await ctx.workers.all({ cmd: 'close-all', graceful: false });

    const notes: string[] = [];
    if (published.failures > 0) notes.push(`${published.failures} POST /notify failed (${published.lastFailure})`);
    if (published.stalled) notes.push('a client stopped receiving notifications for 5 s; the publisher stopped');
    const wallMs = Math.max(...measured.clients.map((c) => c.wallMs));
    const delivered = sumReceived(measured.clients, 'notification');
    if (delivered === 0) throw new Error(`no notification was delivered (${notes.join('; ') || 'no error seen'})`);
    const latency = mergedLatency(measured.clients, 'notification');
    return {
      metrics: {
        deliveriesPerSecond: (delivered / wallMs) * 1000,
        p50Ms: latency.percentile(50),
        p99Ms: latency.percentile(99),
        cpuPerDelivery: cpuPerOperation(measured, delivered),
      },
      diagnostics: {
        heapAfterTrafficMiB: heapAfter,
        notificationsPerSecond: (delivered / options.notifyClients / wallMs) * 1000,
        published: published.sent,
        publishFailures: published.failures,
        ...clusterDiagnostics(measured, delivered),
        ...loadDiagnostics(measured, notes),
      },
      notes,
    };
  },
};
