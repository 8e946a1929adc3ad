// The server's error codes (src/contracts/error-codes.ts), explained for a person.

const CODE_WORDS = {
  INVALID_REQUEST: 'The request was malformed or failed validation.',
  UNKNOWN_ACTION: 'The server does not know this action.',
  UNAUTHORIZED: 'Authentication is required, or the token was refused.',
  INVALID_API_KEY: 'The API key is not one the server accepts.',
  INVALID_SIGNATURE: 'The request signature is missing or wrong.',
  TOKEN_EXPIRED: 'The token has expired.',
  FORBIDDEN: 'Authenticated, but not allowed to do this.',
  NOT_FOUND: 'No such route or resource.',
  PAYLOAD_TOO_LARGE: 'The payload is larger than the server allows.',
  RATE_LIMITED: 'Too many requests: wait and try again.',
  INTERNAL_SERVER_ERROR: 'The server failed; its log has the details.',
  BAD_GATEWAY: 'The application backend (webhook) failed or did not answer.',
  SERVICE_UNAVAILABLE: 'The server is shutting down or not ready.',
  STORAGE_UNAVAILABLE: 'The server cannot write to its storage.',
};

/** A sentence for an error code, or '' for an unknown one. */
export function describeCode(code) {
  return typeof code === 'string' && Object.hasOwn(CODE_WORDS, code) ? CODE_WORDS[code] : '';
}

/**
 * What a `connect_error` means, in words: the server's refusals carry `err.data.code`
 * (docs/protocol.md, "Connecting"); transport failures carry only a message.
 */
export function describeConnectError(err, { hadToken }) {
  const code = err?.data?.code;
  const retryAfter = err?.data?.retryAfter;
  const serverSaid = err?.message ? ` Server: “${err.message}”.` : '';
  switch (code) {
    case 'UNAUTHORIZED':
      return hadToken
        ? `The server refused the token (UNAUTHORIZED): it is malformed, signed with another secret or algorithm, has the wrong issuer or audience, or has no user id.${serverSaid} Get a new token.`
        : 'This server requires a token (anonymous sockets are off). Get a development token or paste one from your backend.';
    case 'TOKEN_EXPIRED':
      return 'The token has expired. Get a new token and connect again.';
    case 'RATE_LIMITED':
      return `Too many new connections from this address. Retry in ${retryAfter ?? 'a few'} s.`;
    case 'SERVICE_UNAVAILABLE':
      return 'The server is shutting down and refuses new sockets.';
    default:
      break;
  }
  const message = String(err?.message ?? '');
  if (/xhr poll error|websocket error|timeout/i.test(message)) {
    return `The server could not be reached (${message}). Is it running, and is this page opened from it?`;
  }
  return message || 'The connection failed for an unknown reason.';
}

/** One line for a failed HTTP or ack result: the server's message plus the code in words. */
export function describeFailure(body, status) {
  const code = body?.code;
  const detail = body?.message ?? body?.error ?? (status ? `HTTP ${status}` : 'No answer');
  const words = describeCode(code);
  const prefix = code ? `${code}: ` : status ? `HTTP ${status}: ` : '';
  return `${prefix}${detail}${words && words !== detail ? ` (${words})` : ''}`;
}
