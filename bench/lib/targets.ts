import { startCluster } from './cluster.js';
import type { BenchOptions } from './options.js';
import { startServer, type PreparedServers, type RunningServer, type ServerKind, type StartOptions } from './servers.js';

/** One thing measured: a server kind as one process or as a cluster of `nodes`. */
export interface Target {
  /** `ours` and `reference` for single processes (as before --nodes), `ours-2nodes` and so on for clusters. */
  id: string;
  kind: ServerKind;
  nodes: number;
}

export const targetId = (kind: ServerKind, nodes: number) => (nodes === 1 ? kind : `${kind}-${nodes}nodes`);

/**
 * Without --nodes: ours and the reference, one process each. With --nodes N: ours as one
 * node (the baseline a cluster is compared with), ours as N nodes and the reference as N
 * nodes (a bare reference would compare a cluster with a single process).
 */
export function targetsFor(options: Pick<BenchOptions, 'servers' | 'nodes'>): Target[] {
  const n = options.nodes;
  const all: Target[] =
    n === 1
      ? options.servers.map((kind) => ({ id: targetId(kind, 1), kind, nodes: 1 }))
      : [
          { id: targetId('ours', 1), kind: 'ours', nodes: 1 },
          { id: targetId('ours', n), kind: 'ours', nodes: n },
          { id: targetId('reference', n), kind: 'reference', nodes: n },
        ];
  return all.filter((target) => options.servers.includes(target.kind));
}

export function startTarget(target: Target, prepared: PreparedServers, options: StartOptions): Promise<RunningServer> {
  return target.nodes === 1 ? startServer(target.kind, prepared, options) : startCluster(target.kind, prepared, { ...options, nodes: target.nodes });
}
