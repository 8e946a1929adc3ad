import { createPoster } from '../lib/http-client.js';
import { now, type SoakReport } from '../lib/protocol.js';
import { SECRETS } from '../lib/servers.js';
import { trendGrowthPercent } from '../lib/stats.js';
import { connectEverywhere, sleep, userIds, warmUp, type Scenario } from './kit.js';

interface Sample {
  /** Seconds since the traffic started. */
  t: number;
  heapUsed: number;
  rss: number;
}

/** Share of the run left out of the trend: the part where caches and buffers are still filling. */
const SETTLE_FRACTION = 0.2;

/**
 * Many clients held for a long time while some reconnect (half gracefully, half dropped
 * as on a lost network), relay messages to each other and receive broadcasts and pushes.
 * The server's heap is read after a full GC every --soak-sample seconds; the metric is
 * the least-squares trend of those readings over the run (after a settling fifth), in
 * percent of its starting value.
 */
export const soakScenario: Scenario = {
  id: 'soak',
  title: 'clients held with churn and traffic',
  describe: (o) =>
    `${o.soakClients} clients for ${o.soakDuration} s: ${o.soakChurn} reconnects/s (half dropped), ${o.soakRelay} client:message/s, ` +
    `${o.soakNotify} POST /notify/s, ${o.soakPush} POST /api/push/s; post-GC heap every ${o.soakSample} s, trend after the first ${SETTLE_FRACTION * 100}%`,
  metrics: [
    { key: 'heapGrowthPercent', label: 'post-GC heap trend', unit: '%', better: 'lower', goal: { type: 'max', value: 5 } },
    { key: 'rssGrowthPercent', label: 'RSS trend', unit: '%', better: 'lower' },
  ],
  repetitions: (o) => o.soakReps,
  sockets: (o) => o.soakClients,
  async run(ctx) {
    const { options, workers, server } = ctx;
    await warmUp(ctx);
    const ids = userIds('s', options.soakClients);
    await connectEverywhere(ctx, ids);
    await workers.all({ cmd: 'track', events: ['notification', 'bench:push', 'client:message'] });
    await workers.all({ cmd: 'window-start' });

    const started = now();
    const samples: Sample[] = [];
    const sample = async () => {
      const memory = await server.memory();
      samples.push({ t: (now() - started) / 1000, heapUsed: memory.heapUsed, rss: memory.rss });
    };
    await sample();
    if (ctx.profileFile !== undefined) await server.profileStart();
    await workers.all({
      cmd: 'soak-start',
      jwtSecret: SECRETS.jwtSecret,
      churnPerSecond: options.soakChurn / workers.size,
      relayPerSecond: options.soakRelay / workers.size,
      targets: ids,
      timeoutMs: 30_000,
    });

    const poster = createPoster(server.url, SECRETS.apiKey, 16);
    let posted = 0;
    let postFailures = 0;
    let notifyBudget = 0;
    let pushBudget = 0;
    const post = (path: string, body: unknown) => {
      posted += 1;
      poster.post(path, body).then(
        (status) => {
          if (status !== 200) postFailures += 1;
        },
        () => {
          postFailures += 1;
        },
      );
    };
    const traffic = setInterval(() => {
      notifyBudget += options.soakNotify / 10;
      pushBudget += options.soakPush / 10;
      for (; notifyBudget >= 1; notifyBudget -= 1) post('/notify', { title: 'Soak', message: 'broadcast', type: 'info', t: now() });
      for (; pushBudget >= 1; pushBudget -= 1) {
        const userId = ids[Math.floor(Math.random() * ids.length)];
        post('/api/push', { userId, event: 'bench:push', data: { title: 'Soak', t: now() } });
      }
    }, 100);

    const end = started + options.soakDuration * 1000;
    while (now() < end) {
      await sleep(Math.min(options.soakSample * 1000, Math.max(0, end - now())));
      await sample();
    }
    clearInterval(traffic);
    if (ctx.profileFile !== undefined) await server.profileStop(ctx.profileFile);
    const reports = await workers.all<SoakReport>({ cmd: 'soak-stop' });
    await sleep(200);
    poster.close();
    await workers.all({ cmd: 'close-all', graceful: false });

    const settled = samples.filter((s) => s.t >= options.soakDuration * SETTLE_FRACTION);
    const trend = (key: 'heapUsed' | 'rss') => trendGrowthPercent(settled.map((s) => ({ x: s.t, y: s[key] })));
    const received = (event: string) => reports.reduce((sum, r) => sum + (r.received[event] ?? 0), 0);
    const notes: string[] = [];
    const reconnectFailures = reports.reduce((sum, r) => sum + r.reconnectFailures, 0);
    if (reconnectFailures > 0) notes.push(`${reconnectFailures} reconnections failed: ${reports.flatMap((r) => r.errors).slice(0, 2).join('; ')}`);
    if (postFailures > 0) notes.push(`${postFailures} of ${posted} POSTs failed`);
    const first = samples[0]!;
    const last = samples[samples.length - 1]!;
    return {
      metrics: { heapGrowthPercent: trend('heapUsed'), rssGrowthPercent: trend('rss') },
      diagnostics: {
        samples: samples.length,
        heapFirstMB: first.heapUsed / 2 ** 20,
        heapLastMB: last.heapUsed / 2 ** 20,
        rssFirstMB: first.rss / 2 ** 20,
        rssLastMB: last.rss / 2 ** 20,
        churned: reports.reduce((sum, r) => sum + r.churned, 0),
        reconnectFailures,
        relaysSent: reports.reduce((sum, r) => sum + r.relaysSent, 0),
        relayErrors: reports.reduce((sum, r) => sum + r.relayErrors, 0),
        notificationsReceived: received('notification'),
        pushesReceived: received('bench:push'),
        relaysReceived: received('client:message'),
        posted,
        postFailures,
        connectedAtEnd: reports.reduce((sum, r) => sum + r.connected, 0),
      },
      notes,
      series: samples,
    };
  },
};
