import { mkdtemp, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { ErrorCode } from '../../src/contracts/error-codes.js';
import type { ChatMessage, ChatStore, NewChatMessage } from '../../src/domain/chat-store.js';
import { AppError } from '../../src/errors.js';
import type { Logger } from '../../src/observability/logger.js';
import { createFileChatStore, type FileChatStoreOptions } from '../../src/storage/file/file-chat-store.js';

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

export interface LogRecord {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A logger that keeps every line it writes, parsed, for assertions. */
export function recordingLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => records.push(JSON.parse(line) as LogRecord) });
  return { logger, records };
}

export const PINO_WARN = 40;

export function tempDir(prefix = 'chat-store-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** A store created in a fresh temp dir (not yet opened), and the cleanup that closes it and removes the dir. */
export async function storeInTempDir<S extends { close(): Promise<void> }>(
  prefix: string,
  create: (dir: string) => S,
): Promise<{ store: S; cleanup(): Promise<void> }> {
  const dir = await tempDir(prefix);
  const store = create(dir);
  return {
    store,
    async cleanup() {
      await store.close();
      await removeDir(dir);
    },
  };
}

/** The code of the AppError `promise` rejects with; throws when it resolves or rejects with anything else. */
export async function rejectionCode(promise: Promise<unknown>): Promise<ErrorCode> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(error instanceof AppError)) throw new Error(`expected an AppError, got ${String(error)}`);
  return error.code;
}

export async function openFileStore(dir: string, options: Partial<FileChatStoreOptions> = {}): Promise<ChatStore> {
  const store = createFileChatStore({ dir, logger: silentLogger(), ...options });
  await store.open();
  return store;
}

/** A clock that moves one second per reading, so orderings by time are deterministic. */
export function steppingClock(start = Date.parse('2025-01-01T00:00:00.000Z')): () => Date {
  let tick = 0;
  return () => new Date(start + 1000 * tick++);
}

export function messageFrom(from: string, to: string, text: string, clientMessageId?: string): NewChatMessage {
  return { senderUserId: from, receiverUserId: to, message: text, machineId: 'machine-1', clientMessageId };
}

/** Parses every line of a messages.jsonl; throws on the first line that is not JSON. */
export async function readMessageLines(file: string): Promise<ChatMessage[]> {
  const text = await readFile(file, 'utf8');
  if (text.length > 0 && !text.endsWith('\n')) throw new Error(`${file} does not end with a newline`);
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as ChatMessage);
}

/** Every session directory under `dir`: session.json parses and every messages.jsonl line parses. */
export async function assertEveryFileParses(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    JSON.parse(await readFile(path.join(dir, entry.name, 'session.json'), 'utf8'));
    await readMessageLines(path.join(dir, entry.name, 'messages.jsonl'));
  }
}

/** The name of a chat journal file, as the store itself recognises one. */
export { JOURNAL_NAME as JOURNAL_FILE } from '../../src/storage/file/chat-journal.js';

/** FileHandle.prototype, to observe or perturb every handle's calls (a probe file in `dir` is opened for it). */
export async function fileHandlePrototype(dir: string): Promise<FileHandle> {
  const handle = await open(path.join(dir, '.probe'), 'w');
  await handle.close();
  return Object.getPrototypeOf(handle) as FileHandle;
}
