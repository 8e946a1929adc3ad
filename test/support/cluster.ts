import { postgresSkipReason, createTestSchema, type TestSchema } from './postgres.js';
import { REDIS_URL, connectRedis, deleteKeys, redisUnavailable, uniquePrefix } from './redis.js';
import { startServerProcess, stopServerProcess, type ServerProcess } from './server-process.js';
import { TEST_SECRET } from './tokens.js';

/** The API key every node of a test cluster accepts. */
export const CLUSTER_KEY = 'cluster-test-key-0123456789abcdef';

/**
 * Why a cluster cannot be started here (no Redis or no PostgreSQL), or undefined. Under CI
 * (`.ci/run` starts both) an absent service throws instead, so CI never skips.
 */
export async function clusterSkipReason(): Promise<string | undefined> {
  const postgres = await postgresSkipReason();
  if (postgres !== undefined) return postgres;
  const redis = await redisUnavailable();
  if (redis !== undefined && process.env.CI === 'true') throw new Error(`${redis} (CI must have Redis: .ci/run starts it)`);
  return redis;
}

export interface ClusterNode extends ServerProcess {
  nodeId: string;
}

export interface TestCluster {
  nodes: ClusterNode[];
  /** The Redis key prefix (REDIS_KEY_PREFIX) of this cluster only. */
  keyPrefix: string;
  schema: TestSchema;
  /** Starts one more node of this cluster (same Redis prefix, same schema). */
  addNode(env?: Record<string, string>): Promise<ClusterNode>;
  /** Stops every node still running (SIGTERM, each by its own pid), drops the schema and the Redis keys. */
  close(): Promise<void>;
}

/**
 * `count` real server processes (src/main.ts) joined through the machine's Redis, on one
 * PostgreSQL schema, each on a port of its own: a cluster nobody else's test can see (its
 * own REDIS_KEY_PREFIX and schema). `env` is added to every node's environment.
 */
export async function startCluster(label: string, count: number, env: Record<string, string> = {}): Promise<TestCluster> {
  const schema = await createTestSchema(label);
  const keyPrefix = uniquePrefix(label).replace(/:$/, '');
  const nodes: ClusterNode[] = [];
  const addNode = async (extra: Record<string, string> = {}) => {
    const nodeId = extra.NODE_ID ?? `node-${nodes.length + 1}`;
    const node = await startServerProcess({
      JWT_SECRET: TEST_SECRET,
      API_KEYS: CLUSTER_KEY,
      REDIS_URL,
      REDIS_KEY_PREFIX: keyPrefix,
      DATABASE_URL: schema.url,
      RATE_LIMIT_HTTP_PER_MINUTE: '1000000',
      NODE_ID: nodeId,
      ...env,
      ...extra,
    });
    const member = Object.assign(node, { nodeId });
    nodes.push(member);
    return member;
  };
  try {
    // Started together: the migrations run once, under PostgreSQL's advisory lock.
    await Promise.all(Array.from({ length: count }, (_unused, i) => addNode({ NODE_ID: `node-${i + 1}` })));
    nodes.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  } catch (err) {
    await Promise.all(nodes.map((node) => stopServerProcess(node, 'SIGKILL')));
    await schema.drop();
    throw err;
  }
  return {
    nodes,
    keyPrefix,
    schema,
    addNode,
    async close() {
      await Promise.all(nodes.map((node) => stopServerProcess(node, 'SIGTERM')));
      await schema.drop();
      const redis = await connectRedis();
      try {
        await deleteKeys(redis, `${keyPrefix}:`);
      } finally {
        redis.destroy();
      }
    },
  };
}
