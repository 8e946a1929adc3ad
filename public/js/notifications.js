import { byId, clockTime, compactJson, h, isObject, rawJson, setStatus } from './dom.js';
import { copyText, curlCommand } from './http.js';

const TYPES = new Set(['info', 'success', 'warning', 'error']);
const MAX_CARDS = 200;

/**
 * Events the other panels own (connection greetings, replies, chat, rooms, inbox). Everything
 * else a publisher emits (POST /api/push, /api/broadcast, /api/room with an event name
 * of its own) is shown here as a pushed event.
 */
const OWNED_ELSEWHERE = new Set([
  'connection_status', 'system:welcome', 'connected', 'error', 'register:ack', 'registration_success',
  'registration_error', 'pong', 'message', 'server:response', 'message:ack', 'action:result', 'room:join:ack',
  'room:leave:ack', 'system:state_recovered', 'system:state_recovery_failed', 'session_created', 'new_chat_session',
  'session_error', 'message_sent', 'new_message', 'receiver_unavailable', 'message_error', 'message_read', 'message_delivered', 'typing',
  'notification:new', 'notification:unread-count', 'notification:marked-read', 'notification:deleted', 'notification:list:ack',
  'notification:read:ack', 'notification:read-all:ack', 'notification:delete:ack', 'test:notification:ack',
  'job:assigned', 'job:started', 'job:completed', 'job:status-changed',
  'kafka-event',
]);

const ENDPOINT_HINTS = {
  '/notify': 'Broadcasts the fields below as the notification event to every socket (seed 000).',
  '/api/push': 'Emits an event to one user, or to several (comma-separated), on all their sockets; persisted, it is also stored in each user’s inbox.',
  '/api/broadcast': 'Emits an event to every connected socket.',
  '/api/room': 'Emits an event to every socket in a room.',
};

/** Title, text and colour of a card, from whatever shape the payload has. */
function describePayload(event, payload) {
  const fields = isObject(payload) ? payload : {};
  const inner = isObject(fields.data) ? fields.data : {};
  const pick = (...keys) => {
    for (const key of keys) {
      const value = fields[key] ?? inner[key];
      if (typeof value === 'string' || typeof value === 'number') return String(value);
    }
    return '';
  };
  const rawType = pick('type', 'level', 'severity').toLowerCase();
  const type = event === 'system:shutdown' ? 'warning' : TYPES.has(rawType) ? rawType : event === 'notification' ? 'info' : 'event';
  const title = pick('title', 'subject', 'name') || (event === 'notification' ? 'Notification' : event);
  let text = pick('message', 'body', 'text', 'content');
  if (!text && !isObject(payload)) text = compactJson(payload);
  return { type, title, text };
}

/** The request body the form describes, for the chosen endpoint. */
function buildBody(endpoint, form) {
  const data = { title: form.title, message: form.message, type: form.type, ...form.extra };
  switch (endpoint) {
    case '/notify':
      return data;
    case '/api/push': {
      const users = form.target.split(',').map((id) => id.trim()).filter(Boolean);
      const who = users.length === 1 ? { userId: users[0] } : { userIds: users };
      return { ...who, event: form.event, data, ...(form.persist ? { persist: true } : {}) };
    }
    case '/api/broadcast':
      return { event: form.event, data };
    default:
      return { room: form.target, event: form.event, data };
  }
}

/**
 * The Notifications panel: live `notification` events and any pushed event, as cards
 * coloured by type with a timestamp and the raw JSON on demand; and a form that sends
 * /notify, /api/push, /api/broadcast or /api/room, with copy-as-curl.
 */
