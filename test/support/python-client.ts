import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Runs the Python clients of the wire-format tests: Debian's python3-socketio, a real
 * non-JavaScript Socket.IO client, driven by a script that prints one JSON line per thing
 * it saw.
 */

export const PYTHON_INSTALL_HINT = 'apt-get install python3-socketio python3-websocket';

/** One line a Python client printed. */
export interface WireLine {
  event?: string;
  argc?: number;
  payload?: unknown;
  error?: string;
  failed?: string;
  ready?: boolean;
  sessionId?: string;
  done?: boolean;
}

/** The first Python that can import socketio and websocket (Debian's packages serve /usr/bin/python3 only). */
export function findPython(): string | undefined {
  for (const candidate of [process.env.PYTHON, 'python3', '/usr/bin/python3']) {
    if (candidate === undefined || candidate === '') continue;
    const probe = spawnSync(candidate, ['-c', 'import socketio, websocket'], { stdio: 'ignore' });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

/**
 * Why the Python client tests cannot run here, or undefined. CI installs the package
 * (.ci/run): there a missing client throws, never skips.
 */
export function pythonSkipReason(python: string | undefined): string | undefined {
  if (python !== undefined) return undefined;
  if (process.env.CI === 'true') throw new Error(`python3-socketio is not importable in CI (${PYTHON_INSTALL_HINT})`);
  return `python3 with socketio and websocket not found (${PYTHON_INSTALL_HINT}, or set PYTHON)`;
}

/** Runs `script`; resolves each line as it comes, and on exit with the code and stderr. */
export function runPythonClient(python: string, script: string, env: Record<string, string>) {
  const child = spawn(python, [script], { env: { ...process.env, ...env, PYTHONUNBUFFERED: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: WireLine[] = [];
  const waiters: { test: (line: WireLine) => boolean; resolve: (line: WireLine) => void }[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  createInterface({ input: child.stdout }).on('line', (text) => {
    const line = JSON.parse(text) as WireLine;
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (!waiter.test(line)) continue;
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));

  /** The first line that passes `test`, already printed or still to come; fails if the client exits first. */
  const next = (what: string, test: (line: WireLine) => boolean): Promise<WireLine> => {
    const seen = lines.find(test);
    if (seen) return Promise.resolve(seen);
    return Promise.race([
      new Promise<WireLine>((resolve) => waiters.push({ test, resolve })),
      exited.then(({ code, stderr: err }) => {
        throw new Error(`the Python client exited (${code}) before ${what}; lines: ${JSON.stringify(lines)}; stderr: ${err}`);
      }),
    ]);
  };
  return { child, lines, exited, next, event: (name: string) => next(`"${name}"`, (line) => line.event === name) };
}
