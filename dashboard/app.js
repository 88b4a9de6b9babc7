// Conveyor dashboard: plain ES module over the REST API and the event stream.
// Routes (in the hash, so nothing sensitive ever goes in the URL): #/, #/queue/<name>, #/job/<id>.

const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const time = (ms) => (ms ? new Date(ms).toLocaleString() : '–');
/** A duration for people: 850 ms, 12.3 s, 4 min 5 s, 2 h 10 min. */
const dur = (ms) => {
  if (!(ms >= 0)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
};
const token = () => sessionStorage.getItem('conveyor-token') || '';

// Live updates patch the page instead of replacing it: an element that stays keeps its
// identity, so keyboard focus, a hovered button or a selection survives a redraw.
const KEYS = ['data-queue', 'data-state', 'data-id', 'data-group', 'data-schedule', 'id'];
const keyOf = (el) => {
  for (const k of KEYS) if (el.hasAttribute(k)) return `${k}=${el.getAttribute(k)}`;
  return null;
};
function morphChildren(target, source) {
  const keyed = new Map();
  for (const c of target.children) {
    const k = keyOf(c);
    if (k !== null) keyed.set(`${c.nodeName} ${k}`, c);
  }
  let i = 0;
  for (const want of Array.from(source.childNodes)) {
    const at = target.childNodes[i] ?? null;
    const k = want.nodeType === 1 ? keyOf(want) : null;
    const node = k !== null ? keyed.get(`${want.nodeName} ${k}`) : at && at.nodeName === want.nodeName && (at.nodeType !== 1 || keyOf(at) === null) ? at : null;
    if (node) {
      keyed.delete(`${want.nodeName} ${k}`);
      morph(node, want);
      if (node !== at) target.insertBefore(node, at);
    } else target.insertBefore(want, at);
    i++;
  }
  while (target.childNodes.length > i) target.lastChild.remove();
}
function morph(node, want) {
  if (node.nodeType !== 1) {
    if (node.nodeValue !== want.nodeValue) node.nodeValue = want.nodeValue;
    return;
  }
  for (const a of Array.from(node.attributes)) if (!want.hasAttribute(a.name)) node.removeAttribute(a.name);
  for (const a of Array.from(want.attributes)) if (node.getAttribute(a.name) !== a.value) node.setAttribute(a.name, a.value);
  // A box the user ticked no longer follows its attribute: set what the new markup says.
  if (node.nodeName === 'INPUT' && node.checked !== want.checked) node.checked = want.checked;
  morphChildren(node, want);
}
/** Sets `el`'s content to `html`, keeping every element that is still there. */
function patch(el, html) {
  const t = document.createElement('template');
  t.innerHTML = html;
  morphChildren(el, t.content);
}
/** Turns `el` into the one element `html` describes, keeping `el` itself and what stays inside it. */
function patchElement(el, html) {
  const t = document.createElement('template');
  t.innerHTML = html;
  morph(el, t.content.firstElementChild);
}
/** For a select: rewrites its options only when they changed, so an open list stays open. */
function setOptions(el, html) {
  if (el.dataset.options === html) return;
  el.dataset.options = html;
  el.innerHTML = html;
}

async function api(path, options = {}) {
  const headers = { ...(options.body ? { 'content-type': 'application/json' } : {}), ...(token() ? { authorization: `Bearer ${token()}` } : {}) };
  const res = await fetch(path, { ...options, headers });
  if (res.status === 401) {
    showLogin();
    throw new Error('this server needs a token');
  }
  if (res.status === 204) return null;
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body?.error?.message ?? `${res.status} ${res.statusText}`);
  return body;
}

function showError(err) {
  const el = $('#error');
  el.textContent = err ? String(err.message ?? err) : '';
  el.hidden = !err;
}

function showLogin() {
  $('#login').hidden = false;
  $('#token').focus();
}

$('#login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem('conveyor-token', $('#token').value);
  $('#login').hidden = true;
  startEvents();
  route();
});

$('#readonly').addEventListener('change', (e) => {
  document.body.classList.toggle('readonly', e.target.checked);
  sessionStorage.setItem('conveyor-readonly', e.target.checked ? '1' : '');
});
if (sessionStorage.getItem('conveyor-readonly')) {
  $('#readonly').checked = true;
  document.body.classList.add('readonly');
}

// ----- overview ---------------------------------------------------------------------------

