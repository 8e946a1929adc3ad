import { io } from 'socket.io-client';
import type { AckFailure } from '../../../src/contracts/error-codes.js';
import type { NotificationListReply, NewMessagePayload } from '../../../src/contracts/events.js';
import type { NotificationRecord } from '../../../src/contracts/inbox.js';
import type { TestSocket } from '../../support/client.js';

/**
 * A user's client of a cluster with no load balancer in front: it knows every node's URL,
 * starts on one, and when its node goes away lets socket.io-client reconnect as usual,
 * each attempt to the next URL of the list (a node that refuses is skipped by the next
 * attempt). It counts by id what it is handed, so that a test can tell what it got, what
 * it got twice and what it never got:
 *
 * - chat: every `new_message`, live or from the offline delivery at (re)connect;
 * - inbox: every `notification:new`, plus what it reads with `notification:list` after a
 *   reconnect (what a client does to catch up with what was pushed while it was away).
 */
export interface RoamingClient {
  readonly userId: string;
  readonly socket: TestSocket;
  /** The node it is on (or trying to reach) now, as an index into the URL list. */
  node(): number;
  /** Times each chat message id was handed to it. */
  readonly messages: Map<string, number>;
  /** Times each notification id arrived as `notification:new`. */
  readonly notifications: Map<string, number>;
  /** Times each notification id was read with `notification:list` after a reconnect. */
  readonly listed: Map<string, number>;
  /** When each connect after the first happened (Date.now()). */
  readonly reconnectedAt: number[];
  /** Failures of its own inbox reads (acks with success false), kept for the test to assert on. */
  readonly failures: AckFailure[];
  /** Resolves once connected (at once when it is). */
  connected(): Promise<void>;
  /** Reads its whole inbox over its socket: the ids, newest first. */
  readInbox(): Promise<string[]>;
  close(): void;
}

const bump = (counts: Map<string, number>, id: string) => counts.set(id, (counts.get(id) ?? 0) + 1);

export function startRoamingClient(urls: readonly string[], start: number, userId: string, token: string): RoamingClient {
  let current = start;
  const socket: TestSocket = io(urls[start]!, {
    auth: { token },
    transports: ['websocket'],
    forceNew: true,
    reconnection: true,
    // Quick retries, so a test spends its time on traffic rather than on backoff.
    reconnectionDelay: 50,
    reconnectionDelayMax: 250,
    randomizationFactor: 0,
  });
  const manager = socket.io as unknown as { uri: string; on(event: 'reconnect_attempt', listener: () => void): void };
  // Before every attempt (the first after a drop included): the next node of the list.
  manager.on('reconnect_attempt', () => {
    current = (current + 1) % urls.length;
    manager.uri = urls[current]!;
  });

  const messages = new Map<string, number>();
  const notifications = new Map<string, number>();
  const listed = new Map<string, number>();
  const reconnectedAt: number[] = [];
  const failures: AckFailure[] = [];
  let everConnected = false;

  socket.on('new_message', (payload: NewMessagePayload) => bump(messages, payload.message.id));
  socket.on('notification:new', (record: NotificationRecord) => bump(notifications, record.id));

  // Bounded, so that a read cut short by a drop rejects instead of waiting for ever.
  const listPage = (before: string | undefined): Promise<NotificationListReply | AckFailure> =>
    socket.timeout(5_000).emitWithAck('notification:list', before === undefined ? { limit: 100 } : { limit: 100, before });
  const readInbox = async () => {
    const ids: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await listPage(before);
      if (!page.success) {
        failures.push(page);
        return ids;
      }
      ids.push(...page.notifications.map((record) => record.id));
      if (page.nextBefore === undefined) return ids;
      before = page.nextBefore;
    }
  };
  socket.on('connect', () => {
    if (everConnected) {
      reconnectedAt.push(Date.now());
      // Given up if the socket drops again meanwhile: the next connect reads again.
      readInbox().then(
        (ids) => ids.forEach((id) => bump(listed, id)),
        () => undefined,
      );
    }
    everConnected = true;
  });

  return {
    userId,
    socket,
    node: () => current,
    messages,
    notifications,
    listed,
    reconnectedAt,
    failures,
    connected: () => (socket.connected ? Promise.resolve() : new Promise((resolve) => socket.once('connect', () => resolve()))),
    readInbox,
    close: () => socket.close(),
  };
}
