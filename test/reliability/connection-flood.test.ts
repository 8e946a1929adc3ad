import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, connectError, type TestSocket } from '../support/client.js';
import { UpgradeRefused, connectRaw, emitRaw, openRawSocket, pollingHandshake, type RawSocket } from '../support/raw-socket.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';

/**
 * Item 1 of issue 10: Engine.IO connections that never send Socket.IO's CONNECT skipped
 * the authentication middleware and with it every limit (one address held 2,000 for
 * 45 s), and a refused socket kept its WebSocket open. Now the handshake itself is
 * bounded, per address and in all, a connection must CONNECT within a few seconds, and a
 * refused one is closed.
 */

/** Another loopback source address: a second client machine, as far as the server can tell. */
const OTHER_ADDRESS = '127.0.0.2';
/** engine.io-client hands `localAddress` to ws in Node; its option types leave it out. */
const fromOtherAddress = { localAddress: OTHER_ADDRESS } as Partial<ManagerOptions & SocketOptions>;

let t: TestServer | undefined;
const opened: { close(): void }[] = [];
afterEach(async () => {
  for (const socket of opened.splice(0)) socket.close();
  await t?.close();
  t = undefined;
});

async function raw(options: Parameters<typeof openRawSocket>[1] = {}): Promise<RawSocket> {
  const socket = await openRawSocket(t!.url, options);
  opened.push(socket);
  return socket;
}

async function client(options: Parameters<typeof connectClient>[1] = {}): Promise<TestSocket> {
  const socket = await connectClient(t!.url, options);
  opened.push(socket);
  return socket;
}

/** Resolves with the refusal of a WebSocket upgrade that must be refused. */
async function refusedUpgrade(options: Parameters<typeof openRawSocket>[1] = {}): Promise<UpgradeRefused> {
  const outcome = await openRawSocket(t!.url, options).then(
    (socket) => {
      socket.close();
      return new Error('the upgrade was accepted');
    },
    (err: unknown) => err,
  );
  if (!(outcome instanceof UpgradeRefused)) throw outcome;
  return outcome;
}

/**
 * Follows the server's side of every Engine.IO connection opened from now on: `next()`
 * resolves when the server has closed one (and so given its place back).
 */
function serverSideCloses(server: TestServer): { next(): Promise<void> } {
  let notify = () => {};
  server.server.io.engine.on('connection', (socket: { once(event: 'close', listener: () => void): void }) => {
    socket.once('close', () => notify());
  });
  return { next: () => new Promise<void>((resolve) => (notify = resolve)) };
}

describe('connections per address, counted at the Engine.IO handshake', () => {
  it('refuses connections that never CONNECT beyond MAX_CONNECTIONS_PER_ADDRESS, and gives a place back when one closes', async () => {
    t = await startServer({ MAX_CONNECTIONS_PER_ADDRESS: '5', SOCKET_CONNECT_TIMEOUT_MS: '60000' });
    const closes = serverSideCloses(t);
    for (let i = 0; i < 5; i++) await raw();

    const upgrade = await refusedUpgrade();
    expect(upgrade.status).toBe(400);
    expect(upgrade.body).toMatch(/^RATE_LIMITED: .*MAX_CONNECTIONS_PER_ADDRESS/);
    const polling = await pollingHandshake(t.port);
    expect(polling.status).toBe(403);
    expect(JSON.parse(polling.body)).toMatchObject({ message: expect.stringMatching(/^RATE_LIMITED: /) });

    // Another address is not affected.
    await client(fromOtherAddress);

    const released = closes.next();
    opened[0]!.close();
    await released;
    await raw();
    await refusedUpgrade();
  });

  it('holds the limit against handshakes pipelined on one keep-alive connection', async () => {
    t = await startServer({ MAX_CONNECTIONS_PER_ADDRESS: '3' });
    const socket = tcpConnect(t.port, '127.0.0.1');
    await once(socket, 'connect');
    const handshake = `GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\n\r\n`;
    let answers = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answers += chunk));
    // A body with a Content-Length runs straight into the next status line.
    const statuses = () => [...answers.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((match) => match[1]);
    const allAnswered = new Promise<void>((resolve) => socket.on('data', () => statuses().length === 10 && resolve()));
    socket.write(handshake.repeat(10));
    await allAnswered;
    socket.destroy();
    expect(statuses().filter((status) => status === '200')).toHaveLength(3);
    expect(statuses().filter((status) => status === '403')).toHaveLength(7);
  });

  it('counts by X-Forwarded-For only when TRUST_PROXY trusts the proxy', async () => {
    t = await startServer({ MAX_CONNECTIONS_PER_ADDRESS: '2', SOCKET_CONNECT_TIMEOUT_MS: '60000' });
    // Not behind a trusted proxy: a client cannot pick its own address.
    await raw({ headers: { 'X-Forwarded-For': '203.0.113.1' } });
    await raw({ headers: { 'X-Forwarded-For': '203.0.113.2' } });
    await refusedUpgrade({ headers: { 'X-Forwarded-For': '203.0.113.3' } });
    await t.close();
    opened.splice(0).forEach((socket) => socket.close());

    t = await startServer({ MAX_CONNECTIONS_PER_ADDRESS: '2', SOCKET_CONNECT_TIMEOUT_MS: '60000', TRUST_PROXY: 'loopback' });
    for (const address of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) await raw({ headers: { 'X-Forwarded-For': address } });
    await raw({ headers: { 'X-Forwarded-For': '198.51.100.7' } });
    await raw({ headers: { 'X-Forwarded-For': '10.9.9.9, 198.51.100.7' } });
    const refused = await refusedUpgrade({ headers: { 'X-Forwarded-For': '198.51.100.7' } });
    expect(refused.body).toMatch(/^RATE_LIMITED/);
  });
});

