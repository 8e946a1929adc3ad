import type { FileHandle } from 'node:fs/promises';
import type { ChatMessage } from '../../domain/chat-store.js';
import type { Logger } from '../../observability/logger.js';
import { appendToMessageLog, MessageLogWriteError, type MessageLogIndex } from './message-log.js';
import { parseSessionFile, upgradeSeedMessage } from './stored-records.js';
import type { WriteHealth } from './write-health.js';

/**
 * Seed 001 kept a session's messages inside session.json, without seqs. On a session's
 * first access, when its messages.jsonl is still empty, they get seqs 1..n in their order
 * and move into it with one durable write. Dropping the old copy from session.json is the
 * caller's next rewrite (the copy is ignored once messages.jsonl has lines).
 */
export async function moveSeedMessages(
  log: { handle: FileHandle; index: MessageLogIndex },
  context: { sessionId: string; readSessionFile(): Promise<string>; health: WriteHealth; logger: Logger },
): Promise<void> {
  if (log.index.size !== 0) return;
  const stored = parseSessionFile(await context.readSessionFile());
  const messages: ChatMessage[] = [];
  for (const candidate of stored?.seedMessages ?? []) {
    const message = upgradeSeedMessage(candidate, messages.length + 1);
    if (message !== undefined) messages.push(message);
  }
  if (messages.length === 0) return;
  try {
    await appendToMessageLog(log.handle, log.index, messages);
  } catch (err) {
    context.health.failed(err instanceof MessageLogWriteError ? err.cause : err, { sessionId: context.sessionId, operation: 'move seed messages' });
    throw err;
  }
  context.logger.info({ sessionId: context.sessionId, messages: messages.length }, 'moved seed messages from session.json to messages.jsonl');
}
