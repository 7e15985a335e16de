/**
 * Discovery with identity on, real processes on loopback: a controller holding the mesh CA
 * (`--ca-dir`, from `weft ca init`), `reviews` instances and a `web` caller whose proxies
 * bootstrap with one-use join tokens (`weft token create`) and register over mTLS. Proves: the
 * registered Service is the one the client certificate names; callers reach registered
 * instances over mTLS (the app sees the caller's SPIFFE ID in x-forwarded-client-cert); a SIGTERM
 * drain fails nothing; a proxy cannot register as, or deregister, another Service; no certificate,
 * no registration; a certificate reads the endpoint sets of the Services its proxies reach, no
 * others, and a proxy follows only those.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { request, type Agent } from 'undici';
import { controllerDispatcher } from '../../runtime/sources/controller-tls.js';
import { freePort, getJson, killAll, removeTmp, spawnWeft, startController, tmpDir, type ControllerProc } from '../controller/helpers.js';
import {
  closeApps, exitCodeOf, initMeshRepo, readyInstances, startCaller, startInstance, startTraffic, until, type Instance, type Security,
} from './mesh-kit.js';

interface ProxyConfig {
  pools?: string[];
  endpoints?: Record<string, { endpoints: { address: string; port: number; ready: boolean }[] }>;
  identity?: { mode: string; spiffeId?: string };
}

interface StatusDoc {
  security?: { mode: string };
  discovery: { services: { service: string; instances: { address: string; port: number; ready: boolean; instance: string }[] }[] };
}

/** runWeft runs a short weft command to completion (bounded) and returns its stdout. */
async function runWeft(args: string[]): Promise<string> {
  const child = spawnWeft(args);
  const code = await exitCodeOf(child, 30_000, `weft ${args.slice(0, 2).join(' ')}`);
  if (code !== 0) throw new Error(`weft ${args.join(' ')} exited ${code}: ${JSON.stringify(child.logs.slice(-3))}`);
  return child.stdout.join('');
}

async function callerSees(admin: string): Promise<number> {
  const cfg = await getJson<ProxyConfig>(`http://${admin}/config`);
  return cfg.endpoints?.['default/reviews']?.endpoints.filter((e) => e.ready).length ?? 0;
}

