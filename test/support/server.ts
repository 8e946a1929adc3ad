import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config.js';
import { createServer, type AppServerHandle, type ServerOverrides } from '../../src/server.js';

export interface TestServer {
  server: AppServerHandle;
  config: Config;
  port: number;
  url: string;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * Starts the real server in-process on an ephemeral port with a fresh temporary data
 * directory. `env` is the environment the config is parsed from (NODE_ENV=test and
 * silent logs unless given).
 */
export async function startServer(env: Record<string, string> = {}, overrides: ServerOverrides = {}): Promise<TestServer> {
  return startServerOn(await mkdtemp(path.join(tmpdir(), 'notify-test-')), env, overrides);
}

/**
 * Closes `previous` gracefully, keeping its data directory, and starts a new server on that
 * directory, as a restart of the process would.
 */
export async function restartServer(previous: TestServer, env: Record<string, string> = {}, overrides: ServerOverrides = {}): Promise<TestServer> {
  await previous.server.close();
  return startServerOn(previous.dataDir, env, overrides);
}

async function startServerOn(dataDir: string, env: Record<string, string>, overrides: ServerOverrides): Promise<TestServer> {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', CHAT_SESSIONS_DIR: dataDir, ...env });
  const server = createServer(config, overrides);
  const port = await server.listen(0, '127.0.0.1');
  return {
    server,
    config,
    port,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
