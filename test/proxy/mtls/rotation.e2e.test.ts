/**
 * Certificate rotation under steady traffic, real processes: web's and ratings' proxies hold
 * 20-second certificates from files, and the test plays the part of cert-manager, writing a new
 * certificate and key for each every 6 s (two separate writes, so each proxy also sees a
 * half-written set it must skip). Traffic flows the whole time, across the moment the first
 * certificates expire; not one request may fail, and the callee must see the caller's new
 * certificates (new XFCC hashes), i.e. connections really moved to the rotated certificates.
 */
import assert from 'node:assert/strict';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { createCa, type MeshCa } from '../../../runtime/identity/ca.js';
import { bundle, service, spec } from '../../helpers/bundle-builder.js';
import { workload } from '../../helpers/identity-kit.js';
import { closeAgent, removeDir, getText, metricValue, send, sleep, startApp, startProxy, tempDir, waitForDigest, writeBundle, type App, type ProxyProcess } from '../../helpers/proxy-harness.js';

const LIFETIME_MS = 20_000;
const ROTATE_EVERY_MS = 6_000;
const RUN_MS = 32_000;

let ca: MeshCa;
let dir: string;
let cleanup: () => Promise<void>;
let app: App;
let ratings: ProxyProcess;
let web: ProxyProcess;

async function issue(name: string): Promise<void> {
  const w = await workload(ca, name, { ttlMs: LIFETIME_MS });
  // As a Secret volume writer would: each file replaced by rename, one after the other.
  await writeFile(path.join(dir, `${name}.key.tmp`), w.keyPem);
  await rename(path.join(dir, `${name}.key.tmp`), path.join(dir, `${name}.key`));
  await writeFile(path.join(dir, `${name}.crt.tmp`), w.certPem);
  await rename(path.join(dir, `${name}.crt.tmp`), path.join(dir, `${name}.crt`));
}

const files = (name: string): string[] => ['--cert', path.join(dir, `${name}.crt`), '--key', path.join(dir, `${name}.key`), '--ca', path.join(dir, 'ca.pem')];

before(async () => {
  ca = await createCa('weft.local');
  dir = tempDir('weft-mtls-');
  cleanup = () => removeDir(dir);
  await writeFile(path.join(dir, 'ca.pem'), ca.certPem);
  await Promise.all([issue('web'), issue('ratings')]);
  const file = path.join(dir, 'mesh.json');
  await writeBundle(file, bundle(spec([service('web'), service('ratings')])));
  app = await startApp('ratings-app');
  ratings = await startProxy({ service: 'ratings', bundle: file, app: `http://127.0.0.1:${app.port}`, extra: files('ratings') });
  const port = Number(ratings.inbound!.split(':').pop());
  const b = bundle(spec([service('web'), service('ratings', { endpoints: [{ address: '127.0.0.1', port, labels: {}, meshed: true }] })]));
  await writeBundle(file, b);
  await waitForDigest(ratings.admin, b.digest);
  web = await startProxy({ service: 'web', bundle: file, extra: files('web') });
  await waitForDigest(web.admin, b.digest);
});

after(async () => {
  await Promise.all([web?.stop(), ratings?.stop()]);
  await app?.close();
  closeAgent();
  await cleanup?.();
});

it('20 s certificates rotate under steady traffic with 0 failed requests', { timeout: 90_000 }, async () => {
  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const client = async (): Promise<void> => {
    while (!stop) {
      try {
        const r = await send(web.outbound!, 'ratings', '/r');
        if (r.status === 200) ok++;
        else failures.push(`${r.status} ${r.headers['weft-error'] ?? ''} ${r.body.slice(0, 200)}`);
      } catch (err) {
        failures.push(String(err));
      }
      await sleep(5);
    }
  };
  const rotator = async (): Promise<number> => {
    let n = 0;
    const until = Date.now() + RUN_MS;
    while (Date.now() + ROTATE_EVERY_MS < until) {
      await sleep(ROTATE_EVERY_MS);
      await Promise.all([issue('web'), issue('ratings')]);
      n++;
    }
    return n;
  };
  const clients = Array.from({ length: 4 }, client);
  const written = await rotator();
  await sleep(2_000); // the last set is picked up and used
  stop = true;
  await Promise.all(clients);

  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${ok + failures.length} requests failed`);
  assert.ok(ok > 100, `steady traffic: ${ok} requests`);
  for (const p of [web, ratings]) {
    const m = await getText(p.admin, '/metrics');
    assert.ok(metricValue(m, 'weft_certificate_rotations_total') >= written - 1, `rotations taken: ${metricValue(m, 'weft_certificate_rotations_total')} of ${written}`);
  }
  const hashes = new Set(app.seen.map((s) => /Hash=([0-9a-f]+)/.exec(String(s.headers['x-forwarded-client-cert']))?.[1]));
  assert.ok(hashes.size >= written, `the callee saw ${hashes.size} client certificates of web for ${written} rotations`);
});
