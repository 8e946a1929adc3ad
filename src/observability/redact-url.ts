/**
 * Query parameter names that carry credentials. Matched case-insensitively after
 * dropping `-`, `_` and `.`, so `api_key`, `X-Api-Key` and `apiKey` are one name; the
 * test is deliberately broad (`author` and `monkey` are redacted too) because a
 * credential written to a log file cannot be taken back, while a redacted harmless value
 * costs nothing.
 */
const CREDENTIAL_NAME = /token|secret|passw|pwd|signature|credential|jwt|auth|cookie|key$|^(sig|hmac)$/;

const REDACTED = '[redacted]';

function isCredentialName(rawName: string): boolean {
  let name = rawName;
  try {
    name = decodeURIComponent(rawName.replaceAll('+', ' '));
  } catch {
    // A malformed escape cannot hide a name from the raw test below.
  }
  return CREDENTIAL_NAME.test(name.toLowerCase().replace(/[-_.\s]/g, ''));
}

/**
 * The request target as it may be logged: path and query kept as sent, except the value
 * of every credential-looking query parameter, which becomes `[redacted]`. Tokens reach
 * URLs legitimately (seed 004's `?token=` on the socket handshake), so every logged URL,
 * HTTP or Socket.IO, goes through here. Never throws, whatever the input.
 */
export function redactUrl(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart === -1) return url;
  const query = url.slice(queryStart + 1).split('&').map((pair) => {
    const equals = pair.indexOf('=');
    if (equals === -1) return pair;
    return isCredentialName(pair.slice(0, equals)) ? `${pair.slice(0, equals)}=${REDACTED}` : pair;
  });
  return `${url.slice(0, queryStart)}?${query.join('&')}`;
}