async function renderOverview() {
  const chartQuery = `minutes=${$('#chart-span').value}${$('#chart-queue').value ? `&queue=${encodeURIComponent($('#chart-queue').value)}` : ''}`;
  const [{ queues }, { workers }, health, history] = await Promise.all([api('/api/queues'), api('/api/workers'), api('/health'), api(`/api/stats/history?${chartQuery}`)]);
  const picked = $('#chart-queue').value;
  setOptions($('#chart-queue'), `<option value="">all queues</option>${queues.map((q) => `<option value="${esc(q.name)}"${q.name === picked ? ' selected' : ''}>${esc(q.name)}</option>`).join('')}`);
  // How long jobs wait, per queue (one small read each; a queue that vanished meanwhile shows dashes).
  const latency = await Promise.all(queues.map((q) => api(`/api/queues/${encodeURIComponent(q.name)}/latency`).catch(() => null)));
  $('#store').textContent = `${health.store.kind} · ${health.store.location}`;
  const queueRows = queues
    .map((q, i) => {
      const c = q.counts;
      const waiting = c.queued + c.pending + c.deferred;
      const l = latency[i];
      const pcts = l && l.sampled ? `${dur(l.waitP50Ms)} / ${dur(l.waitP95Ms)}` : '–';
      return `<tr data-queue="${esc(q.name)}"><td><a href="#/queue/${encodeURIComponent(q.name)}">${esc(q.name)}</a>${q.config.paused ? ' <span class="badge">paused</span>' : ''}</td>
        <td class="c-waiting">${waiting}</td><td class="c-oldest">${l && l.oldestWaitingMs !== null ? dur(l.oldestWaitingMs) : '–'}</td>
        <td class="c-wait" title="${l ? `wait of the last ${l.sampled} completed jobs: median / 95th percentile` : ''}">${pcts}</td><td class="c-active">${c.active}</td><td>${c.scheduled}</td><td class="c-completed">${c.completed}</td>
        <td class="c-failed"><a href="#/queue/${encodeURIComponent(q.name)}?state=failed">${c.failed}</a></td><td>${c.canceled}</td>
        <td><button class="act" data-toggle="${esc(q.name)}" data-paused="${q.config.paused}" aria-label="${q.config.paused ? 'Resume' : 'Pause'} queue ${esc(q.name)}">${q.config.paused ? 'Resume' : 'Pause'}</button></td></tr>`;
    })
    .join('');
  patch($('#queues tbody'), queueRows || '<tr><td colspan="10" class="dim">no queues yet</td></tr>');
  const workerRows = workers
    .map((w) => `<tr><td>${esc(w.name)}</td><td>${esc(w.host)}:${w.pid}</td><td>${w.active.length ? 'busy' : 'idle'}</td><td>${w.active.map((id) => `<a href="#/job/${encodeURIComponent(id)}" title="${esc(id)}">…${esc(id.slice(-8))}</a>`).join(' ')}</td><td>${w.processed}</td><td>${w.failed}</td><td>${time(w.lastSeen)}</td></tr>`)
    .join('');
  patch($('#workers tbody'), workerRows || '<tr><td colspan="7" class="dim">no workers</td></tr>');
  renderChart(history.minutes);
}

/** Bars per minute with a y axis (jobs), time labels, a tooltip per bar, and the same figures as a table for screen readers. */
function renderChart(minutes) {
  // Bars in a stretched SVG; the axis labels are HTML around it, so text never stretches.
  const W = 1000, H = 120, left = 0, top = 4;
  const max = Math.max(1, ...minutes.map((m) => m.completed + m.failed));
  const plotH = H - top;
  const bw = (W - left) / minutes.length;
  const y = (n) => top + plotH - (n / max) * plotH;
  const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const bars = minutes
    .map((m, i) => {
      const x = left + i * bw;
      const tip = `<title>${clock(m.at)}: ${m.completed} completed, ${m.failed} failed</title>`;
      return `<g><rect x="${x}" y="${y(m.completed + m.failed)}" width="${Math.max(1, bw * 0.8)}" height="${y(0) - y(m.completed)}" class="ok">${tip}</rect>` +
        `<rect x="${x}" y="${y(m.failed)}" width="${Math.max(1, bw * 0.8)}" height="${y(0) - y(m.failed)}" class="bad">${tip}</rect></g>`;
    })
    .join('');
  const ticks = [0, Math.floor(minutes.length / 2), minutes.length - 1].map((i) => `<span>${clock(minutes[i].at)}</span>`).join('');
  const axes = `<line class="axis" x1="0" y1="${y(0)}" x2="${W}" y2="${y(0)}"/><line class="axis" x1="0" y1="${y(max / 2)}" x2="${W}" y2="${y(max / 2)}" stroke-dasharray="4 6"/>`;
  const total = minutes.reduce((n, m) => n + m.completed + m.failed, 0);
  const failed = minutes.reduce((n, m) => n + m.failed, 0);
  const busy = minutes.filter((m) => m.completed + m.failed > 0);
  $('#chart').innerHTML =
    `<div class="chart-body"><div class="yaxis" aria-hidden="true"><span>${max}</span><span>${Math.round(max / 2)}</span><span>0</span></div>` +
    `<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" aria-hidden="true">${axes}${bars}</svg></div>` +
    `<div class="xaxis" aria-hidden="true">${ticks}</div>` +
    `<figcaption class="dim">${total} finished, failure rate ${total ? Math.round((failed / total) * 100) : 0}% (kept by the store: survives restarts)</figcaption>` +
    `<table class="sr-only"><caption>Finished jobs per minute</caption><thead><tr><th>Minute</th><th>Completed</th><th>Failed</th></tr></thead><tbody>${
      busy.map((m) => `<tr><td>${clock(m.at)}</td><td>${m.completed}</td><td>${m.failed}</td></tr>`).join('') || '<tr><td colspan="3">none</td></tr>'
    }</tbody></table>`;
}

