import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { startServerProcess, stopServerProcess, type ServerProcess } from '../../support/server-process.js';

/**
 * The temp dirs and the one server process a describe block owns. Call it in the describe
 * body: it registers an afterAll that SIGKILLs a process a failure left running (only that
 * one, by its pid) and removes the dirs.
 */
export function ownedServer() {
  const dirs: string[] = [];
  let running: ServerProcess | undefined;

  afterAll(async () => {
    if (running !== undefined) await stopServerProcess(running, 'SIGKILL');
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  return {
    async tempDir(prefix: string): Promise<string> {
      const dir = await mkdtemp(path.join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    /** Starts a server process; it replaces the one owned before, which must have exited. */
    async start(env: Record<string, string>): Promise<ServerProcess> {
      running = await startServerProcess(env);
      return running;
    },
    /** Sends `signal` to the owned process and resolves once it has exited. */
    async stop(signal: NodeJS.Signals): Promise<void> {
      if (running === undefined) return;
      const server = running;
      await stopServerProcess(server, signal);
      if (running === server) running = undefined;
    },
  };
}
