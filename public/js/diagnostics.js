import { byId, h } from './dom.js';
import { describeConnectError } from './errors.js';
import { describeToken } from './token.js';

const MARKS = { ok: '✓', bad: '✗', wait: '…', info: '•' };
const CONNECT_WAIT_MS = 12000;
const UPGRADE_WAIT_MS = 2000;

/** One row of the diagnostics list, updated in place as the check finishes. */
function addStep(list, title) {
  const mark = h('span', { class: 'diag-mark', 'aria-hidden': 'true', text: MARKS.wait });
  const detail = h('span', { class: 'diag-detail' });
  const label = h('span', { class: 'visually-hidden', text: 'checking: ' });
  const item = h('li', { dataset: { result: 'wait' } }, mark, h('div', {}, label, h('span', { text: title }), detail));
  list.append(item);
  return (result, text) => {
    item.dataset.result = result;
    mark.textContent = MARKS[result];
    label.textContent = { ok: 'passed: ', bad: 'failed: ', wait: 'checking: ', info: '' }[result];
    detail.textContent = text;
  };
}

/**
 * The Engine.IO handshake the seed's troubleshooting checks with curl: opens a polling
 * session, reads its parameters, then closes it again (a "1" close packet) so it does
 * not linger on the server until its ping timeout.
 */
async function engineHandshake(log) {
  const base = `/socket.io/?EIO=4&transport=polling`;
  const response = await fetch(`${base}&t=${Date.now().toString(36)}`, { cache: 'no-store' });
  const text = await response.text();
  if (!response.ok || !text.startsWith('0')) {
    log.http(`GET ${base} → ${response.status}`, text, true);
    throw new Error(`HTTP ${response.status}: ${text.slice(0, 120)}`);
  }
  const open = JSON.parse(text.slice(1));
  log.http(`GET ${base} → ${response.status}`, open, false);
  await fetch(`${base}&sid=${encodeURIComponent(open.sid)}`, { method: 'POST', body: '1', headers: { 'Content-Type': 'text/plain;charset=UTF-8' } }).catch(() => {});
  return open;
}

/** Connects and resolves with the first outcome: connected, or a connect_error. */
function connectAndWait(connection, options) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ ok: false, words: `No answer within ${CONNECT_WAIT_MS / 1000} s` }), CONNECT_WAIT_MS);
    const socket = connection.connect(options);
    // connection_status follows connect and carries the user id the server settled on.
    socket.once('connection_status', () => finish({ ok: true }));
    socket.once('connect_error', () => finish({ ok: false, words: connection.state.error }));
  });
}

/** Waits briefly for the polling → websocket upgrade, so the step reports the transport in use. */
async function settleTransport(transportName) {
  for (let waited = 0; waited < UPGRADE_WAIT_MS && transportName() === 'polling'; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Connects a socket of its own beside the page's live one and resolves with the outcome.
 * Replacing the live socket would drop its rooms and registration on the server: a check
 * must not change what it checks. The probe never reconnects and is closed once measured.
 */
function probeConnection({ token }) {
  const hadToken = Boolean(token);
  const probe = io({ auth: hadToken ? { token } : {}, forceNew: true, reconnection: false, timeout: CONNECT_WAIT_MS });
  return new Promise((resolve) => {
    let done = false;
    const finish = async (outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (outcome.ok) {
        await settleTransport(() => probe.io.engine?.transport?.name ?? '');
        Object.assign(outcome, { socketId: probe.id, transport: probe.io.engine?.transport?.name ?? '?' });
      }
      probe.disconnect();
      resolve(outcome);
    };
    const timer = setTimeout(() => void finish({ ok: false, words: `No answer within ${CONNECT_WAIT_MS / 1000} s` }), CONNECT_WAIT_MS + 1000);
    probe.once('connection_status', (status) => void finish({ ok: true, userId: status?.userId ?? null }));
    probe.once('connect_error', (err) => void finish({ ok: false, words: describeConnectError(err, { hadToken }) }));
  });
}

/**
 * "Debug connection" (seed 001): checks, in order, what a connection needs and says which
 * step failed and why: page origin, Socket.IO client, /health, the Engine.IO handshake,
 * the token, and finally a real connection with its connect_error explained in words.
 * Without a live socket that connection becomes the page's; with one, a separate test
 * socket is used and the live one (its rooms, its registration) stays as it was.
 */
export async function runDiagnostics({ connection, http, log, token, tenantId }) {
  const box = byId('diagnostics');
  const list = byId('diag-list');
  box.hidden = false;
  list.replaceChildren();

  const origin = addStep(list, 'Page opened through the server');
  if (location.protocol === 'http:' || location.protocol === 'https:') origin('ok', location.origin);
  else return origin('bad', `Opened from ${location.protocol}; open http://localhost:3000 instead`);

  const library = addStep(list, 'Socket.IO client library loaded');
  if (typeof io !== 'function') return library('bad', '/socket.io/socket.io.js did not load');
  library('ok', 'served by the server at /socket.io/socket.io.js');

  const health = addStep(list, 'Server answers /health');
  const healthReply = await http.get('/health');
  if (!healthReply.ok) return health('bad', healthReply.error);
  const count = healthReply.body?.connections;
  health('ok', `${healthReply.body?.status} · ${count} ${count === 1 ? 'connection' : 'connections'}`);

  const handshake = addStep(list, 'Engine.IO handshake');
  try {
    const open = await engineHandshake(log);
    handshake('ok', `sid ${open.sid} · upgrades [${(open.upgrades ?? []).join(', ')}] · pingInterval ${open.pingInterval} ms · pingTimeout ${open.pingTimeout} ms`);
  } catch (err) {
    return handshake('bad', err instanceof Error ? err.message : String(err));
  }

  const tokenStep = addStep(list, 'Token');
  if (token) tokenStep('info', describeToken(token));
  else tokenStep('info', 'None: connecting anonymously (allowed only when ALLOW_ANONYMOUS is on, the development default)');

  const socketStep = addStep(list, 'Socket.IO connection');
  const live = connection.state;
  if (live.status === 'disconnected' || live.status === 'error') {
    // No live socket to disturb: the check's connection becomes the page's own.
    const outcome = await connectAndWait(connection, { token, tenantId });
    if (!outcome.ok) return socketStep('bad', outcome.words);
    await settleTransport(() => connection.state.transport);
    const state = connection.state;
    return socketStep('ok', `socket ${state.socketId} · transport ${state.transport} · user ${state.userId ?? '(anonymous)'}`);
  }
  const outcome = await probeConnection({ token });
  const kept = live.socketId ? `the page’s socket ${live.socketId} was left as it is` : 'the page’s connection was left as it is';
  if (!outcome.ok) return socketStep('bad', `${outcome.words} (test socket; ${kept})`);
  return socketStep('ok', `test socket ${outcome.socketId} · transport ${outcome.transport} · user ${outcome.userId ?? '(anonymous)'} · closed again; ${kept}`);
}
