import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * Every process the harness starts goes through here, so that all of them are killed if
 * the harness itself stops early (an exception, Ctrl-C). Each child also stops by itself:
 * servers and workers exit when their IPC channel closes or their lifetime runs out.
 */
const children = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping every benchmark process`);
      process.exit(130);
    });
  }
}

let softLimit: number | undefined;

/** The soft limit on open files (`ulimit -n`) that children inherit. */
export function openFileLimit(): number {
  if (softLimit === undefined) {
    try {
      softLimit = Number(execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
    } catch {
      softLimit = Number.NaN;
    }
    if (!Number.isFinite(softLimit)) softLimit = 1024;
  }
  return softLimit;
}

/**
 * Spawns `node args…`. When the process needs more descriptors than the inherited soft
 * limit, it is started through `sh -c 'ulimit -n N; exec node …'` (the hard limit bounds
 * N; a refusal is reported by the shell and the child fails to connect its sockets).
 */
export function spawnNode(args: string[], options: SpawnOptions & { openFiles?: number }): ChildProcess {
  hookExit();
  const { openFiles, ...spawnOptions } = options;
  const child =
    openFiles !== undefined && openFiles > openFileLimit()
      ? spawn('/bin/sh', ['-c', `ulimit -n ${Math.ceil(openFiles)} && exec "$0" "$@"`, process.execPath, ...args], spawnOptions)
      : spawn(process.execPath, args, spawnOptions);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Resolves with the exit code once `child` has exited; SIGTERM first, SIGKILL after `graceMs`. */
export function stopChild(child: ChildProcess, graceMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
