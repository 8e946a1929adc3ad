import { byId, setStatus } from './dom.js';

/** What each `POST /socket/test/*` button sends, from the panel's fields (seed 004's bodies). */
const BODIES = {
  notification: ({ type, title, message }) => ({ type, title, message }),
  email: ({ title }) => ({ from: 'sender@example.com', subject: title }),
  // No time: the server's default, five minutes from now.
  event: ({ title }) => ({ title, location: 'Conference Room A' }),
  alarm: ({ title }) => ({ title }),
  broadcast: ({ title, message }) => ({ title, message }),
};

const OFF = 'The test helpers are off on this server (production, without ENABLE_TEST_ENDPOINTS=true).';

/**
 * The Test helpers panel: the development-only `POST /socket/test/notification|email|event|alarm|broadcast`
 * with the page's current token (each but broadcast goes to you, stored in your inbox:
 * the Notifications and Inbox panels show what arrives) and the `test:notification` socket
 * event. The server answers 404 / UNKNOWN_ACTION where the helpers are off; the panel says so.
 */
export function createDevToolsPanel({ connection, http }) {
  const els = {
    sub: byId('dev-tools-sub'),
    title: byId('dev-tools-title-input'),
    message: byId('dev-tools-message'),
    type: byId('dev-tools-type'),
    buttons: [...document.querySelectorAll('#dev-tools-panel [data-helper]')],
    socket: byId('dev-tools-socket'),
    status: byId('dev-tools-status'),
  };
  let state = connection.state;

  const fields = () => ({ type: els.type.value, title: els.title.value.trim(), message: els.message.value.trim() });

  function render() {
    const live = state.status === 'connected';
    const hasToken = live && Boolean(connection.token);
    for (const button of els.buttons) button.disabled = !hasToken;
    els.socket.disabled = !live || !state.userId;
    if (!live) els.sub.textContent = 'Connect to send yourself test notifications (development only)';
    else if (!connection.token) els.sub.textContent = 'The HTTP helpers act as the token’s user: connect with a token';
    else els.sub.textContent = `As ${state.userId}: to you, stored in your inbox; Broadcast reaches every socket`;
  }

  async function post(kind) {
    const path = `/socket/test/${kind}`;
    setStatus(els.status, `POST ${path}…`);
    const reply = await http.post(path, BODIES[kind](fields()), { asUser: true });
    if (reply.ok) setStatus(els.status, `${reply.body.message} · ${reply.body.note}`, 'ok');
    else if (reply.status === 404) setStatus(els.status, OFF, 'warn');
    else setStatus(els.status, `${path}: ${reply.error}`, 'bad');
  }

  async function emitTestNotification() {
    setStatus(els.status, 'test:notification…');
    const reply = await connection.request('test:notification', fields());
    if (reply?.success) setStatus(els.status, `test:notification stored #${reply.notification.id} in your inbox`, 'ok');
    else if (reply?.code === 'UNKNOWN_ACTION') setStatus(els.status, OFF, 'warn');
    else setStatus(els.status, `test:notification: ${reply?.code} ${reply?.error}`, 'bad');
  }

  for (const button of els.buttons) button.addEventListener('click', () => void post(button.dataset.helper));
  els.socket.addEventListener('click', () => void emitTestNotification());
  byId('dev-tools-form').addEventListener('submit', (event) => event.preventDefault());
  connection.onState((next) => {
    state = next;
    render();
  });
}
