/**
 * Preloaded (`node --expose-gc --import …`) into both servers under test, identically, so
 * the orchestrator can read a server's memory after a full GC, its CPU time and its
 * event-loop utilization, and ask for a heap snapshot, over the IPC channel it was
 * spawned with. Neither server's code knows about it.
 *
 * It also makes sure the server never outlives the harness: it exits when the IPC channel
 * closes (the orchestrator died) or after BENCH_MAX_LIFETIME_MS.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { performance } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';

export type ProbeCommand =
  | { cmd: 'memory' }
  | { cmd: 'usage' }
  | { cmd: 'snapshot'; path: string }
  | { cmd: 'profile-start' }
  | { cmd: 'profile-stop'; path: string };

export interface ProbeMemory {
  heapUsed: number;
  heapTotal: number;
  rss: number;
  external: number;
  arrayBuffers: number;
}

export interface ProbeUsage {
  /** Microseconds of CPU since the process started. */
  cpuUser: number;
  cpuSystem: number;
  /** Cumulative event-loop idle and active milliseconds. */
  eluIdle: number;
  eluActive: number;
  /** performance.now() of the reading. */
  at: number;
}

const gc = (globalThis as { gc?: () => void }).gc;
// The first call loads Node's ELU code; done now, so that it never lands in a measured window.
performance.eventLoopUtilization();

async function fullGc(): Promise<void> {
  if (gc === undefined) return;
  // Twice, with a turn of the event loop between, so that finalizers and weak references settle.
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
}

let profiler: Session | undefined;
/** See startProfile. */
const PROFILE_SAMPLING_US = 200;

/** Posts an inspector command and resolves with its result. */
function post<T>(session: Session, method: string, params: object = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    session.post(method, params, (err, result) => (err ? reject(err) : resolve(result as T)));
  });
}

/**
 * CPU profiling of exactly the measured window (the way --cpu-prof does, but without
 * start-up and warm-up in the profile): the same V8 sampling profiler, sampling every
 * 200 us rather than V8's default 1 ms, so that a per-request cost of a few microseconds
 * shows above the sampling noise in a window of a few thousand requests.
 */
async function startProfile(): Promise<void> {
  profiler?.disconnect();
  profiler = new Session();
  profiler.connect();
  await post(profiler, 'Profiler.enable');
  await post(profiler, 'Profiler.setSamplingInterval', { interval: PROFILE_SAMPLING_US });
  await post(profiler, 'Profiler.start');
}

async function stopProfile(file: string): Promise<string> {
  if (profiler === undefined) throw new Error('no profile was started');
  const { profile } = await post<{ profile: unknown }>(profiler, 'Profiler.stop');
  profiler.disconnect();
  profiler = undefined;
  writeFileSync(file, JSON.stringify(profile));
  return file;
}

async function answer(command: ProbeCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'memory': {
      await fullGc();
      const { heapUsed, heapTotal, rss, external, arrayBuffers } = process.memoryUsage();
      return { heapUsed, heapTotal, rss, external, arrayBuffers } satisfies ProbeMemory;
    }
    case 'usage': {
      const cpu = process.cpuUsage();
      const elu = performance.eventLoopUtilization();
      return { cpuUser: cpu.user, cpuSystem: cpu.system, eluIdle: elu.idle, eluActive: elu.active, at: performance.now() } satisfies ProbeUsage;
    }
    case 'snapshot':
      await fullGc();
      return { path: writeHeapSnapshot(command.path) };
    case 'profile-start':
      await startProfile();
      return { started: true };
    case 'profile-stop':
      return { path: await stopProfile(command.path) };
  }
}

if (process.send !== undefined) {
  process.on('message', (message: ProbeCommand & { probeId: number }) => {
    if (typeof message !== 'object' || message === null || typeof message.probeId !== 'number') return;
    answer(message).then(
      (result) => process.send?.({ probeId: message.probeId, ok: true, result }),
      (err: unknown) => process.send?.({ probeId: message.probeId, ok: false, error: String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  // The channel must not keep a server alive that is otherwise done (SIGTERM handling exits anyway).
  process.channel?.unref();
}

const lifetime = Number(process.env.BENCH_MAX_LIFETIME_MS ?? 0);
if (lifetime > 0) setTimeout(() => process.exit(3), lifetime).unref();