for (const id of ['#chart-queue', '#chart-span']) $(id).addEventListener('change', () => refresh());

$('#queues').addEventListener('click', async (e) => {
  const b = e.target.closest('button[data-toggle]');
  if (!b) return;
  await api(`/api/queues/${encodeURIComponent(b.dataset.toggle)}/${b.dataset.paused === 'true' ? 'resume' : 'pause'}`, { method: 'POST', body: '{}' }).catch(showError);
  refresh();
});

// ----- job lists --------------------------------------------------------------------------

let listQueue = '';
/** The listed queue's counts as last read (what retry-all and clean will touch). */
let listCounts = null;
/** Selected job ids, kept through live row updates and further pages; cleared on leaving the queue. */
const selected = new Set();
let nextCursor = null;

let listGen = 0;

async function renderJobs(queue, params, append = false) {
  // A newer render (a click, a live update) wins: an older one's answer is dropped.
  const gen = ++listGen;
  if (listQueue !== queue) {
    selected.clear();
    $('#bulk-result').hidden = true;
  }
  listQueue = queue;
  // Navigating (params given) sets the filters from the link; null keeps the form's values.
  if (params) {
    $('#f-state').value = params.get('state') ?? '';
    $('#f-text').value = params.get('text') ?? '';
  }
  const filters = { state: $('#f-state').value, text: $('#f-text').value, order: $('#f-order').value };
  const countsAt = ++tabsGen;
  const { queues } = await api('/api/queues');
  if (gen !== listGen) return;
  setOptions($('#f-queue'), queues.map((q) => `<option ${q.name === queue ? 'selected' : ''}>${esc(q.name)}</option>`).join(''));
  const info = queues.find((q) => q.name === queue);
  $('#jobs-title').textContent = info ? `Jobs in ${queue}` : 'Queue not found';
  $('#queue-notfound').hidden = Boolean(info);
  $('#queue-notfound').textContent = info ? '' : `There is no queue named "${queue}": no job has been added to it and it has no settings.`;
  $('#paused-banner').hidden = !info?.config.paused;
  for (const el of ['#filters', '#job-list', '#schedules-box', '#add', '#state-tabs']) $(el).hidden = !info;
  if (!info) $('#groups-box').hidden = true;
  if (info) showTabs(countsAt, info.counts);
  listCounts = info?.counts ?? null;
  if (!info) {
    $('#more').hidden = true;
    return;
  }
  const q = new URLSearchParams({ queue, limit: '50', order: filters.order });
  if (filters.state) q.set('state', filters.state);
  if (filters.text) q.set('text', filters.text);
  if (append && nextCursor) q.set('cursor', nextCursor);
  const page = await api(`/api/jobs?${q}`);
  if (gen !== listGen) return;
  nextCursor = page.next;
  $('#more').hidden = !page.next;
  const rows = page.jobs.map(jobRow).join('');
  if (append) {
    $('#job-list tbody').insertAdjacentHTML('beforeend', rows);
    pagesLoaded++;
  } else {
    $('#job-list tbody').innerHTML = rows || '<tr><td colspan="10" class="dim">no jobs</td></tr>';
    pagesLoaded = 1;
    newJobs = 0;
    // Events of jobs this read already saw may still be on their way: only later ones are new.
    listSeenUntil = Math.max(0, ...page.jobs.map((j) => j.createdAt));
    showNew();
  }
  showSelection();
  // Filters and pages in the URL (without a navigation), so a reload or a shared link shows the same.
  const hash = new URLSearchParams();
  if (filters.state) hash.set('state', filters.state);
  if (filters.text) hash.set('text', filters.text);
  if (pagesLoaded > 1) hash.set('pages', String(pagesLoaded));
  history.replaceState(null, '', `#/queue/${encodeURIComponent(queue)}${hash.size ? `?${hash}` : ''}`);
  if (!append) await Promise.all([renderSchedules(queue), renderGroups(queue)]);
}

