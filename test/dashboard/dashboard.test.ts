/**
 * The dashboard in a real browser (Chromium from the npm package @sparticuz/chromium, driven by playwright-core) against a
 * real `conveyor serve`. Screenshots go to test-artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
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
  assert.match(await page.locator('#j-errors pre').first().innerText(), /at flaky|jobs\.ts/);
  await page.screenshot({ path: join(shots, 'failed-job.png'), fullPage: true });
  await page.getByRole('button', { name: 'Retry' }).click();
  await page.locator('#j-state', { hasText: 'completed' }).waitFor();
  assert.equal(await page.locator('#j-result').innerText(), '"fixed"');
});

test('pause and resume a queue; search a job by text in its data', async () => {
  await page.goto(`${server.url}/#/`);
  const row = page.locator('#queues tr[data-queue="images"]');
  await row.getByRole('button', { name: 'Pause' }).click();
  await row.getByText('paused').waitFor();
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
  await nightly.getByRole('button', { name: 'pause schedule nightly' }).click();
  await nightly.getByText('paused').waitFor();
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
  const addMore = fetch(`${server.url}/api/queues/images/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ui-secret' },
    body: JSON.stringify({ jobs: [{ name: 'resize', data: { item: 'late-1.jpg' } }, { name: 'resize', data: { item: 'late-2.jpg' } }] }),
  });
  await addMore;
  await page.getByRole('button', { name: '2 new — show' }).waitFor();
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
  await page.locator('#j-state', { hasText: 'completed' }).waitFor();
  const visible = async () => (await page.locator('#job .actions button:visible').allInnerTexts()).sort();
  assert.deepEqual(await visible(), ['Remove'], 'a completed job can only be removed');
  await page.goto(`${server.url}/#/job/no-such-job-id`);
  await page.getByText('There is no job with this id').waitFor();
  assert.equal(await page.locator('#job-details').isVisible(), false, 'no stale data of the previous job');
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
  const counts = (await (await fetch(`${server.url}/api/queues/images`, { headers: { authorization: 'Bearer ui-secret' } })).json()).counts as Record<string, number>;
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  await page.locator('#state-tabs button[data-state=""]', { hasText: `all ${total}` }).waitFor();
  await page.locator('#state-tabs button[data-state="completed"]', { hasText: `completed ${counts.completed}` }).waitFor();
  const { id } = await add('images', 'explode', {});
  await page.locator('#state-tabs button[data-state="failed"]').waitFor();
  await page.locator('#state-tabs button[data-state="failed"]').click();
  await page.locator('#state-tabs button.on[data-state="failed"]').waitFor();
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#job-list tbody tr td:nth-child(3)')).every((td) => td.textContent === 'failed'));
  assert.ok(await page.locator(`#job-list tr[data-id="${id}"]`).count(), 'the failed job is listed');
  assert.match(page.url(), /state=failed/);
  await page.screenshot({ path: join(shots, 'state-tabs.png'), fullPage: false });
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
