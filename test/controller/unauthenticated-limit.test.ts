/**
 * The controller's TLS listener holds certificate-less connections apart, with a real controller
 * process (`--ca-dir`): at most --max-unauthenticated-connections of them (past it one is closed
 * once its handshake completes, and counted), one request each (`Connection: close`), and 10 s
 * without traffic. A client with a mesh certificate still connects while they are all taken.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { connect, createSecureContext, type TLSSocket } from 'node:tls';
import { request, type Dispatcher } from 'undici';
import { loadCaDir, type MeshCa } from '../../runtime/identity/ca.js';
import { controllerDispatcher } from '../../runtime/sources/controller-tls.js';
import { within } from '../helpers/proxy-harness.js';
import { workload } from '../helpers/identity-kit.js';
import { initRepo, killAll, meshFiles, removeTmp, spawnWeft, startController, tmpDir, waitFor, type ControllerProc } from './helpers.js';

/** anonymous completes a TLS handshake with the controller without a client certificate (bounded). */
function anonymous(port: number): Promise<TLSSocket> {
  const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  s.on('error', () => undefined);
  return within(new Promise<TLSSocket>((resolve, reject) => {
    s.once('secureConnect', () => resolve(s));
    s.once('close', () => reject(new Error('closed before the handshake completed')));
  }), 10_000, `a TLS handshake with 127.0.0.1:${port}`);
}

/** closedWithin resolves true when the controller closes `s` within `ms`, false when it is still open. */
function closedWithin(s: TLSSocket, ms: number): Promise<boolean> {
  if (s.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
    s.resume();
  });
}

describe('controller TLS listener: connections without a client certificate', { timeout: 120_000 }, () => {
  let dir: string;
  let ca: MeshCa;
  let ctl: ControllerProc;
  const held: TLSSocket[] = [];
  const agents: Dispatcher[] = [];

  before(async () => {
    dir = await tmpDir('ctl-unauth');
    const caDir = path.join(dir, 'ca');
    const init = spawnWeft(['ca', 'init', '--out-dir', caDir]);
    assert.equal(await init.exited, 0);
    ca = await loadCaDir(caDir);
    const repo = path.join(dir, 'repo');
    await initRepo(repo, meshFiles({ v1Port: 18311, v2Port: 18312, weights: [100, 0] }));
    ctl = await startController(['--repo', repo, '--store', path.join(dir, 'store'), '--ca-dir', caDir, '--max-connections', '10', '--max-unauthenticated-connections', '2', '--dashboard', '127.0.0.1:0']);
  });

  after(async () => {
    for (const s of held) s.destroy();
    await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
    await killAll();
    await removeTmp(dir);
  });

  it('closes the third certificate-less connection, counts it, and still serves a client with a certificate', async () => {
    held.push(await anonymous(ctl.port), await anonymous(ctl.port));
    const third = await anonymous(ctl.port);
    assert.equal(await closedWithin(third, 5_000), true, 'the third certificate-less connection is closed');
    for (const s of held) assert.equal(s.destroyed, false, 'the first two stay open');

    const w = await workload(ca, 'reviews');
    const d = controllerDispatcher(createSecureContext({ ca: ca.certPem, key: w.keyPem, cert: w.certPem }), 'weft.local', { keepAliveTimeoutMs: 1000 });
    agents.push(d);
    const res = await request(`${ctl.url}/healthz`, { dispatcher: d, headersTimeout: 10_000, bodyTimeout: 10_000 });
    await res.body.text();
    assert.equal(res.statusCode, 200, 'a proxy with a mesh certificate is not counted against the bound');

    const metrics = await waitFor(async () => {
      const m = await (await request(`${ctl.dashboardUrl}/metrics`, { headersTimeout: 10_000 })).body.text();
      return /weft_controller_connections_refused_total\{listener="main",reason="max-unauthenticated"\} [1-9]/.test(m) ? m : null;
    }, 10_000, 'the refusal counted');
    assert.match(metrics, /reason="max-unauthenticated"/);
    for (const s of held.splice(0)) s.destroy();
  });

  it('answers a certificate-less connection once, with Connection: close, and closes an idle one after 10 s', async () => {
    const s = await anonymous(ctl.port);
    let reply = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (reply += c));
    s.write('GET /healthz HTTP/1.1\r\nHost: controller\r\n\r\n');
    assert.equal(await closedWithin(s, 10_000), true, 'closed after its one response');
    assert.match(reply, /^HTTP\/1\.1 200/);
    assert.match(reply, /\r\nconnection: close\r\n/i);

    const idle = await anonymous(ctl.port);
    assert.equal(await closedWithin(idle, 30_000), true, 'an idle certificate-less connection is closed (10 s)');
  });
});
