import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZodString, type z } from 'zod';
import {
  authRefreshPayloadSchema,
  channelPayloadSchema,
  clientActionPayloadSchema,
  clientEventPayloadSchema,
  clientMessagePayloadSchema,
  createChatSessionPayloadSchema,
  messageReadPayloadSchema,
  notificationDeletePayloadSchema,
  notificationListPayloadSchema,
  notificationReadAllPayloadSchema,
  notificationReadPayloadSchema,
  pingPayloadSchema,
  registerPayloadSchema,
  registerUserPayloadSchema,
  relayPayloadSchema,
  roomPayloadSchema,
  sendMessagePayloadSchema,
  testNotificationPayloadSchema,
  testAssignJobPayloadSchema,
  testCreateJobPayloadSchema,
  jobCompletePayloadSchema,
  jobStartPayloadSchema,
  typingPayloadSchema,
  type ClientToServerEvents,
  type SocketErrorPayload,
} from '../../src/contracts/index.js';
import { connectClient, emitWithAck, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken, unsignedToken } from '../support/tokens.js';
import { CLIENT_ENCODABLE_DEPTH, DeepJson, adversarialValue, deepestMarker, materialize, toJsonText } from './support/adversarial.js';
import { assertAckReply, assertCodedFailure } from './support/answers.js';
import { LONG, checkProperty, fuzzRuns } from './support/fuzz-run.js';
import { fieldArbitraries, fieldsOf, nearValidObject, type FuzzTargets } from './support/payloads.js';
import { emitRawEvent } from './support/raw-packets.js';

/**
 * Every client → server event of the contract, with the schema its payload is parsed
 * with. `satisfies` makes the compiler hold the keys equal to ClientToServerEvents: an
 * event added to or removed from the contract fails the type check until it is fuzzed
 * here too. (The handler registry accepts only contract events, and the first test below
 * checks that each one is actually answered.) Generated payloads follow the schema's
 * shape: an object with its fields, a room name, or anything at all.
 */
const PAYLOAD_SCHEMAS = {
  register: registerPayloadSchema,
  register_user: registerUserPayloadSchema,
  ping: pingPayloadSchema,
  message: relayPayloadSchema,
  'client:event': clientEventPayloadSchema,
  'client:message': clientMessagePayloadSchema,
  'client:action': clientActionPayloadSchema,
  'room:join': roomPayloadSchema,
  'room:leave': roomPayloadSchema,
  subscribe: channelPayloadSchema,
  unsubscribe: channelPayloadSchema,
  'auth:refresh': authRefreshPayloadSchema,
  create_chat_session: createChatSessionPayloadSchema,
  send_message: sendMessagePayloadSchema,
  message_read: messageReadPayloadSchema,
  typing: typingPayloadSchema,
  'notification:list': notificationListPayloadSchema,
  'notification:read': notificationReadPayloadSchema,
  'notification:read-all': notificationReadAllPayloadSchema,
  'notification:delete': notificationDeletePayloadSchema,
  'test:notification': testNotificationPayloadSchema,
  'job:start': jobStartPayloadSchema,
  'job:complete': jobCompletePayloadSchema,
  'test:create-job': testCreateJobPayloadSchema,
  'test:assign-job': testAssignJobPayloadSchema,
} satisfies Record<keyof ClientToServerEvents, z.ZodType>;

const CONTRACT_EVENTS = Object.keys(PAYLOAD_SCHEMAS) as (keyof ClientToServerEvents)[];

/**
 * The reply events of requests that have one (the seed documents' names). A request sent
 * without an ack callback must be answered there or with an `error` event naming it.
 */
const REPLY_EVENTS = new Map<string, readonly string[]>(Object.entries({
  register: ['register:ack'],
  register_user: ['registration_success', 'registration_error'],
  ping: ['pong'],
  'client:event': ['server:response'],
  'client:action': ['action:result'],
  'client:message': ['message:ack'],
  'room:join': ['room:join:ack'],
  'room:leave': ['room:leave:ack'],
  create_chat_session: ['session_created', 'session_error'],
  send_message: ['message_sent', 'message_error'],
  'notification:list': ['notification:list:ack'],
  'notification:read': ['notification:read:ack'],
  'notification:read-all': ['notification:read-all:ack'],
  'notification:delete': ['notification:delete:ack'],
  'test:notification': ['test:notification:ack'],
}));

