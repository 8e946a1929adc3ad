import { byId, clockTime, compactJson, h, isNearEnd, keepScrolledToEnd, prettyJson } from './dom.js';

const KIND_LABELS = { in: 'IN', out: 'OUT', ack: 'ACK', http: 'HTTP', conn: 'CONN' };
/** Older entries are dropped beyond this, so a long session cannot slow the page down. */
const MAX_ENTRIES = 500;
/**
 * Entries are rendered in batches, at most this often. Rendering forces a layout; doing it
 * inside emit() would also put that work inside the ping round-trip the page measures.
 */
const FLUSH_MS = 50;

/**
 * The event log: every socket event in and out, every ack, every HTTP call the page
 * makes and every connection change, newest at the bottom, filterable by text and kind.
 */
export function createEventLog() {
  const list = byId('log');
  const filterInput = byId('log-filter');
  const kindSelect = byId('log-kind');
  const countLine = byId('log-count');

  const matches = (entry) => {
    const kind = kindSelect.value;
    const text = filterInput.value.trim().toLowerCase();
    if (kind !== 'all' && entry.dataset.kind !== kind) return false;
    return text === '' || entry.dataset.search.includes(text);
  };

  const renderCount = () => {
    const total = list.children.length;
    const shown = [...list.children].filter((entry) => !entry.hidden).length;
    countLine.textContent = shown === total ? `${total} events` : `${shown} of ${total} events shown`;
  };

  let pending = [];
  let flushTimer;

  function flush() {
    flushTimer = undefined;
    const nearEnd = isNearEnd(list);
    list.append(...pending);
    pending = [];
    while (list.children.length > MAX_ENTRIES) list.firstElementChild?.remove();
    renderCount();
    keepScrolledToEnd(list, nearEnd);
  }

  const applyFilter = () => {
    for (const entry of list.children) entry.hidden = !matches(entry);
    renderCount();
  };

  filterInput.addEventListener('input', applyFilter);
  kindSelect.addEventListener('change', applyFilter);
  byId('log-clear').addEventListener('click', () => {
    list.replaceChildren();
    pending = [];
    renderCount();
  });

  /**
   * Adds one entry. kind: in | out | ack | http | conn; name: event name or request line;
   * payload: shown on demand as JSON; tone 'bad' marks failures.
   */
  function add(kind, name, payload, { summary, tone } = {}) {
    const line = summary ?? (payload === undefined ? '' : compactJson(payload));
    const body = payload === undefined ? null : h('pre', { class: 'code', text: prettyJson(payload) });
    const entry = h(
      'li',
      { class: 'log-entry', dataset: { kind, search: `${name} ${line}`.toLowerCase() }, 'data-tone': tone },
      h(
        'details',
        {},
        h(
          'summary',
          {},
          h('span', { class: 'log-time', text: clockTime() }),
          h('span', { class: 'log-kind', text: KIND_LABELS[kind] ?? kind, title: kind }),
          h('span', { class: 'log-name', text: name }),
          h('span', { class: 'log-summary', text: line }),
        ),
        body,
      ),
    );
    entry.hidden = !matches(entry);
    pending.push(entry);
    flushTimer ??= setTimeout(flush, FLUSH_MS);
  }

  return {
    incoming: (event, payload) => add('in', event, payload, { tone: event === 'error' ? 'bad' : undefined }),
    outgoing: (event, payload) => add('out', event, payload),
    ack: (event, reply) => add('ack', event, reply, { tone: reply?.success === false ? 'bad' : undefined }),
    http: (line, payload, failed) => add('http', line, payload, { tone: failed ? 'bad' : undefined }),
    connection: (text, payload, failed) => add('conn', text, payload, { tone: failed ? 'bad' : undefined }),
  };
}
