/**
 * The controller serves each Service its slice (docs/scale.md): a real git repository, the real
 * `weft controller` as a child process, bundle requests as proxies make them. A slice's ETag is
 * its own digest, identical slices share one digest, and a commit wakes only the long-polls of
 * Services whose slice it changes; the others keep their digest and are not woken.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { request } from 'undici';
import type { Bundle } from '../../schemas/bundle.js';
import { digestOf } from '../../schemas/canonical.js';
import { commit, initRepo, killAll, removeTmp, startController, tmpDir, waitCompiled, waitFor, type ControllerProc } from './helpers.js';

const svc = (name: string, port: number, egress?: string): string =>
  `apiVersion: weft.dev/v1alpha1\nkind: Service\nmetadata: { name: ${name} }\nspec:\n  ports: [{ name: http, port: 80 }]\n  endpoints: [{ address: 127.0.0.1, port: ${port} }]\n${egress ? `  egress: ${egress}\n` : ''}`;

const route = (weights: [number, number]): string => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: api }
spec:
  parentRefs: [{ kind: Service, name: api }]
  rules:
    - backendRefs:
        - { name: api-v1, weight: ${weights[0]} }
        - { name: api-v2, weight: ${weights[1]} }
`;

const files = (weights: [number, number]): Record<string, string> => ({
  'services.yaml': [
    svc('web', 18001, '["default/api"]'),
    svc('api', 18002, '["default/db"]'),
    svc('api-v1', 18003),
    svc('api-v2', 18004),
    svc('db', 18005, '["default/db"]'),
    svc('batch', 18006, '["default/db"]'),
  ].join('---\n'),
  'route.yaml': route(weights),
});

interface Answer {
  status: number;
  etag: string | null;
  bundle: Bundle | null;
}

/** get asks for `service`'s bundle; with `proxy`, as that proxy (the fleet then expects its reports). */
async function get(url: string, service: string, headers: Record<string, string> = {}, proxy?: string): Promise<Answer> {
  const res = await request(`${url}/v1/bundle?service=${service}${proxy ? `&proxy=${proxy}` : ''}`, { headers, headersTimeout: 60_000 });
  const text = await res.body.text();
  return { status: res.statusCode, etag: typeof res.headers.etag === 'string' ? res.headers.etag.replace(/"/g, '') : null, bundle: text ? (JSON.parse(text) as Bundle) : null };
}

describe('weft controller serves per-Service slices', { timeout: 120_000 }, () => {
  let dir: string;
  let repo: string;
  let ctl: ControllerProc;
  let first: string;

  before(async () => {
    dir = await tmpDir('slices');
    repo = path.join(dir, 'repo');
    first = await initRepo(repo, files([100, 0]));
    ctl = await startController(['--repo', repo, '--store', path.join(dir, 'store'), '--poll', '10s']);
    await waitCompiled(ctl, first);
  });

  after(async () => {
    await killAll();
    await removeTmp(dir);
  });

  it('answers each Service its slice, with the slice digest as ETag', async () => {
    const web = await get(ctl.url, 'web');
    assert.equal(web.status, 200);
    assert.ok(web.bundle);
    assert.equal(web.etag, web.bundle.digest);
    assert.equal(digestOf(web.bundle.spec), web.bundle.digest);
    // web may call api; api's route reaches api-v1 (api-v2 has weight 0, so it is not a backend).
    assert.deepEqual(web.bundle.spec.services.map((s) => s.id), ['default/api', 'default/api-v1', 'default/web']);
    const whole = await get(ctl.url, '');
    assert.equal(whole.bundle?.spec.services.length, 6);
    assert.notEqual(whole.etag, web.etag);
    // The same slice asked for as namespace/name.
    assert.equal((await get(ctl.url, 'default/web')).etag, web.etag);
  });

  it('shares identical slices by digest', async () => {
    // api-v1 and api-v2 may call anything (*/*) and have no inbound policies: one slice.
    const v1 = await get(ctl.url, 'api-v1');
    const v2 = await get(ctl.url, 'api-v2');
    assert.equal(v1.etag, v2.etag);
    assert.equal(v1.bundle?.spec.services.length, 6);
    const db = await get(ctl.url, 'db');
    const batch = await get(ctl.url, 'batch');
    assert.deepEqual(db.bundle?.spec.services.map((s) => s.id), ['default/db']);
    assert.deepEqual(batch.bundle?.spec.services.map((s) => s.id), ['default/batch', 'default/db']);
  });

  it('wakes only the proxies whose slice a commit changes', async () => {
    const web = await get(ctl.url, 'web');
    const db = await get(ctl.url, 'db');
    const wait = { prefer: 'wait=30' };
    const webPoll = get(ctl.url, 'web', { ...wait, 'if-none-match': `"${web.etag}"` }, 'web-1');
    let dbAnswered = false;
    const dbPoll = get(ctl.url, 'db', { ...wait, 'if-none-match': `"${db.etag}"` }, 'db-1').then((a) => {
      dbAnswered = true;
      return a;
    });
    await waitFor(async () => {
      const m = await (await request(`${ctl.url}/metrics`)).body.text();
      return /weft_controller_waiting_requests 2\b/.test(m) || null;
    }, 20_000, 'both long-polls held');
    const sha = await commit(repo, { 'route.yaml': route([0, 100]) }, 'api: all to v2');
    const changed = await webPoll;
    assert.equal(changed.status, 200);
    assert.notEqual(changed.etag, web.etag);
    assert.deepEqual(changed.bundle?.spec.services.map((s) => s.id), ['default/api', 'default/api-v2', 'default/web']);
    const published = await waitFor(() => ctl.logs.find((l) => l.msg === 'bundle published' && l.woken !== undefined && ctl.logs.some((c) => c.msg === 'compiled' && c.commit === sha && c.digest === l.digest)), 20_000, 'published');
    assert.equal(published.woken, 1, 'only web was woken');
    assert.equal(dbAnswered, false);
    // db's slice is the same bundle as before: same digest, nothing to reload.
    assert.equal((await get(ctl.url, 'db')).etag, db.etag);
    // db's proxy reports what it has; propagation counts it as done without a reload.
    await request(`${ctl.url}/v1/status`, { method: 'POST', body: JSON.stringify({ proxy: 'db-1', service: 'db', digest: db.etag, state: 'active', error: null }) });
    await request(`${ctl.url}/v1/status`, { method: 'POST', body: JSON.stringify({ proxy: 'web-1', service: 'web', digest: changed.etag, state: 'active', error: null }) });
    await waitFor(() => ctl.logs.find((l) => l.msg === 'propagated' && l.digest === published.digest), 20_000, 'propagated');
    // Still held when the controller stops at the end; its connection is closed then.
    dbPoll.catch(() => undefined);
  });
});
