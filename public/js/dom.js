// Small DOM helpers. Every piece of data reaches the page through textContent or an
// attribute, never through innerHTML, so nothing a server or a user sends is parsed as HTML.

/** The element with this id; throws when the page lacks it, so a typo fails loudly. */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from index.html`);
  return node;
}

/**
 * Creates an element. `props`: `class`, `text`, `dataset`, `on<event>` listeners, and any
 * other attribute (true → present, false/null/undefined → absent). Children are nodes or
 * strings (strings become text nodes).
 */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** Sets a status line's text and tone (ok, bad, warn, or none). */
export function setStatus(node, text, tone) {
  node.textContent = text;
  if (tone) node.dataset.tone = tone;
  else delete node.dataset.tone;
}

/** hh:mm:ss in the browser's locale, 24-hour. */
export function clockTime(value = new Date()) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

/** Pretty JSON, cut short when huge so one payload cannot freeze the page. */
export function prettyJson(value, limit = 20000) {
  let text;
  try {
    text = JSON.stringify(value, null, 2);
  } catch {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  return text.length > limit ? `${text.slice(0, limit)}\n… (${text.length - limit} more characters)` : text;
}

/** One-line JSON for summaries. */
export function compactJson(value, limit = 160) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value);
  }
  if (text === undefined) return '';
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}

/** A collapsible "Raw JSON" block (details/summary is keyboard-usable without script). */
export function rawJson(value, label = 'Raw JSON') {
  return h('details', { class: 'raw' }, h('summary', { text: label }), h('pre', { class: 'code', text: prettyJson(value) }));
}

export function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Scrolls a scroll container to its end if the reader was already near the end. */
export function keepScrolledToEnd(container, wasNearEnd) {
  if (wasNearEnd) container.scrollTop = container.scrollHeight;
}

export function isNearEnd(container) {
  return container.scrollHeight - container.scrollTop - container.clientHeight < 60;
}
