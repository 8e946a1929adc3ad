import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { ChatMessage, MessagePage } from '../../domain/chat-store.js';
import type { Logger } from '../../observability/logger.js';
import { writeFullySync } from './atomic-file.js';
import { parseMessageLine, serializeMessage } from './stored-records.js';

/**
 * How messages.jsonl is opened: read-write, and not O_APPEND: appends write at the
 * committed length, which is what lets a failed write be cut off again. Not O_DSYNC:
 * appends reach the page cache at once and are made durable by the chat journal
 * (chat-journal.ts), with one durable write for every session's lines of a turn.
 */
export const MESSAGE_LOG_OPEN_FLAGS = fs.constants.O_RDWR;

/**
 * What is known of one messages.jsonl once it has been read: enough to append, page and
 * count without reading it again. Holds numbers per message, not message bodies.
 */
export interface MessageLogIndex {
  /** Bytes of the file that hold committed (fsynced) lines. */
  size: number;
  /** Seq of every stored message, strictly increasing. */
  readonly seqs: number[];
  /** Byte offset of each message's line, parallel to `seqs`. */
  readonly offsets: number[];
  lastMessage: ChatMessage | null;
  /** clientMessageId → seq, so that a retry finds the first message. */
  readonly clientIds: Map<string, number>;
  /** receiverUserId → seqs of the messages that user received, increasing: unread counts by binary search. */
  readonly receivedBy: Map<string, number[]>;
}

export function emptyMessageLogIndex(): MessageLogIndex {
  return { size: 0, seqs: [], offsets: [], lastMessage: null, clientIds: new Map(), receivedBy: new Map() };
}

export function lastSeqOf(index: MessageLogIndex): number {
  return index.seqs.at(-1) ?? 0;
}

/** How many values in the increasing array `values` are greater than `bound`. */
export function countAbove(values: readonly number[], bound: number): number {
  return values.length - firstIndexAbove(values, bound);
}

function firstIndexAbove(values: readonly number[], bound: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((values[mid] as number) > bound) high = mid;
    else low = mid + 1;
  }
  return low;
}

function record(index: MessageLogIndex, message: ChatMessage, offset: number): void {
  index.seqs.push(message.seq);
  index.offsets.push(offset);
  index.lastMessage = message;
  if (message.clientMessageId !== undefined) index.clientIds.set(message.clientMessageId, message.seq);
  const received = index.receivedBy.get(message.receiverUserId);
  if (received === undefined) index.receivedBy.set(message.receiverUserId, [message.seq]);
  else received.push(message.seq);
}

const NEWLINE = 0x0a;
const READ_CHUNK_BYTES = 1 << 20;

/**
 * Reads a whole messages.jsonl into an index. A torn tail (bytes after the last newline,
 * left by a crash in the middle of a write) and an unparsable last line are cut off the
 * file before anything is appended to it. Unparsable lines in the middle cannot come from
 * an interrupted append; they are skipped and reported, never cut.
 */
export async function loadMessageLog(handle: FileHandle, context: { logger: Logger; sessionId: string }): Promise<MessageLogIndex> {
  const index = emptyMessageLogIndex();
  const { size: fileSize } = await handle.stat();
  let carry = Buffer.alloc(0);
  let carryOffset = 0;
  let position = 0;
  let skipped = 0;
  let lastLine: { start: number; valid: boolean } | undefined;

  const takeLine = (bytes: Buffer, start: number) => {
    const message = parseMessageLine(bytes.toString('utf8'));
    const valid = message !== undefined && message.seq > lastSeqOf(index);
    if (valid) record(index, message, start);
    else skipped += 1;
    lastLine = { start, valid };
  };

  const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  while (position < fileSize) {
    const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, fileSize - position), position);
    if (bytesRead === 0) break;
    const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
    let lineStart = 0;
    for (let newline = data.indexOf(NEWLINE); newline !== -1; newline = data.indexOf(NEWLINE, lineStart)) {
      takeLine(data.subarray(lineStart, newline), carryOffset + lineStart);
      lineStart = newline + 1;
    }
    position += bytesRead;
    // Copied: `chunk` is reused by the next read.
    carry = Buffer.from(data.subarray(lineStart));
    carryOffset = position - carry.length;
  }

  const completeEnd = position - carry.length;
  let keep = completeEnd;
  if (lastLine !== undefined && !lastLine.valid) {
    keep = lastLine.start;
    skipped -= 1;
  }
  if (keep < fileSize) {
    context.logger.warn(
      { sessionId: context.sessionId, cutBytes: fileSize - keep, keptBytes: keep },
      'messages.jsonl ended with a torn or unparsable line; cut it off',
    );
    await handle.truncate(keep);
    await handle.datasync();
  }
  if (skipped > 0) {
    context.logger.error({ sessionId: context.sessionId, skippedLines: skipped }, 'messages.jsonl has unparsable lines; skipped them');
  }
  index.size = keep;
  return index;
}