const TAB_STATES = ['queued', 'active', 'scheduled', 'pending', 'deferred', 'failed', 'completed', 'canceled'];

/**
 * Counts are read by the list's renders and by resyncs, whose answers can arrive out of
 * order: each read takes a number, and an answer shows only if no later read's answer is
 * on screen yet. (Dropping every answer once a later read had started let a queue with
 * events faster than its answers never show new counts.)
 */
let tabsGen = 0;
let tabsShown = 0;
function showTabs(gen, counts) {
  if (gen < tabsShown) return;
  tabsShown = gen;
  renderTabs(counts, $('#f-state').value);
}

/** One tab per state with its count; the current filter is the selected tab. */
function renderTabs(counts, current) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const tab = (state, label, n) =>
    `<button type="button" class="tab${current === state ? ' on' : ''}" data-state="${state}" aria-pressed="${current === state}">${label} <span class="count">${n}</span></button>`;
  patch($('#state-tabs'), tab('', 'all', total) + TAB_STATES.filter((s) => counts[s] > 0 || current === s).map((s) => tab(s, s, counts[s])).join(''));
}

$('#state-tabs').addEventListener('click', (e) => {
  const b = e.target.closest('button[data-state]');
  if (!b) return;
  $('#f-state').value = b.dataset.state;
  renderJobs(listQueue, null).catch(showError);
});

function jobRow(j) {
  const box = `<input type="checkbox" class="pick" aria-label="Select job ${esc(j.id)}"${selected.has(j.id) ? ' checked' : ''}>`;
  const last = j.errors.length > 0 ? j.errors[j.errors.length - 1].message : '';
  const waited = j.startedAt ? dur(j.startedAt - Math.max(j.createdAt, j.runAt ?? 0)) : '–';
  const ran = j.startedAt && j.finishedAt ? dur(j.finishedAt - j.startedAt) : '–';
  return `<tr data-id="${esc(j.id)}"><td>${box}</td><td><a href="#/job/${encodeURIComponent(j.id)}">${esc(j.id)}</a></td><td>${esc(j.name)}</td><td class="state-${j.state}">${j.state}</td><td>${Math.round(j.progress)}%</td><td>${j.attempt}/${j.maxAttempts}</td>` +
    `<td class="c-error" title="${esc(last)}">${esc(last.length > 60 ? `${last.slice(0, 57)}…` : last) || '–'}</td><td>${waited}</td><td>${ran}</td><td>${time(j.createdAt)}</td></tr>`;
}

// ----- selection: act on many jobs at once (POST /api/jobs/bulk) -----------------------
const BULK_DONE = { retry: 'retried', cancel: 'canceled', promote: 'started', remove: 'removed' };

function showSelection() {
  $('#bulk').hidden = selected.size === 0;
  $('#bulk-count').textContent = `${selected.size} selected`;
  const boxes = [...document.querySelectorAll('#job-list .pick')];
  $('#select-page').checked = boxes.length > 0 && boxes.every((b) => b.checked);
}

$('#job-list').addEventListener('change', (e) => {
  if (e.target.id === 'select-page') {
    for (const b of document.querySelectorAll('#job-list .pick')) {
      b.checked = e.target.checked;
      const id = b.closest('tr').dataset.id;
      if (b.checked) selected.add(id);
      else selected.delete(id);
    }
  } else if (e.target.classList.contains('pick')) {
    const id = e.target.closest('tr').dataset.id;
    if (e.target.checked) selected.add(id);
    else selected.delete(id);
  }
  showSelection();
});

/** Empties the selection and unticks its boxes (a ticked box left behind would keep "select all" ticked). */
function clearSelection() {
  selected.clear();
  for (const b of document.querySelectorAll('#job-list .pick')) b.checked = false;
  showSelection();
}

$('#bulk-clear').addEventListener('click', clearSelection);

$('#bulk').addEventListener('click', async (e) => {
  const action = e.target.closest('button[data-bulk]')?.dataset.bulk;
  if (!action) return;
  const ids = [...selected];
  if (action === 'remove' && !confirm(`Remove ${ids.length} job(s)? This cannot be undone.`)) return;
  try {
    const r = await api('/api/jobs/bulk', { method: 'POST', body: JSON.stringify({ action, ids }) });
    const skipped = r.unchanged.length ? `; ${r.unchanged.length} left as they were (their state does not allow it)` : '';
    $('#bulk-result').textContent = `${r.changed.length} of ${ids.length} ${BULK_DONE[action]}${skipped}`;
    $('#bulk-result').hidden = false;
    clearSelection();
    await renderJobs(listQueue, null);
  } catch (err) {
    showError(err);
  }
});

