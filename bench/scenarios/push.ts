import type { HttpLoadResult } from '../lib/protocol.js';
import { SECRETS } from '../lib/servers.js';
import { clusterDiagnostics, connectLists, cpuPerOperation, dealAcross, loadDiagnostics, measure, sumReceived, userIds, warmUp, type Scenario } from './kit.js';

/**
 * HTTP load on POST /api/push: autocannon (in a client process of its own when there are
 * two or more) cycles through N users, each with one connected socket that receives the
 * push in its user room. A cluster's nodes share autocannon's connections and the sockets
 * alike, so about (N-1)/N of the pushes go to a socket on another node.
 */
export const pushScenario: Scenario = {
  id: 'push',
  title: 'POST /api/push to one of N users (autocannon)',
  describe: (o) => `${o.pushUsers} users, autocannon ${o.httpConnections} connections, ${o.warmup} s warm-up + ${o.duration} s measured`,
  metrics: [
    { key: 'requestsPerSecond', label: 'requests/s', unit: '/s', better: 'higher', goal: { type: 'min-ratio', value: 0.8 } },
    { key: 'p99Ms', label: 'HTTP p99', unit: 'ms', better: 'lower', goal: { type: 'max-ratio', value: 1 / 0.8 } },
    { key: 'p50Ms', label: 'HTTP p50', unit: 'ms', better: 'lower' },
    { key: 'cpuPerRequest', label: 'server CPU per request', unit: 'µs', better: 'lower' },
  ],
  repetitions: (o) => o.reps,
  sockets: (o) => o.pushUsers,
  async run(ctx) {
    const { options, workers } = ctx;
    await warmUp(ctx);
    const loader = workers.size - 1;
    const receivers = workers.size > 1 ? Array.from({ length: workers.size - 1 }, (_, i) => i) : [0];
    const users = userIds('p', options.pushUsers);
    await connectLists(ctx, dealAcross(users, receivers.length), receivers);
    await workers.all({ cmd: 'track', events: ['bench:push'] });
    const bodies = users.map((userId) => JSON.stringify({ userId, event: 'bench:push', data: { title: 'Bench', orderId: 42, t: 0 } }));
    const load = (seconds: number) =>
      workers.call<HttpLoadResult>(loader, {
        cmd: 'http-load',
        urls: [...ctx.server.urls],
        path: '/api/push',
        apiKey: SECRETS.apiKey,
        bodies,
        connections: options.httpConnections,
        warmupSeconds: 0,
        durationSeconds: seconds,
      });
    // autocannon needs about a second to report anything: shorter warm-ups are skipped.
    if (options.warmup >= 1) await load(options.warmup);
    const measured = await measure(ctx, () => load(options.duration));
    await workers.all({ cmd: 'close-all', graceful: false });

    const result = measured.value;
    if (result.non2xx > 0 || result.requests === 0) {
      throw new Error(`POST /api/push answered ${result.non2xx} non-2xx of ${result.requests + result.non2xx} (errors ${result.errors})`);
    }
    const notes: string[] = [];
    const nodes = ctx.server.urls.length;
    if (options.httpConnections % nodes !== 0) notes.push(`${options.httpConnections} HTTP connections do not spread evenly over ${nodes} nodes`);
    const delivered = sumReceived(measured.clients, 'bench:push');
    // Deliveries of the last requests may land after the window closes: a few missing are expected, a node's share is not.
    if (delivered < result.requests * 0.95) notes.push(`only ${delivered} of ${result.requests} pushes reached their socket within the window`);
    return {
      metrics: {
        requestsPerSecond: result.requestsPerSecond,
        p99Ms: result.p99,
        p50Ms: result.p50,
        cpuPerRequest: cpuPerOperation(measured, result.requests),
      },
      diagnostics: {
        requests: result.requests,
        deliveredRatio: delivered / result.requests,
        httpErrors: result.errors,
        loadGeneratorCpuPercent: result.cpuPercent,
        ...clusterDiagnostics(measured, result.requests),
        ...loadDiagnostics(measured, notes),
      },
      notes,
    };
  },
};