export function createNotificationsPanel({ connection, http, apiKey }) {
  const list = byId('notification-list');
  const empty = byId('notifications-empty');
  const counter = byId('notification-count');
  const form = byId('send-form');
  const sendStatus = byId('send-status');
  const curlPreview = byId('curl-preview');
  const inputs = {
    target: byId('send-target'),
    event: byId('send-event'),
    title: byId('send-title'),
    message: byId('send-message'),
    type: byId('send-type'),
    extra: byId('send-extra'),
    persist: byId('send-persist'),
  };
  let count = 0;

  function addCard(event, payload) {
    const { type, title, text } = describePayload(event, payload);
    const source = event === 'notification' ? 'notification' : `event · ${event}`;
    const card = h(
      'li',
      { class: 'card', dataset: { type, event } },
      h(
        'div',
        { class: 'card-head' },
        h('span', { class: 'badge', text: type }),
        h('span', { class: 'card-event', text: source }),
        h('time', { class: 'card-time', datetime: new Date().toISOString(), text: clockTime() }),
      ),
      h('p', { class: 'card-title', text: title }),
      text ? h('p', { class: 'card-text', text }) : null,
      rawJson(payload),
    );
    list.prepend(card);
    while (list.children.length > MAX_CARDS) list.lastElementChild?.remove();
    count += 1;
    counter.textContent = String(count);
    empty.hidden = true;
  }

  connection.on('notification', (payload) => addCard('notification', payload));
  connection.on('system:shutdown', (payload) => addCard('system:shutdown', payload));
  connection.on('client:message', (payload) => addCard('client:message', payload));
  connection.on('$any', ({ event, payload }) => {
    if (event !== 'notification' && event !== 'system:shutdown' && event !== 'client:message' && !OWNED_ELSEWHERE.has(event)) {
      addCard(event, payload);
    }
  });

  byId('notifications-clear').addEventListener('click', () => {
    list.replaceChildren();
    count = 0;
    counter.textContent = '0';
    empty.hidden = false;
  });

  // ---- The send form ----

  const endpoint = () => form.querySelector('input[name="endpoint"]:checked')?.value ?? '/notify';

  /** The form's current body, or an error message when the extra JSON is not an object. */
  function currentBody() {
    let extra = {};
    const rawExtra = inputs.extra.value.trim();
    if (rawExtra) {
      try {
        extra = JSON.parse(rawExtra);
      } catch (err) {
        return { error: `Extra fields are not valid JSON: ${err instanceof Error ? err.message : String(err)}` };
      }
      if (!isObject(extra)) return { error: 'Extra fields must be a JSON object, like {"url": "/x"}' };
    }
    const values = {
      target: inputs.target.value.trim(),
      event: inputs.event.value.trim() || 'notification',
      title: inputs.title.value,
      message: inputs.message.value,
      type: inputs.type.value,
      persist: inputs.persist.checked,
      extra,
    };
    return { body: buildBody(endpoint(), values) };
  }

  function renderForm() {
    const chosen = endpoint();
    const needsTarget = chosen === '/api/push' || chosen === '/api/room';
    byId('send-target-field').hidden = !needsTarget;
    byId('send-event-field').hidden = chosen === '/notify';
    byId('send-persist-field').hidden = chosen !== '/api/push';
    byId('send-target-label').textContent = chosen === '/api/room' ? 'Room' : 'User IDs (comma-separated)';
    inputs.target.placeholder = chosen === '/api/room' ? 'news' : 'alice, bob';
    byId('endpoint-hint').textContent = ENDPOINT_HINTS[chosen];
    byId('send-submit').textContent = `Send to ${chosen}`;
    const { body, error } = currentBody();
    curlPreview.textContent = error ?? curlCommand(chosen, body, { apiKey: apiKey() });
  }

  async function send() {
    const chosen = endpoint();
    const { body, error } = currentBody();
    if (error) return setStatus(sendStatus, error, 'bad');
    if ((chosen === '/api/push' || chosen === '/api/room') && !inputs.target.value.trim()) {
      inputs.target.focus();
      return setStatus(sendStatus, chosen === '/api/room' ? 'Enter a room.' : 'Enter at least one user id.', 'warn');
    }
    const reply = await http.post(chosen, body);
    if (!reply.ok) return setStatus(sendStatus, `${chosen} failed: ${reply.error}`, 'bad');
    const recipients = reply.body?.recipients ?? 0;
    const noun = recipients === 1 ? 'socket' : 'sockets';
    // A stored notification waits in the inbox, so reaching no socket is not a warning then.
    const stored = reply.body?.notificationIds?.length ?? 0;
    const storedText = stored > 0 ? ` · stored in ${stored} ${stored === 1 ? 'inbox' : 'inboxes'}` : '';
    const tone = recipients > 0 || stored > 0 ? 'ok' : 'warn';
    return setStatus(sendStatus, `${chosen} → ${reply.status}${storedText} · delivered to ${recipients} ${noun}`, tone);
  }

  form.addEventListener('input', renderForm);
  form.addEventListener('change', renderForm);
  byId('api-key').addEventListener('input', renderForm);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void send();
  });
  byId('copy-curl').addEventListener('click', async () => {
    const { body, error } = currentBody();
    if (error) return setStatus(sendStatus, error, 'bad');
    const command = curlCommand(endpoint(), body, { apiKey: apiKey() });
    const copied = await copyText(command);
    form.querySelector('.curl-preview').open = true;
    return setStatus(sendStatus, copied ? 'curl command copied to the clipboard.' : 'The browser refused the clipboard: copy the command below.', copied ? 'ok' : 'warn');
  });
  renderForm();
}
