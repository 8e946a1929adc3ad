import { clusterDiagnostics, cpuPerOperation, loadDiagnostics, measureHttpPosts, sumReceived, userIds, type Scenario } from './kit.js';

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
    const { options } = ctx;
    const users = userIds('p', options.pushUsers);
    const bodies = users.map((userId) => JSON.stringify({ userId, event: 'bench:push', data: { title: 'Bench', orderId: 42, t: 0 } }));
    const measured = await measureHttpPosts(ctx, { users, event: 'bench:push', path: '/api/push', bodies });
    const result = measured.value;
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
