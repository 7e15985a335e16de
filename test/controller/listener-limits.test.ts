/**
 * The controller's listeners against floods and DNS rebinding, with a real controller process:
 * the main listener holds at most --max-connections open connections (past it new ones are closed
 * at once and counted), and the dashboard listener answers only Host values that name this
 * machine (IP literals, localhost, the host name, --dashboard-host names): a page on another
 * origin whose name was rebound to 127.0.0.1 gets 421 and no status document.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import { within } from '../helpers/proxy-harness.js';
import { initRepo, killAll, meshFiles, removeTmp, startController, tmpDir, waitFor, type ControllerProc } from './helpers.js';

/** get sends GET `pathname` to `base` with `host` as the Host header; answers status and body. */
async function get(base: string, pathname: string, host?: string): Promise<{ status: number; body: string }> {
  const res = await request(`${base}${pathname}`, { headers: host === undefined ? {} : { host }, headersTimeout: 10_000, bodyTimeout: 10_000 });
  return { status: res.statusCode, body: await res.body.text() };
}

/** open connects a raw socket; resolves once connected, rejects on error (bounded). */
function open(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  return within(new Promise<Socket>((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  }), 10_000, `a connection to 127.0.0.1:${port}`);
}

/** closedByPeer resolves true when the server closes `s` within `ms`, false when it is still open. */
function closedByPeer(s: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
    s.on('error', () => undefined);
    s.resume();
  });
}

describe('controller listeners: connection limit and dashboard Host check', { timeout: 120_000 }, () => {
  let dir: string;
  let ctl: ControllerProc;

  before(async () => {
    dir = await tmpDir('ctl-limits');
    const repo = path.join(dir, 'repo');
    await initRepo(repo, meshFiles({ v1Port: 18301, v2Port: 18302, weights: [100, 0] }));
    ctl = await startController(['--repo', repo, '--store', path.join(dir, 'store'), '--max-connections', '3', '--dashboard', '127.0.0.1:0', '--dashboard-host', 'ops.example.com', '--dashboard-host', '*.mesh.internal']);
  });

  after(async () => {
    await killAll();
    await removeTmp(dir);
  });

  it('closes connections past --max-connections at once, counts them, and serves again once one closes', async () => {
    const held = [await open(ctl.port), await open(ctl.port), await open(ctl.port)];
    // Connections are accepted in the order they arrived, so these three hold the three places.
    const extra = await open(ctl.port);
    assert.equal(await closedByPeer(extra, 10_000), true, 'the fourth connection is closed by the controller');
    for (const s of held) s.destroy();
    const text = await waitFor(async () => {
      const m = await metric(ctl);
      return /weft_controller_connections_refused_total\{listener="main",reason="max-connections"\} [1-9]/.test(m) ? m : null;
    }, 10_000, 'the refusal counted');
    assert.match(text, /weft_controller_connections_refused_total\{listener="main",reason="max-connections"\} [1-9]/);
    // With the held connections gone, the listener serves again.
    const ok = await waitFor(async () => (await get(ctl.url, '/healthz')).status === 200, 10_000, 'served again');
    assert.equal(ok, true);
  });

  it('the dashboard answers only Host values naming this machine', async () => {
    const base = ctl.dashboardUrl!;
    const port = new URL(base).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`, 'weft.localhost', 'ops.example.com', 'a.mesh.internal:80', '10.1.2.3']) {
      const r = await get(base, '/v1/status', host);
      assert.equal(r.status, 200, `${host}: ${r.body}`);
    }
    for (const host of [`evil.example:${port}`, `localhost:${port}@evil.example`, 'localhost:80:81', '[::1]evil.example', 'localhost.evil.example', 'mesh.internal', 'example.com', 'ops.example.com.evil']) {
      const r = await get(base, '/v1/status', host);
      assert.equal(r.status, 421, `${host}: ${r.body}`);
      assert.match(r.body, /WEFT_CTL_MISDIRECTED/);
      assert.doesNotMatch(r.body, /"repository"/, 'no status document');
    }
  });

  it('pipelined requests are answered one after another; more than 16 queued close the connection, counted', async () => {
    const exchange = async (bytes: string): Promise<{ text: string; closed: boolean }> => {
      const s = await open(ctl.port);
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString('latin1')));
      s.write(bytes);
      const closed = await closedByPeer(s, 10_000);
      s.destroy();
      return { text, closed };
    };
    const few = await exchange('GET /healthz HTTP/1.1\r\nHost: c\r\n\r\n'.repeat(4) + 'GET /healthz HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n');
    assert.equal(few.closed, true, 'closed after the last, as it asked');
    assert.equal((few.text.match(/HTTP\/1\.1 200 /g) ?? []).length, 5, few.text);
    const many = await exchange('GET /healthz HTTP/1.1\r\nHost: c\r\n\r\n'.repeat(40));
    assert.equal(many.closed, true, 'the controller closed the connection');
    assert.ok((many.text.match(/HTTP\/1\.1 /g) ?? []).length < 40, 'not all 40 were answered');
    const m = await waitFor(async () => {
      const t = await metric(ctl);
      return /weft_controller_connections_refused_total\{listener="main",reason="pipelining"\} [1-9]/.test(t) ? t : null;
    }, 10_000, 'the pipelining refusal counted');
    assert.match(m, /reason="pipelining"/);
  });
});

async function metric(ctl: ControllerProc): Promise<string> {
  return (await get(ctl.dashboardUrl!, '/metrics')).body;
}
