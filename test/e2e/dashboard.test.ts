/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core, against the
 * controller of a running `weft up`. It sees the proxies table and the chart update, then the
 * red banner after a broken commit while the chart keeps moving with no errors, and saves a
 * screenshot: to the profile's temp folder, or, with WEFT_UPDATE_SCREENSHOT=1, to the
 * docs/dashboard.png the README shows (so an ordinary `npm test` leaves the tree clean).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { commitFile, converged, removeDir, ROOT, sleep, startUp, stopUp, waitFor, type UpRun } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'];

async function chartLast(page: Page): Promise<string> {
  return (await page.getAttribute('#chart', 'data-last')) ?? '';
}

test('dashboard: proxies, live chart, rejection banner, screenshot', { timeout: 90_000 }, async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `Chromium is not installed at ${CHROMIUM}: this test needs a real browser. Install it with \`apt-get install -y chromium\` (CI's .ci/run installs it).`,
  );
  let up: UpRun | null = null;
  let ctx: BrowserContext | null = null;
  const profile = await mkdtemp(path.join(os.tmpdir(), 'weft-e2e-chromium-'));
  try {
    // Through `npm start`, stopped by SIGTERM to npm alone (a supervisor, or kill PID): npm must pass it on.
    up = await startUp([], 60_000, { viaNpmStart: true });
    const u = up;
    await waitFor('all proxies to converge', () => converged(u), 30_000);

    ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 960 } });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(u.lock.dashboard);

    // The proxies table: seven proxies, all active on the current digest.
    // Checks go through locators and attributes: the page's CSP forbids the eval that
    // waitForFunction would need, and the test keeps that CSP in force.
    const active = page.locator('#proxies tbody tr[data-state="active"]');
    await waitFor('seven active proxies in the table', async () => (await active.count()) >= 7, 15_000, 200);
    assert.match((await page.textContent('#converged')) ?? '', /7\/7 on sha256:/);
    assert.match((await page.textContent('#rev-message')) ?? '', /Seed the demo mesh/);
    // The policies list no endpoint addresses: every instance is in the registry, ready.
    const instances = page.locator('#instances tbody tr[data-ready="true"]');
    await waitFor('seven ready registered instances', async () => (await instances.count()) >= 7, 15_000, 200);
    assert.equal(await page.locator('#instances tbody tr[data-service="default/reviews-v2"]').count(), 1);
    // Their WFT511 notes (fed by registration) are folded into one row, not one row each.
    const notes = page.locator('#diagnostics tbody tr[data-notes]');
    assert.equal(await notes.count(), 1);
    assert.match((await notes.textContent()) ?? '', /WFT511 ×\d+/);

    // The chart moves: its newest sample advances second by second.
    await waitFor('the chart to have samples', async () => Number(await page.getAttribute('#chart', 'data-samples')) >= 3, 15_000, 200);
    const firstLast = await chartLast(page);
    await waitFor('the chart to update', async () => (await chartLast(page)) !== firstLast, 5_000, 200);

    // A few seconds of the seed's split, then half of the traffic to v2 (so the screenshot shows
    // the split change), then a broken reference.
    await sleep(5000);
    await commitFile(u.repo, 'routes/reviews.yaml', (t) => t.replace('weight: 90', 'weight: 50').replace(/weight: 10$/m, 'weight: 50'), 'reviews: 50/50 between v1 and v2');
    await waitFor('the new revision on the page', async () => /50\/50/.test((await page.textContent('#rev-message')) ?? ''), 20_000, 250);
    await sleep(6000);
    await commitFile(u.repo, 'routes/reviews.yaml', (t) => t.replace('name: reviews-v3', 'name: reviews-v4'), 'reviews: send to v4 (does not exist)');
    await page.waitForSelector('#banner.show', { timeout: 20_000 });
    const banner = (await page.textContent('#banner')) ?? '';
    assert.match(banner, /rejected/);
    assert.match(banner, /routes\/reviews\.yaml:\d+/, `the banner names the file and line: ${banner}`);

    // Traffic is unaffected: the chart keeps updating, no errors, proxies still active.
    const atBanner = await chartLast(page);
    await waitFor('the chart to keep updating', async () => (await chartLast(page)) !== atBanner, 5_000, 200);
    await sleep(2000);
    assert.equal((await page.textContent('#errors'))?.trim(), '0.0%');
    assert.equal(await active.count(), 7);

    const shot = process.env.WEFT_UPDATE_SCREENSHOT === '1' ? path.join(ROOT, 'docs', 'dashboard.png') : path.join(profile, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(existsSync(shot), 'the screenshot was written');
  } finally {
    await ctx?.close().catch(() => undefined);
    await removeDir(profile);
    if (up) {
      const { leftovers } = await stopUp(up);
      await removeDir(up.dir);
      assert.deepEqual(leftovers, [], 'no process left behind');
    }
  }
});
