import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/contracts/chat.js';
import type { MessageSent } from '../../src/contracts/events.js';
import { connectClient, emitWithAck, type TestSocket } from '../support/client.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';
import { parseChatFiles, readAllMessages } from './support/chat-files.js';
import { LONG } from './support/fuzz-run.js';
import { ownedServer } from './support/owned-server.js';
import { eventually } from '../support/eventually.js';

const KEY = 'sigkill-loop-key-0123456789';
const KILLS = LONG ? 20 : 5;
/** Sends in flight per sender socket: each lane sends one message at a time, in order. */
const LANES_PER_SOCKET = 2;

/** Who sends into which conversation: two users share one session, two others have their own. */
const SENDERS = [
  { userId: 'alice', peer: 'bob', conversation: 'alice-bob' },
  { userId: 'bob', peer: 'alice', conversation: 'alice-bob' },
  { userId: 'carol', peer: 'dave', conversation: 'carol-dave' },
  { userId: 'erin', peer: 'frank', conversation: 'erin-frank' },
] as const;

interface Acknowledged {
  messageId: string;
  clientMessageId: string;
  seq: number;
  sessionId: string;
  text: string;
}

/** One sequence of sends: each waits for the previous one's ack, so its order is defined. */
interface Lane {
  name: string;
  userId: string;
  conversation: string;
  next: number;
  acknowledged: Acknowledged[];
  /** The send in flight when the server died: retried with the same clientMessageId after the restart. */
  unacknowledged: { clientMessageId: string; text: string } | undefined;
}

describe('SIGKILL mid-burst, again and again, on the same directory', () => {
  const owned = ownedServer();

  it(
    `keeps every acknowledged message exactly once and in order through ${KILLS} SIGKILLs`,
    async () => {
      const dir = await owned.tempDir('sigkill-loop-');
      const env = {
        CHAT_SESSIONS_DIR: dir,
        JWT_SECRET: TEST_SECRET,
        API_KEYS: KEY,
        // A burst from four users, far beyond what a person sends: the quotas are not what is tested here.
        RATE_LIMIT_WS_MESSAGES_PER_MINUTE: '10000000',
        CHAT_MESSAGES_PER_USER_PER_MINUTE: '10000000',
      };
      const sessions = new Map<string, string>();
      const lanes: Lane[] = SENDERS.flatMap((sender) =>
        Array.from({ length: LANES_PER_SOCKET }, (_, lane) => ({
          name: `${sender.userId}-${lane}`,
          userId: sender.userId,
          conversation: sender.conversation,
          next: 0,
          acknowledged: [],
          unacknowledged: undefined,
        })),
      );
      let retried = 0;
      let retriedAlreadyStored = 0;

      for (let kill = 1; kill <= KILLS; kill++) {
        const server = await owned.start(env);
        const sockets = new Map<string, TestSocket>();
        for (const { userId } of SENDERS) sockets.set(userId, await connectClient(server.url, { auth: { token: signToken({ userId }) } }));
        if (sessions.size === 0) {
          for (const { userId, peer, conversation } of SENDERS) {
            if (sessions.has(conversation)) continue;
            const created = await emitWithAck<{ sessionId: string }>(sockets.get(userId)!, 'create_chat_session', { machineId: 'm', receiverUserId: peer });
            sessions.set(conversation, created.sessionId);
          }
        }

        let sending = true;
        let acknowledgedThisRound = 0;
        const send = async (lane: Lane, clientMessageId: string, text: string): Promise<boolean> => {
          const sessionId = sessions.get(lane.conversation)!;
          try {
            const ack = await emitWithAck<MessageSent & { success?: false; code?: string }>(sockets.get(lane.userId)!, 'send_message', {
              sessionId,
              message: text,
              clientMessageId,
            });
            if (ack.success === false) throw new Error(`send refused: ${JSON.stringify(ack)}`);
            lane.acknowledged.push({ messageId: ack.messageId, clientMessageId, seq: ack.seq, sessionId, text });
            lane.unacknowledged = undefined;
            acknowledgedThisRound += 1;
            return ack.duplicate;
          } catch (err) {
            // The server died with this send in flight: it was never acknowledged.
            if (sending) throw err;
            lane.unacknowledged = { clientMessageId, text };
            return false;
          }
        };
        const runLane = async (lane: Lane) => {
          // First the send the last crash interrupted, with its clientMessageId: a retry must never store it twice.
          if (lane.unacknowledged !== undefined) {
            const { clientMessageId, text } = lane.unacknowledged;
            retried += 1;
            if (await send(lane, clientMessageId, text)) retriedAlreadyStored += 1;
          }
          while (sending) {
            const n = lane.next++;
            await send(lane, `${lane.name}-${n}`, `${lane.name} message ${n}`);
          }
        };
        let failure: unknown;
        const workers = lanes.map((lane) =>
          runLane(lane).catch((err: unknown) => {
            failure ??= err;
          }),
        );
        // A different moment in the burst each round.
        const killAfter = 150 + Math.floor(Math.random() * 150);
        await eventually(async () => acknowledgedThisRound >= killAfter || failure !== undefined, `${killAfter} acknowledged in this round`, 60_000, 2);
        if (failure !== undefined) throw failure;
        sending = false;
        const exited = owned.stop('SIGKILL');
        await Promise.all(workers);
        for (const socket of sockets.values()) socket.close();
        await exited;
        if (failure !== undefined) throw failure;
      }

      // After the last kill: start once more and read everything back.
      const final = await owned.start(env);
      const stored = new Map<string, ChatMessage[]>();
      for (const [conversation, sessionId] of sessions) stored.set(conversation, await readAllMessages(final.url, sessionId, { 'X-API-Key': KEY }));
      await owned.stop('SIGTERM');

      const all = [...stored.values()].flat();
      const byId = new Map<string, ChatMessage[]>();
      for (const message of all) byId.set(message.id, [...(byId.get(message.id) ?? []), message]);
      const acknowledged = lanes.flatMap((lane) => lane.acknowledged);
      const lost = acknowledged.filter((ack) => !byId.has(ack.messageId));
      const duplicated = acknowledged.filter((ack) => (byId.get(ack.messageId)?.length ?? 0) > 1);
      const clientIds = all.map((message) => message.clientMessageId);

      expect(lost).toEqual([]);
      expect(duplicated).toEqual([]);
      // A retried send never produced a second copy under another id.
      expect(new Set(clientIds).size).toBe(clientIds.length);
      for (const ack of acknowledged) {
        expect(byId.get(ack.messageId)![0]).toMatchObject({ seq: ack.seq, message: ack.text, clientMessageId: ack.clientMessageId });
      }
      // Each session numbers its messages 1..n with no gap, and each lane's messages are stored in the order it sent them.
      for (const messages of stored.values()) expect(messages.map((m) => m.seq)).toEqual(messages.map((_, i) => i + 1));
      for (const lane of lanes) {
        const seqs = lane.acknowledged.map((ack) => ack.seq);
        expect(seqs, lane.name).toEqual([...seqs].sort((a, b) => a - b));
        expect(new Set(seqs).size, lane.name).toBe(seqs.length);
      }
      expect(await parseChatFiles(dir)).toBe(all.length);

      console.log(
        `SIGKILL loop: ${KILLS} kills, ${acknowledged.length} acknowledged, ${lost.length} lost, ${duplicated.length} duplicated; ` +
          `${all.length} stored (${all.length - acknowledged.length} sent but never acknowledged); ` +
          `${retried} in-flight sends retried after a restart, ${retriedAlreadyStored} of them already stored`,
      );
    },
    LONG ? 30 * 60_000 : 180_000,
  );
});
