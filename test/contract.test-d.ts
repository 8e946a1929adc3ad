/** Type-level tests: the wire contract stays what clients compile against. */
import { describe, expectTypeOf, it } from 'vitest';
import { createClient, type NotifySocket } from '../src/client/index.js';
import type { AckFailure } from '../src/contracts/error-codes.js';
import type { ClientToServerEvents, RegisterAck, RoomAck, ServerToClientEvents, SocketData } from '../src/contracts/events.js';

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

  it('socket.data is typed', () => {
    expectTypeOf<SocketData['userId']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<SocketData['authenticated']>().toEqualTypeOf<boolean>();
  });
});
