import { byId, clockTime, h, setStatus } from './dom.js';

/** Events a transition sends, shown in the panel's feed. */
const JOB_EVENTS = ['job:assigned', 'job:started', 'job:completed', 'job:status-changed'];
const MAX_FEED = 50;
const STATE_WORDS = { created: 'Created', assigned: 'Assigned', started: 'Started', completed: 'Completed', cancelled: 'Cancelled' };

/** A field's value as the seed sends ids: digits become a number, anything else stays text. */
function idValue(text) {
  const trimmed = text.trim();
  return /^(0|[1-9][0-9]{0,14})$/.test(trimmed) ? Number(trimmed) : trimmed;
}

/** Why a request failed, in words; the development helpers being off gets its own explanation. */
function failureText(what, reply) {
  if (reply.code === 'UNKNOWN_ACTION') return `Could not ${what}: the development helpers are off on this server (production without ENABLE_TEST_ENDPOINTS=true); a backend creates jobs with POST /api/jobs.`;
  return `Could not ${what}: ${reply.code} ${reply.error}`;
}

/**
 * The Jobs panel (seed 003): creates a job the way a backend would during development
 * (`test:create-job`, created by the connected user), assigns it (`test:assign-job`), and,
 * as its assignee, starts and completes it (`job:start`, `job:complete`, answered on the
 * ack). Each job's card changes only with what the server says: an ack or a `job:*`
 * event, which reach the assignee and the creator alike, so two pages show the same job.
 * **Load my jobs** reads `GET /api/users/:userId/jobs` (the backend's route: the API key
 * when the server sets one).
 */
