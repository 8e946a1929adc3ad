import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { InboxStoreObserver } from '../domain/inbox-store.js';
import type { IngestObserver } from '../domain/ingest.js';

/**
 * Prometheus metrics, one registry per server instance. Methods are named after what
 * happened; label values that come from clients (event names) are capped so a publisher
 * cannot grow the series count without bound.
 */
export interface Metrics {
  readonly registry: Registry;
  markConnection(labels: { authenticated: boolean; transport: string }): void;
  markDisconnection(): void;
  markDelivery(endpoint: string, event: string, recipients: number): void;
  markHttpRequest(labels: { method: string; route: string; status: number }, seconds: number): void;
  markRateLimited(scope: 'http' | 'ws_message' | 'ws_connection'): void;
  markSocketError(code: string): void;
  /** Exports the chat store's in-memory index size, read at each scrape. */
  watchChatIndex(read: () => { sessions: number; messages: number }): void;
  /** What the notification inbox store did, once durable; the composition root hands it to the store. */
  readonly inboxStore: InboxStoreObserver;
  /** A job transition was committed, to this state. */
  markJobTransition(to: string): void;
  /** What the stream ingest did with each entry, and whether its source is reachable. */
  readonly ingest: IngestObserver;
  /**
   * Cluster mode: exports cluster-wide gauges (live nodes, connections, users), read once
   * per scrape; NaN while the read fails (this node cannot reach Redis).
   */
  watchCluster(read: () => Promise<{ nodes: number; connections: number; users: number }>): void;
  /** A write of this node's presence to Redis failed (it is written whole again later); counted once watchCluster was called. */
  markClusterPresenceError(): void;
}

const MAX_EVENT_LABELS = 200;

