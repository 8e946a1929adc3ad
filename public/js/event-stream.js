import { byId, clockTime, setStatus } from './dom.js';

/**
 * The `kafka-events` monitoring channel (seed 004), in the Rooms panel: **Watch** sends
 * `subscribe('kafka-events')`, **Stop** `unsubscribe`. Every `kafka-event` then shows in
 * the event log like any incoming event; this line counts them and names the last topic.
 * A refusal (FORBIDDEN: an anonymous socket, or production without the `rooms` claim)
 * shows the server's own words.
 */
export function createEventStreamControl({ connection }) {
  const els = { watch: byId('stream-watch'), stop: byId('stream-stop'), status: byId('stream-status') };
  let watching = false;
  let live = false;
  let received = 0;

  function render() {
    els.watch.disabled = !live || watching;
    els.stop.disabled = !live || !watching;
  }

  els.watch.addEventListener('click', async () => {
    const reply = await connection.request('subscribe', 'kafka-events');
    if (reply?.success === false) {
      setStatus(els.status, `Not watching kafka-events: ${reply.code} ${reply.error}`, 'bad');
      return;
    }
    watching = true;
    received = 0;
    setStatus(els.status, 'Watching kafka-events: every delivery and ingested entry shows in the event log as kafka-event.', 'ok');
    render();
  });
  els.stop.addEventListener('click', async () => {
    const reply = await connection.request('unsubscribe', 'kafka-events');
    if (reply?.success === false) return setStatus(els.status, `Could not stop: ${reply.code} ${reply.error}`, 'bad');
    watching = false;
    setStatus(els.status, `Stopped watching kafka-events (${received} received).`, '');
    render();
    return undefined;
  });

  connection.on('kafka-event', ({ topic, timestamp }) => {
    received += 1;
    setStatus(els.status, `kafka-events: ${received} received, last on ${topic} at ${clockTime(timestamp)}.`, 'ok');
  });
  // A new socket is in no room: the subscription went with the old one (a recovered one kept it).
  connection.on('$connect', ({ recovered }) => {
    if (watching && !recovered) {
      watching = false;
      setStatus(els.status, 'New socket: not watching kafka-events any more; press Watch again.', 'warn');
    }
    render();
  });
  connection.onState((state) => {
    live = state.status === 'connected';
    render();
  });
}