/** pemBlocks splits a PEM bundle (the proxy's cached svid.pem: certificate, then key). */
function pemBlocks(text: string, label: string): string {
  return (text.match(new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----\\n?`, 'g')) ?? []).join('');
}

describe('discovery over mTLS', { timeout: 240_000 }, () => {
  let dir: string;
  let caDir: string;
  let ctl: ControllerProc;
  let web: Awaited<ReturnType<typeof startCaller>>;
  let security: Security;
  let r1: Instance;
  let r2: Instance;

  before(async () => {
    dir = await tmpDir('discovery-mtls');
    caDir = path.join(dir, 'ca');
    await runWeft(['ca', 'init', '--out-dir', caDir]);
    security = {
      tokens: {
        caFile: path.join(caDir, 'ca.pem'),
        // One fresh one-use token per proxy, as an operator would hand them out.
        async token(service, d, name) {
          const token = (await runWeft(['token', 'create', '--ca-dir', caDir, '--service', service])).trim();
          const file = path.join(d, `${name}.token`);
          await writeFile(file, token + '\n', { mode: 0o600 });
          return file;
        },
      },
    };
    const repo = path.join(dir, 'repo');
    // web may call reviews only: ratings is outside its reach.
    await initMeshRepo(repo, { webEgress: ['default/reviews'] });
    ctl = await startController(['--repo', repo, '--store', path.join(dir, 'store'), '--poll', '10s', '--lease', '3s', '--ca-dir', caDir, '--dashboard', '127.0.0.1:0'], await freePort());
    assert.ok(ctl.url.startsWith('https://'), 'the controller speaks TLS');
    r1 = await startInstance(ctl, 'r1', dir, [], security);
    r2 = await startInstance(ctl, 'r2', dir, [], security);
    web = await startCaller(ctl, dir, security);
    await until(async () => (await readyInstances(ctl)) === 2, 60_000, 'both instances registered over mTLS');
    await until(async () => (await callerSees(web.admin)) === 2, 60_000, 'the caller routes to both');
  });

  after(async () => {
    await killAll();
    await closeApps();
    await removeTmp(dir);
  });

  it('registers each instance as the Service its certificate names, and callers reach them over mTLS', async () => {
    const st = await getJson<StatusDoc>(`${ctl.dashboardUrl}/v1/status`);
    assert.equal(st.security?.mode, 'mtls');
    const row = st.discovery.services.find((s) => s.service === 'default/reviews');
    assert.deepEqual(row?.instances.map((i) => `${i.address}:${i.port}`).sort(), [r1.inbound, r2.inbound].sort(), 'registered at their inbound addresses');
    const cfg = await getJson<ProxyConfig>(`http://${web.admin}/config`);
    assert.equal(cfg.identity?.mode, 'mtls');
    const traffic = startTraffic(web.outbound);
    try {
      await until(() => (traffic.byInstance.get('r1') ?? 0) >= 20 && (traffic.byInstance.get('r2') ?? 0) >= 20, 30_000, 'both instances answer');
    } finally {
      await traffic.stop();
    }
    assert.equal(traffic.failed, 0, `failed: ${traffic.failures.join(' | ')}`);
    // The hop was mTLS: the caller's proxy pooled the instances as meshed (https, expected
    // identity = the Service), and the instance's proxy told its app who called, from the certificate.
    const pools = (await getJson<ProxyConfig>(`http://${web.admin}/config`)).pools ?? [];
    for (const inst of [r1, r2]) {
      assert.ok(pools.some((p) => p.startsWith(`https://${inst.inbound}#spiffe://weft.local/ns/default/sa/reviews`)), `a meshed pool to ${inst.inbound}: ${pools.join(', ')}`);
      assert.match(inst.app.lastXfcc ?? '', /URI=spiffe:\/\/weft\.local\/ns\/default\/sa\/web/, 'the app sees the caller\'s SPIFFE ID');
    }
  });

  it('SIGTERM of an instance under traffic fails nothing over mTLS', async () => {
    const traffic = startTraffic(web.outbound);
    try {
      await until(() => (traffic.byInstance.get('r2') ?? 0) >= 20, 30_000, 'r2 takes traffic');
      await r2.proxy.kill('SIGTERM');
      assert.equal(await exitCodeOf(r2.proxy, 30_000, 'r2 draining'), 0, 'drained and exited 0');
      await until(async () => (await callerSees(web.admin)) === 1, 30_000, 'the caller drops r2');
      const at = traffic.ok;
      await until(() => traffic.ok >= at + 50, 30_000, 'traffic continues on r1');
    } finally {
      await traffic.stop();
    }
    assert.equal(traffic.failed, 0, `failed: ${traffic.failures.join(' | ')}`);
  });

  it('a proxy cannot register as, or deregister, another Service; no certificate, no registration', async () => {
    // web's own key and certificate, as its proxy keeps them in its cache directory.
    const svid = await readFile(path.join(dir, 'cache-web', 'svid.pem'), 'utf8');
    const ca = await readFile(path.join(caDir, 'ca.pem'), 'utf8');
    const asWeb: Agent = controllerDispatcher(createSecureContext({ cert: pemBlocks(svid, 'CERTIFICATE'), key: pemBlocks(svid, '(?:EC )?PRIVATE KEY'), ca }), 'weft.local');
    const anonymous: Agent = controllerDispatcher(createSecureContext({ ca }), 'weft.local');
    const call = async (agent: Agent, method: 'PUT' | 'DELETE', body: unknown): Promise<{ status: number; body: string }> => {
      const res = await request(`${ctl.url}/v1/endpoints/self`, { method, dispatcher: agent, body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, headersTimeout: 10_000, bodyTimeout: 10_000 });
      return { status: res.statusCode, body: await res.body.text() };
    };
    try {
      const port = await freePort();
      // The body claims reviews; the certificate says web: the registration is web's.
      const put = await call(asWeb, 'PUT', { service: 'reviews', namespace: 'default', instance: 'impostor', address: '127.0.0.1', port, labels: {}, ready: true });
      assert.equal(put.status, 200, put.body);
      assert.equal((JSON.parse(put.body) as { service: string }).service, 'default/web', 'the certificate decides the Service');
      const st = await getJson<StatusDoc>(`${ctl.dashboardUrl}/v1/status`);
      const reviews = st.discovery.services.find((s) => s.service === 'default/reviews')?.instances ?? [];
      assert.deepEqual(reviews.map((i) => `${i.address}:${i.port}`), [r1.inbound], 'reviews gained nothing');
      assert.ok(st.discovery.services.find((s) => s.service === 'default/web')?.instances.some((i) => i.port === port), 'it is listed under web');
      const cfg = await getJson<ProxyConfig>(`http://${web.admin}/config`);
      assert.ok(!(cfg.endpoints?.['default/reviews']?.endpoints ?? []).some((e) => e.port === port), 'callers of reviews never see it');
      // Nor can web end reviews' lease.
      const [host, p] = [r1.inbound.slice(0, r1.inbound.lastIndexOf(':')), Number(r1.inbound.slice(r1.inbound.lastIndexOf(':') + 1))];
      const del = await call(asWeb, 'DELETE', { service: 'reviews', address: host, port: p });
      assert.equal(del.status, 404, del.body);
      assert.equal(await readyInstances(ctl), 1, 'r1 is still registered');
      // Without a client certificate: refused before anything is read.
      const anon = await call(anonymous, 'PUT', { service: 'reviews', instance: 'anon', address: '127.0.0.1', port, labels: {}, ready: true });
      assert.equal(anon.status, 401, anon.body);
      assert.match(anon.body, /WEFT_ID_CERT_MISSING/);
      assert.equal((await call(asWeb, 'DELETE', { address: '127.0.0.1', port })).status, 204, 'web may end its own lease');
    } finally {
      await asWeb.close();
      await anonymous.close();
    }
  });

  it('a certificate reads the endpoint sets of the Services its proxies reach, and no others', async () => {
    const svid = await readFile(path.join(dir, 'cache-web', 'svid.pem'), 'utf8');
    const ca = await readFile(path.join(caDir, 'ca.pem'), 'utf8');
    const asWeb: Agent = controllerDispatcher(createSecureContext({ cert: pemBlocks(svid, 'CERTIFICATE'), key: pemBlocks(svid, '(?:EC )?PRIVATE KEY'), ca }), 'weft.local');
    const anonymous: Agent = controllerDispatcher(createSecureContext({ ca }), 'weft.local');
    const read = async (agent: Agent, query: string): Promise<{ status: number; body: string }> => {
      const res = await request(`${ctl.url}/v1/endpoints?${query}`, { dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000 });
      return { status: res.statusCode, body: await res.body.text() };
    };
    try {
      const own = await read(asWeb, 'service=default/reviews&service=default/web');
      assert.equal(own.status, 200, own.body);
      assert.deepEqual((JSON.parse(own.body) as { sets: { service: string }[] }).sets.map((s) => s.service).sort(), ['default/reviews', 'default/web']);
      // ratings is outside web's egress scope and no route of reviews forwards to it.
      const other = await read(asWeb, 'service=default/reviews&service=default/ratings');
      assert.equal(other.status, 403, other.body);
      assert.match(other.body, /WEFT_CTL_FORBIDDEN/);
      assert.match(other.body, /default\/web does not reach default\/ratings/);
      assert.equal((await read(anonymous, 'service=default/reviews')).status, 401, 'no certificate, no endpoints');
      // web's proxy follows exactly what it reaches: it never asked for ratings.
      const cfg = await getJson<ProxyConfig>(`http://${web.admin}/config`);
      assert.deepEqual(Object.keys(cfg.endpoints ?? {}).sort(), ['default/reviews', 'default/web']);
    } finally {
      await asWeb.close();
      await anonymous.close();
    }
  });
});
