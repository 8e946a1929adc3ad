import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ChatMessage } from '../../../src/contracts/chat.js';
import { createRawHttp } from './raw-http.js';

/** Every message of a session over REST, page after page, oldest first. */
export async function readAllMessages(baseUrl: string, sessionId: string, headers: Record<string, string>): Promise<ChatMessage[]> {
  const http = createRawHttp(baseUrl);
  try {
    const all: ChatMessage[] = [];
    let after = 0;
    for (;;) {
      const res = await http.send({ method: 'GET', path: `/api/sessions/${sessionId}/messages?limit=500&after=${after}`, headers });
      if (res.status !== 200) throw new Error(`GET messages of ${sessionId} answered ${res.status}: ${res.text.slice(0, 300)}`);
      const page = JSON.parse(res.text) as { messages: ChatMessage[]; nextAfter?: number };
      all.push(...page.messages);
      if (page.nextAfter === undefined) return all;
      after = page.nextAfter;
    }
  } finally {
    http.close();
  }
}

/**
 * Parses every line of every `messages.jsonl` and every `session.json` under a chat
 * directory (throwing at the first that does not parse) and returns the number of lines.
 */
export async function parseChatFiles(dir: string): Promise<number> {
  let lines = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    // Session directories are named by their id; anything else (a lock, a half-deleted session) is not a session.
    if (!entry.isDirectory() || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(entry.name)) continue;
    const sessionDir = path.join(dir, entry.name);
    JSON.parse(await readFile(path.join(sessionDir, 'session.json'), 'utf8'));
    const log = await readFile(path.join(sessionDir, 'messages.jsonl'), 'utf8').catch(() => '');
    for (const [index, line] of log.split('\n').entries()) {
      if (line === '') continue;
      try {
        JSON.parse(line);
      } catch {
        throw new Error(`${sessionDir}/messages.jsonl line ${index + 1} does not parse: ${line.slice(0, 200)}`);
      }
      lines += 1;
    }
  }
  return lines;
}
