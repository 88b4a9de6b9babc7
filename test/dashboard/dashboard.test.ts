/**
 * The dashboard in a real browser (Chromium from the npm package @sparticuz/chromium, driven by playwright-core) against a
 * real `conveyor serve`. Screenshots go to test-artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page, Route } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.ts';
import { serve, type ServeProc } from '../helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-ui-'));
const shots = new URL('../../test-artifacts/screenshots/', import.meta.url).pathname;
const handlers = new URL('../fixtures/cli/jobs.ts', import.meta.url).pathname;
let server: ServeProc;
let browser: Browser;
let page: Page;

before(async () => {
  mkdirSync(shots, { recursive: true });
  console.log(`screenshots: ${shots}`);
  server = await serve(['--db', join(dir, 'ui.db'), '--handlers', handlers, '--queues', 'images', '--token', 'ui-secret', '--maintain-every', '200']);
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});

after(async () => {
  await browser?.close();
  server?.child.kill('SIGTERM');
  await server?.exited;
  rmSync(dir, { recursive: true, force: true });
});

/** Opens the dashboard on a fresh page and gives it the token. */
async function signIn(p: Page): Promise<void> {
  await p.goto(server.url);
  await p.getByLabel('Token').fill('ui-secret');
  await p.getByRole('button', { name: 'Sign in' }).click();
}

/** Opens the overview, queue "images" and job `id`, each once it shows its content, and runs `check` there. */
async function eachPage(p: Page, id: string, check: (page: 'overview' | 'queue' | 'job') => Promise<void>): Promise<void> {
  for (const [name, route, ready] of [
    ['overview', '#/', '#queues tr[data-queue="images"]'],
    ['queue', '#/queue/images', `#job-list tr[data-id="${id}"]`],
    ['job', `#/job/${id}`, '#j-state'],
  ] as const) {
    await p.goto(`${server.url}/${route}`);
    await p.locator(ready).first().waitFor();
    await check(name);
  }
}

