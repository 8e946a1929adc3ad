import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';
import type { Server } from 'socket.io';

type EngineServer = Server['engine'];
/** The part of an Engine.IO socket read here. */
interface EngineSocket {
  request: IncomingMessage;
  once(event: 'close', listener: () => void): unknown;
}

/** Express's compiled `trust proxy` setting: whether the hop-th address is a trusted proxy. */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * The address a connection comes from, decided by the very function Express uses for
 * `req.ip` (proxy-addr): the socket's peer, then X-Forwarded-For from right to left for as
 * long as the address before is a trusted proxy. With TRUST_PROXY unset nothing is trusted
 * and the header is ignored, so a client cannot pick its own address.
 */
export function clientAddressOf(req: IncomingMessage, trust: TrustProxy): string {
  // A socket already closed has no peer address left.
  return (proxyAddr(req, trust) as string | undefined) ?? 'unknown';
}

export interface ConnectionAdmissionOptions {
  /** Open connections in all (MAX_CONNECTIONS). */
  maxConnections: number;
  /** Open connections per client address (MAX_CONNECTIONS_PER_ADDRESS). */
  maxPerAddress: number;
  clientAddress: (req: IncomingMessage) => string;
}

export interface ConnectionAdmission {
  /** Engine.IO's `allowRequest`: runs for every handshake, before any Socket.IO packet. */
  allowRequest(req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void;
  /** Holds each admitted handshake's place until its Engine.IO connection closes. */
  track(engine: EngineServer): void;
}

/**
 * Decides at the Engine.IO handshake, so that it bounds every connection, including those
 * that never send Socket.IO's CONNECT and so never meet the authentication middleware.
 *
 * A place is taken when the handshake is allowed, not when the connection appears:
 * Engine.IO creates the connection asynchronously, and handshakes pipelined on one
 * keep-alive connection are all allowed before the first of them exists, so counting
 * open connections alone would let a burst through. The place passes to the connection
 * once it exists and is given back when it closes, or when the handshake fails first.
 *
 * Refusals are Engine.IO's: a polling handshake is answered 403 `{ code: 4, message }`,
 * a WebSocket upgrade 400 with the message as body. The message starts with the
 * catalog code (RATE_LIMITED, SERVICE_UNAVAILABLE), as no other field is ours there.
 */
export function createConnectionAdmission(options: ConnectionAdmissionOptions): ConnectionAdmission {
  const perAddress = new Map<string, number>();
  let open = 0;
  const pending = new WeakMap<IncomingMessage, { release: () => void; onRequestClosed: () => void }>();

  const take = (address: string): (() => void) => {
    open += 1;
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      open -= 1;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left === 0) perAddress.delete(address);
      else perAddress.set(address, left);
    };
  };

  /** Ends `req`'s pending place; returns its release, which the caller now owns. */
  const settle = (req: IncomingMessage): (() => void) | undefined => {
    const place = pending.get(req);
    if (place === undefined) return undefined;
    pending.delete(req);
    req.socket.off('close', place.onRequestClosed);
    return place.release;
  };

  return {
    allowRequest(req, callback) {
      if (open >= options.maxConnections) {
        return callback('SERVICE_UNAVAILABLE: the server is at its connection limit (MAX_CONNECTIONS); retry later', false);
      }
      const address = options.clientAddress(req);
      if ((perAddress.get(address) ?? 0) >= options.maxPerAddress) {
        return callback('RATE_LIMITED: too many open connections from this address (MAX_CONNECTIONS_PER_ADDRESS)', false);
      }
      const release = take(address);
      // A WebSocket upgrade that ws refuses after this point ends without an Engine.IO
      // event; its TCP connection closing is then the only sign.
      const onRequestClosed = () => settle(req)?.();
      pending.set(req, { release, onRequestClosed });
      req.socket.once('close', onRequestClosed);
      callback(null, true);
    },
    track(engine) {
      engine.on('connection', (socket: EngineSocket) => {
        const release = settle(socket.request);
        if (release !== undefined) socket.once('close', release);
      });
      engine.on('connection_error', ({ req }: { req: IncomingMessage }) => settle(req)?.());
    },
  };
}
