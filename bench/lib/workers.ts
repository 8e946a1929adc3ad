import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { WorkerCommand, WorkerEvent, WorkerReply } from './protocol.js';
import { spawnNode, stopChild } from './processes.js';
import { ROOT } from './servers.js';

/** Answers are typed by command; the worker module is the one source of these shapes. */
type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void };

/**
 * The client processes. Each is bench/clients/worker.ts run through tsx (a loader costs
 * only at start-up); commands and answers travel over IPC with structured clone.
 */
export class WorkerPool {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private progressHandler: ((worker: number, seq: number) => void) | undefined;

  private constructor(private readonly children: ChildProcess[]) {
    children.forEach((child, index) => {
      child.on('message', (message: WorkerReply | WorkerEvent) => {
        if ('event' in message) {
          if (message.event === 'progress') this.progressHandler?.(index, message.seq);
          return;
        }
        const waiting = this.pending.get(message.id);
        if (waiting === undefined) return;
        this.pending.delete(message.id);
        if (message.ok) waiting.resolve(message.result);
        else waiting.reject(new Error(`worker ${index}: ${message.error}`));
      });
      child.once('exit', (code, signal) => {
        for (const waiting of this.pending.values()) waiting.reject(new Error(`worker ${index} exited with ${code ?? signal}`));
        this.pending.clear();
      });
    });
  }

  static async start(count: number, options: { maxLifetimeMs: number; openFiles: number }): Promise<WorkerPool> {
    const script = path.join(ROOT, 'bench', 'clients', 'worker.ts');
    const children = Array.from({ length: count }, () =>
      spawnNode(['--import', import.meta.resolve('tsx'), script], {
        cwd: ROOT,
        env: { ...process.env, BENCH_MAX_LIFETIME_MS: String(options.maxLifetimeMs) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
        openFiles: options.openFiles,
      }),
    );
    await Promise.all(
      children.map(
        (child, index) =>
          new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`worker ${index} did not start`)), 30_000);
            child.once('exit', (code) => reject(new Error(`worker ${index} exited with ${code} while starting`)));
            child.on('message', (message: WorkerEvent) => {
              if ('event' in message && message.event === 'ready') {
                clearTimeout(timer);
                resolve();
              }
            });
          }),
      ),
    );
    return new WorkerPool(children);
  }

  get size(): number {
    return this.children.length;
  }

  call<T>(worker: number, command: WorkerCommand): Promise<T> {
    const child = this.children[worker];
    if (child === undefined) return Promise.reject(new Error(`no worker ${worker}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ ...command, id });
    });
  }

  all<T>(command: WorkerCommand): Promise<T[]> {
    return Promise.all(this.children.map((_, index) => this.call<T>(index, command)));
  }

  onProgress(handler: ((worker: number, seq: number) => void) | undefined): void {
    this.progressHandler = handler;
  }

  /** Closing IPC makes each worker exit; a worker that does not is killed. */
  async close(): Promise<void> {
    await Promise.all(
      this.children.map((child) => {
        const exited = stopChild(child, 5000);
        if (child.connected) child.disconnect();
        return exited;
      }),
    );
  }
}
