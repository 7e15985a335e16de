/**
 * The proxy process under hostile or careless start-up conditions (issue 13 items 10-13), with
 * real `weft proxy` processes: a listener that cannot bind closes everything and exits 2; a
 * missing `--bundle` file is named in the log and /config; a 200 MB bundle or cache file is
 * refused without being read; a bundle path swapped to a file that is not a bundle is never quoted;
 * identity files that are a FIFO or a device are refused at start-up instead of hanging it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createCa } from '../../runtime/identity/ca.js';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { workload } from '../helpers/identity-kit.js';
import { agent, getJson, spawnProxy, tempDir, waitFor, WEFT_BIN, writeBundle } from '../helpers/proxy-harness.js';

interface Config {
  active: { digest: string } | null;
  lastRejection: { code: string; reason: string } | null;
  sourceProblem: { code: string; reason: string } | null;
}

/** freePort binds port 0 and releases it, returning the number (for flags that need a fixed port). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** runToExit runs `weft proxy ARGS` and resolves with its exit code and stderr once it exits. */
function runToExit(args: string[], boundMs = 20_000, insecure = true): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [WEFT_BIN, 'proxy', ...(insecure ? ['--insecure'] : []), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), boundMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stderr });
    });
  });
}

/** peakRssMiB is the child's peak resident set (VmHWM) in MiB, from /proc. */
function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await agent.close();
});

