import { connectEverywhere, cpuPerOperation, loadDiagnostics, measure, userIds, warmUp, type Scenario } from './kit.js';

/**
 * How fast new authenticated WebSocket clients get in: N handshakes (Engine.IO open,
 * Socket.IO CONNECT with a JWT, the server's answer), spread over the client processes,
 * each keeping --concurrency handshakes in flight.
 */
export const connectScenario: Scenario = {
  id: 'connect',
  title: 'connect authenticated clients (websocket)',
  describe: (o) => `${o.connectClients} sockets, ${o.workers} client processes x ${o.concurrency} handshakes in flight`,
  metrics: [
    { key: 'connectionsPerSecond', label: 'connections/s', unit: '/s', better: 'higher', goal: { type: 'min-ratio', value: 0.8 } },
    { key: 'connectP50Ms', label: 'handshake p50', unit: 'ms', better: 'lower' },
    { key: 'connectP99Ms', label: 'handshake p99', unit: 'ms', better: 'lower' },
    { key: 'cpuPerConnection', label: 'server CPU per connection', unit: 'µs', better: 'lower' },
  ],
  repetitions: (o) => o.reps,
  sockets: (o) => Math.max(o.connectClients, o.warmupConnections),
  async run(ctx) {
    await warmUp(ctx);
    const measured = await measure(ctx, () => connectEverywhere(ctx, userIds('c', ctx.options.connectClients)));
    await ctx.workers.all({ cmd: 'close-all', graceful: true });
    const notes: string[] = [];
    return {
      metrics: {
        connectionsPerSecond: measured.value.perSecond,
        connectP50Ms: measured.value.latency.percentile(50),
        connectP99Ms: measured.value.latency.percentile(99),
        cpuPerConnection: cpuPerOperation(measured, measured.value.connected),
      },
      diagnostics: { connected: measured.value.connected, ...loadDiagnostics(measured, notes) },
      notes,
    };
  },
};
