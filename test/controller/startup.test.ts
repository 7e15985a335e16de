/**
 * Controller start-up mistakes (issue 13 item 20): each is found before the controller says it
 * is listening, exits 2 with one line that names the flag and what to do, and never shows an
 * internal WEFT_CTL_* code to the person who typed the command.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { initRepo, killAll, meshFiles, removeTmp, spawnWeft, tmpDir } from './helpers.js';

after(killAll);

async function run(args: string[]): Promise<{ code: number | null; lines: string[]; listened: boolean }> {
  const child = spawnWeft(['controller', '--insecure', '--listen', '127.0.0.1:0', ...args]);
  const code = await child.exited;
  // The structured log may say it runs insecure; the user-facing line is the one raw line.
  return { code, lines: child.logs.filter((l) => typeof l.raw === 'string').map((l) => l.raw as string), listened: child.logs.some((l) => l.msg === 'listening') };
}

test('controller start-up: a bad --repo (also a folder inside one), --branch, --store, --out, --listen or a certificate flag without a CA is refused before "listening"', { timeout: 60_000 }, async (t) => {
  const dir = await tmpDir('startup');
  t.after(() => removeTmp(dir));
  const repo = path.join(dir, 'repo');
  await initRepo(repo, meshFiles({ v1Port: 18201, v2Port: 18202, weights: [100, 0] }));
  await mkdir(path.join(repo, 'sub'));
  const plain = path.join(dir, 'plain');
  await mkdir(plain);
  const file = path.join(dir, 'file');
  await writeFile(file, 'x');
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => busy.close(() => resolve())));
  const busyPort = (busy.address() as AddressInfo).port;
  const cases: [string[], RegExp][] = [
    [['--repo', path.join(dir, 'missing'), '--store', path.join(dir, 's1')], /^weft: --repo \S+missing: no such folder \(give the path of a git working tree, or a URL to clone\)$/],
    [['--repo', plain, '--store', path.join(dir, 's2')], /^weft: --repo \S+plain: not a git repository \(run git init there, or give a clone's path or a URL\)$/],
    [['--repo', repo, '--branch', 'nope', '--store', path.join(dir, 's3')], /^weft: --branch: branch "nope" does not exist \(branches: main\) in \S+repo$/],
    [['--repo', repo, '--store', path.join(file, 'store')], /^weft: --store \S+: .*\(give a writable folder\)$/],
    [['--repo', path.join(repo, 'sub'), '--store', path.join(dir, 's9')], /^weft: --repo \S+sub: is a folder inside the git repository \S+repo, which is compiled from its top level: give --repo \S+repo --path sub$/],
    [['--repo', repo, '--store', path.join(dir, 's5'), '--out', plain], /^weft: --out \S+plain: is a folder; give the path of a file to write the bundle to$/],
    [['--repo', repo, '--store', path.join(dir, 's6'), '--out', path.join(file, 'out', 'bundle.json')], /^weft: --out \S+bundle\.json: \S+file is a file, not a folder$/],
    [['--repo', repo, '--store', path.join(dir, 's7'), '--cert-ttl', '1h'], /^weft: --cert-ttl needs --ca-dir: without a CA the controller issues no certificates$/],
    [['--repo', repo, '--store', path.join(dir, 's10'), '--max-connections', '0'], /^weft: --max-connections must be a whole number from 1 to 1000000$/],
    [['--repo', repo, '--store', path.join(dir, 's11'), '--dashboard-host', 'evil example'], /^weft: --dashboard-host evil example: expected a DNS name, or \*\.DOMAIN$/],
    [['--repo', repo, '--store', path.join(dir, 's8'), '--listen', `127.0.0.1:${busyPort}`], new RegExp(`^weft: --listen 127\\.0\\.0\\.1:${busyPort}: .*EADDRINUSE.*give another --listen\\)$`)],
    [['--repo', repo, '--store', path.join(dir, 's12'), '--listen', 'no-such-host.invalid:0'], /^weft: --listen no-such-host\.invalid:0: .*\(no such host name: give an IP address or a name this machine resolves: give another --listen\)$/],
    [['--repo', repo, '--store', path.join(dir, 's13'), '--listen', '192.0.2.1:0'], /^weft: --listen 192\.0\.2\.1:0: .*EADDRNOTAVAIL.*\(this machine has no such address: give another --listen\)$/],
  ];
  for (const [args, expected] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.lines.join('\n')}`);
    assert.equal(r.lines.length, 1, `one line: ${r.lines.join('\n')}`);
    assert.equal(r.listened, false, 'no "listening" line before the exit');
    assert.match(r.lines[0]!, expected);
    assert.doesNotMatch(r.lines[0]!, /WEFT_CTL_/);
  }
});
