// Entry point of the test console: checks that the page is served by the server, then
// builds each panel around one connection, one HTTP client and one event log.
import { createChatPanel } from './js/chat.js';
import { createConnectPanel } from './js/connect-panel.js';
import { createConnection } from './js/connection.js';
import { createDevToolsPanel } from './js/dev-tools.js';
import { byId } from './js/dom.js';
import { createEventLog } from './js/event-log.js';
import { createEventStreamControl } from './js/event-stream.js';
import { createHttpClient } from './js/http.js';
import { createInboxPanel } from './js/inbox.js';
import { createJobsPanel } from './js/jobs.js';
import { createNotificationsPanel } from './js/notifications.js';
import { createRoomsPanel } from './js/rooms.js';
import { createServerPanel } from './js/server-panel.js';

function start() {
  if (typeof io !== 'function') {
    // Served, but /socket.io/socket.io.js did not load: keep the notice, say which part failed.
    byId('not-served-detail').textContent =
      'The Socket.IO client (/socket.io/socket.io.js) did not load. Is this page served by the notification server itself?';
    return;
  }
  byId('not-served').hidden = true;
  byId('app').hidden = false;
  const hostChip = byId('host-chip');
  hostChip.textContent = location.host;
  hostChip.title = 'The server this page talks to';
  hostChip.hidden = false;

  const log = createEventLog();
  const connection = createConnection({ log });
  const apiKey = () => byId('api-key').value.trim();
  let serverPanel;
  const http = createHttpClient({
    apiKey,
    token: () => connection.token,
    log,
    onApiReply: (reply) => serverPanel?.noteApiAccess(reply),
  });

  serverPanel = createServerPanel({ connection, http });
  const connectPanel = createConnectPanel({ connection, http, log });
  createChatPanel({ connection, http, machineId: connectPanel.machineId });
  createNotificationsPanel({ connection, http, apiKey });
  createInboxPanel({ connection });
  createJobsPanel({ connection, http });
  createRoomsPanel({ connection, http });
  createEventStreamControl({ connection });
  createDevToolsPanel({ connection, http });
  wirePing(connection);

  void serverPanel.check();
}

/** Ping with the seed's `{ timestamp }` and show the round-trip time measured here. */
function wirePing(connection) {
  const button = byId('ping-btn');
  const output = byId('rtt');
  const ping = async () => {
    const started = performance.now();
    const reply = await connection.request('ping', { timestamp: Date.now() });
    if (reply?.success === false) {
      output.textContent = `RTT – (${reply.code})`;
      return;
    }
    const ms = performance.now() - started;
    output.textContent = ms < 1 ? 'RTT < 1 ms' : `RTT ${Math.round(ms)} ms`;
    output.title = `pong at ${reply.timestamp}`;
  };
  button.addEventListener('click', () => void ping());
  // Measure once the transport settles: a ping sent during the polling → websocket upgrade
  // waits for the upgrade and would report its time, not the round trip.
  let measuredOn = '';
  connection.onState((state) => {
    const live = state.status === 'connected';
    button.disabled = !live;
    if (!live) {
      output.textContent = 'RTT –';
      measuredOn = '';
    } else if (state.transport === 'websocket' && measuredOn !== state.socketId) {
      measuredOn = state.socketId;
      void ping();
    }
  });
}

start();