let pagesLoaded = 0;
let newJobs = 0;
/** The newest creation time the list has read (server time, as events carry it). */
let listSeenUntil = 0;

function showNew() {
  $('#new-jobs').hidden = newJobs === 0;
  $('#new-jobs').textContent = `${newJobs} new — show`;
}

/**
 * Live events on the job list never replace what the user has loaded: rows on screen are
 * updated in place, and jobs added since are counted in a "N new — show" button.
 */
const dirtyRows = new Set();
let rowTimer = null;
let schedulesTimer = null;
/** The queue's tabs and schedules as the store has them now. */
function resyncList() {
  if ($('#jobs').hidden || !listQueue) return;
  renderSchedules(listQueue).catch(showError);
  renderGroups(listQueue).catch(showError);
  recountNew(listQueue).catch(showError);
  // Counts read later win (showTabs).
  const gen = ++tabsGen;
  const queue = listQueue;
  api(`/api/queues/${encodeURIComponent(queue)}`)
    .then((q) => {
      if (queue === listQueue) showTabs(gen, q.counts);
    })
    .catch(showError);
}

/**
 * "N new" counted again from the store (jobs created after the newest one the list read),
 * so adds whose events were lost (a dropped stream, a proxy) still show up.
 */
async function recountNew(queue) {
  if (listSeenUntil === 0) return;
  const page = await api(`/api/jobs?${new URLSearchParams({ queue, limit: '100', order: 'desc' })}`);
  if (queue !== listQueue) return;
  const n = page.jobs.filter((j) => j.createdAt > listSeenUntil).length;
  if (n > newJobs) {
    newJobs = n;
    showNew();
  }
}

function onListEvent(e) {
  if (e.queue !== listQueue) return;
  // The schedules table (last run's state) follows its queue's events, at most twice a second.
  schedulesTimer ??= setTimeout(() => {
    schedulesTimer = null;
    resyncList();
  }, 500);
  if (e.type === 'added') {
    if (e.at <= listSeenUntil) return;
    newJobs++;
    showNew();
    return;
  }
  if (!e.jobId || !document.querySelector(`#job-list tr[data-id="${CSS.escape(e.jobId)}"]`)) return;
  dirtyRows.add(e.jobId);
  rowTimer ??= setTimeout(async () => {
    rowTimer = null;
    const ids = [...dirtyRows];
    dirtyRows.clear();
    for (const id of ids) {
      const row = document.querySelector(`#job-list tr[data-id="${CSS.escape(id)}"]`);
      if (!row) continue;
      const job = await api(`/api/jobs/${encodeURIComponent(id)}`).catch(() => null);
      if (job) patchElement(row, jobRow(job));
      else row.classList.add('gone');
    }
  }, 150);
}

$('#paused-resume').addEventListener('click', async () => {
  await api(`/api/queues/${encodeURIComponent(listQueue)}/resume`, { method: 'POST' }).catch(showError);
  renderJobs(listQueue, null).catch(showError);
});

$('#new-jobs').addEventListener('click', () => renderJobs(listQueue, null).catch(showError));

/** A run time as the schedule's zone reads it. */
function inZone(ms, tz) {
  return new Date(ms).toLocaleString(undefined, { timeZone: tz, weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }) + (tz === 'UTC' ? ' UTC' : '');
}

/** The queue's groups (tenants) with ready or running jobs, most ready first; hidden when it has none. */
let groupsGen = 0;
async function renderGroups(queue) {
  const gen = ++groupsGen;
  const page = await api(`/api/queues/${encodeURIComponent(queue)}/groups?limit=20`);
  if (gen !== groupsGen || queue !== listQueue) return;
  $('#groups-box').hidden = page.groups.length === 0;
  patch($('#groups tbody'), page.groups.map((g) => `<tr data-group="${esc(g.group)}"><td>${esc(g.group)}</td><td>${g.queued}</td><td>${g.active}</td></tr>`).join(''));
  $('#groups-note').textContent = `Groups take turns: each round, every group with ready jobs gets one (or its weight).${page.sampled ? ' Counted from the first 10,000 jobs of each state.' : ''}`;
}

