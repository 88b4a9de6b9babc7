// Conveyor dashboard: plain ES module over the REST API and the event stream.
// Routes (in the hash, so nothing sensitive ever goes in the URL): #/, #/queue/<name>, #/job/<id>.

const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const time = (ms) => (ms ? new Date(ms).toLocaleString() : '–');
const token = () => sessionStorage.getItem('conveyor-token') || '';

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
  const [{ queues }, { workers }, health, history] = await Promise.all([api('/api/queues'), api('/api/workers'), api('/health'), api('/api/stats/history')]);
  $('#store').textContent = `${health.store.kind} · ${health.store.location}`;
  $('#queues tbody').innerHTML = queues
    .map((q) => {
      const c = q.counts;
      const waiting = c.queued + c.pending + c.deferred;
      return `<tr data-queue="${esc(q.name)}"><td><a href="#/queue/${encodeURIComponent(q.name)}">${esc(q.name)}</a>${q.config.paused ? ' <span class="badge">paused</span>' : ''}</td>
        <td class="c-waiting">${waiting}</td><td class="c-active">${c.active}</td><td>${c.scheduled}</td><td class="c-completed">${c.completed}</td>
        <td class="c-failed"><a href="#/queue/${encodeURIComponent(q.name)}?state=failed">${c.failed}</a></td><td>${c.canceled}</td>
        <td><button class="act" data-toggle="${esc(q.name)}" data-paused="${q.config.paused}" aria-label="${q.config.paused ? 'Resume' : 'Pause'} queue ${esc(q.name)}">${q.config.paused ? 'Resume' : 'Pause'}</button></td></tr>`;
    })
    .join('') || '<tr><td colspan="8" class="dim">no queues yet</td></tr>';
  $('#workers tbody').innerHTML = workers
    .map((w) => `<tr><td>${esc(w.name)}</td><td>${esc(w.host)}:${w.pid}</td><td>${w.active.length ? 'busy' : 'idle'}</td><td>${w.active.map((id) => `<a href="#/job/${encodeURIComponent(id)}" title="${esc(id)}">…${esc(id.slice(-8))}</a>`).join(' ')}</td><td>${w.processed}</td><td>${w.failed}</td><td>${time(w.lastSeen)}</td></tr>`)
    .join('') || '<tr><td colspan="7" class="dim">no workers</td></tr>';
  renderChart(history.minutes);
}

function renderChart(minutes) {
  const max = Math.max(1, ...minutes.map((m) => m.completed + m.failed));
  const w = 100 / minutes.length;
  const bars = minutes
    .map((m, i) => {
      const ok = (m.completed / max) * 70;
      const bad = (m.failed / max) * 70;
      return `<rect x="${i * w}%" y="${78 - ok - bad}" width="${w * 0.8}%" height="${ok}" fill="#1f8a4c"><title>${new Date(m.at).toLocaleTimeString()}: ${m.completed} completed, ${m.failed} failed</title></rect>` +
        `<rect x="${i * w}%" y="${78 - bad}" width="${w * 0.8}%" height="${bad}" fill="#c62f2f"></rect>`;
    })
    .join('');
  const total = minutes.reduce((n, m) => n + m.completed + m.failed, 0);
  const failed = minutes.reduce((n, m) => n + m.failed, 0);
  $('#chart').innerHTML = `<svg preserveAspectRatio="none">${bars}</svg><p class="dim">${total} finished, failure rate ${total ? Math.round((failed / total) * 100) : 0}%</p>`;
}

$('#queues').addEventListener('click', async (e) => {
  const b = e.target.closest('button[data-toggle]');
  if (!b) return;
  await api(`/api/queues/${encodeURIComponent(b.dataset.toggle)}/${b.dataset.paused === 'true' ? 'resume' : 'pause'}`, { method: 'POST', body: '{}' }).catch(showError);
  refresh();
});

// ----- job lists --------------------------------------------------------------------------

let listQueue = '';
let nextCursor = null;

let listGen = 0;

