import { byId, clockTime, setStatus } from './dom.js';

const STATE_TITLES = {
  connected: 'Connected',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  disconnected: 'Disconnected',
  error: 'Connection refused',
};

function formatUptime(seconds) {
  if (typeof seconds !== 'number') return '–';
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  const hours = Math.floor(s / 3600);
  return hours < 48 ? `${hours} h ${Math.floor((s % 3600) / 60)} min` : `${Math.floor(hours / 24)} d`;
}

function formatBytes(bytes) {
  return typeof bytes === 'number' ? `${(bytes / 1048576).toFixed(1)} MB` : '–';
}

const KEY_PLACEHOLDERS = {
  required: 'Required: one of the server’s API_KEYS',
  open: 'Not needed: this server’s API is open',
};
const REQUIRED_HINT = 'Required: this server sets API_KEYS. Enter a key to use /notify, /api/* and development tokens.';
const OPEN_HINT = 'Not needed: this server’s API is open (no API_KEYS, development).';

/**
 * The Server panel and the top bar: /health, /api/status and /api/version on demand, the
 * connection indicator (green/amber/red, socket id, transport, node), and the API key field,
 * whose hint follows what /api/version says about the server's API keys.
 *
 * The node is the `nodeId` of the /api/version answer, asked again on every (re)connection.
 * Behind a load balancer it is the socket's node when the balancer is sticky, which the
 * page needs anyway: it starts on HTTP long-polling (docs/scaling.md).
 */
export function createServerPanel({ connection, http }) {
  const stat = (id) => byId(`stat-${id}`);
  const status = byId('server-status');
  const keyInput = byId('api-key');
  const keyHint = byId('api-key-hint');
  const versionChip = byId('version-chip');
  const envChip = byId('env-chip');
  const indicator = byId('conn-indicator');
  const pill = byId('conn-pill');
  /** The node that answered the last /api/version, and the last connection state drawn. */
  let nodeId = '';
  let lastState = null;

  function setStat(id, value, tone) {
    const node = stat(id);
    node.textContent = value === undefined || value === null ? '–' : String(value);
    if (tone) node.dataset.tone = tone;
    else delete node.dataset.tone;
  }

  /** The server's mode, from /api/version: the placeholder and hint say what it is before any call fails. */
  function noteServerMode(apiKeyRequired) {
    if (typeof apiKeyRequired !== 'boolean') return;
    http.setApiKeyRequired(apiKeyRequired);
    keyInput.placeholder = KEY_PLACEHOLDERS[apiKeyRequired ? 'required' : 'open'];
    if (!keyInput.value) keyHint.textContent = apiKeyRequired ? REQUIRED_HINT : OPEN_HINT;
  }

  /** Tells whether /api/* takes the key, from what the last protected call answered. */
  function noteApiAccess(reply) {
    if (reply.ok) {
      keyHint.textContent = keyInput.value ? 'Key accepted.' : OPEN_HINT;
    } else if (reply.body?.code === 'UNAUTHORIZED') {
      keyHint.textContent = REQUIRED_HINT;
    } else if (reply.body?.code === 'INVALID_API_KEY') {
      keyHint.textContent = 'This key is not one of the server’s API_KEYS.';
    }
  }

  async function check() {
    setStatus(status, 'Checking…');
    // The version first: it says whether /api/status needs a key, so the page does not
    // ask for it without one (a refused request is a console error in every browser).
    const [health, version] = await Promise.all([http.get('/health'), http.get('/api/version')]);
    if (version.ok) noteServerMode(version.body?.apiKeyRequired);
    const apiStatus = await http.get('/api/status');

    if (health.ok) setStat('health', health.body?.status ?? 'ok', 'ok');
    else setStat('health', health.status === 0 ? 'unreachable' : health.body?.status ?? `HTTP ${health.status}`, 'bad');
    setStat('connections', health.body?.connections ?? apiStatus.body?.connections);
    setStat('uptime', formatUptime(health.body?.uptime ?? apiStatus.body?.uptime));

    if (apiStatus.ok) {
      setStat('users', apiStatus.body.activeUsers);
      setStat('rooms', apiStatus.body.rooms);
      setStat('memory', formatBytes(apiStatus.body.memory?.heapUsed));
    } else {
      for (const id of ['users', 'rooms', 'memory']) setStat(id, apiStatus.status === 401 ? 'key needed' : '–');
    }

    if (version.ok) {
      versionChip.textContent = `v${version.body.version}`;
      versionChip.title = version.body.name;
      versionChip.hidden = false;
    }
    nodeId = version.ok && typeof version.body?.nodeId === 'string' ? version.body.nodeId : '';
    setStat('node', nodeId || undefined);
    if (lastState) renderConnection(lastState);

    if (!health.ok) setStatus(status, `Server check failed: ${health.error}`, 'bad');
    else if (apiStatus.status === 401) setStatus(status, 'Healthy. This server sets API_KEYS: enter a key above to see /api/status.', 'warn');
    else if (!apiStatus.ok) setStatus(status, `Healthy. /api/status: ${apiStatus.error}`, 'warn');
    else setStatus(status, `Healthy · checked at ${clockTime()}`, 'ok');
  }

  function renderConnection(state) {
    lastState = state;
    const title = STATE_TITLES[state.status] ?? state.status;
    indicator.dataset.state = state.status;
    pill.dataset.state = state.status;
    byId('conn-title').textContent = title;
    // The reason itself is told once, in the Connect panel; here only where to find it.
    const detail = {
      connected: [
        `socket ${state.socketId}`,
        `transport ${state.transport || '?'}`,
        state.userId ? `user ${state.userId}` : 'anonymous',
        ...(nodeId ? [`node ${nodeId}`] : []),
      ].join(' · '),
      reconnecting: 'Retrying · the reason is under Connect',
      error: `Refused${state.errorCode ? ` (${state.errorCode})` : ''} · the reason is under Connect`,
    }[state.status] ?? 'No socket';
    byId('conn-detail').textContent = detail;
    byId('conn-pill-text').textContent = state.status === 'connected'
      ? `Connected · ${state.userId ?? 'anonymous'} · ${state.transport || '?'}`
      : title;
    if (state.environment) {
      envChip.textContent = state.environment;
      envChip.hidden = false;
    }
  }

  byId('server-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    await check();
    // Asked for by a click: bring the answer into view, wherever the panel sits.
    byId('server-results').scrollIntoView({ block: 'nearest' });
  });
  connection.onState(renderConnection);

  // The connection count changes with ours: refresh it when we connect or leave.
  connection.on('$connect', () => void check());
  connection.on('$disconnect', () => void check());

  return { check, noteApiAccess };
}