let schedulesGen = 0;
async function renderSchedules(queue) {
  // A newer render (a click, a live update) wins: an older one's answer is dropped, so a
  // read from before a pause can never redraw the schedule as still active.
  const gen = ++schedulesGen;
  const { schedules } = await api(`/api/queues/${encodeURIComponent(queue)}/schedules`);
  // The state of each schedule's last job, read once per render.
  const last = await Promise.all(schedules.map((s) => (s.lastJobId ? api(`/api/jobs/${encodeURIComponent(s.lastJobId)}`).catch(() => null) : null)));
  if (gen !== schedulesGen || queue !== listQueue) return;
  $('#schedules-box').hidden = schedules.length === 0;
  patch(
    $('#schedules tbody'),
    schedules
      .map((s, i) => {
        const when = s.cron ? `cron <code>${esc(s.cron)}</code> ${esc(s.tz)}` : `every ${s.every >= 1000 ? `${s.every / 1000} s` : `${s.every} ms`}`;
        const state = s.paused ? 'paused' : s.nextRunAt === null ? 'ended' : 'active';
        const next = s.upcoming.map((t) => esc(inZone(t, s.tz))).join('<br>') || '–';
        const job = last[i];
        const lastRun = job ? `<a href="#/job/${encodeURIComponent(job.id)}">${time(s.lastRunAt)}</a> <span class="state-${job.state}">${job.state}</span>` : s.lastRunAt ? time(s.lastRunAt) : '–';
        const action = s.paused ? 'resume' : 'pause';
        return `<tr data-schedule="${esc(s.id)}"><td>${esc(s.id)}</td><td>${when}</td><td>${esc(s.name)}</td><td>${state}</td><td>${next}</td><td>${s.runs}${s.limit ? `/${s.limit}` : ''}</td><td>${s.skips}</td><td>${lastRun}</td><td>${state === 'ended' ? '' : `<button class="act" data-schedule="${esc(s.id)}" data-action="${action}" aria-label="${action} schedule ${esc(s.id)}">${action === 'pause' ? 'Pause' : 'Resume'}</button>`}</td></tr>`;
      })
      .join(''),
  );
}

$('#schedules').addEventListener('click', async (e) => {
  const b = e.target.closest('button[data-schedule]');
  if (!b) return;
  await api(`/api/queues/${encodeURIComponent(listQueue)}/schedules/${encodeURIComponent(b.dataset.schedule)}/${b.dataset.action}`, { method: 'POST' }).catch(showError);
  renderSchedules(listQueue).catch(showError);
});

$('#filters').addEventListener('submit', (e) => {
  e.preventDefault();
  const q = $('#f-queue').value || listQueue;
  if (q !== listQueue) location.hash = `#/queue/${encodeURIComponent(q)}`;
  else renderJobs(q, null).catch(showError);
});
$('#more').addEventListener('click', () => renderJobs(listQueue, null, true).catch(showError));
/** What a queue-wide action did, where bulk actions report too. */
function report(text) {
  $('#bulk-result').textContent = text;
  $('#bulk-result').hidden = false;
}

$('#retry-all').addEventListener('click', async () => {
  const n = listCounts?.failed ?? 0;
  if (n === 0) return report(`${listQueue} has no failed jobs to retry.`);
  if (!confirm(`Retry the ${n} failed job(s) in ${listQueue}?`)) return;
  const r = await api(`/api/queues/${encodeURIComponent(listQueue)}/retry-all`, { method: 'POST', body: '{}' }).catch(showError);
  if (r) report(`${r.retried} failed job(s) retried.`);
  renderJobs(listQueue, null).catch(showError);
});
$('#clean').addEventListener('click', async () => {
  const c = listCounts ?? { completed: 0, failed: 0, canceled: 0 };
  const finished = c.completed + c.failed + c.canceled;
  const hours = prompt(`${listQueue} holds ${finished} finished job(s) (${c.completed} completed, ${c.failed} failed, ${c.canceled} canceled). Remove those finished at least how many hours ago?`, '24');
  if (hours === null || !(Number(hours) >= 0)) return;
  const r = await api(`/api/queues/${encodeURIComponent(listQueue)}/clean`, { method: 'POST', body: JSON.stringify({ olderThan: Number(hours) * 3_600_000 }) }).catch(showError);
  if (r) report(`Removed ${r.removed} of ${finished} finished job(s).`);
  renderJobs(listQueue, null).catch(showError);
});
$('#add-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const data = JSON.parse($('#a-data').value || 'null');
    const r = await api(`/api/queues/${encodeURIComponent(listQueue)}/jobs`, { method: 'POST', body: JSON.stringify({ name: $('#a-name').value, data, opts: { attempts: Number($('#a-attempts').value) || 1 } }) });
    location.hash = `#/job/${encodeURIComponent(r.id)}`;
  } catch (err) {
    showError(err);
  }
});

// ----- job detail -------------------------------------------------------------------------

let openJob = null;

/** Which actions a job's state allows (the server's transitions); Remove always. */
const ACTIONS = {
  retry: ['failed', 'canceled'],
  cancel: ['pending', 'scheduled', 'deferred', 'queued', 'active'],
  promote: ['pending', 'scheduled'],
};