async function renderJobs(queue, params, append = false) {
  // A newer render (a click, a live update) wins: an older one's answer is dropped.
  const gen = ++listGen;
  listQueue = queue;
  // Navigating (params given) sets the filters from the link; null keeps the form's values.
  if (params) {
    $('#f-state').value = params.get('state') ?? '';
    $('#f-text').value = params.get('text') ?? '';
  }
  const filters = { state: $('#f-state').value, text: $('#f-text').value, order: $('#f-order').value };
  const { queues } = await api('/api/queues');
  if (gen !== listGen) return;
  $('#f-queue').innerHTML = queues.map((q) => `<option ${q.name === queue ? 'selected' : ''}>${esc(q.name)}</option>`).join('');
  const info = queues.find((q) => q.name === queue);
  $('#jobs-title').textContent = info ? `Jobs in ${queue}` : 'Queue not found';
  $('#queue-notfound').hidden = Boolean(info);
  $('#queue-notfound').textContent = info ? '' : `There is no queue named "${queue}": no job has been added to it and it has no settings.`;
  $('#paused-banner').hidden = !info?.config.paused;
  for (const el of ['#filters', '#job-list', '#schedules-box', '#add', '#state-tabs']) $(el).hidden = !info;
  if (info) renderTabs(info.counts, filters.state);
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
    $('#job-list tbody').innerHTML = rows || '<tr><td colspan="6" class="dim">no jobs</td></tr>';
    pagesLoaded = 1;
    newJobs = 0;
    showNew();
  }
  // Filters and pages in the URL (without a navigation), so a reload or a shared link shows the same.
  const hash = new URLSearchParams();
  if (filters.state) hash.set('state', filters.state);
  if (filters.text) hash.set('text', filters.text);
  if (pagesLoaded > 1) hash.set('pages', String(pagesLoaded));
  history.replaceState(null, '', `#/queue/${encodeURIComponent(queue)}${hash.size ? `?${hash}` : ''}`);
  if (!append) await renderSchedules(queue);
}

const TAB_STATES = ['queued', 'active', 'scheduled', 'pending', 'deferred', 'failed', 'completed', 'canceled'];

/** One tab per state with its count; the current filter is the selected tab. */
function renderTabs(counts, current) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const tab = (state, label, n) =>
    `<button type="button" class="tab${current === state ? ' on' : ''}" data-state="${state}" aria-pressed="${current === state}">${label} <span class="count">${n}</span></button>`;
  $('#state-tabs').innerHTML = tab('', 'all', total) + TAB_STATES.filter((s) => counts[s] > 0 || current === s).map((s) => tab(s, s, counts[s])).join('');
}

$('#state-tabs').addEventListener('click', (e) => {
  const b = e.target.closest('button[data-state]');
  if (!b) return;
  $('#f-state').value = b.dataset.state;
  renderJobs(listQueue, null).catch(showError);
});

function jobRow(j) {
  return `<tr data-id="${esc(j.id)}"><td><a href="#/job/${encodeURIComponent(j.id)}">${esc(j.id)}</a></td><td>${esc(j.name)}</td><td class="state-${j.state}">${j.state}</td><td>${Math.round(j.progress)}%</td><td>${j.attempt}/${j.maxAttempts}</td><td>${time(j.createdAt)}</td></tr>`;
}

