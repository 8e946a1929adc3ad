import { byId, clockTime, compactJson, h, setStatus } from './dom.js';

/** Notifications per `notification:list` page. */
const PAGE_SIZE = 20;
const TYPES = new Set(['info', 'success', 'warning', 'error']);

/** "14:02:11" today, "Mar 3 14:02:11" on another day. */
function whenText(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const today = date.toDateString() === new Date().toDateString();
  return today ? clockTime(date) : `${date.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${clockTime(date)}`;
}

/** Title and text of a record; a push whose data had neither still shows its event and data. */
function describeRecord(record) {
  const title = record.title || record.event || 'Notification';
  const text = record.message ?? (record.title || record.data === undefined ? '' : compactJson(record.data));
  return { title, text };
}

/**
 * The Inbox panel: the connected user's stored notifications (POST /api/push with
 * `persist: true`), newest first, with the exact unread count as a badge here and in the
 * top bar. Mark read, Read all and Delete are socket requests; the page changes what it
 * shows only when the server's `notification:*` events arrive, which reach every socket
 * of the user, so two pages of one user always show the same inbox.
 */
export function createInboxPanel({ connection }) {
  const els = {
    sub: byId('inbox-sub'),
    badge: byId('inbox-unread'),
    readAll: byId('inbox-read-all'),
    refresh: byId('inbox-refresh'),
    unreadOnly: byId('inbox-unread-only'),
    status: byId('inbox-status'),
    list: byId('inbox-list'),
    empty: byId('inbox-empty'),
    more: byId('inbox-more'),
    topLink: byId('inbox-link'),
    topCount: byId('inbox-link-count'),
  };

  let me = null;
  let live = false;
  /** id → { record, el }; the list's order is the DOM's. */
  const items = new Map();
  let unread = 0;
  let nextBefore;
  /** True while the first page is on its way, so an empty list is not yet "nothing stored". */
  let loading = false;
  /** Bumped on every reload and identity change, so a late page of an older load is dropped. */
  let generation = 0;

  function renderBadge() {
    const text = String(unread);
    for (const node of [els.badge, els.topCount]) node.textContent = text;
    // data-count drives the styling: a zero badge is quiet, any other stands out.
    for (const node of [els.badge, els.topLink]) node.dataset.count = text;
  }

  function renderAvailability() {
    const usable = live && Boolean(me);
    els.readAll.disabled = !usable || unread === 0;
    els.refresh.disabled = !usable;
    els.unreadOnly.disabled = !usable;
    els.more.disabled = !usable;
    els.more.hidden = nextBefore === undefined;
    els.topLink.hidden = !usable;
    if (!live) els.sub.textContent = me ? `Offline · stored for ${me}` : 'Connect as a user to see their stored notifications';
    else if (!me) els.sub.textContent = 'Anonymous socket: an inbox belongs to a user';
    else els.sub.textContent = `Stored for ${me}, the same on every device`;
    els.empty.hidden = items.size > 0;
    els.empty.textContent = emptyText();
  }

  function emptyText() {
    if (!me) return 'Connect as a user to see their inbox.';
    if (loading) return 'Loading…';
    if (els.unreadOnly.checked) return 'No unread notifications.';
    return 'Nothing stored yet. Send to /api/push with “Persist in the inbox” checked, in the Notifications panel.';
  }

  function renderRead(item) {
    const read = item.record.readAt !== null;
    item.el.dataset.read = String(read);
    item.state.textContent = read ? 'Read' : 'Unread';
    item.markRead.hidden = read;
  }

  function createItem(record) {
    const { title, text } = describeRecord(record);
    const type = TYPES.has(record.type) ? record.type : 'event';
    const when = whenText(record.createdAt);
    const name = `${title}, ${when}`;
    const state = h('span', { class: 'inbox-state' });
    const markRead = h('button', {
      type: 'button',
      class: 'btn btn-small',
      text: 'Mark read',
      'aria-label': `Mark read: ${name}`,
      onclick: () => void act('notification:read', { notificationId: record.id }, 'mark it read'),
    });
    const remove = h('button', {
      type: 'button',
      class: 'btn btn-small btn-danger',
      text: 'Delete',
      'aria-label': `Delete: ${name}`,
      onclick: () => void act('notification:delete', { notificationId: record.id }, 'delete it'),
    });
    const el = h(
      'li',
      { class: 'inbox-item', dataset: { id: record.id, type } },
      h(
        'div',
        { class: 'inbox-item-head' },
        h('span', { class: 'inbox-dot', 'aria-hidden': 'true' }),
        state,
        h('span', { class: 'badge', text: record.type }),
        record.priority && record.priority !== 'NORMAL' ? h('span', { class: 'inbox-priority', dataset: { priority: record.priority }, text: record.priority }) : null,
        h('time', { class: 'card-time', datetime: record.createdAt, text: when }),
      ),
      h('p', { class: 'inbox-title', text: title }),
      text ? h('p', { class: 'inbox-text', text }) : null,
      h('div', { class: 'inbox-actions' }, markRead, remove),
    );
    const item = { record, el, state, markRead };
    renderRead(item);
    return item;
  }

  /** Adds records not shown yet, at the top (new ones) or the bottom (older pages). */
  function addRecords(records, { atTop }) {
    const nodes = [];
    for (const record of records) {
      if (items.has(record.id)) continue;
      const item = createItem(record);
      items.set(record.id, item);
      nodes.push(item.el);
    }
    if (atTop) els.list.prepend(...nodes);
    else els.list.append(...nodes);
  }

  function clear() {
    items.clear();
    els.list.replaceChildren();
    nextBefore = undefined;
  }

  async function loadPage(before) {
    const load = generation;
    const payload = { limit: PAGE_SIZE, unreadOnly: els.unreadOnly.checked };
    if (before !== undefined) payload.before = before;
    const reply = await connection.request('notification:list', payload);
    if (load !== generation) return;
    loading = false;
    if (reply?.success === false) {
      renderAvailability();
      setStatus(els.status, `Could not load the inbox: ${reply.code} ${reply.error}`, 'bad');
      return;
    }
    addRecords(reply.notifications ?? [], { atTop: false });
    nextBefore = reply.nextBefore;
    unread = reply.unreadCount ?? unread;
    renderBadge();
    renderAvailability();
  }

  /** The first page again: on every connect (events missed while away) and on request. */
  function reload() {
    generation += 1;
    clear();
    setStatus(els.status, '');
    loading = live && Boolean(me);
    renderAvailability();
    if (loading) void loadPage();
  }

  async function act(event, payload, what) {
    const reply = await connection.request(event, payload);
    if (reply?.success === false) setStatus(els.status, `Could not ${what}: ${reply.code} ${reply.error}`, 'bad');
    else setStatus(els.status, '');
  }

  // ---- Server events: the one source of what the inbox holds ----

  connection.on('notification:new', (record) => {
    if (!me || record?.userId !== me) return;
    addRecords([record], { atTop: true });
    renderAvailability();
  });

  connection.on('notification:unread-count', ({ count }) => {
    unread = count;
    renderBadge();
    renderAvailability();
  });

  connection.on('notification:marked-read', (payload) => {
    const targets = payload.all ? [...items.values()] : payload.notificationIds.map((id) => items.get(String(id))).filter(Boolean);
    for (const item of targets) {
      if (item.record.readAt !== null) continue;
      item.record.readAt = payload.readAt;
      renderRead(item);
    }
  });

  connection.on('notification:deleted', ({ notificationId }) => {
    const item = items.get(String(notificationId));
    if (!item) return;
    item.el.remove();
    items.delete(item.record.id);
    renderAvailability();
  });

  // ---- Identity ----

  function setIdentity(userId) {
    if (userId !== me) {
      me = userId;
      unread = 0;
      renderBadge();
    }
    reload();
  }

  connection.on('connection_status', (payload) => setIdentity(payload?.userId ?? null));
  connection.on('registration_success', (payload) => setIdentity(payload.userId));
  connection.onState((state) => {
    const wasLive = live;
    live = state.status === 'connected';
    if (wasLive && !live) {
      generation += 1;
      loading = false;
    }
    renderAvailability();
  });

  // ---- Controls ----

  els.readAll.addEventListener('click', () => void act('notification:read-all', {}, 'mark all read'));
  els.refresh.addEventListener('click', reload);
  els.unreadOnly.addEventListener('change', reload);
  els.more.addEventListener('click', () => {
    if (nextBefore !== undefined) void loadPage(nextBefore);
  });

  renderBadge();
  renderAvailability();
}
