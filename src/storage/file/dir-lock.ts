import { randomBytes } from 'node:crypto';
import { open, readFile, readlink, symlink, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from '../../observability/logger.js';
import { writeFully } from './atomic-file.js';
import { errnoCode } from './fs-errors.js';

/*
 * Why not proper-lockfile: it decides staleness by the lock's mtime, which its owner keeps
 * touching, so after a crash (SIGKILL, OOM kill) a restarted server is refused until the
 * stale period has passed. Here the lock names its owner (host, pid, the pid's start time
 * and the boot), and a lock whose owner is provably gone is taken over at once; a live
 * owner is refused for as long as it lives.
 *
 * The lock is a symbolic link whose target is the owner record: creating it is atomic and
 * exclusive like O_CREAT|O_EXCL, but the content exists from the first instant (no window
 * where another process reads an empty lock) and a short link needs no data block, so a
 * server can still restart on a full disk. Where symbolic links are refused (Windows
 * without the privilege, some mounted filesystems) a regular file created with O_EXCL
 * holds the same record (that form has a short window between create and write in which
 * a starting server would see an unreadable lock and treat it as stale).
 */

export const LOCK_FILE = '.lock';

export interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
  /** Identifies this acquisition, so release never removes someone else's lock. */
  token: string;
  /** Start time of `pid` in clock ticks since boot (Linux): tells a reused pid apart. */
  procStart?: number | undefined;
  /** Prefix of the kernel boot id (Linux): a lock from before a reboot is stale. */
  boot?: string | undefined;
}

export interface DirLock {
  readonly owner: LockOwner;
  /** Removes the lock if it is still this one. */
  release(): Promise<void>;
}

export function encodeLockOwner(owner: LockOwner): string {
  return JSON.stringify(owner);
}

function decodeLockOwner(text: string): LockOwner | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { pid, host, startedAt, token, procStart, boot } = value as Record<string, unknown>;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  if (typeof host !== 'string' || typeof startedAt !== 'string' || typeof token !== 'string') return undefined;
  return {
    pid,
    host,
    startedAt,
    token,
    procStart: typeof procStart === 'number' ? procStart : undefined,
    boot: typeof boot === 'string' ? boot : undefined,
  };
}

/** Start time of a process in clock ticks since boot, from /proc; undefined where unknown. */
async function processStartTicks(pid: number): Promise<number | undefined> {
  if (process.platform !== 'linux') return undefined;
  // Unreadable (the process just exited, /proc mounted with hidepid): the pid check alone decides.
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  // Fields after "(comm)": state is field 3, starttime field 22.
  const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}

async function bootIdPrefix(): Promise<string | undefined> {
  if (process.platform !== 'linux') return undefined;
  // Unreadable in some sandboxes: then reboots are not detected, only dead pids.
  const id = await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => undefined);
  return id?.trim().slice(0, 8) || undefined;
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return errnoCode(err) === 'EPERM';
  }
}

type Verdict = { stale: false } | { stale: true; reason: string };

async function judge(owner: LockOwner, self: LockOwner): Promise<Verdict> {
  // Another host's processes cannot be checked from here.
  if (owner.host !== self.host) return { stale: false };
  if (owner.boot !== undefined && self.boot !== undefined && owner.boot !== self.boot) {
    return { stale: true, reason: 'the machine has restarted since the lock was taken' };
  }
  if (!isProcessAlive(owner.pid)) return { stale: true, reason: 'its process is gone' };
  if (owner.procStart !== undefined) {
    const current = await processStartTicks(owner.pid);
    if (current !== undefined && current !== owner.procStart) {
      return { stale: true, reason: 'its pid now belongs to another process' };
    }
  }
  return { stale: false };
}

const SYMLINK_REFUSED = new Set(['EPERM', 'ENOSYS', 'ENOTSUP', 'EOPNOTSUPP']);

async function createLock(lockPath: string, text: string): Promise<void> {
  try {
    await symlink(text, lockPath);
    return;
  } catch (err) {
    if (!SYMLINK_REFUSED.has(errnoCode(err) ?? '')) throw err;
  }
  const handle = await open(lockPath, 'wx', 0o644);
  try {
    await writeFully(handle, Buffer.from(text, 'utf8'), 0);
    await handle.sync();
    await handle.close();
  } catch (err) {
    // The write error is the one worth reporting; a close error after it adds nothing.
    await handle.close().catch(() => undefined);
    await unlink(lockPath);
    throw err;
  }
}

/** The owner record of an existing lock: null when it vanished, undefined when unreadable. */
async function readLock(lockPath: string): Promise<LockOwner | null | undefined> {
  try {
    return decodeLockOwner(await readlink(lockPath));
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return null;
    if (code !== 'EINVAL') throw err;
  }
  // EINVAL: not a symbolic link, so the regular-file form.
  try {
    return decodeLockOwner(await readFile(lockPath, 'utf8'));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Makes this process the only owner of `dir` (CHAT_SESSIONS_DIR). Refuses with an Error
 * naming the owner when another live server process holds it; takes over, with a warning,
 * a lock left by a process that is gone.
 *
 * Two servers starting at the same instant over the same stale lock could both take it
 * over; the window is a few microseconds and needs a crash first.
 */
export async function acquireDirLock(dir: string, logger: Logger): Promise<DirLock> {
  const lockPath = path.join(dir, LOCK_FILE);
  const self: LockOwner = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    token: randomBytes(4).toString('hex'),
    procStart: await processStartTicks(process.pid),
    boot: await bootIdPrefix(),
  };
  const text = encodeLockOwner(self);

  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      await createLock(lockPath, text);
      return { owner: self, release: () => releaseLock(lockPath, self, logger) };
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const owner = await readLock(lockPath);
    if (owner === null) continue;
    const verdict: Verdict =
      owner === undefined ? { stale: true, reason: 'it is unreadable' } : await judge(owner, self);
    if (!verdict.stale && owner !== undefined) {
      const where = owner.host === self.host ? 'on this host' : `on host ${owner.host}`;
      throw new Error(
        `Another server process (pid ${owner.pid} ${where}, since ${owner.startedAt}) owns CHAT_SESSIONS_DIR ${dir}. ` +
          `Stop that process first, or point CHAT_SESSIONS_DIR elsewhere. If it is certainly not running, remove ${lockPath}.`,
      );
    }
    logger.warn({ lock: lockPath, previousOwner: owner, reason: verdict.stale ? verdict.reason : undefined }, 'taking over the chat sessions directory lock of a server that is gone');
    await unlink(lockPath).catch((unlinkErr: unknown) => {
      if (errnoCode(unlinkErr) !== 'ENOENT') throw unlinkErr;
    });
  }
  throw new Error(`Could not take the lock ${lockPath}: it kept changing; is another server starting on CHAT_SESSIONS_DIR ${dir}?`);
}

async function releaseLock(lockPath: string, self: LockOwner, logger: Logger): Promise<void> {
  const owner = await readLock(lockPath);
  if (owner === null) {
    logger.warn({ lock: lockPath }, 'the chat sessions directory lock was already gone at shutdown');
    return;
  }
  if (owner?.token !== self.token) {
    logger.warn({ lock: lockPath, owner }, 'the chat sessions directory lock belongs to someone else now; left in place');
    return;
  }
  await unlink(lockPath);
}