describe('proxy start-up failure (issue 13 item 10)', () => {
  it('a --cache-dir that cannot be written is a usage error before anything starts', async () => {
    const dir = tempDir();
    dirs.push(dir);
    writeBundle(path.join(dir, 'b.json'), bundle(spec([service('me', { endpoints: [] })])));
    const file = path.join(dir, 'file');
    writeFileSync(file, 'x');
    const r = await runToExit(['--service', 'me', '--bundle', path.join(dir, 'b.json'), '--cache-dir', path.join(file, 'cache'), '--admin', '127.0.0.1:0', '--outbound', '127.0.0.1:0']);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^weft: --cache-dir \S+cache: ENOTDIR \(give a folder this user can create and write/);
    assert.doesNotMatch(r.stderr, /"msg":"(listening|bundle active)"/);
  });

  it('a --bundle that is a folder is a usage error: one line, exit 2, nothing waits', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const r = await runToExit(['--service', 'me', '--bundle', dir, '--admin', '127.0.0.1:0', '--outbound', '127.0.0.1:0']);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
    assert.deepEqual(lines, [`weft: --bundle ${dir}: is a folder; give the bundle file (weft compile --out FILE writes one)`]);
    assert.doesNotMatch(r.stderr, /"msg":"listening"/);
  });


  it('a listener that cannot bind (EADDRINUSE) closes the admin listener and exits 2', async () => {
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const busy = (taken.address() as { port: number }).port;
    const adminPort = await freePort();
    const dir = tempDir();
    dirs.push(dir);
    writeBundle(path.join(dir, 'b.json'), bundle(spec([service('me', { endpoints: [] })])));
    try {
      // The case: an inbound-only proxy whose default outbound address is taken.
      const r = await runToExit(['--service', 'me', '--bundle', path.join(dir, 'b.json'), '--admin', `127.0.0.1:${adminPort}`, '--outbound', `127.0.0.1:${busy}`, '--inbound', '127.0.0.1:0', '--app', 'http://127.0.0.1:1']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /WEFT_STARTUP: outbound listener cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
      assert.doesNotMatch(r.stderr, /"msg":"listening"/);
      // Nothing is left listening: the admin port can be bound again.
      const again = createServer();
      await new Promise<void>((resolve, reject) => {
        again.once('error', reject);
        again.listen(adminPort, '127.0.0.1', () => resolve());
      });
      await new Promise<void>((r2) => again.close(() => r2()));
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });
});

describe('bundle source problems are named (issue 13 items 11, 12)', () => {
  it('a --bundle path that does not exist: the log, /ready and /config say why; the file appearing fixes it', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'missing.json');
    const p = await spawnProxy(['--service', 'me', '--bundle', file]);
    try {
      const listening = p.stderr.find((l) => l.includes('"msg":"listening"'))!;
      assert.match(listening, /"ready":false/);
      assert.match(listening, /"waiting":"WEFT_SRC_NOT_FOUND: [^"]*missing\.json does not exist/);
      assert.ok(p.stderr.some((l) => l.includes('"msg":"bundle source problem"') && l.includes('WEFT_SRC_NOT_FOUND')), p.stderr.join('\n'));
      const cfg = await getJson<Config>(p.admin, '/config');
      assert.equal(cfg.sourceProblem?.code, 'WEFT_SRC_NOT_FOUND');
      assert.match(cfg.sourceProblem.reason, /missing\.json does not exist/);
      const ready = await getJson<{ ready: boolean; reason: string }>(p.admin, '/ready');
      assert.equal(ready.ready, false);
      assert.match(ready.reason, /WEFT_SRC_NOT_FOUND/);
      const b = bundle(spec([service('me', { endpoints: [] })]));
      writeBundle(file, b);
      await waitFor(async () => (await getJson<Config>(p.admin, '/config')).active?.digest === b.digest, 10_000, 'bundle loaded');
      assert.equal((await getJson<Config>(p.admin, '/config')).sourceProblem, null);
      // Logged once per change, not once per poll.
      assert.equal(p.stderr.filter((l) => l.includes('WEFT_SRC_NOT_FOUND') && l.includes('"msg":"bundle source problem"')).length, 1);
    } finally {
      await p.stop();
    }
  });

  it('a 200 MB bundle file and a 200 MB cache file are refused before being read (peak RSS stays small)', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'huge.json');
    writeFileSync(file, '');
    truncateSync(file, 200 * 1024 * 1024); // sparse: the disk holds nothing, a read would hold 200 MB
    const cacheDir = path.join(dir, 'cache');
    mkdirSync(cacheDir);
    writeFileSync(path.join(cacheDir, 'bundle.json'), '');
    truncateSync(path.join(cacheDir, 'bundle.json'), 200 * 1024 * 1024);
    const p = await spawnProxy(['--service', 'me', '--bundle', file, '--cache-dir', cacheDir]);
    try {
      const cfg = await getJson<Config>(p.admin, '/config');
      assert.equal(cfg.sourceProblem?.code, 'WEFT_SRC_TOO_LARGE');
      assert.match(cfg.sourceProblem.reason, /209715200 bytes, over the 67108864-byte limit; not read/);
      assert.equal(cfg.lastRejection?.code, 'WEFT_BUNDLE_TOO_LARGE', 'the cache file is refused too');
      assert.equal(cfg.active, null);
      const peak = peakRssMiB(p.child.pid!);
      assert.ok(peak < 180, `peak RSS ${peak.toFixed(0)} MiB: a 200 MB file was read`);
    } finally {
      await p.stop();
    }
  });

  it('a --bundle path that is a FIFO or a device is refused without hanging the source', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const link = path.join(dir, 'bundle.json');
    symlinkSync('/dev/zero', link);
    const p = await spawnProxy(['--service', 'me', '--bundle', link]);
    try {
      const cfg = await getJson<Config>(p.admin, '/config');
      assert.equal(cfg.sourceProblem?.code, 'WEFT_SRC_UNREADABLE');
      assert.match(cfg.sourceProblem.reason, /not a regular file/);
      // The source still works: swapping the link to a real bundle activates it.
      const real = path.join(dir, 'real.json');
      const b = bundle(spec([service('me', { endpoints: [] })]));
      writeBundle(real, b);
      rmSync(link);
      symlinkSync(real, link);
      await waitFor(async () => (await getJson<Config>(p.admin, '/config')).active?.digest === b.digest, 10_000, 'bundle loaded');
    } finally {
      await p.stop();
    }
  });

  it('identity files (--ca, --token-file, --cert/--key) that are a FIFO or /dev/zero are refused at once, exit 2', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const ca = await createCa('weft.local');
    const caFile = path.join(dir, 'ca.pem');
    writeFileSync(caFile, ca.certPem);
    const w = await workload(ca, 'me');
    writeFileSync(path.join(dir, 'me.crt'), w.certPem);
    writeFileSync(path.join(dir, 'me.key'), w.keyPem);
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    writeBundle(path.join(dir, 'b.json'), bundle(spec([service('me', { endpoints: [] })])));
    const common = ['--service', 'me', '--admin', '127.0.0.1:0', '--outbound', '127.0.0.1:0'];
    const fromController = ['--controller', 'https://127.0.0.1:1', '--cache-dir', path.join(dir, 'cache')];
    const fromFiles = (cert: string, key: string, caPath: string): string[] => ['--bundle', path.join(dir, 'b.json'), '--cert', cert, '--key', key, '--ca', caPath];
    const cases: [string, string[], RegExp][] = [
      ['--token-file /dev/zero', [...fromController, '--ca', caFile, '--token-file', '/dev/zero'], /--token-file: \/dev\/zero is not a regular file/],
      ['--token-file FIFO', [...fromController, '--ca', caFile, '--token-file', fifo], /--token-file: \S+fifo is not a regular file/],
      ['--ca /dev/zero', fromFiles(path.join(dir, 'me.crt'), path.join(dir, 'me.key'), '/dev/zero'), /--ca: \/dev\/zero is not a regular file/],
      ['--cert /dev/zero', fromFiles('/dev/zero', path.join(dir, 'me.key'), caFile), /WEFT_ID_CERT_FILES: .*not a regular file/],
      ['--key FIFO', fromFiles(path.join(dir, 'me.crt'), fifo, caFile), /WEFT_ID_CERT_FILES: .*not a regular file/],
    ];
    for (const [what, args, expected] of cases) {
      const r = await runToExit([...common, ...args], 20_000, false);
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.match(r.stderr, expected, what);
    }
  });

  it('--service/--namespace must be DNS labels, and certificate files must name that Service: one line, exit 2', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const ca = await createCa('weft.local');
    writeFileSync(path.join(dir, 'ca.pem'), ca.certPem);
    const w = await workload(ca, 'reviews');
    writeFileSync(path.join(dir, 'r.crt'), w.certPem);
    writeFileSync(path.join(dir, 'r.key'), w.keyPem);
    writeBundle(path.join(dir, 'b.json'), bundle(spec([service('ratings', { endpoints: [] })])));
    const base = ['--bundle', path.join(dir, 'b.json'), '--admin', '127.0.0.1:0', '--outbound', '127.0.0.1:0'];
    const files = ['--cert', path.join(dir, 'r.crt'), '--key', path.join(dir, 'r.key'), '--ca', path.join(dir, 'ca.pem')];
    const cases: [string[], boolean, RegExp][] = [
      [['--service', 'Ratings', ...base], true, /^weft: --service: "Ratings" is not a DNS label/],
      [['--service', 'ratings', '--namespace', 'my ns', ...base], true, /^weft: --namespace: "my ns" is not a DNS label/],
      [['--service', 'ratings', ...base, ...files], false, /^weft: WEFT_ID_CERT_SAN: \S+r\.crt: the certificate names spiffe:\/\/weft\.local\/ns\/default\/sa\/reviews, not spiffe:\/\/weft\.local\/ns\/default\/sa\/ratings$/],
    ];
    for (const [args, insecure, expected] of cases) {
      const r = await runToExit(args, 20_000, insecure);
      assert.equal(r.code, 2, r.stderr);
      const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, expected);
      assert.doesNotMatch(r.stderr, /"msg":"listening"/);
    }
  });

  it('an unreachable controller is named in /config', async () => {
    const port = await freePort();
    const p = await spawnProxy(['--service', 'me', '--controller', `http://127.0.0.1:${port}`]);
    try {
      await waitFor(async () => (await getJson<Config>(p.admin, '/config')).sourceProblem?.code === 'WEFT_SRC_UNREACHABLE', 10_000, 'source problem');
    } finally {
      await p.stop();
    }
  });
});

