/**
 * `weft validate` and `weft compile` as a user runs them: the real CLI in a child process,
 * against real temporary folders and a real git repository. Exit codes 0/1/2, machine formats
 * alone on stdout, usage errors as one line on stderr, --out written atomically.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WEFT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'weft.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function weft(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WEFT, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', WEFT_DEBUG: '' } }, (err, stdout, stderr) => {
      const code = err && typeof err.code === 'number' ? err.code : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const SERVICE = `apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: reviews }
spec:
  ports: [{ name: http, port: 9080 }]
  endpoints: [{ address: 127.0.0.1, port: 19080 }]
`;
const BAD = `apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: ratings }
spec:
  ports: [{ name: http, port: 9080 }]
  endpoint: []
`;
// An unused Fault: warning WFT510. (A Service without endpoints is only a note, WFT511: it is
// how a Service fed by registration is declared.)
const WARN = `${SERVICE}---
apiVersion: weft.dev/v1alpha1
kind: Fault
metadata: { name: slow }
spec: { delay: { fixed: 1s } }
---
apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: details }
spec:
  ports: [{ name: http, port: 9080 }]
`;

function tree(t: { after: (fn: () => void) => void }, files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

test('validate: exit 0 on a clean tree, 1 on errors with file:line:col and an excerpt', async (t) => {
  const dir = tree(t, { 'p/svc.yaml': SERVICE, 'q/svc.yaml': SERVICE, 'q/bad.yaml': BAD });
  const ok = await weft(['validate', 'p'], dir);
  assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, 'no problems found\n', '']);
  const bad = await weft(['validate', 'q'], dir);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^q\/bad\.yaml:6:3 error WFT302 unknown field "endpoint" in spec\n {2}6 \| {3}endpoint: \[\]\n {4}\| {3}\^{8}\n {2}hint: did you mean "endpoints"\?/);
  assert.match(bad.stdout, /1 error, 0 warnings\n$/);
});

test('validate: machine formats print only their document on stdout', async (t) => {
  const dir = tree(t, { 'svc.yaml': SERVICE, 'bad.yaml': BAD });
  const json = await weft(['validate', '--format', 'json'], dir);
  assert.equal(json.code, 1);
  const diags = JSON.parse(json.stdout) as { code: string; file: string; line: number }[];
  assert.deepEqual(diags.map((d) => [d.code, d.file, d.line]), [['WFT302', 'bad.yaml', 6]]);
  const sarif = await weft(['validate', '.', '--format', 'sarif'], dir);
  assert.equal((JSON.parse(sarif.stdout) as { version: string }).version, '2.1.0');
  const gh = await weft(['validate', '--format=github'], dir);
  assert.equal(gh.stdout, '::error file=bad.yaml,line=6,col=3,endLine=6,endColumn=11,title=WFT302::unknown field "endpoint" in spec%0Adid you mean "endpoints"?\n');
});

test('validate --fail-on warning turns warnings into exit 1', async (t) => {
  const dir = tree(t, { 'svc.yaml': WARN });
  const plain = await weft(['validate'], dir);
  assert.equal(plain.code, 0);
  assert.match(plain.stdout, /warning WFT510/);
  assert.match(plain.stdout, /info WFT511 Service default\/details lists no static endpoints: its traffic goes to the instances that register/);
  assert.match(plain.stdout, /1 warning, 1 note/);
  assert.equal((await weft(['validate', '--fail-on', 'warning'], dir)).code, 1);
});

test('usage errors: one line on stderr, nothing on stdout, exit 2', async (t) => {
  const dir = tree(t, { 'svc.yaml': SERVICE });
  for (const args of [
    ['validate', '--bogus'],
    ['validate', '--format', 'xml'],
    ['validate', '--fail-on', 'info'],
    ['validate', 'a', 'b'],
    ['validate', '--max-file-size', '1k'],
    ['compile', '--sign-key', 'missing.pem'],
    ['compile', '--out'],
  ]) {
    const r = await weft(args, dir);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
    assert.match(r.stderr, /^weft: [^\n]+\n$/, args.join(' '));
  }
  for (const cmd of ['validate', 'compile']) {
    const help = await weft([cmd, '--help'], dir);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`^weft ${cmd} \\[DIR\\]`));
    assert.match(help.stdout, /Exit codes/);
  }
});

test('compile: --out written atomically; stdout holds only the bundle otherwise', async (t) => {
  const dir = tree(t, { 'p/svc.yaml': SERVICE, 'bad/bad.yaml': BAD, 'out/keep.txt': 'x' });
  const r = await weft(['compile', 'p', '--out', 'out/bundle.json'], dir);
  assert.equal(r.code, 0, r.stderr);
  const bundle = JSON.parse(readFileSync(path.join(dir, 'out', 'bundle.json'), 'utf8')) as { apiVersion: string; digest: string };
  assert.equal(bundle.apiVersion, 'weft.dev/bundle/v1');
  assert.match(r.stdout, new RegExp(`^wrote out/bundle.json \\(${bundle.digest}\\)\n$`));
  assert.deepEqual(readdirSync(path.join(dir, 'out')).sort(), ['bundle.json', 'keep.txt']);

  const piped = await weft(['compile', 'p', '--format', 'json'], dir);
  assert.equal(piped.code, 0);
  assert.equal((JSON.parse(piped.stdout) as { digest: string }).digest, bundle.digest);
  assert.equal(piped.stderr, '[]\n');

  const failed = await weft(['compile', 'bad', '--out', 'out/bad.json'], dir);
  assert.equal(failed.code, 1);
  assert.match(failed.stdout, /WFT302/);
  assert.equal(existsSync(path.join(dir, 'out', 'bad.json')), false);

  const nowhere = await weft(['compile', 'p', '--out', 'no/such/dir/b.json'], dir);
  assert.equal(nowhere.code, 2);
  assert.match(nowhere.stderr, /^weft: cannot write no\/such\/dir\/b\.json: ENOENT\n$/);
});

test('validate --rev reads the committed files, excerpts included', async (t) => {
  const dir = tree(t, { 'mesh/svc.yaml': SERVICE, 'mesh/bad.yaml': BAD });
  const git = (...args: string[]): string => execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@weft.dev', '-c', 'commit.gpgsign=false', ...args], { cwd: dir, encoding: 'utf8' });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-qm', 'bad');
  writeFileSync(path.join(dir, 'mesh', 'bad.yaml'), SERVICE.replace('reviews', 'ratings'));
  assert.equal((await weft(['validate', 'mesh'], dir)).code, 0);
  const r = await weft(['validate', 'mesh', '--rev', 'HEAD'], dir);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /mesh\/bad\.yaml:6:3 error WFT302[^\n]*\n {2}6 \| {3}endpoint: \[\]/);
  // A revision that does not resolve is a usage error (exit 2) blamed on the flag that named it,
  // the same in every command (issue 13 item 19).
  const none = await weft(['validate', 'mesh', '--rev', 'nope'], dir);
  assert.equal(none.code, 2);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /^weft: --rev: revision "nope" does not exist[^\n]*\n$/);
  for (const [args, flag] of [
    [['compile', 'mesh', '--rev', 'nope'], '--rev'],
    [['test', 'mesh', '--rev', 'nope'], '--rev'],
    [['explain', 'mesh', '--rev', 'nope', 'GET', 'http://reviews/'], '--rev'],
    [['diff', 'mesh', '--base', 'nope'], '--base'],
    [['diff', 'mesh', '--base', 'HEAD', '--head', 'nope'], '--head'],
  ] as const) {
    const r = await weft([...args], dir);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^weft: ${flag}: revision "nope" does not exist`), args.join(' '));
  }
  const noDir = await weft(['validate', 'no-such-dir', '--format', 'sarif'], dir);
  assert.equal(noDir.code, 2);
  assert.equal(noDir.stdout, '');
  assert.match(noDir.stderr, /^weft: DIR no-such-dir: /);
});

test('command-line mistakes: one readable line, a did-you-mean, blamed on the right argument', async (t) => {
  const dir = tree(t, { 'p/svc.yaml': SERVICE });
  const cases: [string[], RegExp][] = [
    [['validate', 'p', '--formt', 'json'], /^weft: unknown option --formt; did you mean --format\? \(weft validate --help lists the options\)\n$/],
    [['validate', 'p', '--format'], /^weft: --format needs a value \(weft validate --help\)\n$/],
    [['compile', 'p', '--out', '--rev', 'x'], /^weft: --out needs a value, but is followed by the option --rev/],
    [['diff', 'p', '--base=HEAD', '--exit-code=yes'], /^weft: --exit-code is a switch and takes no value/],
    [['status', 'stray'], /^weft: unexpected argument "stray": weft status takes options only/],
    [['explain', 'p', 'GET'], /^weft: no URL after the method GET; usage: weft explain \[DIR\] METHOD URL/],
    [['explain', 'p', 'GET', 'reviews'], /^weft: "reviews" is not a URL/],
    [['explain', 'p', 'http://reviews/'], /^weft: no METHOD before the URL/],
    [['explain', 'http://reviews/', 'GET'], /^weft: the URL "http:\/\/reviews\/" must come last/],
  ];
  // An absolute DIR starts with '/' like a path URL: it is still read as DIR.
  const absolute = await weft(['explain', path.join(dir, 'p'), 'GET', 'http://reviews/'], dir);
  assert.equal(absolute.code, 0, absolute.stderr);
  // ... and the same mistakes after an absolute DIR are blamed as after a relative one.
  const abs = path.join(dir, 'p');
  cases.push([['explain', abs, 'GET'], /^weft: no URL after the method GET/], [['explain', abs, 'GET', 'reviews'], /^weft: "reviews" is not a URL/]);
  for (const [args, expected] of cases) {
    const r = await weft(args, dir);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
    assert.match(r.stderr, expected, args.join(' '));
    assert.doesNotMatch(r.stderr, /To specify|positional argument starting/, 'Node\'s parseArgs text never reaches the user');
  }
});

test('keys: a public key given as --sign-key (and a private one as --trust-key) is named as such, exit 2', async (t) => {
  const dir = tree(t, { 'p/svc.yaml': SERVICE });
  assert.equal((await weft(['keygen', '--out-dir', 'k', '--name', 's'], dir)).code, 0);
  const pub = await weft(['compile', 'p', '--sign-key', 'k/s.pub'], dir);
  assert.equal(pub.code, 2);
  assert.match(pub.stderr, /^weft: --sign-key: k\/s\.pub is a public key; signing needs the private key/);
  const notKey = await weft(['compile', 'p', '--sign-key', 'p/svc.yaml'], dir);
  assert.equal(notKey.code, 2);
  assert.match(notKey.stderr, /^weft: --sign-key: p\/svc\.yaml is not a PEM private key/);
  assert.doesNotMatch(notKey.stderr, /DECODER|routines/);
  const priv = await weft(['proxy', '--service', 'reviews', '--bundle', 'b.json', '--trust-key', 'k/s.key'], dir);
  assert.equal(priv.code, 2);
  assert.match(priv.stderr, /--trust-key: k\/s\.key is a private key/);
});
