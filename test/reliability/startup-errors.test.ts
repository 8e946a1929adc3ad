import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runServerProcessToExit, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * A server that cannot start says why once, in one line on stderr, with no stack trace,
 * and exits 1 (issue 10, item 18). Each case runs the real entry point (src/main.ts) in
 * its own process, the way `npm run dev` does.
 */

const STACK_FRAME = /^\s+at /m;

/** The one line an operator reads: stderr holds exactly it, and nothing looks like a stack. */
function expectOneLineRefusal(result: { code: number | null; stdout: string; stderr: string }): string {
  expect(result.code).toBe(1);
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
  expect(lines).toHaveLength(1);
  const [line = ''] = lines;
  expect(line).toMatch(/^cannot start: /);
  for (const output of [result.stdout, result.stderr]) {
    expect(output).not.toMatch(STACK_FRAME);
    expect(output).not.toMatch(/"stack"/);
  }
  return line;
}

const occurrences = (text: string, needle: string) => text.split(needle).length - 1;

/** Each case starts a process that compiles the server through tsx: seconds on a busy machine. */
const PROCESS_TIMEOUT_MS = 40_000;

describe('start-up errors', { timeout: PROCESS_TIMEOUT_MS }, () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'notify-startup-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names every bad setting in one line', async () => {
    const result = await runServerProcessToExit({ PORT: 'abc', MAX_BODY_BYTES: '1', CHAT_SESSIONS_DIR: path.join(dir, 'config') });
    const line = expectOneLineRefusal(result);
    expect(line).toContain('invalid configuration');
    expect(line).toContain('PORT:');
    expect(line).toContain('MAX_BODY_BYTES:');
    expect(result.stdout).toBe('');
  });

  describe('a second server on a CHAT_SESSIONS_DIR another one owns', () => {
    let first: ServerProcess;
    const owned = () => path.join(dir, 'owned');

    beforeAll(async () => {
      first = await startServerProcess({ CHAT_SESSIONS_DIR: owned() });
    }, PROCESS_TIMEOUT_MS);

    afterAll(async () => {
      const exited = new Promise((resolve) => first.child.once('exit', resolve));
      first.child.kill('SIGTERM');
      await exited;
    });

    it('is refused once, in one line, with the logs as a developer sees them (pretty)', async () => {
      const result = await runServerProcessToExit({ CHAT_SESSIONS_DIR: owned(), NODE_ENV: 'development', LOG_PRETTY: 'true' });
      const line = expectOneLineRefusal(result);
      expect(line).toContain(`owns CHAT_SESSIONS_DIR ${owned()}`);
      expect(line).toContain(`pid ${first.child.pid}`);
      expect(occurrences(result.stdout + result.stderr, 'owns CHAT_SESSIONS_DIR')).toBe(1);
      // The clean-up after the refusal does not bury the line under its routine info lines.
      expect(result.stdout).not.toContain('shutting down');
    });
  });

  describe('a port already in use', () => {
    let blocker: Server;
    let port: number;

    beforeAll(async () => {
      blocker = createServer();
      port = await new Promise<number>((resolve) => {
        blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port));
      });
    });

    afterAll(async () => {
      await new Promise((resolve) => blocker.close(resolve));
    });

    it('says which address is taken and leaves no lock behind', async () => {
      const data = path.join(dir, 'port-taken');
      const result = await runServerProcessToExit({ PORT: String(port), CHAT_SESSIONS_DIR: data });
      const line = expectOneLineRefusal(result);
      expect(line).toContain(`127.0.0.1:${port} is already in use`);
      // The store had opened (and locked its folder) before listen failed: it was released.
      expect(existsSync(data)).toBe(true);
      expect(existsSync(path.join(data, '.lock'))).toBe(false);
    });
  });
});