/** Jobs on either side of a dependency, each with its state. */
function related(jobs) {
  return jobs.map((r) => `<a href="#/job/${encodeURIComponent(r.id)}">${esc(r.id)}</a> <span class="state-${esc(r.state)}">${esc(r.state)}</span>`).join('<br>') || '–';
}

let jobGen = 0;
async function renderJob(id) {
  if (openJob?.id !== id) {
    $('#j-feedback').hidden = true;
    // Opening another job: the one shown before must not stay on screen under this
    // address while this one loads (its state and buttons would read as this job's).
    $('#job-details').hidden = true;
    $('#j-id').textContent = id;
  }
  // A newer render (another job opened, a live update) wins: an older one's answer is dropped,
  // so a slow read of the previous job can never show over the page of this one.
  const gen = ++jobGen;
  let job;
  let logs;
  let relations;
  try {
    [job, logs, relations] = await Promise.all([
      api(`/api/jobs/${encodeURIComponent(id)}`),
      api(`/api/jobs/${encodeURIComponent(id)}/logs`),
      api(`/api/jobs/${encodeURIComponent(id)}/relations`),
    ]);
    if (gen !== jobGen) return;
  } catch (err) {
    if (gen !== jobGen) return;
    // Never the previous job's data under this id.
    openJob = null;
    $('#j-id').textContent = id;
    $('#j-notfound').hidden = false;
    $('#j-notfound').textContent = /not found/i.test(err.message) ? `There is no job with this id: it never existed, or it was removed.` : err.message;
    $('#job-details').hidden = true;
    return;
  }
  $('#j-notfound').hidden = true;
  $('#job-details').hidden = false;
  openJob = job;
  $('#j-id').textContent = job.id;
  for (const b of document.querySelectorAll('#job .actions button')) b.hidden = b.dataset.act !== 'remove' && !ACTIONS[b.dataset.act].includes(job.state);
  const meta = {
    queue: `<a href="#/queue/${encodeURIComponent(job.queue)}">${esc(job.queue)}</a>`,
    name: esc(job.name),
    state: `<span class="state-${job.state}" id="j-state">${job.state}</span>`,
    attempt: `${job.attempt} of ${job.maxAttempts}`,
    priority: job.priority,
    created: time(job.createdAt),
    'runs at': time(job.runAt),
    started: time(job.startedAt),
    finished: time(job.finishedAt),
    // How long it waited to start (since it was due) and how long its last attempt ran.
    waited: job.startedAt ? dur(job.startedAt - Math.max(job.createdAt, job.runAt ?? 0)) : job.state === 'queued' ? `${dur(Date.now() - job.createdAt)} so far` : '–',
    'ran for': job.startedAt && job.finishedAt ? dur(job.finishedAt - job.startedAt) : job.state === 'active' ? `${dur(Date.now() - job.startedAt)} so far` : '–',
    ...(job.startBy ? { 'must start by': time(job.startBy) } : {}),
    ...(job.expiresAt ? { 'removed after': time(job.expiresAt) } : {}),
    ...(job.scheduleId ? { schedule: esc(job.scheduleId) } : {}),
    ...(job.data && typeof job.data === 'object' && job.data.batch?.id === job.id ? { batch: `the callback of a batch of ${job.dependsOn.length} jobs: it runs once all of them finished (<code>GET /api/batches/${esc(job.id)}</code>)` } : {}),
    ...(job.dedupeKey ? { 'dedupe key': `<code>${esc(job.dedupeKey)}</code> (an add with this key answers with this job while the key holds)` } : {}),
    ...(job.debounceKey ? { 'debounce key': `<code>${esc(job.debounceKey)}</code> (an add with this key while it waits replaces its data and pushes its run time)` } : {}),
    ...(job.originalQueue ? { 'dead letter of': `<a href="#/queue/${encodeURIComponent(job.originalQueue)}">${esc(job.originalQueue)}</a> (Retry sends it back)` } : {}),
    ...(job.trace ? { trace: `<code>${esc(job.trace.split('-')[1] ?? job.trace)}</code>` } : {}),
    'depends on': related(relations.dependsOn),
    'waited on by': related(relations.dependents),
    options: esc(JSON.stringify({ timeoutMs: job.timeoutMs, backoff: job.backoff, group: job.groupKey })),
  };
  patch($('#j-meta'), Object.entries(meta).map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join(''));
  $('#j-bar').style.width = `${job.progress}%`;
  $('#j-progress').setAttribute('aria-valuenow', String(Math.round(job.progress)));
  $('#j-message').textContent = job.message ? `${Math.round(job.progress)}% · ${job.message}` : `${Math.round(job.progress)}%`;
  $('#j-data').textContent = JSON.stringify(job.data, null, 2);
  $('#j-result').textContent = job.result === null ? '–' : JSON.stringify(job.result, null, 2);
  // Runs are numbered across manual retries (a retry starts the attempt count again).
  $('#j-errors').innerHTML = job.errors.map((e, i) => `<div class="err"><strong>run ${i + 1}</strong> (attempt ${e.attempt}) · ${time(e.at)}<br>${esc(e.message)}<pre>${esc(e.stack ?? '')}</pre></div>`).join('') || '<p class="dim">none</p>';
  $('#j-out').textContent = logs.lines.filter((l) => l.stream !== 'stderr').map((l) => l.line).join('\n');
  $('#j-err').textContent = logs.lines.filter((l) => l.stream === 'stderr').map((l) => l.line).join('\n');
  // An inline handler's console output is not captured: say so rather than show empty panes.
  $('#j-nolog').hidden = logs.lines.length > 0;
}

