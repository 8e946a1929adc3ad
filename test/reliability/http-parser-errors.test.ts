import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/contracts/error-codes.js';
import { startServer, type TestServer } from '../support/server.js';
import { openRawTcp, statusOf } from './support/raw-http.js';

/**
 * Requests Node's HTTP parser refuses before Express sees them used to get a bare status
 * and no body (found by the HTTP fuzzer). They now carry the common error shape with a
 * catalog code, like every other error.
 */

/** Writes `raw` on a fresh connection and resolves with everything answered until the server closes it. */
async function exchange(port: number, raw: string): Promise<string> {
  const answer = await openRawTcp(port, raw);
  await answer.closed;
  return answer.text();
}

function parse(answer: string): { status: number; headers: string; body: { code?: string; success?: boolean; requestId?: string } } {
  const split = answer.indexOf('\r\n\r\n');
  return {
    status: statusOf(answer),
    headers: answer.slice(0, split),
    body: JSON.parse(answer.slice(split + 4)) as { code?: string },
  };
}

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.close());

describe("Node's parser-level refusals carry a catalog code", () => {
  it('431 HEADERS_TOO_LARGE for a request line over 16 KiB', async () => {
    const answer = parse(await exchange(t.port, `GET /api/users/${'a'.repeat(20_000)}/sessions HTTP/1.1\r\nHost: x\r\n\r\n`));
    expect(answer.status).toBe(431);
    expect(answer.body).toMatchObject({ success: false, code: 'HEADERS_TOO_LARGE', requestId: expect.any(String) });
    expect(answer.headers).toMatch(/\r\nConnection: close/);
  });

  it('400 INVALID_REQUEST for a malformed header and for a request line that is not HTTP', async () => {
    for (const raw of ['GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 'NOT HTTP AT ALL\r\n\r\n']) {
      const answer = parse(await exchange(t.port, raw));
      expect(answer.status).toBe(400);
      expect(answer.body.code).toBe('INVALID_REQUEST');
      expect(ERROR_CODES).toContain(answer.body.code);
    }
  });

  it('the server keeps serving afterwards', async () => {
    const answer = await exchange(t.port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
  });
});