/** Names socket.io-client refuses to emit (and Socket.IO reserves): docs/protocol.md says what they do. */
const CLIENT_RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

/** A bound on waiting for an answer: reaching it fails the property (a silent drop), it asserts no speed. */
const ANSWER_TIMEOUT_MS = 5000;

interface FuzzRequest {
  socket: 'token' | 'anonymous';
  event: string;
  args: unknown[];
  ack: boolean;
}

interface UntypedSocket {
  emit(event: string, ...args: unknown[]): unknown;
  on(event: string, listener: (payload: unknown) => void): unknown;
  off(event: string, listener: (payload: unknown) => void): unknown;
  timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<unknown> };
}
const untyped = (socket: TestSocket) => socket as unknown as UntypedSocket;

/** Resolves with the first reply event of `event`, or an `error` event about it; rejects after the bound. */
function answerTo(socket: TestSocket, event: string, replyEvents: readonly string[]): Promise<unknown> {
  const s = untyped(socket);
  return new Promise((resolve, reject) => {
    const onReply = (payload: unknown) => finish(() => resolve(payload));
    const onError = (payload: unknown) => {
      if ((payload as SocketErrorPayload).event === event) finish(() => resolve(payload));
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`"${event}" without an ack got no reply event and no error within ${ANSWER_TIMEOUT_MS} ms`))), ANSWER_TIMEOUT_MS);
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      for (const name of replyEvents) s.off(name, onReply);
      s.off('error', onError);
      settle();
    };
    for (const name of replyEvents) s.on(name, onReply);
    s.on('error', onError);
  });
}

