import { runDiagnostics } from './diagnostics.js';
import { byId, setStatus } from './dom.js';
import { describeToken } from './token.js';

const randomSuffix = () => crypto.randomUUID().slice(0, 4);

/**
 * The Connect panel: user id, optional tenant, token (with "Get a development token"),
 * connect / disconnect / debug, and seed 001's register_user with a machine id.
 */
export function createConnectPanel({ connection, http, log }) {
  const userInput = byId('user-id');
  const tenantInput = byId('tenant-id');
  const tokenInput = byId('token');
  const tokenInfo = byId('token-info');
  const machineInput = byId('machine-id');
  const status = byId('connect-status');
  const buttons = {
    devToken: byId('dev-token-btn'),
    connect: byId('connect-btn'),
    disconnect: byId('disconnect-btn'),
    debug: byId('debug-btn'),
    register: byId('register-btn'),
  };

  // Distinct defaults, so two tabs opened side by side are two users out of the box.
  userInput.value = `user-${randomSuffix()}`;
  machineInput.value = `web-${randomSuffix()}`;

  const token = () => tokenInput.value.trim();
  const tenantId = () => tenantInput.value.trim();
  const renderTokenInfo = () => {
    tokenInfo.textContent = describeToken(token());
  };
  tokenInput.addEventListener('input', renderTokenInfo);

  async function getDevToken() {
    const userId = userInput.value.trim();
    if (!userId) {
      setStatus(status, 'Enter a user id first.', 'warn');
      userInput.focus();
      return;
    }
    buttons.devToken.disabled = true;
    const body = tenantId() ? { userId, tenantId: tenantId() } : { userId };
    const reply = await http.post('/api/dev/token', body);
    buttons.devToken.disabled = false;
    if (reply.ok) {
      tokenInput.value = reply.body.token;
      renderTokenInfo();
      const until = new Date(reply.body.expiresAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
      setStatus(status, `Development token for ${userId}, valid until ${until}. Press Connect.`, 'ok');
    } else if (reply.status === 401) {
      setStatus(status, 'This server sets API_KEYS: enter the API key in the Server panel, then get the token again.', 'warn');
    } else if (reply.status === 404) {
      setStatus(status, 'Development tokens are off: this server runs in production. Paste a token minted by your backend.', 'warn');
    } else {
      setStatus(status, `Could not get a token: ${reply.error}`, 'bad');
    }
  }

  async function register() {
    const payload = { machineId: machineInput.value.trim(), userId: userInput.value.trim() };
    const reply = await connection.request('register_user', payload);
    if (reply?.success === false) setStatus(status, `register_user refused: ${reply.code} ${reply.error}`, 'bad');
    else setStatus(status, `Registered ${reply.userId} on machine ${reply.machineId}.`, 'ok');
  }

  buttons.devToken.addEventListener('click', () => void getDevToken());
  byId('connect-form').addEventListener('submit', (event) => {
    event.preventDefault();
    connection.connect({ token: token(), tenantId: tenantId() });
  });
  buttons.disconnect.addEventListener('click', () => connection.disconnect());
  buttons.register.addEventListener('click', () => void register());
  buttons.debug.addEventListener('click', async () => {
    buttons.debug.disabled = true;
    try {
      await runDiagnostics({ connection, http, log, token: token(), tenantId: tenantId() });
    } finally {
      buttons.debug.disabled = false;
    }
  });

  connection.on('error', (payload) => {
    if (payload?.code === 'TOKEN_EXPIRED') setStatus(status, 'The token expired and the server closed the socket. Get a new token and connect again.', 'bad');
  });

  let previous = 'disconnected';
  connection.onState((state) => {
    const live = state.status === 'connected';
    const open = live || state.status === 'connecting' || state.status === 'reconnecting';
    buttons.disconnect.disabled = !open;
    buttons.register.disabled = !live;
    buttons.connect.textContent = open ? 'Reconnect' : 'Connect';
    if (state.error) setStatus(status, state.error, state.status === 'reconnecting' ? 'warn' : 'bad');
    else if (live && state.userId) setStatus(status, `Connected as ${state.userId}.`, 'ok');
    else if (live) setStatus(status, 'Connected anonymously: register a user to chat, or connect with a token.', 'warn');
    else if (state.status === 'connecting') setStatus(status, 'Connecting…');
    else if (state.status === 'disconnected' && previous !== 'disconnected') setStatus(status, 'Disconnected.');
    previous = state.status;
  });

  return { userId: () => userInput.value.trim(), token, machineId: () => machineInput.value.trim() };
}
