import { cpuPerOperation, loadDiagnostics, measureHttpPosts, sumReceived, userIds, type Scenario } from './kit.js';

const EVENT = 'bench:batch';

/**
 * The same deliveries two ways (issue 14): ours takes them as POST /api/batch of
 * --batch-size pushes each, the reference as one POST /api/push per delivery, which is
 * all it has. Both cycle through the same N users, each with one connected socket, so
 * the figure that compares is deliveries per second (and server CPU per delivery), not
 * requests.
 */
export const batchScenario: Scenario = {
  id: 'batch',
  title: 'the same pushes as POST /api/batch (ours) and one POST /api/push each (reference)',
  describe: (o) =>
    `${o.pushUsers} users; ours: batches of ${o.batchSize} pushes, reference: one push per request; autocannon ${o.httpConnections} connections, ${o.warmup} s warm-up + ${o.duration} s measured`,
  metrics: [
    { key: 'deliveriesPerSecond', label: 'pushes delivered/s', unit: '/s', better: 'higher' },
    { key: 'cpuPerDelivery', label: 'server CPU per push', unit: 'µs', better: 'lower' },
    { key: 'requestsPerSecond', label: 'requests/s', unit: '/s', better: 'higher' },
    { key: 'p50Ms', label: 'HTTP p50 (a batch is one request)', unit: 'ms', better: 'lower' },
  ],
  repetitions: (o) => o.reps,
  sockets: (o) => o.pushUsers,
  async run(ctx) {
    const { options } = ctx;
    const users = userIds('b', options.pushUsers);
    const push = (userId: string) => ({ userId, event: EVENT, data: { title: 'Bench', orderId: 42, t: 0 } });
    const batched = ctx.kind === 'ours';
    const perRequest = batched ? options.batchSize : 1;
    // Batch i starts at user i * batchSize (mod N), so every user gets as many pushes.
    const bodies = batched
      ? users.map((_user, start) =>
          JSON.stringify({ items: Array.from({ length: perRequest }, (_unused, k) => ({ op: 'push', ...push(users[(start + k) % users.length]!) })) }),
        )
      : users.map((userId) => JSON.stringify(push(userId)));
    const measured = await measureHttpPosts(ctx, { users, event: EVENT, path: batched ? '/api/batch' : '/api/push', bodies });
    const result = measured.value;
    const deliveries = result.requests * perRequest;
    const delivered = sumReceived(measured.clients, EVENT);
    const notes: string[] = [];
    if (delivered < deliveries * 0.95) notes.push(`only ${delivered} of ${deliveries} pushes reached their socket within the window`);
    return {
      metrics: {
        deliveriesPerSecond: result.requestsPerSecond * perRequest,
        cpuPerDelivery: cpuPerOperation(measured, deliveries),
        requestsPerSecond: result.requestsPerSecond,
        p50Ms: result.p50,
      },
      diagnostics: {
        requests: result.requests,
        pushesPerRequest: perRequest,
        deliveredRatio: delivered / deliveries,
        httpErrors: result.errors,
        loadGeneratorCpuPercent: result.cpuPercent,
        ...loadDiagnostics(measured, notes),
      },
      notes,
    };
  },
};
