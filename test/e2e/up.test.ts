/**
 * End to end: `weft up` on a temporary copy of the policies, run from another directory. All
 * proxies converge; a committed weight shift moves the traffic within a bound; a second
 * reviews-v2 instance (`weft up --instance`) takes a share and leaves with no error; a broken commit
 * is rejected while every proxy keeps its digest and traffic flows without errors; a second
 * `weft up` says one is running; Ctrl-C on `npm start` stops every process it started.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { commitFile, converged, getJson, GiveUp, within, proxyDigests, removeDir, shares, sleep, startUp, stopUp, trafficSince, waitFor, WEFT, type StatusDoc, type UpRun } from './helpers.js';

const run = promisify(execFile);

test('weft up: converge, shift weight, scale reviews-v2 to two instances and back, reject a broken commit, fix it, stop cleanly', { timeout: 150_000 }, async () => {
  let up: UpRun | null = null;
  try {
    // As the README says, through `npm start`, stopped as the README says, with Ctrl-C.
    up = await startUp([], 60_000, { viaNpmStart: true });
    const u = up;
    const first = await waitFor('all proxies to converge', () => converged(u), 30_000);

    // Steady state: the seed's 90/10/0 split, no errors.
    const t0 = Math.ceil(Date.now() / 1000) * 1000;
    const base = await waitFor('3 s of traffic', async () => {
      const s = await trafficSince(u, t0);
      return s.length >= 3 ? s : undefined;
    }, 15_000);
    const before = shares(base);
    assert.ok(before.requests > 0, 'traffic flows');
    assert.equal(before.errors, 0, `no errors before the shift: ${JSON.stringify(base)}`);
    assert.ok((before.share['reviews-v1'] ?? 0) > 0.7, `mostly reviews-v1 at first: ${JSON.stringify(before.share)}`);
    assert.equal(before.share['reviews-v3'] ?? 0, 0, 'reviews-v3 has weight 0');

    // The banner's weft status command reads this demo's controller (not weft status's default address).
    const statusLine = /npx weft status --controller (\S+)/.exec(u.output());
    assert.ok(statusLine, `the banner names a weft status command:\n${u.output()}`);
    const status = await run(process.execPath, [WEFT, 'status', '--controller', statusLine[1]!], { timeout: 20_000 }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? -1, stdout: `${err.stdout ?? ''}${err.stderr ?? ''}` }),
    );
    assert.ok(status.code === 0 || status.code === 1, `weft status reached the controller: ${status.stdout}`);
    assert.match(status.stdout, /security +mTLS/);

    // A second weft up in the same directory says one is running, and changes nothing.
    const second = await run(process.execPath, [WEFT, 'up', '--duration', '5s'], { cwd: path.dirname(path.dirname(u.repo)) }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code?: number; stderr?: string }) => ({ code: err.code ?? -1, stderr: err.stderr ?? '' }),
    );
    assert.equal(second.code, 1, 'second weft up exits 1');
    assert.match(second.stderr, /already running/);

    // Shift all of the weighted traffic to reviews-v2 and commit.
    await commitFile(u.repo, 'routes/reviews.yaml', (t) => t.replace('weight: 90', 'weight: 0').replace(/weight: 10$/m, 'weight: 100'), 'reviews: all to v2');
    const shifted = await waitFor('the weight shift to converge', () => converged(u, first), 20_000);
    assert.notEqual(shifted, first);
    const t1 = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    const after = await waitFor('3 s of traffic after the shift', async () => {
      const s = await trafficSince(u, t1);
      return s.length >= 3 ? s : undefined;
    }, 15_000);
    const split = shares(after);
    assert.equal(split.errors, 0, `no errors after the shift: ${JSON.stringify(after)}`);
    assert.ok((split.share['reviews-v2'] ?? 0) >= 0.95, `traffic moved to reviews-v2: ${JSON.stringify(split.share)}`);

    // The walkthrough's scaling step: a second reviews-v2 instance registers, takes its share, and
    // leaves by SIGTERM (deregister, drain delay, drain) with no failed request.
    const cwd = path.dirname(path.dirname(u.repo));
    const extra = spawn(process.execPath, [WEFT, 'up', '--instance', 'reviews-v2', '--drain-delay', '1s', '--duration', '2m'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let extraOut = '';
    extra.stdout.on('data', (c: Buffer) => (extraOut += c.toString()));
    extra.stderr.on('data', (c: Buffer) => (extraOut += c.toString()));
    const extraExit = new Promise<number | null>((resolve) => extra.once('exit', (code) => resolve(code)));
    try {
      await waitFor('the second reviews-v2 instance to register', async () => {
        if (extra.exitCode !== null) throw new GiveUp(`weft up --instance exited ${extra.exitCode}: ${extraOut}`);
        return /reviews-v2#2 is registered/.test(extraOut);
      }, 60_000);
      const t2 = Math.ceil(Date.now() / 1000) * 1000 + 1000;
      const both = await waitFor('traffic on both reviews-v2 instances', async () => {
        const s = shares(await trafficSince(u, t2));
        return (s.share['reviews-v2'] ?? 0) > 0.2 && (s.share['reviews-v2#2'] ?? 0) > 0.2 ? s : undefined;
      }, 20_000);
      assert.equal(both.errors, 0, 'no errors while the instance joins');
      const status = await run(process.execPath, [WEFT, 'status', '--controller', u.lock.controller]).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
      assert.match(status.stdout, /default\/reviews-v2 +127\.0\.0\.1:\d+ +yes .*instance=2/, 'weft status lists the second instance');
      assert.match(status.stdout, /^traffic +[\d.]+ req\/s, 0 error\(s\) in the last \ds, posted by weft-up: .*reviews-v2#2 \d+%/m, 'weft status shows the traffic spread');
      extra.kill('SIGTERM');
      const timer = setTimeout(() => extra.kill('SIGKILL'), 30_000);
      const code = await within(extraExit, 40_000, 'weft up --instance to drain and exit');
      clearTimeout(timer);
      assert.equal(code, 0, `weft up --instance exits 0 after draining:\n${extraOut}`);
      assert.match(extraOut, /reviews-v2#2 stopped/);
      const t3 = Math.ceil(Date.now() / 1000) * 1000 + 1000;
      const alone = await waitFor('3 s of traffic after it left', async () => {
        const s = await trafficSince(u, t3);
        return s.length >= 3 ? shares(s) : undefined;
      }, 15_000);
      assert.equal(alone.share['reviews-v2#2'] ?? 0, 0, 'gone from the split');
    } finally {
      if (extra.exitCode === null && extra.signalCode === null) extra.kill('SIGKILL');
    }

    // A broken reference: rejected, every proxy keeps its digest, traffic keeps flowing.
    const digestsBefore = await proxyDigests(u);
    const bad = await commitFile(u.repo, 'routes/reviews.yaml', (t) => t.replace('name: reviews-v3', 'name: reviews-v4'), 'reviews: send to v4 (does not exist)');
    const tBad = Date.now();
    const rejected = await waitFor('the broken commit to be rejected', async () => {
      const st = await getJson<StatusDoc>(`${u.lock.controller}/v1/status`);
      return st.lastCompile?.commit.commit === bad && !st.lastCompile.ok ? st : undefined;
    }, 20_000);
    const errs = rejected.lastCompile?.diagnostics.filter((d) => d.severity === 'error') ?? [];
    assert.ok(errs.some((d) => d.file === 'routes/reviews.yaml' && d.line > 0), `diagnostic names the file and line: ${JSON.stringify(errs)}`);
    assert.equal(rejected.current?.digest, shifted, 'the controller keeps serving the last good bundle');
    await sleep(3000);
    assert.deepEqual(await proxyDigests(u), digestsBefore, 'every proxy keeps its digest');
    const during = shares(await trafficSince(u, Math.ceil(tBad / 1000) * 1000));
    assert.ok(during.requests > 0, 'traffic keeps flowing');
    assert.equal(during.errors, 0, 'with no errors');
    assert.ok((during.share['reviews-v2'] ?? 0) >= 0.95, 'and the last good split');

    // The fix: a revert compiles to the bundle the proxies already run, so nothing reloads.
    await run('git', ['-C', u.repo, '-c', 'commit.gpgsign=false', '-c', 'user.name=E2E', '-c', 'user.email=e2e@example.org', 'revert', '--no-edit', 'HEAD']);
    const fixed = (await run('git', ['-C', u.repo, 'rev-parse', 'HEAD'])).stdout.trim();
    const fixedStatus = await waitFor('the revert to compile', async () => {
      const st = await getJson<StatusDoc>(`${u.lock.controller}/v1/status`);
      return st.lastCompile?.commit.commit === fixed && st.lastCompile.ok ? st : undefined;
    }, 20_000);
    assert.equal(fixedStatus.current?.digest, shifted, 'same content, same digest');
    assert.deepEqual(await proxyDigests(u), digestsBefore);

    // Not one failed request from the first convergence on: shift, rejection and fix included.
    const whole = shares(await trafficSince(u, t0));
    assert.ok(whole.requests > 100, `traffic throughout: ${whole.requests} requests`);
    assert.equal(whole.errors, 0, 'no failed request at any point');

    // Ctrl-C in a terminal: SIGINT to the whole foreground group (npm and weft up; npm forwards its copy too).
    const stopped = await stopUp(u, 20_000, { signal: 'SIGINT', group: true });
    up = null;
    assert.equal(stopped.code, 0, `npm start exits 0 on Ctrl-C:\n${u.output()}`);
    assert.deepEqual(stopped.leftovers, [], 'no process left behind');
    assert.equal(u.pids().length, 9, 'controller, apps and seven proxies were tracked');
    assert.ok(!existsSync(path.join(path.dirname(u.repo), 'up.lock')), 'lock released');
    assert.ok(existsSync(path.join(u.repo, '.git')), 'repository kept for next time');
    // Proxies stop before the controller, so each deregisters and nothing warns about it.
    const logs = path.join(path.dirname(u.repo), 'logs');
    for (const f of readdirSync(logs).filter((n) => n !== 'controller.log' && n !== 'apps.log')) {
      assert.doesNotMatch(readFileSync(path.join(logs, f), 'utf8'), /deregistration failed|status report failed/, `${f}: the controller was still there when this proxy stopped`);
    }
    await removeDir(u.dir);
  } finally {
    if (up) {
      // The test already failed: stop everything and show what weft up said.
      await stopUp(up);
      process.stderr.write(`--- weft up output ---\n${up.output()}\n`);
      await removeDir(up.dir);
    }
  }
});