let pagesLoaded = 0;
let newJobs = 0;

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
function onListEvent(e) {
  if (e.queue !== listQueue) return;
  // The schedules table (last run's state) follows its queue's events, at most twice a second.
  schedulesTimer ??= setTimeout(() => {
    schedulesTimer = null;
    renderSchedules(listQueue).catch(showError);
    api(`/api/queues/${encodeURIComponent(listQueue)}`)
      .then((q) => renderTabs(q.counts, $('#f-state').value))
      .catch(showError);
  }, 500);
  if (e.type === 'added') {
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
      if (job) row.outerHTML = jobRow(job);
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

async function renderSchedules(queue) {
  const { schedules } = await api(`/api/queues/${encodeURIComponent(queue)}/schedules`);
  // The state of each schedule's last job, read once per render.
  const last = await Promise.all(schedules.map((s) => (s.lastJobId ? api(`/api/jobs/${encodeURIComponent(s.lastJobId)}`).catch(() => null) : null)));
  $('#schedules-box').hidden = schedules.length === 0;
  $('#schedules tbody').innerHTML = schedules
    .map((s, i) => {
      const when = s.cron ? `cron <code>${esc(s.cron)}</code> ${esc(s.tz)}` : `every ${s.every >= 1000 ? `${s.every / 1000} s` : `${s.every} ms`}`;
      const state = s.paused ? 'paused' : s.nextRunAt === null ? 'ended' : 'active';
      const next = s.upcoming.map((t) => esc(inZone(t, s.tz))).join('<br>') || '–';
      const job = last[i];
      const lastRun = job ? `<a href="#/job/${encodeURIComponent(job.id)}">${time(s.lastRunAt)}</a> <span class="state-${job.state}">${job.state}</span>` : s.lastRunAt ? time(s.lastRunAt) : '–';
      const action = s.paused ? 'resume' : 'pause';
      return `<tr><td>${esc(s.id)}</td><td>${when}</td><td>${esc(s.name)}</td><td>${state}</td><td>${next}</td><td>${s.runs}${s.limit ? `/${s.limit}` : ''}</td><td>${s.skips}</td><td>${lastRun}</td><td>${state === 'ended' ? '' : `<button class="act" data-schedule="${esc(s.id)}" data-action="${action}" aria-label="${action} schedule ${esc(s.id)}">${action === 'pause' ? 'Pause' : 'Resume'}</button>`}</td></tr>`;
    })
    .join('');
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
$('#retry-all').addEventListener('click', async () => {
  if (!confirm(`Retry every failed job in ${listQueue}?`)) return;
  await api(`/api/queues/${encodeURIComponent(listQueue)}/retry-all`, { method: 'POST', body: '{}' }).catch(showError);
  renderJobs(listQueue, null).catch(showError);
});
$('#clean').addEventListener('click', async () => {
  const hours = prompt(`Remove completed, failed and canceled jobs of ${listQueue} finished at least how many hours ago?`, '24');
  if (hours === null || !(Number(hours) >= 0)) return;
  const r = await api(`/api/queues/${encodeURIComponent(listQueue)}/clean`, { method: 'POST', body: JSON.stringify({ olderThan: Number(hours) * 3_600_000 }) }).catch(showError);
  if (r) alert(`Removed ${r.removed} job(s).`);
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

async function renderJob(id) {
  let job;
  let logs;
  try {
    [job, logs] = await Promise.all([api(`/api/jobs/${encodeURIComponent(id)}`), api(`/api/jobs/${encodeURIComponent(id)}/logs`)]);
  } catch (err) {
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
    'depends on': job.dependsOn.map((d) => `<a href="#/job/${encodeURIComponent(d)}">${esc(d)}</a>`).join(', ') || '–',
    options: esc(JSON.stringify({ timeoutMs: job.timeoutMs, backoff: job.backoff, group: job.groupKey })),
  };
  $('#j-meta').innerHTML = Object.entries(meta).map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('');
  $('#j-bar').style.width = `${job.progress}%`;
  $('#j-progress').setAttribute('aria-valuenow', String(Math.round(job.progress)));
  $('#j-message').textContent = job.message ? `${Math.round(job.progress)}% · ${job.message}` : `${Math.round(job.progress)}%`;
  $('#j-data').textContent = JSON.stringify(job.data, null, 2);
  $('#j-result').textContent = job.result === null ? '–' : JSON.stringify(job.result, null, 2);
  $('#j-errors').innerHTML = job.errors.map((e) => `<div class="err"><strong>attempt ${e.attempt}</strong> · ${time(e.at)}<br>${esc(e.message)}<pre>${esc(e.stack ?? '')}</pre></div>`).join('') || '<p class="dim">none</p>';
  $('#j-out').textContent = logs.lines.filter((l) => l.stream !== 'stderr').map((l) => l.line).join('\n');
  $('#j-err').textContent = logs.lines.filter((l) => l.stream === 'stderr').map((l) => l.line).join('\n');
  // An inline handler's console output is not captured: say so rather than show empty panes.
  $('#j-nolog').hidden = logs.lines.length > 0;
}

document.querySelector('#job .actions').addEventListener('click', async (e) => {
  const act = e.target.closest('button')?.dataset.act;
  if (!act || !openJob) return;
  if ((act === 'remove' || act === 'cancel') && !confirm(`${act === 'remove' ? 'Remove' : 'Cancel'} job ${openJob.id}?`)) return;
  try {
    if (act === 'remove') {
      await api(`/api/jobs/${encodeURIComponent(openJob.id)}`, { method: 'DELETE' });
      location.hash = `#/queue/${encodeURIComponent(openJob.queue)}`;
    } else {
      await api(`/api/jobs/${encodeURIComponent(openJob.id)}/${act}`, { method: 'POST', body: '{}' });
      await renderJob(openJob.id);
    }
    showError(null);
  } catch (err) {
    showError(err);
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
/** The event stream over fetch (not EventSource), so the token travels in a header. */
async function startEvents() {
  events?.abort();
  events = new AbortController();
  try {
    const res = await fetch('/api/events', { headers: token() ? { authorization: `Bearer ${token()}` } : {}, signal: events.signal });
    if (!res.ok) throw new Error(String(res.status));
    $('#live').textContent = '● live';
    $('#live').classList.add('on');
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
