import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';

/**
 * A bare Engine.IO connection over a real WebSocket, driven frame by frame: what a client
 * that is not socket.io-client (or an attacker) can send. It answers Engine.IO pings so
 * that only the server's own decisions close it.
 */
export interface RawSocket {
  /** Sends one frame as is (text or binary). */
  send(frame: string | Buffer): void;
  /** Resolves with the next text frame that `matches` (every frame by default), received from now on or already queued. */
  next(matches?: (frame: string) => boolean): Promise<string>;
  /** Resolves when the server has closed the connection (or it broke). */
  readonly closed: Promise<{ code: number }>;
  readonly isOpen: boolean;
  close(): void;
}

export interface RawSocketOptions {
  headers?: Record<string, string>;
  /** Source address of the TCP connection (any 127.x.y.z is loopback on Linux). */
  localAddress?: string;
  query?: string;
}

/** The HTTP answer to a refused WebSocket upgrade. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with ${status}: ${body}`);
  }
}

const engineUrl = (url: string, query = '') => `${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket${query}`;

/**
 * Opens an Engine.IO WebSocket and resolves once Engine.IO's open packet has arrived; no
 * Socket.IO CONNECT is sent. Rejects with UpgradeRefused when the server refuses it.
 */
export function openRawSocket(url: string, options: RawSocketOptions = {}): Promise<RawSocket> {
  const ws = new WebSocket(engineUrl(url, options.query), {
    headers: options.headers,
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
  });
  const frames: string[] = [];
  const waiting: { matches: (frame: string) => boolean; resolve: (frame: string) => void }[] = [];
  let open = false;
  const closed = new Promise<{ code: number }>((resolve) => {
    ws.once('close', (code) => {
      open = false;
      resolve({ code });
    });
  });
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const text = data.toString();
    if (text === '2') return ws.send('3');
    const index = waiting.findIndex((w) => w.matches(text));
    if (index >= 0) waiting.splice(index, 1)[0]!.resolve(text);
    else frames.push(text);
  });
  const socket: RawSocket = {
    send: (frame) => ws.send(frame),
    next(matches = () => true) {
      const index = frames.findIndex(matches);
      if (index >= 0) return Promise.resolve(frames.splice(index, 1)[0]!);
      return new Promise((resolve) => waiting.push({ matches, resolve }));
    },
    closed,
    get isOpen() {
      return open;
    },
    close: () => ws.close(),
  };
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('close', () => reject(new UpgradeRefused(res.statusCode ?? 0, body)));
      res.on('error', () => reject(new UpgradeRefused(res.statusCode ?? 0, body)));
    });
    ws.once('error', reject);
    ws.once('open', () => {
      open = true;
      void socket.next((frame) => frame.startsWith('0')).then(() => resolve(socket));
    });
  });
}

/** Sends Socket.IO's CONNECT for the main namespace and resolves with the answer frame (`40{...}` or `44{...}`). */
export function connectRaw(socket: RawSocket, auth?: Record<string, unknown>): Promise<string> {
  socket.send(auth === undefined ? '40' : `40${JSON.stringify(auth)}`);
  return socket.next((frame) => frame.startsWith('40') || frame.startsWith('44'));
}

let nextAckId = 1;

/** Sends `event` with an ack id and resolves with the ack's arguments. */
export function emitRaw(socket: RawSocket, event: string, ...args: unknown[]): Promise<unknown[]> {
  return emitRawJson(socket, event, ...args.map((arg) => JSON.stringify(arg)));
}

/**
 * As emitRaw, with each argument given as JSON text: for payloads no encoder would
 * produce (JSON nested thousands of levels deep overflows socket.io-client's).
 */
export function emitRawJson(socket: RawSocket, event: string, ...argsJson: string[]): Promise<unknown[]> {
  const id = nextAckId++;
  socket.send(`42${id}[${[JSON.stringify(event), ...argsJson].join(',')}]`);
  return socket.next((frame) => frame.startsWith(`43${id}[`)).then((frame) => JSON.parse(frame.slice(2 + String(id).length)) as unknown[]);
}

export interface PollingHandshake {
  status: number;
  body: string;
}

/** Engine.IO's first long-polling request (the handshake), with exactly the headers given. */
export function pollingHandshake(port: number, headers: Record<string, string> = {}, localAddress?: string): Promise<PollingHandshake> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/socket.io/?EIO=4&transport=polling', headers, localAddress }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
