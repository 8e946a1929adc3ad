import { byId, clockTime, compactJson, h, isObject, setStatus } from './dom.js';

const MAX_FEED = 100;

/**
 * The Rooms panel: `room:join` / `room:leave`, the rooms this socket is in (asked of the
 * server with the built-in `client:event` "rooms"), who else is in each (GET
 * /api/connections, which needs the API key when keys are on), and the seed 000
 * `message` relay to a room, with the messages others send.
 */
export function createRoomsPanel({ connection, http }) {
  const els = {
    form: byId('room-form'),
    name: byId('room-name'),
    join: byId('room-join'),
    leave: byId('room-leave'),
    refresh: byId('rooms-refresh'),
    list: byId('room-list'),
    empty: byId('rooms-empty'),
    target: byId('room-target'),
    text: byId('room-text'),
    send: byId('room-send'),
    status: byId('room-status'),
    feed: byId('room-feed'),
  };
  let rooms = [];
  /** room → [userId or socket id, …] from the last /api/connections, or a reason it failed. */
  let members = new Map();
  let membersNote = '';
  let live = false;
  /** Rooms the last socket was in when it went away: to say what a new socket no longer has. */
  let lostRooms = [];

  function memberLine(room) {
    if (membersNote) return membersNote;
    const who = members.get(room);
    if (!who) return 'Members: –';
    const names = [...new Set(who)];
    return `${who.length} ${who.length === 1 ? 'socket' : 'sockets'}: ${names.join(', ')}`;
  }

  function render() {
    els.list.replaceChildren(
      ...rooms.map((room) =>
        h(
          'li',
          { class: 'room-item', dataset: { room } },
          h('span', { class: 'room-name', text: `#${room}` }),
          h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Leave ${room}`, text: 'Leave', onclick: () => void leave(room) }),
          h('span', { class: 'room-members', text: memberLine(room) }),
        ),
      ),
    );
    els.empty.hidden = rooms.length > 0;
    const previous = els.target.value;
    els.target.replaceChildren(
      ...(rooms.length ? rooms.map((room) => h('option', { value: room, text: `#${room}` })) : [h('option', { value: '', text: 'No room joined' })]),
    );
    if (rooms.includes(previous)) els.target.value = previous;
    const canSend = live && rooms.length > 0;
    els.target.disabled = !canSend;
    els.text.disabled = !canSend;
    els.send.disabled = !canSend;
    els.join.disabled = !live;
    els.leave.disabled = !live;
    els.refresh.disabled = !live;
  }

  async function refreshMembers() {
    const reply = await http.get('/api/connections?limit=1000');
    members = new Map();
    membersNote = '';
    if (!reply.ok) {
      membersNote = reply.status === 401 ? 'Members: the API key is needed to list them' : `Members: ${reply.error}`;
    } else {
      for (const conn of reply.body.connections ?? []) {
        for (const room of conn.rooms ?? []) {
          if (!members.has(room)) members.set(room, []);
          members.get(room).push(conn.userId ?? `anonymous ${conn.socketId.slice(0, 6)}`);
        }
      }
    }
    render();
  }

  async function refreshRooms() {
    const reply = await connection.request('client:event', { type: 'rooms' });
    if (reply?.success === false) return setStatus(els.status, `Could not list rooms: ${reply.error}`, 'bad');
    rooms = Array.isArray(reply?.data?.rooms) ? [...reply.data.rooms].sort() : [];
    render();
    return refreshMembers();
  }

  async function join(room) {
    const reply = await connection.request('room:join', { room });
    if (reply?.success === false) return setStatus(els.status, `Could not join ${room}: ${reply.code} ${reply.error}`, 'bad');
    setStatus(els.status, `Joined #${reply.room}.`, 'ok');
    els.target.value = reply.room;
    await refreshRooms();
    els.target.value = reply.room;
    return undefined;
  }

  async function leave(room) {
    const reply = await connection.request('room:leave', { room });
    if (reply?.success === false) return setStatus(els.status, `Could not leave ${room}: ${reply.code} ${reply.error}`, 'bad');
    setStatus(els.status, `Left #${room}.`, 'ok');
    return refreshRooms();
  }

  function addFeed({ from, data, timestamp }) {
    const room = isObject(data) && typeof data.room === 'string' ? data.room : null;
    const text = isObject(data) && typeof data.text === 'string' ? data.text : compactJson(data);
    els.feed.prepend(
      h(
        'li',
        { dataset: { room: room ?? '' } },
        h('span', { class: 'from', text: from }),
        ' ',
        h('span', { class: 'where', text: room ? `in #${room}` : 'to everyone' }),
        ' · ',
        h('time', { datetime: timestamp, class: 'where', text: clockTime(timestamp) }),
        h('div', { text }),
      ),
    );
    while (els.feed.children.length > MAX_FEED) els.feed.lastElementChild?.remove();
  }

  els.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const room = els.name.value.trim();
    if (!room) return els.name.focus();
    return void join(room);
  });
  els.leave.addEventListener('click', () => {
    const room = els.name.value.trim() || els.target.value;
    if (room) void leave(room);
  });
  els.refresh.addEventListener('click', () => void refreshRooms());
  byId('room-message-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const room = els.target.value;
    const text = els.text.value.trim();
    if (!room || !text) return;
    const reply = await connection.request('message', { room, text });
    if (reply?.success === false) return setStatus(els.status, `Not sent: ${reply.code} ${reply.error}`, 'bad');
    els.text.value = '';
    const others = reply.recipients;
    setStatus(els.status, `Sent to #${room}: ${others} other ${others === 1 ? 'socket' : 'sockets'} received it.`, others > 0 ? 'ok' : 'warn');
    addFeed({ from: 'You', data: { room, text }, timestamp: new Date().toISOString() });
  });

  const listOf = (names) => names.map((room) => `#${room}`).join(', ');

  connection.on('message', addFeed);
  // The server forgets a socket's rooms with the socket, so the list is emptied on every
  // disconnect and asked of the server again on every connect (a recovered socket kept
  // its rooms; a token's `rooms` claim may have joined some), never assumed.
  connection.on('$disconnect', () => {
    if (rooms.length > 0) {
      lostRooms = rooms;
      setStatus(els.status, `Disconnected: this socket is no longer in ${listOf(lostRooms)}.`, 'warn');
    }
    rooms = [];
    members = new Map();
    render();
  });
  connection.on('$connect', async ({ recovered }) => {
    await refreshRooms();
    const missing = lostRooms.filter((room) => !rooms.includes(room));
    if (lostRooms.length > 0) {
      if (missing.length === 0) setStatus(els.status, `Connection recovered: still in ${listOf(lostRooms)}.`, 'ok');
      else setStatus(els.status, `${recovered ? 'Reconnected' : 'New socket'}: not in ${listOf(missing)} any more; join again to receive its messages.`, 'warn');
    }
    lostRooms = [];
  });
  connection.onState((state) => {
    live = state.status === 'connected';
    render();
  });
}