describe('fuzzing every client event (fast-check)', () => {
  let t: TestServer;
  let fuzzer: TestSocket;
  let anonymous: TestSocket;
  let neighbour: TestSocket;
  let targets: FuzzTargets;
  /**
   * Stored notifications: the fuzzing user's own, and one of a user no fuzzed request names
   * (the anonymous socket may `register` as any user of the targets), which none may touch.
   */
  let ownNotification: string;
  let othersNotification: string;
  /** Jobs: one assigned to the fuzzing user, one to a user no fuzzed token belongs to. */
  let ownJob: number;
  let othersJob: number;
  /** `error` events and disconnections seen on the fuzzing sockets, checked after each batch. */
  const errorEvents: Array<{ socket: string; payload: unknown }> = [];
  const disconnections: string[] = [];

  beforeAll(async () => {
    t = await startServer({
      JWT_SECRET: TEST_SECRET,
      // The fuzzers send far faster than a person: the per-connection limits are not what is tested here.
      RATE_LIMIT_WS_MESSAGES_PER_MINUTE: '10000000',
      RATE_LIMIT_WS_CONNECTIONS_PER_MINUTE: '10000000',
    });
    fuzzer = await connectClient(t.url, { auth: { token: signToken({ userId: 'fuzz-a' }) } });
    anonymous = await connectClient(t.url);
    neighbour = await connectClient(t.url, { auth: { token: signToken({ userId: 'neighbour' }) } });
    for (const [name, socket] of [['token', fuzzer], ['anonymous', anonymous]] as const) {
      socket.on('error', (payload) => errorEvents.push({ socket: name, payload }));
      socket.on('disconnect', (reason) => disconnections.push(`${name}: ${reason}`));
    }
    neighbour.on('disconnect', (reason) => disconnections.push(`neighbour: ${reason}`));
    const { sessionId } = await emitWithAck<{ sessionId: string }>(fuzzer, 'create_chat_session', { machineId: 'm', receiverUserId: 'fuzz-peer' });
    const storeFor = async (userId: string) =>
      ((await request(t.url).post('/api/push').send({ userId, persist: true, data: { title: 'fuzz' } }).expect(200)).body as { notificationIds: string[] })
        .notificationIds[0]!;
    ownNotification = await storeFor('fuzz-a');
    othersNotification = await storeFor('inbox-bystander');
    const jobFor = async (assigneeId: string) =>
      ((await request(t.url).post('/api/jobs').send({ subject: 'fuzz', creatorId: 'fuzz-peer', assigneeId }).expect(201)).body as { job: { jobId: number } }).job.jobId;
    ownJob = await jobFor('fuzz-a');
    othersJob = await jobFor('job-bystander');
    targets = {
      sessionIds: [sessionId],
      userIds: ['fuzz-a', 'fuzz-peer', 'neighbour', 'stranger'],
      tokens: [
        signToken({ userId: 'fuzz-a' }),
        signToken({ userId: 'fuzz-peer' }),
        signToken({ userId: 'fuzz-a' }, { ttlSeconds: -60 }),
        signToken({ userId: 'fuzz-a' }, { secret: 'another-secret-that-is-32-bytes-long!' }),
        unsignedToken({ userId: 'fuzz-a' }),
        'not.a.token',
      ],
      rooms: [neighbour.id!, fuzzer.id!, anonymous.id!],
    };
  });

  afterAll(async () => {
    for (const socket of [fuzzer, anonymous, neighbour]) socket?.close();
    await t?.close();
  });

  it('answers every event of the contract with a handler (none is "unknown")', async () => {
    for (const event of CONTRACT_EVENTS) {
      const reply = await emitWithAck<{ error?: string }>(fuzzer, event, { probe: true });
      expect(reply.error ?? '', event).not.toMatch(/^Unknown event/);
    }
    // The probe can tell: an event outside the contract is answered as unknown.
    expect(await emitWithAck(fuzzer, 'no:such:event', { probe: true })).toMatchObject({
      success: false,
      code: 'INVALID_REQUEST',
      error: expect.stringMatching(/^Unknown event/),
    });
  });

  /**
   * Batches every run starts with, so that the short run always covers the shapes the
   * issue's attacks took: JSON 10,000 levels deep as every event's payload and in every
   * field that is forwarded or echoed, with and without ack; a socket leaving its own id
   * room (its replies must still arrive); `__proto__` as a user id.
   */
  const knownAttacks = (): Array<[FuzzRequest[]]> => {
    const deep = new DeepJson(10_000, 'object');
    const deepArray = new DeepJson(10_000, 'array');
    const forwarded = (ack: boolean, socket: FuzzRequest['socket']): FuzzRequest[] => [
      { socket, event: 'message', args: [deep], ack },
      { socket, event: 'message', args: [{ room: 'news', data: deepArray }], ack },
      { socket, event: 'client:event', args: [{ type: 'echo', data: deep }], ack },
      { socket, event: 'client:action', args: [{ action: 'echo', params: deepArray }], ack },
      { socket, event: 'client:message', args: [{ content: 'x', metadata: { to: 'fuzz-peer', extra: deep } }], ack },
      { socket, event: 'send_message', args: [{ sessionId: targets.sessionIds[0], message: 'x', extra: deep }], ack },
    ];
    return [
      [forwarded(true, 'token')],
      [forwarded(false, 'anonymous')],
      [CONTRACT_EVENTS.map((event) => ({ socket: 'token' as const, event, args: [deep], ack: true }))],
      [CONTRACT_EVENTS.map((event) => ({ socket: 'anonymous' as const, event, args: [deepArray, deep], ack: false }))],
      [
        [
          { socket: 'anonymous', event: 'unsubscribe', args: [anonymous.id], ack: true },
          { socket: 'anonymous', event: 'room:leave', args: [{ room: anonymous.id }], ack: true },
          { socket: 'anonymous', event: 'ping', args: [{}], ack: false },
          { socket: 'anonymous', event: 'register', args: [{ userId: '__proto__' }], ack: true },
          { socket: 'anonymous', event: 'create_chat_session', args: [{ machineId: 'm', receiverUserId: 'constructor' }], ack: false },
        ],
      ],
      // The inbox: another user's id, ids as numbers (one past what a double holds exactly), odd pages.
      [
        [
          { socket: 'token', event: 'notification:read', args: [{ notificationId: othersNotification }], ack: false },
          { socket: 'token', event: 'notification:delete', args: [{ notificationId: Number(othersNotification) }], ack: true },
          { socket: 'token', event: 'notification:read', args: [{ notificationId: Number(ownNotification) }], ack: true },
          { socket: 'token', event: 'notification:delete', args: [{ notificationId: Number.MAX_SAFE_INTEGER + 2 }], ack: true },
          { socket: 'token', event: 'notification:list', args: [{ limit: 100, before: '__proto__', unreadOnly: true }], ack: false },
          { socket: 'anonymous', event: 'notification:read-all', args: [], ack: false },
        ],
      ],
      // Jobs: another's job, ids as numbers and their strings, prototype names, numbers past a double's exact range, deep notes.
      [
        [
          { socket: 'token', event: 'job:start', args: [{ jobId: othersJob }], ack: true },
          { socket: 'token', event: 'job:complete', args: [{ jobId: String(othersJob), note: 'not yours' }], ack: false },
          { socket: 'token', event: 'job:start', args: [{ jobId: String(ownJob) }], ack: true },
          { socket: 'token', event: 'job:complete', args: [{ jobId: ownJob, note: new DeepJson(10_000, 'object') }], ack: true },
          { socket: 'token', event: 'job:start', args: [{ jobId: '__proto__' }], ack: false },
          { socket: 'token', event: 'job:start', args: [{ jobId: Number.MAX_SAFE_INTEGER + 2 }], ack: true },
          { socket: 'token', event: 'test:create-job', args: [{ projectId: '__proto__', jobTypeId: -1, subject: 'constructor' }], ack: true },
          { socket: 'token', event: 'test:assign-job', args: [{ jobId: 'constructor', assigneeId: '__proto__' }], ack: false },
          { socket: 'anonymous', event: 'job:start', args: [{ jobId: ownJob }], ack: true },
          { socket: 'anonymous', event: 'test:create-job', args: [{ projectId: 1, jobTypeId: 2, subject: 'Test Job' }], ack: false },
        ],
      ],
      // The kafka-events monitoring room: refused (FORBIDDEN) to a socket with no user, by
      // either door; near names are plain rooms. The token socket may join (not production).
      [
        [
          { socket: 'anonymous', event: 'subscribe', args: ['kafka-events'], ack: true },
          { socket: 'anonymous', event: 'room:join', args: [{ room: 'kafka-events' }], ack: false },
          { socket: 'anonymous', event: 'subscribe', args: ['kafka-events', 'extra'], ack: false },
          { socket: 'token', event: 'subscribe', args: ['kafka-events'], ack: true },
          { socket: 'token', event: 'subscribe', args: ['Kafka-Events '], ack: true },
          { socket: 'token', event: 'unsubscribe', args: ['kafka-events'], ack: true },
        ],
      ],
      // The development helper: only ever the caller's own inbox; an anonymous socket has none.
      [
        [
          { socket: 'token', event: 'test:notification', args: [{ type: 'a'.repeat(33), priority: 'SOON', title: 7 }], ack: true },
          { socket: 'token', event: 'test:notification', args: [{ title: '__proto__', data: { __proto__: { polluted: true } } }], ack: false },
          { socket: 'token', event: 'test:notification', args: [], ack: true },
          { socket: 'anonymous', event: 'test:notification', args: [{ title: 'who am I' }], ack: true },
          { socket: 'token', event: 'test:no-such-helper', args: [{}], ack: true },
        ],
      ],
    ];
  };

  it(
    'never crashes, never answers INTERNAL_SERVER_ERROR, answers every request with a code, and keeps a neighbour round trip',
    async () => {
      const fields = fieldArbitraries(targets);
      const argsFor = (event: string): fc.Arbitrary<unknown[]> => {
        const schema: z.ZodType | undefined = PAYLOAD_SCHEMAS[event as keyof ClientToServerEvents];
        const fieldNames = schema === undefined ? [] : fieldsOf(schema);
        const payload: fc.Arbitrary<unknown> =
          fieldNames.length > 0 ? nearValidObject(targets, fieldNames) : schema instanceof ZodString ? fields.room! : fields.data!;
        return fc.oneof(
          { weight: 8, arbitrary: payload.map((p): unknown[] => [p]) },
          { weight: 2, arbitrary: adversarialValue.map((value): unknown[] => [value]) },
          { weight: 1, arbitrary: fc.constant<unknown[]>([]) },
          // Extra arguments after the payload.
          { weight: 1, arbitrary: fc.tuple(payload, adversarialValue, adversarialValue).map((args): unknown[] => [...args]) },
        );
      };
      const eventName = fc.oneof(
        { weight: 19, arbitrary: fc.constantFrom<string>(...CONTRACT_EVENTS) },
        { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 70 }).filter((name) => !CLIENT_RESERVED.has(name)) },
      );
      const request: fc.Arbitrary<FuzzRequest> = eventName.chain((event) =>
        fc.record({
          socket: fc.constantFrom('token' as const, 'anonymous' as const),
          event: fc.constant(event),
          args: argsFor(event),
          ack: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
        }),
      );

      const send = async (req: FuzzRequest): Promise<void> => {
        const socket = req.socket === 'token' ? fuzzer : anonymous;
        const what = `${req.socket} socket, "${req.event}"${req.ack ? '' : ' without ack'}`;
        // JSON deeper than socket.io-client can encode goes out as a hand-written packet.
        const raw = deepestMarker(req.args) > CLIENT_ENCODABLE_DEPTH;
        if (req.ack) {
          const reply = raw
            ? (await emitRawEvent(socket, req.event, req.args.map(toJsonText), true, ANSWER_TIMEOUT_MS))?.[0]
            : await untyped(socket)
                .timeout(ANSWER_TIMEOUT_MS)
                .emitWithAck(req.event, ...req.args.map(materialize))
                .catch((err: Error) => {
                  throw new Error(`${what}: no ack (${err.message})`);
                });
          assertAckReply(what, reply);
          return;
        }
        const replyEvents = REPLY_EVENTS.get(req.event);
        const answered = replyEvents ? answerTo(socket, req.event, replyEvents) : undefined;
        if (raw) await emitRawEvent(socket, req.event, req.args.map(toJsonText), false, ANSWER_TIMEOUT_MS);
        else untyped(socket).emit(req.event, ...req.args.map(materialize));
        if (answered) {
          const answer = await answered.catch((err: Error) => {
            throw new Error(`${what}: ${err.message}`);
          });
          // A failure on a reply event (`registration_error`, `{ success: false }`) carries a code too.
          if (typeof answer === 'object' && answer !== null && 'code' in answer) assertCodedFailure(what, answer);
        } else {
          // Nothing comes back on success: a ping after it shows the socket still answers.
          await emitWithAck(socket, 'ping', {}).catch((err: Error) => {
            throw new Error(`${what}: the socket stopped answering (${err.message})`);
          });
        }
      };

      let batches = 0;
      const property = fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 6 }), async (batch) => {
        batches += 1;
        for (const req of batch) await send(req);
        // The unrelated socket keeps its round trip after every batch.
        const pong = await emitWithAck<{ timestamp?: string }>(neighbour, 'ping', { timestamp: batches }).catch((err: Error) => {
          throw new Error(`the neighbour's ping got no ack after batch ${batches}: ${err.message}`);
        });
        if (typeof pong.timestamp !== 'string') throw new Error(`the neighbour's ping was refused: ${JSON.stringify(pong)}`);
        if (disconnections.length > 0) throw new Error(`a socket was disconnected: ${disconnections.join('; ')}`);
        for (const { socket, payload } of errorEvents.splice(0)) assertCodedFailure(`error event on the ${socket} socket`, payload);
      });
      await checkProperty('test/reliability/fuzz-socket.test.ts', property, fuzzRuns(100, 2000), knownAttacks());
      expect(batches).toBeGreaterThan(0);
      // Still serving after the whole run: a fresh connection answers.
      const late = await connectClient(t.url, { auth: { token: signToken({ userId: 'late' }) } });
      const bystander = await connectClient(t.url, { auth: { token: signToken({ userId: 'inbox-bystander' }) } });
      try {
        expect(await emitWithAck(late, 'ping', {})).toMatchObject({ timestamp: expect.any(String) });
        // Nothing the fuzzer sent reached another user's inbox.
        expect(await emitWithAck(bystander, 'notification:list', {})).toMatchObject({
          unreadCount: 1,
          notifications: [expect.objectContaining({ id: othersNotification, readAt: null })],
        });
      } finally {
        late.close();
        bystander.close();
      }
    },
    LONG ? 60 * 60_000 : 90_000,
  );
});
