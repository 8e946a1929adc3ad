/**
 * The closed catalog of error codes. Every HTTP error body and every socket error
 * (`error` event, ack result, `connect_error` data) carries one of these codes.
 * Codes are stable: clients may switch on them. The HTTP status of each code is
 * defined here and nowhere else.
 */
export const ERROR_CATALOG = {
  INVALID_REQUEST: { status: 400, text: 'Invalid request' },
  UNKNOWN_ACTION: { status: 400, text: 'Unknown action' },
  UNAUTHORIZED: { status: 401, text: 'Authentication required' },
  INVALID_API_KEY: { status: 401, text: 'Invalid API key' },
  INVALID_SIGNATURE: { status: 401, text: 'Invalid request signature' },
  TOKEN_EXPIRED: { status: 401, text: 'Token expired' },
  FORBIDDEN: { status: 403, text: 'Forbidden' },
  NOT_FOUND: { status: 404, text: 'Not found' },
  INVALID_STATE: { status: 409, text: 'Not allowed in the current state' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, text: 'Idempotency key already used for a different request' },
  REQUEST_TIMEOUT: { status: 408, text: 'Request not received in time' },
  PAYLOAD_TOO_LARGE: { status: 413, text: 'Payload too large' },
  HEADERS_TOO_LARGE: { status: 431, text: 'Request headers too large' },
  RATE_LIMITED: { status: 429, text: 'Rate limit exceeded' },
  INTERNAL_SERVER_ERROR: { status: 500, text: 'Internal server error' },
  BAD_GATEWAY: { status: 502, text: 'Upstream service failed' },
  SERVICE_UNAVAILABLE: { status: 503, text: 'Service unavailable' },
  STORAGE_UNAVAILABLE: { status: 503, text: 'Storage unavailable' },
} as const satisfies Record<string, { status: number; text: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export const ERROR_CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CATALOG[code].status;
}

/** The JSON body of every HTTP error response. */
export interface HttpErrorBody {
  success: false;
  /** Human-readable summary; not stable, do not switch on it. */
  error: string;
  code: ErrorCode;
  requestId: string;
  /** Detail for the human reader, where there is one. */
  message?: string;
  /** Seconds to wait before retrying (429 only). */
  retryAfter?: number;
}

/** The payload of the socket `error` event (seed 002 shape). */
export interface SocketErrorPayload {
  event: string;
  message: string;
  code: ErrorCode;
  retryAfter?: number;
}

/**
 * What an ack callback receives when the request failed; the request's reply event
 * (`register:ack`, `server:response`, `room:join:ack`, ...) carries the same object.
 */
export interface AckFailure {
  success: false;
  error: string;
  code: ErrorCode;
  /** Names this failure in the server's log. */
  requestId: string;
  retryAfter?: number;
}