export function createJobsPanel({ connection, http }) {
  const els = {
    sub: byId('jobs-sub'),
    form: byId('jobs-form'),
    subject: byId('job-subject'),
    project: byId('job-project'),
    type: byId('job-type'),
    create: byId('job-create'),
    load: byId('jobs-load'),
    status: byId('jobs-status'),
    list: byId('jobs-list'),
    empty: byId('jobs-empty'),
    feed: byId('jobs-feed'),
  };

  let me = null;
  let tenant = null;
  let live = false;
  /** String(jobId) → { job, el, parts }; newest first in the DOM. */
  const cards = new Map();

  function renderAvailability() {
    const usable = live && Boolean(me);
    for (const control of [els.subject, els.project, els.type, els.create, els.load]) control.disabled = !usable;
    for (const card of cards.values()) renderActions(card);
    if (!live) els.sub.textContent = 'Connect as a user to create, assign and work on jobs';
    else if (!me) els.sub.textContent = 'Anonymous socket: jobs belong to users';
    else els.sub.textContent = `As ${me}${tenant ? ` in tenant ${tenant}` : ''}: create and assign (development helpers), start and complete as the assignee`;
    els.empty.hidden = cards.size > 0;
  }

  function renderActions(card) {
    const { job, parts } = card;
    const usable = live && Boolean(me);
    const mine = usable && job.assigneeId === me;
    parts.assignRow.hidden = !(usable && (job.state === 'created' || job.state === 'assigned'));
    parts.start.hidden = !(mine && job.state === 'assigned');
    parts.completeRow.hidden = !(mine && job.state === 'started');
  }

  function describe(job) {
    const who = [job.assigneeId ? `assignee ${job.assigneeId}` : 'not assigned', job.creatorId ? `created by ${job.creatorId}` : null].filter(Boolean);
    return who.join(' · ');
  }

  function render(card) {
    const { job, el, parts } = card;
    el.dataset.state = job.state;
    parts.state.textContent = STATE_WORDS[job.state] ?? job.state;
    parts.who.textContent = describe(job);
    parts.note.textContent = job.note ? `Note: ${job.note}` : '';
    parts.note.hidden = !job.note;
    renderActions(card);
  }

  function createCard(job) {
    const key = String(job.jobId);
    const name = `job ${key}`;
    const assignee = h('input', { class: 'job-assignee', placeholder: 'Assignee user ID', autocomplete: 'off', spellcheck: 'false', 'aria-label': `Assignee for ${name}` });
    const note = h('input', { class: 'job-note', placeholder: 'Note (optional)', autocomplete: 'off', 'aria-label': `Completion note for ${name}` });
    const parts = {
      state: h('span', { class: 'job-state' }),
      who: h('p', { class: 'job-who' }),
      note: h('p', { class: 'job-note-text' }),
      assignRow: h(
        'div',
        { class: 'input-group job-row' },
        assignee,
        h('button', {
          type: 'button',
          class: 'btn btn-small',
          text: 'Assign',
          'aria-label': `Assign ${name}`,
          onclick: () => void assign(key, assignee),
        }),
      ),
      start: h('button', { type: 'button', class: 'btn btn-small btn-primary', text: 'Start', 'aria-label': `Start ${name}`, onclick: () => void transition('job:start', key) }),
      completeRow: h(
        'div',
        { class: 'input-group job-row' },
        note,
        h('button', {
          type: 'button',
          class: 'btn btn-small btn-primary',
          text: 'Complete',
          'aria-label': `Complete ${name}`,
          onclick: () => void transition('job:complete', key, note.value.trim()),
        }),
      ),
    };
    const el = h(
      'li',
      { class: 'job-item', dataset: { jobId: key } },
      h('div', { class: 'job-head' }, h('span', { class: 'job-id mono', text: `#${key}` }), parts.state),
      h('p', { class: 'job-subject', text: job.subject }),
      parts.who,
      parts.note,
      h('div', { class: 'job-actions' }, parts.assignRow, parts.start, parts.completeRow),
    );
    return { job, el, parts };
  }

  /** Shows `job` as the server last described it: a new card at the top, or the card updated. */
  function show(job) {
    if (!job || job.jobId === undefined) return;
    const key = String(job.jobId);
    let card = cards.get(key);
    if (!card) {
      card = createCard(job);
      cards.set(key, card);
      els.list.prepend(card.el);
    } else if (job.updatedAt && card.job.updatedAt && job.updatedAt < card.job.updatedAt) {
      return; // an older version (a late event)
    }
    card.job = job;
    render(card);
    renderAvailability();
  }

  function note(event, text) {
    const item = h('li', { class: 'job-event' }, h('span', { class: 'card-event', text: event }), h('span', { text }), h('time', { class: 'card-time', text: clockTime() }));
    els.feed.prepend(item);
    while (els.feed.children.length > MAX_FEED) els.feed.lastElementChild.remove();
  }

  async function act(event, payload, what) {
    setStatus(els.status, '');
    const reply = await connection.request(event, payload);
    if (reply?.success === false) {
      setStatus(els.status, failureText(what, reply), 'bad');
      return undefined;
    }
    show(reply?.job);
    return reply?.job;
  }

  async function assign(key, input) {
    const assigneeId = input.value.trim();
    if (!assigneeId) {
      setStatus(els.status, 'Enter the user ID to assign the job to.', 'warn');
      input.focus();
      return;
    }
    const job = cards.get(key)?.job;
    if (await act('test:assign-job', { jobId: job?.jobId ?? idValue(key), assigneeId: idValue(assigneeId) }, `assign job ${key}`)) input.value = '';
  }

  function transition(event, key, noteText) {
    const jobId = cards.get(key)?.job.jobId ?? idValue(key);
    const payload = event === 'job:complete' && noteText ? { jobId, note: noteText } : { jobId };
    return act(event, payload, `${event === 'job:start' ? 'start' : 'complete'} job ${key}`);
  }

  els.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const subject = els.subject.value.trim();
    if (!subject) {
      setStatus(els.status, 'Give the job a subject.', 'warn');
      els.subject.focus();
      return;
    }
    void act('test:create-job', { projectId: idValue(els.project.value), jobTypeId: idValue(els.type.value), subject }, 'create the job');
  });

  els.load.addEventListener('click', async () => {
    if (!me) return;
    const query = tenant ? `?tenantId=${encodeURIComponent(tenant)}` : '';
    const reply = await http.get(`/api/users/${encodeURIComponent(me)}/jobs${query}`);
    if (!reply.ok) {
      setStatus(els.status, `Could not load your jobs: ${reply.error}`, 'bad');
      return;
    }
    // Oldest first, so the newest ends on top.
    for (const job of [...(reply.body?.jobs ?? [])].reverse()) show(job);
    setStatus(els.status, `${reply.body?.jobs?.length ?? 0} of your jobs loaded${reply.body?.nextCursor ? ' (the newest page)' : ''}.`, 'ok');
  });

  // ---- Server events: the only other source of what a job is ----

  for (const event of JOB_EVENTS) {
    connection.on(event, (payload) => {
      if (event === 'job:status-changed') {
        note(event, `#${payload.jobId}: ${payload.from} → ${payload.to}${payload.by ? ` by ${payload.by}` : ' by the backend'}`);
        return;
      }
      note(event, `#${payload.jobId} ${payload.subject ?? ''}`);
      show(payload);
    });
  }

  // ---- Identity ----

  function setIdentity(userId) {
    if (userId !== me) {
      me = userId;
      cards.clear();
      els.list.replaceChildren();
      els.feed.replaceChildren();
      setStatus(els.status, '');
    }
    renderAvailability();
  }

  connection.on('connection_status', (payload) => setIdentity(payload?.userId ?? null));
  connection.on('registration_success', (payload) => setIdentity(payload.userId));
  connection.onState((state) => {
    live = state.status === 'connected';
    tenant = state.tenantId;
    renderAvailability();
  });

  renderAvailability();
}
