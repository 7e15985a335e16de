/**
 * `weft status` against servers that are not a healthy controller: real HTTP servers on loopback
 * play a controller whose proxies posted hostile text, one that never answers, something that is
 * not a controller, and a port where nothing listens. Each ends in one line that names the likely
 * cause, within the bounded wait, and nothing from the network reaches the terminal raw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WEFT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'weft.js');

function weft(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WEFT, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function serve(t: { after: (fn: () => Promise<void>) => void }, handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const EVIL = 'boom\x1b[2J\x1b]0;pwned\x07\n\x1b[32mall proxies current\x1b[0m\u202e';

function statusDocument(): unknown {
  const now = new Date().toISOString();
  return {
    ready: true,
    repository: { url: `/srv/${EVIL}`, branch: 'main', path: '', error: null },
    current: { digest: 'sha256:' + 'a'.repeat(64), commit: { commit: 'b'.repeat(40), message: EVIL, author: EVIL, ref: 'refs/heads/main' }, signedBy: null, publishedAt: now },
    lastCompile: null,
    discovery: { leaseMs: 15000, heartbeatMs: 5000, warming: false, services: [] },
    proxies: [{ proxy: EVIL, service: `reviews${EVIL}`, digest: 'sha256:' + 'c'.repeat(64), state: 'rejected', error: EVIL, lastContact: now, behind: true, lost: false }],
  };
}

test('weft status: what proxies posted never reaches the terminal as escape sequences', async (t) => {
  const url = await serve(t, (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(statusDocument()));
  });
  for (const format of ['text', 'json']) {
    const r = await weft(['status', '--controller', url, '--format', format]);
    assert.equal(r.code, 1, r.stderr);
    // eslint-disable-next-line no-control-regex -- the test looks for raw control characters
    assert.doesNotMatch(r.stdout, /[\u001b\u0007\u202e]/, `${format}: a raw escape reached stdout`);
    if (format === 'text') {
      assert.match(r.stdout, /boom\\x1b\[2J\\x1b\]0;pwned\\x07\\n\\x1b\[32mall proxies current/);
      // The forged "all proxies current" stays inside its table cell: no line of its own.
      assert.doesNotMatch(r.stdout, /^(\\x1b\[32m)?all proxies current/m);
    } else {
      const doc = JSON.parse(r.stdout) as { proxies: { proxy: string }[] };
      assert.match(doc.proxies[0]!.proxy, /^boom\\x1b/);
    }
  }
});

test('weft status: a server that never answers, one that is not a controller, and a closed port', async (t) => {
  const silent = await serve(t, () => {
    // Accept the request and never answer.
  });
  const hung = await weft(['status', '--controller', silent, '--timeout', '300ms']);
  assert.equal(hung.code, 2);
  assert.match(hung.stderr, /^weft: no answer from http:\/\/127\.0\.0\.1:\d+\/v1\/status within 300 ms: is this the controller's status address, and is the controller running\?/);

  const notFound = await serve(t, (_req, res) => {
    res.statusCode = 404;
    res.end('not found');
  });
  const nf = await weft(['status', '--controller', notFound]);
  assert.equal(nf.code, 2);
  assert.match(nf.stderr, /answered 404: this is not a Weft controller/);

  const html = await serve(t, (_req, res) => res.end('<html>hello</html>'));
  const h = await weft(['status', '--controller', html]);
  assert.equal(h.code, 2);
  assert.match(h.stderr, /did not answer JSON \(syntax error\): this is not a Weft controller/);

  const foreign = await serve(t, (_req, res) => res.end('{"status":"ok"}'));
  const f = await weft(['status', '--controller', foreign]);
  assert.equal(f.code, 2);
  assert.match(f.stderr, /JSON that is not a Weft status document/);

  // A port that was just free: nothing listens there.
  const closedServer = http.createServer();
  await new Promise<void>((r) => closedServer.listen(0, '127.0.0.1', r));
  const port = (closedServer.address() as AddressInfo).port;
  await new Promise<void>((r) => closedServer.close(() => r()));
  const refused = await weft(['status', '--controller', `http://127.0.0.1:${port}`]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^weft: nothing listens at 127\.0\.0\.1:\d+: is the controller running/);
  for (const r of [hung, nf, h, f, refused]) assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
});
