import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createClient } from 'redis';
import { eventually } from './eventually.js';
import { closedPort } from './tcp-proxy.js';

/**
 * A redis-server of one test's own, on a free loopback port, for outages: the test kills
 * and restarts this process (by its pid), never the machine's shared Redis.
 */
export interface OwnRedis {
  readonly port: number;
  readonly url: string;
  /** SIGKILLs the server (no persistence: it comes back empty). */
  kill(): Promise<void>;
  /** Starts it again on the same port and resolves once it answers PING. */
  restart(): Promise<void>;
  /** SIGSTOP: Redis stops answering but keeps its connections open (a frozen server). */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
}

/** Why no redis-server can be started here, or undefined; under CI its absence fails instead. */
export function redisServerMissing(): string | undefined {
  if (spawnSync('redis-server', ['--version']).status === 0) return undefined;
  if (process.env.CI === 'true') throw new Error('redis-server is not installed (.ci/run installs it)');
  return 'redis-server is not installed (apt-get install redis-server)';
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await closedPort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await eventually(async () => {
      const probe = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 500 } });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        return true;
      } catch {
        return false;
      } finally {
        if (probe.isOpen) probe.destroy();
      }
    }, `redis-server on port ${port} answers`);
  };
  await start();

  return {
    port,
    url,
    kill: () =>
      new Promise<void>((resolve) => {
        const running = child;
        if (running === undefined || running.exitCode !== null || running.signalCode !== null) return resolve();
        running.once('exit', () => resolve());
        running.kill('SIGKILL');
      }),
    restart: start,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
  };
}