document.querySelector('#job .actions').addEventListener('click', async (e) => {
  const act = e.target.closest('button')?.dataset.act;
  if (!act || !openJob) return;
  if ((act === 'remove' || act === 'cancel') && !confirm(`${act === 'remove' ? 'Remove' : 'Cancel'} job ${openJob.id}?`)) return;
  // What the action did (or why it was refused) shows next to the buttons, not below the page.
  const say = (text, bad = false) => {
    const el = $('#j-feedback');
    el.textContent = text;
    el.classList.toggle('bad', bad);
    el.hidden = false;
  };
  try {
    if (act === 'remove') {
      await api(`/api/jobs/${encodeURIComponent(openJob.id)}`, { method: 'DELETE' });
      location.hash = `#/queue/${encodeURIComponent(openJob.queue)}`;
    } else {
      await api(`/api/jobs/${encodeURIComponent(openJob.id)}/${act}`, { method: 'POST', body: '{}' });
      await renderJob(openJob.id);
      say({ retry: 'Retried: queued again.', cancel: 'Canceled.', promote: 'Running now: queued.' }[act] ?? 'Done.');
    }
  } catch (err) {
    say(String(err.message ?? err), true);
  }
});

// ----- routing and live updates -----------------------------------------------------------

function route() {
  const [path, query] = location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean);
  $('#overview').hidden = parts.length > 0;
  $('#jobs').hidden = parts[0] !== 'queue';
  $('#job').hidden = parts[0] !== 'job';
  openJob = null;
  showError(null);
  const work = parts[0] === 'queue' ? openQueue(decodeURIComponent(parts[1]), new URLSearchParams(query)) : parts[0] === 'job' ? renderJob(decodeURIComponent(parts[1])) : renderOverview();
  work.catch(showError);
}

/** A queue's page as its link says: filters, and as many pages as were loaded. */
async function openQueue(queue, params) {
  await renderJobs(queue, params);
  const pages = Math.min(20, Number(params.get('pages') ?? 1));
  for (let p = 1; p < pages && nextCursor; p++) await renderJobs(queue, null, true);
}

let pending = null;
/** Coalesces bursts of events into one refresh of what is on screen. */
function refresh() {
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    const work = !$('#overview').hidden ? renderOverview() : openJob ? renderJob(openJob.id) : Promise.resolve();
    work.catch(showError);
  }, 150);
}

let events = null;
let connectedBefore = false;
/** The event stream over fetch (not EventSource), so the token travels in a header. */
async function startEvents() {
  events?.abort();
  events = new AbortController();
  try {
    const res = await fetch('/api/events', { headers: token() ? { authorization: `Bearer ${token()}` } : {}, signal: events.signal });
    if (!res.ok) throw new Error(String(res.status));
    $('#live').textContent = '● live';
    $('#live').classList.add('on');
    // Events sent while the stream was down are lost: read what is on screen again.
    if (connectedBefore) {
      refresh();
      resyncList();
    }
    connectedBefore = true;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const chunks = buffer.split('\n\n');
      buffer = chunks.pop();
      for (const chunk of chunks) {
        const data = chunk.split('\n').find((l) => l.startsWith('data: '));
        if (!data) continue;
        const e = JSON.parse(data.slice(6));
        if (!$('#jobs').hidden) onListEvent(e);
        else if (!openJob || e.jobId === openJob.id || !$('#overview').hidden) refresh();
      }
    }
  } catch {
    // fall through to the retry below
  }
  $('#live').textContent = '○ reconnecting';
  $('#live').classList.remove('on');
  setTimeout(startEvents, 2000);
}

window.addEventListener('hashchange', route);
route();
startEvents();
// A safety net behind the live events (a proxy that buffers, a missed reconnect): the
// list's counts are read again every 10 s; loaded rows are never replaced.
setInterval(resyncList, 10_000);
