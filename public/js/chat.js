import { byId, clockTime, h, isNearEnd, keepScrolledToEnd, setStatus } from './dom.js';

/** Messages per REST page when loading history. */
const PAGE_SIZE = 20;
/** Session list pages (nextCursor) loaded at most, so a huge list cannot stall the page. */
const MAX_SESSION_PAGES = 20;
/** At most one typing notice per this interval while the user types. */
const TYPING_SEND_INTERVAL_MS = 2000;
/** How long "… is typing" stays after the last notice. */
const TYPING_SHOW_MS = 3500;

const STATE_TEXT = {
  sending: 'Sending…',
  sent: '✓ Sent',
  delivered: '✓✓ Delivered',
  read: '✓✓ Read',
  stored: 'Stored · receiver offline',
  failed: 'Not sent',
};

/**
 * The Chat panel (seed 001 sessions): start a session with a user id, the session list
 * with unread counts, the conversation with each sent message's state (sent, delivered,
 * read; stored when the receiver is offline), receiver_unavailable in the thread, typing
 * notices, and history over REST, newest page first, with "Load earlier messages".
 */
export function createChatPanel({ connection, http, machineId }) {
  const els = {
    sub: byId('chat-sub'),
    status: byId('chat-status'),
    peerInput: byId('chat-peer'),
    newButton: byId('new-session-btn'),
    refresh: byId('sessions-refresh'),
    list: byId('session-list'),
    listEmpty: byId('sessions-empty'),
    title: byId('conversation-title'),
    meta: byId('conversation-meta'),
    thread: byId('thread'),
    threadList: byId('thread-list'),
    threadEmpty: byId('thread-empty'),
    loadEarlier: byId('load-earlier'),
    typing: byId('typing-indicator'),
    composer: byId('composer'),
    input: byId('composer-input'),
    send: byId('send-btn'),
  };

  /** sessionId → { id, peer, createdAt, lastMessage, lastSeq, unread, myRead, peerDelivered, peerRead, offline:Set } */
  const sessions = new Map();
  let me = null;
  let live = false;
  /** The session list's last load: Start chat waits for it before looking for an open session. */
  let sessionsLoaded = Promise.resolve();
  /** The open conversation: { id, firstSeq, views: Map<messageId|clientId, view> } */
  let active = null;
  let lastTypingSent = 0;
  let typingTimer;

  // ---------- Sessions ----------

  const otherOf = (participants) => participants.find((p) => p !== me) ?? participants[0];

  function upsertSession(id, patch) {
    const existing = sessions.get(id) ?? {
      id, peer: '', createdAt: '', lastMessage: null, lastSeq: 0, unread: 0, myRead: 0, peerDelivered: 0, peerRead: 0, offline: new Set(),
    };
    const merged = Object.assign(existing, patch);
    sessions.set(id, merged);
    return merged;
  }

  function fromSummary(summary) {
    const peer = otherOf(summary.participants ?? [summary.senderUserId, summary.receiverUserId]);
    const cursors = summary.cursors ?? {};
    const known = sessions.get(summary.sessionId);
    upsertSession(summary.sessionId, {
      peer,
      createdAt: summary.createdAt,
      lastMessage: summary.lastMessage ?? known?.lastMessage ?? null,
      lastSeq: Math.max(summary.lastMessage?.seq ?? 0, known?.lastSeq ?? 0),
      unread: summary.unreadCount ?? known?.unread ?? 0,
      myRead: cursors[me]?.read ?? known?.myRead ?? 0,
      peerDelivered: Math.max(cursors[peer]?.delivered ?? 0, known?.peerDelivered ?? 0),
      peerRead: Math.max(cursors[peer]?.read ?? 0, known?.peerRead ?? 0),
    });
  }

  const activityOf = (s) => s.lastMessage?.timestamp ?? s.createdAt ?? '';
  const byActivity = (a, b) => activityOf(b).localeCompare(activityOf(a));

  /** The most recently active session with `peer`, if there is one. */
  const sessionWith = (peer) => [...sessions.values()].filter((s) => s.peer === peer).sort(byActivity)[0];

  /** Sessions created elsewhere (REST, another device) can share a peer: their start and id tell them apart. */
  function startedLine(s) {
    const date = new Date(s.createdAt);
    const when = Number.isNaN(date.getTime()) ? '' : `started ${date.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${clockTime(date)} · `;
    return `${when}${s.id.slice(0, 8)}`;
  }

  function renderSessions() {
    const sorted = [...sessions.values()].sort(byActivity);
    const perPeer = new Map();
    for (const s of sorted) perPeer.set(s.peer, (perPeer.get(s.peer) ?? 0) + 1);
    els.list.replaceChildren(
      ...sorted.map((s) => {
        const preview = s.lastMessage ? `${s.lastMessage.senderUserId === me ? 'You: ' : ''}${s.lastMessage.message}` : 'No messages yet';
        const started = perPeer.get(s.peer) > 1 ? startedLine(s) : '';
        const label = `${s.peer}${started ? ` (${started})` : ''}${s.unread ? `, ${s.unread} unread` : ''}: ${preview}`;
        return h(
          'li',
          {},
          h(
            'button',
            {
              type: 'button',
              class: 'session-item',
              'aria-current': active?.id === s.id ? 'true' : false,
              'aria-label': label,
              dataset: { sessionId: s.id, peer: s.peer },
              onclick: () => void openSession(s.id),
            },
            h('span', { class: 'session-peer', text: s.peer }),
            s.unread ? h('span', { class: 'unread', text: String(s.unread), 'aria-hidden': 'true' }) : null,
            h('span', { class: 'session-preview', text: preview }),
            started ? h('span', { class: 'session-started mono', text: started }) : null,
          ),
        );
      }),
    );
    els.listEmpty.hidden = sessions.size > 0;
  }

  async function fetchSessions() {
    if (!me) return;
    const userId = me;
    let cursor;
    for (let pages = 0; pages < MAX_SESSION_PAGES; pages += 1) {
      const query = cursor === undefined ? '' : `?cursor=${encodeURIComponent(cursor)}`;
      const reply = await http.get(`/api/users/${encodeURIComponent(userId)}/sessions${query}`, { asUser: true });
      if (userId !== me) return;
      if (!reply.ok) {
        setStatus(els.status, `Could not load sessions: ${reply.error}`, 'bad');
        break;
      }
      for (const summary of reply.body.sessions ?? []) fromSummary(summary);
      cursor = reply.body.nextCursor;
      if (cursor === undefined) break;
    }
    renderSessions();
  }

  function loadSessions() {
    sessionsLoaded = fetchSessions();
    return sessionsLoaded;
  }

  // ---------- Conversation ----------

  function stateOf(view) {
    if (view.failed) return 'failed';
    if (!view.seq) return 'sending';
    const session = sessions.get(active?.id);
    if (!session) return 'sent';
    if (session.peerRead >= view.seq) return 'read';
    if (view.delivered || session.peerDelivered >= view.seq) return 'delivered';
    if (session.offline.has(view.id)) return 'stored';
    return 'sent';
  }

  function renderState(view) {
    if (!view.mine) return;
    const state = stateOf(view);
    view.stateEl.dataset.state = state;
    view.stateEl.textContent = STATE_TEXT[state];
    view.el.dataset.state = state;
  }

  const refreshStates = () => active?.views.forEach(renderState);

  /** Tracks the oldest seq on screen; older ones are a "Load earlier messages" away. */
  function noteSeq(seq) {
    active.firstSeq = Math.min(active.firstSeq ?? seq, seq);
    els.loadEarlier.hidden = !(active.firstSeq > 1);
  }

  function createView(message, mine) {
    const stateEl = h('span', { class: 'msg-state' });
    const timeEl = h('time', { datetime: message.timestamp, text: clockTime(message.timestamp) });
    const el = h(
      'li',
      { class: mine ? 'msg msg-mine' : 'msg', dataset: { seq: message.seq ?? '', mine: mine ? 'true' : 'false' } },
      h('div', { class: 'bubble', text: message.message }),
      h('div', { class: 'msg-meta' }, mine ? null : h('span', { text: message.senderUserId }), timeEl, mine ? stateEl : null),
    );
    return { el, stateEl, mine, id: message.id, seq: message.seq, delivered: false, failed: false };
  }

  function note(text, tone = 'warn') {
    els.threadList.append(h('li', { class: 'thread-note', dataset: { tone }, text }));
    els.thread.scrollTop = els.thread.scrollHeight;
  }

  /** Adds messages (sorted by seq) at the end or, for older pages, at the start. */
  function addMessages(messages, { atStart = false } = {}) {
    const nodes = [];
    for (const message of messages) {
      if (active.views.has(message.id)) continue;
      const view = createView(message, message.senderUserId === me);
      active.views.set(message.id, view);
      renderState(view);
      nodes.push(view.el);
      noteSeq(message.seq);
    }
    if (atStart) {
      const before = els.thread.scrollHeight - els.thread.scrollTop;
      els.threadList.prepend(...nodes);
      els.thread.scrollTop = els.thread.scrollHeight - before;
    } else {
      const nearEnd = isNearEnd(els.thread);
      els.threadList.append(...nodes);
      keepScrolledToEnd(els.thread, nearEnd);
    }
    els.threadEmpty.hidden = els.threadList.children.length > 0;
  }

  async function fetchPage(sessionId, after, limit) {
    const reply = await http.get(`/api/sessions/${encodeURIComponent(sessionId)}/messages?after=${after}&limit=${limit}`, { asUser: true });
    if (!reply.ok) {
      setStatus(els.status, `Could not load messages: ${reply.error}`, 'bad');
      return null;
    }
    return reply.body;
  }

  async function openSession(id) {
    const session = sessions.get(id);
    if (!session) return;
    active = { id, firstSeq: null, views: new Map() };
    els.threadList.replaceChildren();
    els.threadEmpty.hidden = false;
    els.threadEmpty.textContent = 'Loading…';
    els.loadEarlier.hidden = true;
    els.typing.textContent = '';
    els.title.textContent = `Chat with ${session.peer}`;
    els.meta.textContent = `session ${id}`;
    setStatus(els.status, '');
    renderSessions();
    renderAvailability();

    // Newest page first; nextAfter pages forward if the list's count was already stale.
    let after = Math.max(0, session.lastSeq - PAGE_SIZE);
    for (let pages = 0; pages < 5; pages += 1) {
      const page = await fetchPage(id, after, PAGE_SIZE);
      if (!page || active?.id !== id) return;
      addMessages(page.messages ?? []);
      const last = page.messages?.at(-1);
      if (last) upsertSession(id, { lastSeq: Math.max(session.lastSeq, last.seq), lastMessage: last });
      if (page.nextAfter === undefined) break;
      after = page.nextAfter;
    }
    els.threadEmpty.textContent = 'No messages yet. Say hello.';
    els.thread.scrollTop = els.thread.scrollHeight;
    markRead();
    renderSessions();
    els.input.focus();
  }

  async function loadEarlier() {
    if (!active || !(active.firstSeq > 1)) return;
    const id = active.id;
    const after = Math.max(0, active.firstSeq - 1 - PAGE_SIZE);
    const page = await fetchPage(id, after, active.firstSeq - 1 - after);
    if (page && active?.id === id) addMessages(page.messages ?? [], { atStart: true });
  }

  /** Tells the sender everything up to the newest message was read, while the user can see it. */
  function markRead() {
    const session = active && sessions.get(active.id);
    if (!session || document.visibilityState !== 'visible') return;
    const incoming = [...active.views.values()].filter((v) => !v.mine && v.seq);
    const newest = Math.max(0, ...incoming.map((v) => v.seq));
    if (newest > session.myRead) {
      session.myRead = newest;
      void connection.request('message_read', { sessionId: session.id, seq: newest });
    }
    if (session.unread) {
      session.unread = 0;
      renderSessions();
    }
  }

  async function sendMessage(text) {
    if (!active) return;
    const session = sessions.get(active.id);
    const clientMessageId = `c-${crypto.randomUUID()}`;
    const view = createView({ id: clientMessageId, message: text, timestamp: new Date().toISOString(), senderUserId: me }, true);
    active.views.set(clientMessageId, view);
    renderState(view);
    els.threadList.append(view.el);
    els.threadEmpty.hidden = true;
    els.thread.scrollTop = els.thread.scrollHeight;

    const payload = { sessionId: session.id, message: text, clientMessageId };
    const machine = machineId();
    if (machine) payload.machineId = machine;
    const reply = await connection.request('send_message', payload);
    if (reply?.success === false) {
      view.failed = true;
      renderState(view);
      note(`Not sent: ${reply.code} ${reply.error}`);
      return;
    }
    Object.assign(view, { id: reply.messageId, seq: reply.seq, delivered: reply.delivered });
    view.el.dataset.seq = String(reply.seq);
    if (active?.id === session.id) {
      active.views.delete(clientMessageId);
      active.views.set(reply.messageId, view);
      noteSeq(reply.seq);
    }
    upsertSession(session.id, {
      lastSeq: Math.max(session.lastSeq, reply.seq),
      lastMessage: { id: reply.messageId, seq: reply.seq, message: text, senderUserId: me, timestamp: reply.timestamp },
    });
    if (reply.delivered) session.peerDelivered = Math.max(session.peerDelivered, reply.seq);
    renderState(view);
    renderSessions();
  }

  // ---------- Server events ----------

  connection.on('new_message', ({ sessionId, message }) => {
    const known = sessions.get(sessionId);
    const session = upsertSession(sessionId, {
      peer: known?.peer || otherOf([message.senderUserId, message.receiverUserId]),
    });
    const isNew = message.seq > session.lastSeq;
    if (isNew) upsertSession(sessionId, { lastSeq: message.seq, lastMessage: message });
    if (active?.id === sessionId) {
      addMessages([message]);
      els.typing.textContent = '';
      markRead();
    } else if (isNew && message.receiverUserId === me && message.seq > session.myRead) {
      session.unread += 1;
    }
    renderSessions();
  });

  connection.on('new_chat_session', (payload) => {
    const peer = payload.senderUserId === me ? payload.receiverUserId : payload.senderUserId;
    upsertSession(payload.sessionId, { peer, createdAt: payload.createdAt });
    renderSessions();
    if (payload.senderUserId !== me) setStatus(els.status, `${payload.senderUserId} started a chat with you.`, 'ok');
  });

  connection.on('message_read', ({ sessionId, seq, readerUserId }) => {
    const session = sessions.get(sessionId);
    if (!session || readerUserId === me) return;
    session.peerRead = Math.max(session.peerRead, seq);
    session.peerDelivered = Math.max(session.peerDelivered, seq);
    if (active?.id === sessionId) refreshStates();
  });

  connection.on('message_delivered', ({ sessionId, seq }) => {
    const session = sessions.get(sessionId);
    if (!session) return;
    session.peerDelivered = Math.max(session.peerDelivered, seq);
    if (active?.id === sessionId) refreshStates();
  });

  connection.on('receiver_unavailable', ({ sessionId, receiverUserId, messageId }) => {
    const session = sessions.get(sessionId);
    if (!session) return;
    session.offline.add(messageId);
    if (active?.id === sessionId) {
      note(`${receiverUserId} is offline (receiver_unavailable). The message is stored and will be delivered when they connect.`);
      refreshStates();
    }
  });

  connection.on('typing', ({ sessionId, userId }) => {
    if (active?.id !== sessionId || userId === me) return;
    els.typing.textContent = `${userId} is typing…`;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => {
      els.typing.textContent = '';
    }, TYPING_SHOW_MS);
  });

  // ---------- Identity and availability ----------

  function renderAvailability() {
    const canChat = live && Boolean(me);
    els.peerInput.disabled = !canChat;
    els.newButton.disabled = !canChat;
    els.refresh.disabled = !canChat;
    els.input.disabled = !canChat || !active;
    els.send.disabled = !canChat || !active;
    if (!live) els.sub.textContent = me ? `Offline · signed in as ${me}` : 'Connect as a user to chat';
    else if (!me) els.sub.textContent = 'Anonymous socket: register a user or connect with a token to chat';
    else els.sub.textContent = `Signed in as ${me}`;
  }

  function setIdentity(userId) {
    if (userId !== me) {
      me = userId;
      sessions.clear();
      active = null;
      els.threadList.replaceChildren();
      els.threadEmpty.hidden = false;
      els.threadEmpty.textContent = 'Start a chat or pick a session to see its messages.';
      els.title.textContent = 'No conversation open';
      els.meta.textContent = '';
      els.loadEarlier.hidden = true;
      setStatus(els.status, '');
      renderSessions();
    }
    renderAvailability();
    if (me) void loadSessions();
  }

  connection.on('connection_status', (payload) => setIdentity(payload?.userId ?? null));
  connection.on('registration_success', (payload) => setIdentity(payload.userId));
  connection.onState((state) => {
    live = state.status === 'connected';
    renderAvailability();
  });

  // ---------- Controls ----------

  byId('new-session-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const receiverUserId = els.peerInput.value.trim();
    if (!receiverUserId) {
      els.peerInput.focus();
      setStatus(els.status, 'Enter the user id of the person to chat with.', 'warn');
      return;
    }
    // One conversation per pair of users: Start chat again opens the one already there.
    await sessionsLoaded;
    const existing = sessionWith(receiverUserId);
    if (existing) {
      els.peerInput.value = '';
      await openSession(existing.id);
      setStatus(els.status, `You already have a chat with ${receiverUserId}: here it is.`, 'ok');
      return;
    }
    const reply = await connection.request('create_chat_session', { machineId: machineId() || 'web', receiverUserId });
    if (reply?.success === false) {
      setStatus(els.status, `Could not start the chat: ${reply.code} ${reply.error}`, 'bad');
      return;
    }
    fromSummary(reply.session);
    els.peerInput.value = '';
    await openSession(reply.sessionId);
  });

  els.refresh.addEventListener('click', () => void loadSessions());
  els.loadEarlier.addEventListener('click', () => void loadEarlier());

  els.composer.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = els.input.value.trim();
    if (!text || !active) return;
    els.input.value = '';
    lastTypingSent = 0;
    void sendMessage(text);
  });
  els.input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      els.composer.requestSubmit();
    }
  });
  els.input.addEventListener('input', () => {
    const now = Date.now();
    if (!active || !els.input.value || now - lastTypingSent < TYPING_SEND_INTERVAL_MS) return;
    lastTypingSent = now;
    connection.emit('typing', { sessionId: active.id });
  });
  document.addEventListener('visibilitychange', markRead);

  renderAvailability();
  renderSessions();
}
