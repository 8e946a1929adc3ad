import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderHeapDiff } from '../lib/heap.js';
import { connectEverywhere, sleep, userIds, warmUp, type Scenario } from './kit.js';

/**
 * What one connected client costs the server: post-GC heap and RSS with N clients
 * connected, minus the same before they connected (after a warm-up), divided by N.
 */
export const memoryScenario: Scenario = {
  id: 'memory',
  title: 'memory per connected client',
  describe: (o) => `${o.memoryClients} sockets connected and idle; full GC before each reading`,
  metrics: [
    { key: 'heapPerConnection', label: 'heap per connection', unit: 'B', better: 'lower', goal: { type: 'max-ratio', value: 1.25 } },
    { key: 'rssPerConnection', label: 'RSS per connection', unit: 'B', better: 'lower', goal: { type: 'max-ratio', value: 1.25 } },
  ],
  repetitions: (o) => o.reps,
  sockets: (o) => o.memoryClients,
  async run(ctx) {
    await warmUp(ctx);
    await sleep(200);
    const snapshot = (stage: string) => ctx.server.heapSnapshot(path.join(ctx.runDir, `${ctx.label}-${stage}.heapsnapshot`));
    const snapshotBefore = ctx.options.heapSnapshot ? await snapshot('before') : undefined;
    const before = await ctx.server.memory();
    const clients = ctx.options.memoryClients;
    const connected = await connectEverywhere(ctx, userIds('m', clients));
    // Let the greetings flush and the handshake garbage become collectable.
    await sleep(ctx.options.smoke ? 100 : 1000);
    const after = await ctx.server.memory();
    const notes: string[] = [];
    if (snapshotBefore !== undefined) {
      const snapshotAfter = await snapshot('after');
      const diff = snapshotAfter.replace(/-after\.heapsnapshot$/, '-heap-diff.txt');
      writeFileSync(diff, renderHeapDiff(snapshotBefore, snapshotAfter, clients, `${ctx.label}: heap added by ${clients} connections`));
      notes.push(`heap snapshots and their difference: ${diff}`);
    }
    await ctx.workers.all({ cmd: 'close-all', graceful: false });
    return {
      metrics: {
        heapPerConnection: (after.heapUsed - before.heapUsed) / clients,
        rssPerConnection: (after.rss - before.rss) / clients,
      },
      diagnostics: {
        connected: connected.connected,
        heapBeforeMB: before.heapUsed / 2 ** 20,
        heapAfterMB: after.heapUsed / 2 ** 20,
        rssBeforeMB: before.rss / 2 ** 20,
        rssAfterMB: after.rss / 2 ** 20,
        externalPerConnection: (after.external - before.external) / clients,
      },
      notes,
    };
  },
};
