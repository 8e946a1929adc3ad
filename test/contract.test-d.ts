/** Type-level tests: the wire contract stays what clients compile against. */
import { describe, expectTypeOf, it } from 'vitest';
import { createClient, type NotifySocket } from '../src/client/index.js';
import type { AckFailure } from '../src/contracts/error-codes.js';
import type { ClientToServerEvents, KafkaEventPayload, RegisterAck, RoomAck, ServerToClientEvents, SocketData } from '../src/contracts/events.js';
import type { JobRecord, JobReply, JobStatusChangedPayload } from '../src/contracts/jobs.js';
import type { BroadcastPayload, TestNotificationReply } from '../src/contracts/test-helpers.js';

describe('wire contract', () => {
  it('createClient returns a socket typed by the contract', () => {
    const socket = createClient('http://localhost:3000', { token: 't', autoConnect: false });
    expectTypeOf(socket).toEqualTypeOf<NotifySocket>();
    socket.on('connection_status', (payload) => {
      expectTypeOf(payload.userId).toEqualTypeOf<string | null>();
      expectTypeOf(payload.connected).toEqualTypeOf<true>();
    });
    socket.on('error', (payload) => {
      expectTypeOf(payload.code).toEqualTypeOf<AckFailure['code']>();
    });
    // @ts-expect-error room:join needs { room }
    socket.emit('room:join', { name: 'x' });
    // @ts-expect-error subscribe takes a channel name string (seed 004)
    socket.emit('subscribe', { room: 'x' });
  });

  it('acks receive the reply or a failure', () => {
    expectTypeOf<Parameters<NonNullable<Parameters<ClientToServerEvents['register']>[1]>>[0]>().toEqualTypeOf<RegisterAck | AckFailure>();
    // Reply events carry the request's failure too.
    expectTypeOf<Parameters<ServerToClientEvents['room:join:ack']>[0]>().toEqualTypeOf<RoomAck | AckFailure>();
  });

  it('the development helpers: test:notification answers the stored record; broadcast is seed 004 shape', () => {
    expectTypeOf<Parameters<NonNullable<Parameters<ClientToServerEvents['test:notification']>[1]>>[0]>().toEqualTypeOf<TestNotificationReply | AckFailure>();
    expectTypeOf<Parameters<ServerToClientEvents['broadcast']>[0]>().toEqualTypeOf<BroadcastPayload>();
    const socket = createClient('http://localhost:3000', { token: 't', autoConnect: false });
    // @ts-expect-error priority is one of the inbox's priorities
    socket.emit('test:notification', { priority: 'SOON' });
  });

  it('kafka-event is seed 004 shape: { topic, event, timestamp }', () => {
    expectTypeOf<Parameters<ServerToClientEvents['kafka-event']>[0]>().toEqualTypeOf<KafkaEventPayload>();
    expectTypeOf<KafkaEventPayload>().toEqualTypeOf<{ topic: string; event: unknown; timestamp: string }>();
  });

  it('jobs: acks carry the job or a failure, events the job or its status change', () => {
    const socket = createClient('http://localhost:3000', { token: 't', autoConnect: false });
    expectTypeOf<Parameters<NonNullable<Parameters<ClientToServerEvents['job:start']>[1]>>[0]>().toEqualTypeOf<JobReply | AckFailure>();
    expectTypeOf<Parameters<ServerToClientEvents['job:assigned']>[0]>().toEqualTypeOf<JobRecord>();
    expectTypeOf<Parameters<ServerToClientEvents['job:status-changed']>[0]>().toEqualTypeOf<JobStatusChangedPayload>();
    socket.emit('job:start', { jobId: 1 });
    socket.emit('job:complete', { jobId: 'order-77', note: 'done' });
    // @ts-expect-error job:start needs { jobId }
    socket.emit('job:start', { id: 1 });
    // @ts-expect-error a job id is a number or a string
    socket.emit('job:complete', { jobId: true });
  });

  it('socket.data is typed', () => {
    expectTypeOf<SocketData['userId']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<SocketData['authenticated']>().toEqualTypeOf<boolean>();
  });
});