/**
 * Thrown by `appendToMessageLog`. `truncateError` is set when the file could not be cut
 * back to its committed length: it may then end with lines the index does not know.
 */
export class MessageLogWriteError extends Error {
  constructor(
    cause: unknown,
    readonly truncateError: unknown,
  ) {
    super('appending to messages.jsonl failed', { cause });
    this.name = 'MessageLogWriteError';
  }
}

/**
 * Appends `messages`: writes their lines at the committed length (a plain, synchronous
 * write to the page cache), then waits for `makeDurable` (the chat journal's write, or by
 * default an fdatasync of this file), then records them in the index. On any failure the
 * file is truncated back to its committed length so no partial line remains, the index is
 * left untouched, and a MessageLogWriteError is thrown.
 */
export async function appendToMessageLog(
  handle: FileHandle,
  index: MessageLogIndex,
  messages: readonly ChatMessage[],
  makeDurable: (lines: Buffer[]) => Promise<void> = () => handle.datasync(),
): Promise<void> {
  const lines = messages.map((message) => Buffer.from(serializeMessage(message), 'utf8'));
  const start = index.size;
  try {
    writeFullySync(handle.fd, lines.length === 1 ? (lines[0] as Buffer) : Buffer.concat(lines), start);
    await makeDurable(lines);
  } catch (err) {
    let truncateError: unknown;
    try {
      fs.ftruncateSync(handle.fd, start);
    } catch (truncateErr) {
      truncateError = truncateErr ?? new Error('truncate failed');
    }
    throw new MessageLogWriteError(err, truncateError);
  }
  let offset = start;
  messages.forEach((message, i) => {
    record(index, message, offset);
    offset += (lines[i] as Buffer).length;
  });
  index.size = offset;
}

/** Most bytes one page reads: a large `limit` gets a shorter page and a `nextAfter`. */
const MAX_PAGE_BYTES = 4 << 20;

/** Messages with seq > after, oldest first, at most `limit`, from the committed part of the file. */
export async function readMessageLog(handle: FileHandle, index: MessageLogIndex, after: number, limit: number): Promise<MessagePage> {
  const { seqs, offsets } = index;
  const first = firstIndexAbove(seqs, after);
  const start = offsets[first] as number;
  const endOf = (i: number) => (i + 1 < offsets.length ? (offsets[i + 1] as number) : index.size);
  let last = Math.min(first + limit, seqs.length) - 1;
  if (first > last) return { messages: [] };
  if (endOf(last) - start > MAX_PAGE_BYTES) {
    // The last message that still ends within the cap, but always at least the first one.
    last = Math.max(first, firstIndexAbove(offsets, start + MAX_PAGE_BYTES) - 2);
  }
  const lastSeq = seqs[last] as number;
  const end = endOf(last);
  const buffer = Buffer.allocUnsafe(end - start);
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, start + filled);
    if (bytesRead === 0) throw Object.assign(new Error('messages.jsonl is shorter than its index'), { code: 'EIO' });
    filled += bytesRead;
  }
  const messages: ChatMessage[] = [];
  let previousSeq = after;
  for (const line of buffer.toString('utf8').split('\n')) {
    // The range may hold lines the index skipped; the same rule as loadMessageLog skips them.
    const message = line.length > 0 ? parseMessageLine(line) : undefined;
    if (message === undefined || message.seq <= previousSeq || message.seq > lastSeq) continue;
    messages.push(message);
    previousSeq = message.seq;
  }
  return last + 1 < seqs.length ? { messages, nextAfter: lastSeq } : { messages };
}
