import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { ERROR_CATALOG, type ErrorCode, type HttpErrorBody } from '../contracts/error-codes.js';

/** What Node's HTTP parser and timers report before a request reaches Express. */
function codeOf(err: NodeJS.ErrnoException): ErrorCode {
  if (err.code === 'HPE_HEADER_OVERFLOW') return 'HEADERS_TOO_LARGE';
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT') return 'REQUEST_TIMEOUT';
  return 'INVALID_REQUEST';
}

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  HEADERS_TOO_LARGE: 'Request line and headers are larger than the server reads (16 KiB)',
  REQUEST_TIMEOUT: 'The request did not arrive in time (HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS)',
  INVALID_REQUEST: 'The request is not valid HTTP',
};

/**
 * The http.Server 'clientError' listener: Node answers a request it cannot parse, or one
 * that did not arrive in time, before Express sees it, with a bare status and no body. This
 * answers the same statuses (400, 408, 431) in the common error shape with a catalog code,
 * then closes the connection, which is all Node would do after such an error anyway.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset peer, or one whose answer has already begun, gets nothing more (Node's own rule).
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  const code = codeOf(err);
  const requestId = randomUUID();
  const body: HttpErrorBody = { success: false, error: MESSAGES[code] ?? ERROR_CATALOG[code].text, code, requestId };
  const json = JSON.stringify(body);
  const { status, text } = ERROR_CATALOG[code];
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(json)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${json}`,
  );
}