describe('a rejected file is never echoed (issue 13 item 13)', () => {
  it('a bundle path swapped to a symlink to a non-bundle file: /config and the log quote none of it', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const link = path.join(dir, 'bundle.json');
    const good = bundle(spec([service('me', { endpoints: [] })]));
    writeBundle(path.join(dir, 'good.json'), good);
    symlinkSync(path.join(dir, 'good.json'), link);
    const p = await spawnProxy(['--service', 'me', '--bundle', link]);
    try {
      const cases: [string, string][] = [
        ['passwd', 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n'],
        ['json secret key', JSON.stringify({ ...good, sources: { 'AKIA-TOPSECRET-KEY': 'not-a-location' } })],
        ['json secret digest', JSON.stringify({ ...good, digest: 'TOPSECRET-digest-value' })],
      ];
      for (const [i, [name, content]] of cases.entries()) {
        const target = path.join(dir, `${name.replace(/ /g, '-')}.txt`);
        writeFileSync(target, content);
        rmSync(link);
        symlinkSync(target, link);
        await waitFor(() => p.stderr.filter((l) => l.includes('"msg":"bundle rejected"')).length >= i + 1, 10_000, `${name} rejected`);
        const cfg = await getJson<Config>(p.admin, '/config');
        const shown = JSON.stringify(cfg) + p.stderr.join('\n');
        for (const secret of ['root:x', 'daemon', 'TOPSECRET', 'AKIA', '/bin/bash']) assert.ok(!shown.includes(secret), `${name}: "${secret}" was echoed: ${shown}`);
        assert.equal(cfg.active?.digest, good.digest, 'the good bundle stays active');
      }
    } finally {
      await p.stop();
    }
  });
});