async function add(queue: string, name: string, data: unknown) {
  const r = await fetch(`${server.url}/api/queues/${queue}/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ui-secret' },
    body: JSON.stringify({ name, data }),
  });
  return (await r.json()) as { id: string };
}

test('asks for the token, then shows queues; counts change live as jobs run', async () => {
  await page.goto(server.url);
  await page.getByLabel('Token').fill('ui-secret');
  await page.getByRole('button', { name: 'Sign in' }).click();
  assert.ok(!page.url().includes('ui-secret'), 'the token is not in the URL');
  await add('images', 'resize', { item: 'first.jpg' });
  await page.locator('#queues tr[data-queue="images"] .c-completed').filter({ hasText: '1' }).waitFor();
  await page.locator('#live.on').waitFor();
  // Added after the page loaded: the count changes without a reload.
  await add('images', 'resize', { item: 'second.jpg' });
  await page.locator('#queues tr[data-queue="images"] .c-completed').filter({ hasText: '2' }).waitFor();
  await page.screenshot({ path: join(shots, 'overview.png'), fullPage: true });
});

test('a failed job shows its stack; retry it and watch it complete', async () => {
  const { id } = await add('images', 'flaky', { note: 'needs a retry' });
  await page.locator('#queues tr[data-queue="images"] .c-failed').filter({ hasText: '1' }).waitFor();
  await page.locator('#queues tr[data-queue="images"] .c-failed a').click();
  await page.getByRole('link', { name: id }).click();
  await page.locator('#j-errors').getByText('first try fails').waitFor();
  assert.match(await page.locator('#j-errors').innerText(), /run 1 \(attempt 1\)/);
  assert.match(await page.locator('#j-errors pre').first().innerText(), /at flaky|jobs\.ts/);
  await page.screenshot({ path: join(shots, 'failed-job.png'), fullPage: true });
  await page.getByRole('button', { name: 'Retry' }).click();
  // Feedback next to the buttons, not below the page.
  await page.getByRole('status').filter({ hasText: 'Retried: queued again.' }).waitFor();
  await page.locator('#j-state', { hasText: 'completed' }).waitFor();
  assert.equal(await page.locator('#j-result').innerText(), '"fixed"');
});

test('pause and resume a queue; search a job by text in its data', async () => {
  await page.goto(`${server.url}/#/`);
  const row = page.locator('#queues tr[data-queue="images"]');
  await row.getByRole('button', { name: 'Pause' }).click();
  await row.getByText('paused').waitFor();
  // A job waiting in the paused queue: the overview says how long it has waited, and how
  // long the completed ones waited (median / 95th percentile).
  await add('images', 'resize', { item: 'while-paused.jpg' });
  await row.locator('.c-oldest').filter({ hasText: /^\d+(\.\d)? (ms|s)$/ }).waitFor();
  assert.match(await row.locator('.c-wait').innerText(), /^\d+(\.\d)? (ms|s) \/ \d+(\.\d)? (ms|s)$/);
  await row.getByRole('button', { name: 'Resume' }).click();
  await row.getByRole('button', { name: 'Pause' }).waitFor();
  await page.goto(`${server.url}/#/queue/images`);
  await page.getByLabel('Search').fill('second.jpg');
  await page.getByRole('button', { name: 'Show' }).click();
  // The unfiltered list shows 3 jobs; the search leaves the one whose data has the text.
  await page.waitForFunction(() => document.querySelectorAll('#job-list tbody tr').length === 1);
  await page.locator('#job-list tbody tr a').click();
  await page.locator('#j-data', { hasText: 'second.jpg' }).waitFor();
  await page.screenshot({ path: join(shots, 'search.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(shots, 'phone.png'), fullPage: true });
});

test("a queue's schedules: next runs in the schedule's zone, runs, the last run's job and state; pause and resume", async () => {
  await page.setViewportSize({ width: 1280, height: 900 });
  const put = await fetch(`${server.url}/api/queues/images/schedules/thumbs`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ui-secret' },
    body: JSON.stringify({ every: 1000, name: 'resize', data: { item: 'scheduled.jpg' }, limit: 1 }),
  });
  assert.equal(put.status, 200);
  await fetch(`${server.url}/api/queues/images/schedules/nightly`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ui-secret' },
    body: JSON.stringify({ cron: '0 3 * * *', tz: 'Europe/Berlin', name: 'resize' }),
  });
  await page.goto(`${server.url}/#/queue/images`);
  const nightly = page.locator('#schedules tr', { hasText: 'nightly' });
  await nightly.getByText('Europe/Berlin').first().waitFor();
  assert.equal((await nightly.locator('td').nth(4).innerHTML()).split('<br>').length, 3, 'the next three runs');
  // The one-shot schedule runs once (the server's upkeep) and its job completes; the page
  // follows the job's events.
  const thumbs = page.locator('#schedules tr', { hasText: 'thumbs' });
  await thumbs.locator('.state-completed').waitFor();
  assert.match(await thumbs.innerText(), /ended/);
  // A read of the schedules taken before the pause and answered after it must not redraw the
  // schedule as active: hold the answer of the next read (a live event sets one off).
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  let captured = () => {};
  const seen = new Promise<void>((r) => (captured = r));
  let passed: Promise<void> = Promise.resolve();
  let first = true;
  await page.route('**/api/queues/images/schedules', async (route) => {
    if (!first) return route.continue();
    first = false;
    const stale = await route.fetch();
    captured();
    passed = held.then(() => route.fulfill({ response: stale }));
  });
  await add('images', 'resize', { item: 'nudge.jpg' });
  await seen;
  await nightly.getByRole('button', { name: 'pause schedule nightly' }).click();
  await nightly.getByText('paused').waitFor();
  release();
  await passed;
  await page.unroute('**/api/queues/images/schedules');
  await page.evaluate(() => fetch('/health'));
  assert.match(await nightly.innerText(), /paused/, 'the late answer from before the pause was dropped');
  await nightly
    .getByText('paused')
    .waitFor()
    .catch(async (err: Error) => {
      // Say which side lagged: the server (not paused) or the page (an old read drawn last).
      const r = await fetch(`${server.url}/api/queues/images/schedules`, { headers: { authorization: 'Bearer ui-secret' } });
      const stored = ((await r.json()) as { schedules: { id: string; paused: boolean }[] }).schedules.find((x) => x.id === 'nightly');
      throw new Error(`${err.message}\nstored: ${JSON.stringify(stored)}\nrow: ${await nightly.innerText()}`);
    });
  await page.screenshot({ path: join(shots, 'schedules.png'), fullPage: true });
  await nightly.getByRole('button', { name: 'resume schedule nightly' }).click();
  await nightly.getByText('active').waitFor();
});

test('paging while jobs run: page 3 stays loaded through live events; rows update in place; new jobs wait behind "N new"', async () => {
  await page.setViewportSize({ width: 1280, height: 900 });
  const r = await fetch(`${server.url}/api/queues/images/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ui-secret' },
    body: JSON.stringify({ jobs: Array.from({ length: 160 }, (_, i) => ({ name: 'slow', data: { ms: 250, i } })) }),
  });
  assert.equal(r.status, 201);
  await page.goto(`${server.url}/#/`);
  await page.goto(`${server.url}/#/queue/images`);
  await page.waitForFunction(() => document.querySelectorAll('#job-list tbody tr').length === 50);
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#job-list tbody tr').length === 100);
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#job-list tbody tr').length === 150);
  assert.match(page.url(), /pages=3/, 'the page is in the URL');
  const firstId = await page.locator('#job-list tbody tr').first().getAttribute('data-id');
  // Five seconds of live events: the worker finishes jobs (some of them on screen), and two more are added.
  const running = page.locator('#job-list tbody tr .state-completed');
  // Adds are counted from the live stream: it must be connected when they happen.
  await page.locator('#live.on').waitFor();
  const addMore = fetch(`${server.url}/api/queues/images/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ui-secret' },
    body: JSON.stringify({ jobs: [{ name: 'resize', data: { item: 'late-1.jpg' } }, { name: 'resize', data: { item: 'late-2.jpg' } }] }),
  });
  await addMore;
  await page
    .getByRole('button', { name: '2 new — show' })
    .waitFor()
    .catch(async (err: Error) => {
      const shown = await page.locator('#new-jobs').evaluate((b) => `${(b as HTMLElement).hidden ? 'hidden' : 'shown'}: ${b.textContent}`);
      throw new Error(`${err.message}\n"new" button ${shown}; live badge: ${await page.locator('#live').innerText()}`);
    });
  await running.first().waitFor({ timeout: 10_000 });
  await page.waitForTimeout(5_000);
  assert.equal(await page.locator('#job-list tbody tr').count(), 150, 'still three pages');
  assert.equal(await page.locator('#job-list tbody tr').first().getAttribute('data-id'), firstId, 'nothing moved under the user');
  await page.getByRole('button', { name: /new — show/ }).click();
  await page.waitForFunction(() => document.querySelectorAll('#job-list tbody tr').length === 50);
  assert.match(await page.locator('#job-list tbody tr').first().innerText(), /resize/, 'the newest job on top after "show"');
});

test('a wrong job id and an unknown queue say not found; a job shows only the actions its state allows; a paused queue says so', async () => {
  const { id } = await add('images', 'resize', { item: 'actions.jpg' });
  await page.goto(`${server.url}/#/job/${id}`);
  // This job's page, not the one an earlier test left in the (hidden, then shown) job view.
  await page.locator('#j-id', { hasText: id }).waitFor();
  await page.locator('#j-state', { hasText: 'completed' }).waitFor();
  const visible = async () => (await page.locator('#job .actions button:visible').allInnerTexts()).sort();
  assert.deepEqual(await visible(), ['Remove'], 'a completed job can only be removed');
  await page.goto(`${server.url}/#/job/no-such-job-id`);
  await page.getByText('There is no job with this id').waitFor();
  assert.equal(await page.locator('#job-details').isVisible(), false, 'no stale data of the previous job');
  // A slow answer about the job opened before must not land over the page opened after it.
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  let passed: Promise<void> = Promise.resolve();
  await page.route(`**/api/jobs/${id}`, (route) => {
    passed = held.then(() => route.continue());
  });
  await page.goto(`${server.url}/#/job/${id}`);
  await page.goto(`${server.url}/#/job/no-such-job-id-2`);
  await page.getByText('There is no job with this id').waitFor();
  release();
  await passed;
  await page.unroute(`**/api/jobs/${id}`);
  await page.evaluate(() => fetch('/health'));
  assert.equal(await page.locator('#job-details').isVisible(), false, 'the late answer was dropped');
  assert.equal(await page.locator('#j-id').innerText(), 'no-such-job-id-2');
  // From one job's page to another's: while the second loads, the first is not shown as it.
  const other = await add('images', 'resize', { item: 'other.jpg' });
  await page.goto(`${server.url}/#/job/${id}`);
  await page.locator('#j-id', { hasText: id }).waitFor();
  await page.locator('#job-details').waitFor();
  let releaseOther = () => {};
  const heldOther = new Promise<void>((r) => (releaseOther = r));
  let passedOther: Promise<void> = Promise.resolve();
  await page.route(`**/api/jobs/${other.id}`, (route) => {
    passedOther = heldOther.then(() => route.continue());
  });
  await page.goto(`${server.url}/#/job/${other.id}`);
  await page.locator('#j-id', { hasText: other.id }).waitFor();
  assert.equal(await page.locator('#job-details').isVisible(), false, "the previous job's details are not shown under this job's id");
  releaseOther();
  await passedOther;
  await page.unroute(`**/api/jobs/${other.id}`);
  await page.locator('#job-details').waitFor();
  await page.goto(`${server.url}/#/queue/no-such-queue`);
  await page.getByText('There is no queue named "no-such-queue"').waitFor();
  assert.equal(await page.locator('#job-list').isVisible(), false);
  await fetch(`${server.url}/api/queues/images/pause`, { method: 'POST', headers: { authorization: 'Bearer ui-secret' } });
  await page.goto(`${server.url}/#/queue/images`);
  await page.locator('#paused-banner').getByText('This queue is paused').waitFor();
  await page.screenshot({ path: join(shots, 'paused-queue.png'), fullPage: true });
  await page.locator('#paused-banner').getByRole('button', { name: 'Resume' }).click();
  await page.locator('#paused-banner').waitFor({ state: 'hidden' });
});

test('state tabs with counts: all, and each state that has jobs; a tab filters the list', async () => {
  await page.goto(`${server.url}/#/`);
  await page.goto(`${server.url}/#/queue/images`);
  // The tabs follow the queue live: they must agree with the counts read at the same time
  // (jobs of earlier tests may still be finishing, so a count read once can be overtaken).
  await page.waitForFunction(
    async () => {
      const r = await fetch('/api/queues/images', { headers: { authorization: `Bearer ${sessionStorage.getItem('conveyor-token')}` } });
      const c = (await r.json()).counts as Record<string, number>;
      const total = Object.values(c).reduce((a, b) => a + b, 0);
      const text = (state: string) => document.querySelector(`#state-tabs button[data-state="${state}"]`)?.textContent?.replace(/\s+/g, ' ').trim() ?? '';
      return text('').includes(`all ${total}`) && text('completed').includes(`completed ${c.completed}`);
    },
    undefined,
    { polling: 200, timeout: 15_000 },
  );
  const { id } = await add('images', 'explode', {});
  // Live events redraw the tabs; if the stream missed them, the 10 s resync still does.
  await page
    .locator('#state-tabs button[data-state="failed"]')
    .waitFor()
    .catch(async (err: Error) => {
      // Say which side lagged: the worker (the job is not failed yet) or the page.
      const job = await (await fetch(`${server.url}/api/jobs/${id}`, { headers: { authorization: 'Bearer ui-secret' } })).json();
      const q = await (await fetch(`${server.url}/api/queues/images`, { headers: { authorization: 'Bearer ui-secret' } })).json();
      const tabs = await page.locator('#state-tabs').innerText();
      const seen = await page.evaluate(() => ({ url: location.hash, visibility: document.visibilityState, live: document.querySelector('#live')?.textContent, error: document.querySelector('#error')?.textContent }));
      throw new Error(`${err.message}\njob ${JSON.stringify(job)}\nqueue ${JSON.stringify(q)}\ntabs: ${tabs}\npage: ${JSON.stringify(seen)}`);
    });
  await page.locator('#state-tabs button[data-state="failed"]').click();
  await page.locator('#state-tabs button.on[data-state="failed"]').waitFor();
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#job-list tbody tr td[class^="state-"]')).every((td) => td.textContent === 'failed'));
  assert.ok(await page.locator(`#job-list tr[data-id="${id}"]`).count(), 'the failed job is listed');
  assert.equal(await page.locator(`#job-list tr[data-id="${id}"] .c-error`).innerText(), 'kaboom', 'its last error is a column');
  assert.match(page.url(), /state=failed/);
  await page.screenshot({ path: join(shots, 'state-tabs.png'), fullPage: false });
});

test('the state tabs keep up when each answer with the counts arrives after the next read began', async () => {
  const q = 'tabs-held';
  await add(q, 'resize', {});
  await page.goto(`${server.url}/#/queue/${q}`);
  await page.locator('#state-tabs button[data-state="queued"]').waitFor();
  // Each read of the queue's counts is held until the next one is sent, then let through: every
  // answer is older than a read in flight, as on a busy queue whose server answers slowly.
  const held: Route[] = [];
  let arrived = () => {};
  const pattern = `**/api/queues/${q}`;
  await page.route(pattern, (route) => {
    held.push(route);
    arrived();
  });
  try {
    for (let i = 0; i < 3; i++) {
      const read = new Promise<void>((r) => (arrived = r));
      // Its live event sets off a read of the counts.
      await add(q, 'resize', {});
      await read;
      if (held.length >= 2) await held.shift()!.continue();
    }
    // 4 jobs; the last answer let through was read with all of them there.
    await page.waitForFunction((n) => document.querySelector('#state-tabs button[data-state=""]')?.textContent?.replace(/\s+/g, ' ').trim() === `all ${n}`, 4, { timeout: 10_000 });
  } finally {
    await page.unroute(pattern);
    for (const r of held) await r.continue().catch(() => {});
  }
});

test('accessible names and states: per-queue buttons, the progress bar, a job without output says so', async () => {
  const { id } = await add('images', 'resize', { item: 'a11y.jpg' });
  await page.goto(`${server.url}/#/`);
  await page.getByRole('button', { name: 'Pause queue images' }).waitFor();
  await page.goto(`${server.url}/#/job/${id}`);
  await page.locator('#j-state', { hasText: 'completed' }).waitFor();
  assert.equal(await page.getByRole('progressbar').getAttribute('aria-valuenow'), '100');
  assert.equal(await page.locator('#j-nolog').isVisible(), false, 'this job logged a line');
  const { id: quiet } = await add('images', 'flaky', {});
  await page.goto(`${server.url}/#/job/${quiet}`);
  await page.locator('#j-state').waitFor();
  await page.getByText('No output captured').waitFor();
});

/** WCAG contrast ratio of two CSS rgb() colours. */
function contrast(a: string, b: string): number {
  const lum = (c: string) => {
    const [r, g, bl] = (c.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((x) => {
      const v = Number(x) / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

test('a phone (390×844) in dark mode and a wide screen (1440×900) in light: no page-wide scrolling, readable contrast', async () => {
  // A failed job whose error fills its cell (the message a cron job without data once showed
  // there, and pushed a 1440 px page sideways): the list must still fit.
  const broken = await add('images', 'resize', null);
  const auth = { authorization: 'Bearer ui-secret' };
  await fetch(`${server.url}/api/jobs/${broken.id}/wait?timeout=10000`, { headers: auth });
  const state = ((await (await fetch(`${server.url}/api/jobs/${broken.id}`, { headers: auth })).json()) as { state: string }).state;
  assert.equal(state, 'failed', 'a resize without data fails');
  const { id } = await add('images', 'resize', { item: 'phone.jpg' });
  for (const [name, viewport, colorScheme] of [
    ['phone-dark', { width: 390, height: 844 }, 'dark'],
    ['wide-light', { width: 1440, height: 900 }, 'light'],
  ] as const) {
    const p = await browser.newPage({ viewport, colorScheme });
    try {
      await signIn(p);
      await p.locator('#queues tr[data-queue="images"]').waitFor();
      const colors = await p.evaluate(() => {
        const s = getComputedStyle(document.body);
        const cell = getComputedStyle(document.querySelector('#queues td')!);
        return { fg: s.color, bg: s.backgroundColor, dim: getComputedStyle(document.querySelector('.dim') ?? document.body).color, cellBg: getComputedStyle(document.querySelector('#queues table') ?? document.body).backgroundColor, cellFg: cell.color };
      });
      // Dark mode follows the system setting: a dark page, light text.
      const dark = contrast(colors.bg, 'rgb(0, 0, 0)') < contrast(colors.bg, 'rgb(255, 255, 255)');
      assert.equal(dark, colorScheme === 'dark', `${name}: background ${colors.bg}`);
      assert.ok(contrast(colors.fg, colors.bg) >= 7, `${name}: text on page ${contrast(colors.fg, colors.bg).toFixed(1)}:1`);
      assert.ok(contrast(colors.cellFg, colors.cellBg) >= 4.5, `${name}: text in tables`);
      assert.ok(contrast(colors.dim, colors.bg) >= 4.5, `${name}: dimmed text ${contrast(colors.dim, colors.bg).toFixed(1)}:1`);
      await eachPage(p, id, async (route) => {
        const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok(overflow <= 0, `${name} ${route}: the page scrolls sideways by ${overflow}px`);
        await p.screenshot({ path: join(shots, `${name}-${route}.png`), fullPage: true });
      });
    } finally {
      await p.close();
    }
  }
});

test('select jobs (one by one, or a whole page) and act on them in one go; the result says what happened', async () => {
  // A queue no worker serves: its jobs stay where the test puts them.
  const queue = 'bulk-ui';
  const waiting = [await add(queue, 'resize', { n: 1 }), await add(queue, 'resize', { n: 2 })];
  const r0 = await fetch(`${server.url}/api/queues/${queue}/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ui-secret' },
    body: JSON.stringify({ name: 'resize', data: { n: 3 }, opts: { delay: 3_600_000 } }),
  });
  const later = (await r0.json()) as { id: string };
  await page.goto(server.url);
  if (await page.getByLabel('Token').isVisible()) {
    await page.getByLabel('Token').fill('ui-secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  await page.goto(`${server.url}/#/queue/${queue}`);
  await page.locator(`#job-list tr[data-id="${later.id}"] .state-scheduled`).waitFor();
  assert.equal(await page.locator('#bulk').isVisible(), false, 'no selection, no bulk bar');
  // A queued and a scheduled job: "Run now" applies to the scheduled one only.
  await page.getByLabel(`Select job ${waiting[0].id}`).check();
  await page.getByLabel(`Select job ${later.id}`).check();
  await page.getByText('2 selected').waitFor();
  await page.locator('#bulk').getByRole('button', { name: 'Run now' }).click();
  await page.getByText('1 of 2 started; 1 left as they were').waitFor();
  assert.equal(await page.locator('#bulk').isVisible(), false, 'the selection is cleared after an action');
  await page.locator(`#job-list tr[data-id="${later.id}"] .state-queued`).waitFor();
  // A whole page: cancel all three, then remove them (after confirming).
  await page.getByLabel('Select all jobs on this page').check();
  await page.getByText('3 selected').waitFor();
  await page.screenshot({ path: join(shots, 'bulk-selection.png'), fullPage: true });
  // The list is read again after an action; held back here (a slow server), the rows on screen
  // must already show that the selection went with the action.
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  let passed: Promise<void> = Promise.resolve();
  await page.route('**/api/queues', (route) => {
    passed = held.then(() => route.continue());
  });
  await page.locator('#bulk').getByRole('button', { name: 'Cancel' }).click();
  await page.getByText('3 of 3 canceled').waitFor();
  assert.equal(await page.getByLabel('Select all jobs on this page').isChecked(), false, 'the selection went with the action');
  release();
  await passed;
  await page.unroute('**/api/queues');
  await page.locator(`#job-list tr[data-id="${later.id}"] .state-canceled`).waitFor();
  await page.getByLabel('Select all jobs on this page').check();
  page.once('dialog', (d) => void d.accept());
  await page.locator('#bulk').getByRole('button', { name: 'Remove' }).click();
  await page.getByText('3 of 3 removed').waitFor();
  await page.locator('#job-list').getByText('no jobs').waitFor();
  const r = await fetch(`${server.url}/api/jobs?queue=${queue}`, { headers: { authorization: 'Bearer ui-secret' } });
  assert.deepEqual(((await r.json()) as { jobs: unknown[] }).jobs, []);
});

test("a queue's groups: each tenant with ready and running jobs, most ready first", async () => {
  // A queue no worker serves: its jobs stay ready.
  const queue = 'tenants-ui';
  for (const g of ['acme', 'acme', 'globex']) {
    await fetch(`${server.url}/api/queues/${queue}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ui-secret' },
      body: JSON.stringify({ name: 'report', data: {}, opts: { group: g } }),
    });
  }
  await page.goto(`${server.url}/#/queue/${queue}`);
  await page.locator('#groups tr[data-group="acme"]').waitFor();
  const rows = await page.locator('#groups tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)));
  assert.deepEqual(rows, [
    ['acme', '2', '0'],
    ['globex', '1', '0'],
  ]);
  await page.goto(`${server.url}/#/queue/images`);
  await page.locator('#groups-box').waitFor({ state: 'hidden' });
  // A job added with a dedupe key says so on its page.
  const r = await fetch(`${server.url}/api/queues/${queue}/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ui-secret' },
    body: JSON.stringify({ name: 'report', data: {}, opts: { dedupe: { key: 'acme-monthly' } } }),
  });
  const { id } = (await r.json()) as { id: string };
  await page.goto(`${server.url}/#/job/${id}`);
  await page.locator('#j-meta dt:text-is("dedupe key") + dd').getByText('acme-monthly').waitFor();
});

test('keyboard only: Tab reaches a queue, a state tab and a job, and Enter opens each', async () => {
  /** Presses Tab until `match` says the focused element is the one wanted (at most 60 presses). */
  async function tabTo(match: (el: { tag: string; text: string; href: string | null; state: string | null }) => boolean, what: string) {
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press('Tab');
      const el = await page.evaluate(() => {
        const a = document.activeElement as HTMLElement | null;
        return { tag: a?.tagName ?? '', text: (a?.textContent ?? '').trim(), href: a?.getAttribute('href') ?? null, state: a?.getAttribute('data-state') ?? null };
      });
      if (match(el)) return;
    }
    assert.fail(`Tab never reached ${what}`);
  }
  await page.goto(`${server.url}/#/`);
  await page.locator('#queues tr[data-queue="images"]').waitFor();
  await page.locator('body').focus();
  await tabTo((el) => el.tag === 'A' && el.href === '#/queue/images', 'the images queue link');
  await page.keyboard.press('Enter');
  await page.locator('#state-tabs button[data-state="completed"]').waitFor();
  await tabTo((el) => el.tag === 'BUTTON' && el.state === 'completed', 'the completed tab');
  await page.keyboard.press('Enter');
  await page.locator('#state-tabs button.on[data-state="completed"]').waitFor();
  await tabTo((el) => el.tag === 'A' && (el.href ?? '').startsWith('#/job/'), 'a job link');
  await page.keyboard.press('Enter');
  await page.locator('#j-state', { hasText: 'completed' }).waitFor();
  await tabTo((el) => el.tag === 'BUTTON' && el.text === 'Remove', 'the Remove action');
});

test('live redraws keep keyboard focus: on the queues table, the state tabs and a job row', async () => {
  const focused = () => page.evaluate(() => {
    const a = document.activeElement;
    return a ? `${a.tagName} ${a.getAttribute('href') ?? a.getAttribute('data-state') ?? ''}` : '';
  });
  const count = (sel: string) => page.evaluate((s) => Number(document.querySelector(s)?.textContent?.replace(/\D+/g, '') || -1), sel);
  /** Adds a job that completes and waits until `sel`'s number has grown: the view was redrawn. */
  async function redrawn(sel: string) {
    const before = await count(sel);
    await add('images', 'resize', { item: 'focus.jpg' });
    await page.waitForFunction(({ s, n }) => Number(document.querySelector(s)?.textContent?.replace(/\D+/g, '') || -1) > n, { s: sel, n: before });
  }

  await page.goto(`${server.url}/#/`);
  await page.locator('#queues tr[data-queue="images"] a[href="#/queue/images"]').focus();
  await redrawn('#queues tr[data-queue="images"] .c-completed');
  assert.equal(await focused(), 'A #/queue/images', 'the queue link keeps focus');

  await page.goto(`${server.url}/#/queue/images`);
  const tab = page.locator('#state-tabs button[data-state="completed"]');
  await tab.waitFor();
  await tab.focus();
  await redrawn('#state-tabs button[data-state="completed"] .count');
  assert.equal(await focused(), 'BUTTON completed', 'the state tab keeps focus');

  // A row of the list that changes state is updated in place, its link still focused (a queue
  // no worker serves, so the job changes only when the test cancels it).
  const { id } = await add('held', 'focus', {});
  await page.goto(`${server.url}/#/queue/held`);
  const link = page.locator(`#job-list tr[data-id="${id}"] a`);
  await link.focus();
  const canceled = await fetch(`${server.url}/api/jobs/${id}/cancel`, { method: 'POST', headers: { authorization: 'Bearer ui-secret' } });
  assert.equal(canceled.status, 200);
  await page.locator(`#job-list tr[data-id="${id}"] td.state-canceled`).waitFor();
  assert.equal(await focused(), `A #/job/${id}`, 'the job link keeps focus');
});

test("a job page lists what the job waits on and what waits on it, each with its state", async () => {
  // A queue no worker serves: the parent stays queued, its child deferred.
  const parent = await add('held', 'p', {});
  const r = await fetch(`${server.url}/api/queues/held/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ui-secret' },
    body: JSON.stringify({ name: 'c', data: {}, opts: { dependsOn: parent.id } }),
  });
  const child = (await r.json()) as { id: string };
  await page.goto(`${server.url}/#/job/${parent.id}`);
  const meta = page.locator('#j-meta');
  await meta.getByRole('link', { name: child.id }).waitFor();
  assert.match(await meta.innerText(), new RegExp(`waited on by\\s+${child.id} deferred`));
  await meta.getByRole('link', { name: child.id }).click();
  await page.locator('#j-state', { hasText: 'deferred' }).waitFor();
  assert.match(await meta.innerText(), new RegExp(`depends on\\s+${parent.id} queued`));
});

test('retry-all and clean say how many jobs they will touch and did; a job page shows how long it waited and ran', async () => {
  const { id } = await add('images', 'explode', {});
  const done = await add('images', 'resize', { item: 'timed.jpg' });
  await page.goto(`${server.url}/#/job/${done.id}`);
  await page.locator('#j-state', { hasText: 'completed' }).waitFor();
  for (const fact of ['waited', 'ran for']) {
    const value = await page.locator(`#j-meta dt:text-is("${fact}") + dd`).textContent();
    assert.match(value ?? '', /^\d+(\.\d)? (ms|s)$/, `${fact}: ${value}`);
  }
  await page.goto(`${server.url}/#/job/${id}`);
  await page.locator('#j-state', { hasText: 'failed' }).waitFor();
  await page.goto(`${server.url}/#/queue/images`);
  await page.locator(`#job-list tr[data-id="${id}"]`).waitFor();
  const failed = ((await (await fetch(`${server.url}/api/queues/images`, { headers: { authorization: 'Bearer ui-secret' } })).json()) as { counts: { failed: number } }).counts.failed;
  let asked = '';
  page.once('dialog', (d) => {
    asked = d.message();
    void d.accept();
  });
  await page.getByRole('button', { name: 'Retry all failed' }).click();
  await page.getByText(`${failed} failed job(s) retried.`).waitFor();
  assert.equal(asked, `Retry the ${failed} failed job(s) in images?`);
  page.once('dialog', (d) => {
    asked = d.message();
    void d.accept('1000');
  });
  await page.getByRole('button', { name: 'Clean…' }).click();
  await page.getByText(/^Removed 0 of \d+ finished job\(s\)\.$/).waitFor();
  assert.match(asked, /^images holds \d+ finished job\(s\) \(\d+ completed, \d+ failed, \d+ canceled\)/);
});

test('axe-core finds no WCAG 2 A/AA violations on the overview, a queue and a job, in light and dark', async () => {
  const axe = readFileSync(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
  const { id } = await add('images', 'resize', { item: 'axe.jpg' });
  const found: string[] = [];
  for (const colorScheme of ['light', 'dark'] as const) {
    const p = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme });
    try {
      await signIn(p);
      await eachPage(p, id, async (route) => {
        await p.addScriptTag({ content: axe });
        const violations = await p.evaluate(async () => {
          const r = await (window as unknown as { axe: { run(o: object): Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }> } }).axe.run({
            runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
          });
          return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
        });
        found.push(...violations.map((v) => `${colorScheme} ${route} ${v}`));
      });
    } finally {
      await p.close();
    }
  }
  assert.deepEqual(found, []);
});
