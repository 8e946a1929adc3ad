import { describeFailure } from './errors.js';

/** Paths behind the API key (everything under /api but the version, and /notify). */
const isKeyProtected = (path) => path === '/notify' || (path.startsWith('/api/') && !path.startsWith('/api/version'));

/**
 * Same-origin JSON calls to the server. Each request carries the API key when one is
 * entered and, where `asUser` is set, the user's token as a Bearer header (chat REST is
 * then scoped to that user). Every call is written to the event log; `onApiReply` sees
 * each answer to a key-protected call made without a user token, to tell whether the
 * server wants a key.
 *
 * Once told the server requires API keys (`setApiKeyRequired`), a key-protected call with
 * neither a key nor a user token is not sent: it would only be refused, and every refused
 * request is a console error. It answers as the server would (401 UNAUTHORIZED), so
 * callers need no special case.
 *
 * Resolves with { ok, status, body, error }: never throws, so callers show `error`.
 */
export function createHttpClient({ apiKey, token, log, onApiReply }) {
  let apiKeyRequired = false;

  function headersFor({ body, bearer }) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const key = apiKey();
    if (key) headers['X-API-Key'] = key;
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    return headers;
  }

  async function request(method, path, { body, asUser = false } = {}) {
    const line = `${method} ${path}`;
    const bearer = asUser ? token() : '';
    if (apiKeyRequired && !bearer && !apiKey() && isKeyProtected(path)) {
      const error = 'This server sets API_KEYS: enter the API key in the Server panel.';
      log.http(`${line} → not sent: no API key`, { error }, true);
      const reply = { ok: false, status: 401, body: { code: 'UNAUTHORIZED', error }, error };
      onApiReply?.(reply);
      return reply;
    }
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: headersFor({ body, bearer }),
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
      });
    } catch (err) {
      const error = `The server could not be reached (${err instanceof Error ? err.message : String(err)})`;
      log.http(`${line} → failed`, { error }, true);
      return { ok: false, status: 0, body: null, error };
    }
    const text = await response.text();
    let parsed = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page, say): keep the text.
    }
    log.http(`${line} → ${response.status}`, parsed, !response.ok);
    const error = response.ok ? '' : describeFailure(parsed, response.status);
    const reply = { ok: response.ok, status: response.status, body: parsed, error };
    if (!bearer && isKeyProtected(path)) onApiReply?.(reply);
    return reply;
  }

  return {
    request,
    setApiKeyRequired(required) {
      apiKeyRequired = required;
    },
    get: (path, options) => request('GET', path, options),
    post: (path, body, options) => request('POST', path, { ...options, body }),
  };
}

/** Quotes a string for a POSIX shell (single quotes; embedded ones closed and escaped). */
function shellQuote(value) {
  return `'${String(value).replaceAll("'", `'\\''`)}'`;
}

/**
 * The curl command for a JSON POST to this server, as a terminal would need it. The API key
 * is included only when one is entered (an open development server needs none).
 */
export function curlCommand(path, body, { apiKey } = {}) {
  const lines = [`curl -X POST ${shellQuote(`${location.origin}${path}`)}`, `-H 'Content-Type: application/json'`];
  if (apiKey) lines.push(`-H ${shellQuote(`X-API-Key: ${apiKey}`)}`);
  lines.push(`-d ${shellQuote(JSON.stringify(body))}`);
  return lines.join(' \\\n  ');
}

/** Copies text to the clipboard; false when the browser refuses (then the user copies by hand). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
