import { Agent, request } from 'node:http';

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