describe('connections that never get in', () => {
  it('closes a connection that never sends CONNECT after SOCKET_CONNECT_TIMEOUT_MS', async () => {
    t = await startServer({ SOCKET_CONNECT_TIMEOUT_MS: '200', MAX_CONNECTIONS_PER_ADDRESS: '2' });
    const idle = await raw();
    const user = await raw();
    expect(await connectRaw(user)).toMatch(/^40\{"sid":/);
    await idle.closed;

    // The idle connection's place is free again. This one's timeout is armed after the
    // user's, so once it has closed, the user's has fired too: the user stays.
    const later = await raw();
    await later.closed;
    expect(user.isOpen).toBe(true);
    expect(await emitRaw(user, 'ping', {})).toEqual([{ timestamp: expect.any(String) }]);
  });

  it.each([
    ['no token (UNAUTHORIZED)', {}, undefined, 'UNAUTHORIZED'],
    ['a bad token (UNAUTHORIZED)', {}, { token: 'not.a.jwt' }, 'UNAUTHORIZED'],
    ['over the per-minute limit (RATE_LIMITED)', { RATE_LIMIT_WS_CONNECTIONS_PER_MINUTE: '1' }, { token: signToken({ userId: 'a' }) }, 'RATE_LIMITED'],
  ])('closes the connection of a socket refused for %s once its connect_error is sent', async (_what, env, auth, code) => {
    // The connect timeout is far away: only the refusal can close the connection here.
    t = await startServer({ JWT_SECRET: TEST_SECRET, ALLOW_ANONYMOUS: 'false', SOCKET_CONNECT_TIMEOUT_MS: '60000', ...env });
    if (code === 'RATE_LIMITED') expect(await connectRaw(await raw(), auth)).toMatch(/^40\{"sid":/);
    const refused = await raw();
    const answer = await connectRaw(refused, auth);
    expect(JSON.parse(answer.slice(2))).toMatchObject({ data: { code } });
    await refused.closed;
  });
});

describe('MAX_CONNECTIONS', () => {
  it('refuses the next connection with a clear message, and lets a user in once one leaves', async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET, MAX_CONNECTIONS: '3', SOCKET_CONNECT_TIMEOUT_MS: '60000' });
    const closes = serverSideCloses(t);
    const alice = await client({ auth: { token: signToken({ userId: 'alice' }) } });
    await raw();
    await raw({ localAddress: OTHER_ADDRESS });

    const upgrade = await refusedUpgrade({ localAddress: OTHER_ADDRESS });
    expect(upgrade.body).toMatch(/^SERVICE_UNAVAILABLE: .*MAX_CONNECTIONS/);
    const polling = await pollingHandshake(t.port, {}, OTHER_ADDRESS);
    expect(polling.status).toBe(403);
    expect(JSON.parse(polling.body).message).toMatch(/^SERVICE_UNAVAILABLE: the server is at its connection limit/);
    const bobToken = signToken({ userId: 'bob' });
    await connectError(t.url, { auth: { token: bobToken } });

    const released = closes.next();
    alice.close();
    await released;
    const bob = await client({ auth: { token: bobToken } });
    expect(bob.connected).toBe(true);
  });
});

describe('a flood from one address', () => {
  it('keeps /health answering and other addresses connecting while 300 connections are attempted', async () => {
    t = await startServer({ JWT_SECRET: TEST_SECRET, MAX_CONNECTIONS_PER_ADDRESS: '50', SOCKET_CONNECT_TIMEOUT_MS: '60000' });
    const attempts = Promise.allSettled(
      Array.from({ length: 300 }, () =>
        openRawSocket(t!.url).then((socket) => {
          opened.push(socket);
          return socket;
        }),
      ),
    );
    // Asked while the attempts are in flight.
    const health = await request(t.url).get('/health');
    expect(health.status).toBe(200);

    const outcomes = await attempts;
    const accepted = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(accepted).toHaveLength(50);
    expect(refused).toHaveLength(250);
    for (const outcome of refused) expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(UpgradeRefused);

    expect((await request(t.url).get('/health')).status).toBe(200);
    const user = await client({ ...fromOtherAddress, auth: { token: signToken({ userId: 'neighbour' }) } });
    expect(user.connected).toBe(true);
  });
});
