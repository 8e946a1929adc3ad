import { Agent, request } from 'node:http';
import { connect } from 'node:net';

export interface RawRequest {
  method: string;
  /** Sent exactly as given: malformed percent-encoding stays malformed. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface RawResponse {
  status: number;
  contentType: string;
  text: string;
}

/**
 * An HTTP client that sends what it is given, byte for byte, where fetch and supertest
 * would normalise the path or refuse the body. One keep-alive agent per server, so a
 * fuzz run does not open a connection per request.
 */
export function createRawHttp(baseUrl: string) {
  const { hostname, port } = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  return {
    send(req: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
      return new Promise((resolve, reject) => {
        const body = req.body === undefined ? undefined : Buffer.from(req.body);
        const headers = { ...req.headers, ...(body !== undefined ? { 'Content-Length': String(body.length) } : {}) };
        const outgoing = request({ host: hostname, port, method: req.method, path: req.path, headers, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        });
        outgoing.setTimeout(timeoutMs, () => outgoing.destroy(new Error(`no answer to ${req.method} ${req.path} within ${timeoutMs} ms`)));
        outgoing.on('error', reject);
        outgoing.end(body);
      });
    },
    close(): void {
      agent.destroy();
    },
  };
}

/** Percent-encodes every byte outside the unreserved set (lone surrogates become U+FFFD first). */
export function encodeSegment(value: string): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

export interface RawTcpExchange {
  /** Everything the server has sent so far. */
  text(): string;
  /** Resolves once the server has ended or reset the connection. */
  closed: Promise<void>;
}

export interface Drip {
  /** Written one per tick, in turn and round again. */
  pieces: readonly string[];
  everyMs: number;
}

/**
 * Opens a raw TCP connection to `port` on 127.0.0.1 and writes `opening` (unless empty);
 * then, with `drip`, keeps writing as a slow client does until the server ends the
 * connection. Resolves once connected.
 */
export function openRawTcp(port: number, opening: string, drip?: Drip): Promise<RawTcpExchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let sent = 0;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    let dripper: NodeJS.Timeout | undefined;
    const closed = new Promise<void>((done) => {
      const finish = () => {
        clearInterval(dripper);
        done();
      };
      // A reset (the server closing with our bytes in flight) counts as closed too.
      socket.on('error', finish);
      socket.on('end', finish);
      socket.on('close', finish);
    });
    socket.once('connect', () => {
      if (opening !== '') socket.write(opening);
      if (drip !== undefined && drip.pieces.length > 0) {
        dripper = setInterval(() => {
          if (socket.writable) socket.write(drip.pieces[sent++ % drip.pieces.length]!);
        }, drip.everyMs);
      }
      resolve({ text: () => received, closed });
    });
    socket.once('error', reject);
  });
}

/** The status code of a raw HTTP/1.1 answer. */
export const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
