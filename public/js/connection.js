import { describeConnectError } from './errors.js';

/** How long a request waits for its ack before the page reports a timeout. */
const ACK_TIMEOUT_MS = 8000;

/**
 * The page's one Socket.IO connection. Panels subscribe to server events with `on` (the
 * subscription outlives reconnects and new sockets), read connection state with
 * `onState`, and talk to the server with `request` (ack-based) or `emit`. Besides server
 * events, `on` accepts the page's own `$connect`, `$disconnect`, `$connect_error` and
 * `$any` ({ event, payload } for every incoming event).
 *
 * State: { status: disconnected | connecting | connected | reconnecting | error,
 *          socketId, transport, userId, tenantId, environment, version, error, errorCode }.
 * `error` is the refusal in words, shown once (Connect panel); `errorCode` is the server's
 * code for short mentions elsewhere.
 */
export function createConnection({ log }) {
  let socket = null;
  /** The token the current socket connected with: chat REST calls act as the same user. */
  let connectedToken = '';
  const handlers = new Map();
  const stateListeners = new Set();
  const state = {
    status: 'disconnected',
    socketId: '',
    transport: '',
    userId: null,
    tenantId: null,
    environment: '',
    version: '',
    error: '',
    errorCode: '',
  };

  function update(patch) {
    Object.assign(state, patch);
    const snapshot = { ...state };
    for (const listener of stateListeners) listener(snapshot);
  }

  function dispatch(event, payload) {
    for (const handler of handlers.get(event) ?? []) {
      try {
        handler(payload);
      } catch (err) {
        console.error(`handler for "${event}" failed`, err);
      }
    }
  }

  // Identity and server facts arrive as events; keep them in the state every panel reads.
  const identify = (payload) => update({ userId: payload?.userId ?? null });
  handlers.set('connection_status', new Set([identify]));
  handlers.set('registration_success', new Set([identify]));
  handlers.set('system:welcome', new Set([(p) => update({ environment: p?.serverInfo?.environment ?? '', version: p?.serverInfo?.version ?? '' })]));

  function watchTransport(s) {
    // The Manager opens a new engine on every (re)connection; follow each one's upgrade.
    s.io.on('open', () => {
      s.io.engine.on('upgrade', (transport) => {
        if (socket !== s) return;
        update({ transport: transport.name });
        log.connection(`transport upgraded to ${transport.name}`);
      });
    });
    s.io.on('reconnect_attempt', (attempt) => {
      if (socket === s) log.connection(`reconnecting (attempt ${attempt})`);
    });
  }

  /** Opens a new socket (closing any previous one). An empty token connects anonymously. */
  function connect({ token, tenantId }) {
    disconnect({ quiet: true });
    const hadToken = Boolean(token);
    connectedToken = token ?? '';
    // recovery: after a short drop the page gets its rooms and missed events back.
    const s = io({ auth: hadToken ? { token, recovery: true } : { recovery: true }, timeout: 10000, reconnectionDelayMax: 5000 });
    socket = s;
    update({ status: 'connecting', socketId: '', transport: '', userId: null, tenantId: tenantId || null, error: '', errorCode: '' });
    log.connection(hadToken ? 'connecting with a token' : 'connecting anonymously');
    watchTransport(s);

    s.on('connect', () => {
      if (socket !== s) return;
      const transport = s.io.engine?.transport?.name ?? '';
      update({ status: 'connected', socketId: s.id ?? '', transport, error: '', errorCode: '' });
      log.connection(`connected · ${s.id} · ${transport}${s.recovered ? ' · state recovered' : ''}`);
      dispatch('$connect', { socketId: s.id, recovered: s.recovered });
    });
    s.on('disconnect', (reason) => {
      if (socket !== s) return;
      const willRetry = s.active;
      update({ status: willRetry ? 'reconnecting' : 'disconnected', socketId: '', transport: '', error: willRetry ? `Connection lost (${reason})` : '' });
      log.connection(`disconnected: ${reason}`, undefined, reason !== 'io client disconnect');
      dispatch('$disconnect', { reason });
    });
    s.on('connect_error', (err) => {
      if (socket !== s) return;
      const words = describeConnectError(err, { hadToken });
      // s.active is false when the server itself refused: Socket.IO will not retry then.
      update({ status: s.active ? 'reconnecting' : 'error', error: words, errorCode: err?.data?.code ?? '' });
      log.connection(`connect_error${err?.data?.code ? ` ${err.data.code}` : ''}`, { message: err?.message, data: err?.data, meaning: words }, true);
      dispatch('$connect_error', { error: err, words });
    });
    s.onAny((event, payload) => {
      if (socket !== s) return;
      log.incoming(event, payload);
      dispatch(event, payload);
      dispatch('$any', { event, payload });
    });
    s.onAnyOutgoing((event, payload) => {
      if (socket === s) log.outgoing(event, payload);
    });
    return s;
  }

  function disconnect({ quiet = false } = {}) {
    const s = socket;
    if (!s) return;
    socket = null;
    connectedToken = '';
    s.disconnect();
    update({ status: 'disconnected', socketId: '', transport: '', userId: null, error: '', errorCode: '' });
    if (!quiet) log.connection('disconnected by you');
    dispatch('$disconnect', { reason: 'io client disconnect' });
  }

  /**
   * Emits with an ack and resolves with the reply: the server's result, or its failure
   * `{ success: false, error, code }`. Never rejects.
   */
  async function request(event, payload) {
    const s = socket;
    if (!s?.connected) return { success: false, code: 'NOT_CONNECTED', error: 'Not connected' };
    try {
      const reply = await s.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
      log.ack(event, reply);
      return reply;
    } catch {
      const reply = { success: false, code: 'TIMEOUT', error: `No answer to ${event} within ${ACK_TIMEOUT_MS / 1000} s` };
      log.ack(event, reply);
      return reply;
    }
  }

  /** Fire and forget (typing notices, read receipts). */
  function emit(event, payload) {
    if (socket?.connected) socket.emit(event, payload);
  }

  return {
    connect,
    disconnect,
    request,
    emit,
    on(event, handler) {
      if (!handlers.has(event)) handlers.set(event, new Set());
      handlers.get(event).add(handler);
    },
    onState(listener) {
      stateListeners.add(listener);
      listener({ ...state });
    },
    get state() {
      return { ...state };
    },
    get token() {
      return connectedToken;
    },
    get connected() {
      return Boolean(socket?.connected);
    },
  };
}