export function createMetrics(options: { defaultMetrics?: boolean; nodeId?: string | undefined } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  if (options.nodeId !== undefined) {
    // An info metric, as Prometheus exporters name their target: join on `node` to tell
    // the nodes of a cluster apart without a label on every series.
    new Gauge({ name: 'node_info', help: 'This server process (NODE_ID); always 1', labelNames: ['node'], registers: [registry] }).set({ node: options.nodeId }, 1);
  }

  const activeConnections = new Gauge({
    name: 'socket_server_active_connections',
    help: 'Number of active socket connections',
    registers: [registry],
  });
  const connectionsTotal = new Counter({
    name: 'socket_server_connections_total',
    help: 'Total number of connections',
    labelNames: ['authenticated', 'transport'] as const,
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'socket_server_deliveries_total',
    help: 'Delivery requests by endpoint and event',
    labelNames: ['endpoint', 'event'] as const,
    registers: [registry],
  });
  const deliveredSockets = new Counter({
    name: 'socket_server_delivered_sockets_total',
    help: 'Sockets reached by deliveries, by endpoint',
    labelNames: ['endpoint'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'socket_server_rate_limited_total',
    help: 'Requests, socket events and connections refused by a rate limit',
    labelNames: ['scope'] as const,
    registers: [registry],
  });
  const socketErrors = new Counter({
    name: 'socket_server_socket_errors_total',
    help: 'Errors answered to sockets, by code',
    labelNames: ['code'] as const,
    registers: [registry],
  });

  const inboxNotifications = (name: string, help: string, labelNames: readonly string[] = []) =>
    new Counter({ name: `inbox_notifications_${name}_total`, help, labelNames, registers: [registry] });
  const inboxStored = inboxNotifications('stored', 'Notifications stored in inboxes');
  const inboxRead = inboxNotifications('read', 'Inbox notifications marked read');
  const inboxDeleted = inboxNotifications('deleted', 'Inbox notifications deleted by their owner');
  const inboxExpired = inboxNotifications('expired', 'Inbox notifications removed by retention: expired, or beyond INBOX_MAX_PER_USER (over_cap)', ['reason']);
  const inboxWriteDuration = new Histogram({
    name: 'inbox_store_write_duration_seconds',
    help: 'Time from an inbox write being asked until it was durable (or failed), group commit included',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });

  // Topic labels are the ingest's fixed topics: their number is bounded.
  const ingestEntries = new Counter({
    name: 'ingest_entries_total',
    help: 'Ingested stream entries by topic and outcome: stored, duplicate (handled before), rejected (malformed, acknowledged), failed (left pending, retried)',
    labelNames: ['topic', 'outcome'] as const,
    registers: [registry],
  });
  const ingestRejected = new Counter({
    name: 'ingest_rejected_entries_total',
    help: 'Ingested stream entries refused for good, by topic and reason',
    labelNames: ['topic', 'reason'] as const,
    registers: [registry],
  });
  const ingestConnected = new Gauge({
    name: 'ingest_source_connected',
    help: '1 while the ingest source (Redis) is reachable, 0 while it is not',
    registers: [registry],
  });

  const jobTransitions = new Counter({
    name: 'jobs_transitions_total',
    help: 'Job transitions committed, by the state they led to',
    labelNames: ['to'] as const,
    registers: [registry],
  });

  // Cluster mode only (watchCluster): one node's /metrics stays as it was.
  let clusterPresenceErrors: Counter | undefined;

  const seenEvents = new Set<string>();
  const eventLabel = (event: string) => {
    if (seenEvents.has(event)) return event;
    if (seenEvents.size >= MAX_EVENT_LABELS) return '_other';
    seenEvents.add(event);
    return event;
  };

  return {
    registry,
    markConnection({ authenticated, transport }) {
      activeConnections.inc();
      connectionsTotal.inc({ authenticated: String(authenticated), transport });
    },
    markDisconnection() {
      activeConnections.dec();
    },
    markDelivery(endpoint, event, recipients) {
      deliveries.inc({ endpoint, event: eventLabel(event) });
      deliveredSockets.inc({ endpoint }, recipients);
    },
    markHttpRequest({ method, route, status }, seconds) {
      httpDuration.observe({ method, route, status: String(status) }, seconds);
    },
    markRateLimited(scope) {
      rateLimited.inc({ scope });
    },
    markSocketError(code) {
      socketErrors.inc({ code });
    },
    inboxStore: {
      stored: (count) => inboxStored.inc(count),
      read: (count) => inboxRead.inc(count),
      deleted: (count) => inboxDeleted.inc(count),
      expired: (count, reason) => inboxExpired.inc({ reason }, count),
      writeLatency: (seconds) => inboxWriteDuration.observe(seconds),
    },
    ingest: {
      handled: (topic, outcome) => ingestEntries.inc({ topic, outcome }),
      rejected: (topic, reason) => ingestRejected.inc({ topic, reason }),
      connected: (up) => ingestConnected.set(up ? 1 : 0),
    },
    markJobTransition(to) {
      jobTransitions.inc({ to });
    },
    markClusterPresenceError() {
      clusterPresenceErrors?.inc();
    },
    watchCluster(read) {
      clusterPresenceErrors = new Counter({
        name: 'cluster_presence_write_errors_total',
        help: "Failed writes of this node's socket counts (or heartbeats) to Redis; each is followed by a whole rewrite",
        registers: [registry],
      });
      // The three gauges are collected together on a scrape: one read serves them all.
      let scrape: Promise<{ nodes: number; connections: number; users: number } | undefined> | undefined;
      const current = () => {
        scrape ??= read()
          .catch(() => undefined)
          .finally(() => setImmediate(() => (scrape = undefined)));
        return scrape;
      };
      const gauge = (name: string, help: string, pick: (totals: { nodes: number; connections: number; users: number }) => number) =>
        new Gauge({
          name,
          help,
          registers: [registry],
          async collect() {
            const totals = await current();
            this.set(totals === undefined ? Number.NaN : pick(totals));
          },
        });
      gauge('cluster_nodes', 'Live nodes of the cluster (heartbeat within 3 CLUSTER_HEARTBEAT_MS)', (t) => t.nodes);
      gauge('cluster_connections', 'Socket connections on all live nodes', (t) => t.connections);
      gauge('cluster_users', 'Distinct users with a socket on any live node', (t) => t.users);
    },
    watchChatIndex(read) {
      new Gauge({
        name: 'chat_store_indexed_sessions',
        help: 'Chat sessions whose message index is in memory',
        registers: [registry],
        collect() {
          this.set(read().sessions);
        },
      });
      new Gauge({
        name: 'chat_store_indexed_messages',
        help: 'Messages held in the in-memory chat indexes (bounded by CHAT_INDEX_MAX_MESSAGES)',
        registers: [registry],
        collect() {
          this.set(read().messages);
        },
      });
    },
  };
}
