/**
 * The proxy's endpoint-set cache (runtime/discovery/endpoint-cache.ts) on a real directory: the
 * writer follows the table, a new table restored from the file gives the same views (warming
 * sets included), and a missing, damaged or foreign file is ignored, never fatal.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EndpointTable } from '../../runtime/discovery/endpoint-table.js';
import { ENDPOINT_CACHE_FILE, EndpointCacheWriter, readEndpointCache } from '../../runtime/discovery/endpoint-cache.js';
import { versionOf } from '../../runtime/discovery/catalog.js';
import type { DiscoveredEndpoint, EndpointSet } from '../../runtime/discovery/protocol.js';
import type { LogLevel } from '../../runtime/log.js';
import { service } from '../helpers/bundle-builder.js';
import { removeDir, tempDir } from '../helpers/proxy-harness.js';

const d = (port: number, ready = true): DiscoveredEndpoint => ({ address: '10.1.0.1', port, labels: { zone: 'a' }, ready, meshed: true, instance: `i${port}` });
const set = (endpoints: DiscoveredEndpoint[], complete = true, svc = 'default/reviews'): EndpointSet => ({ service: svc, version: versionOf(svc, complete, endpoints), complete, endpoints });

describe('endpoint cache', () => {
  it('follows the table, and a restarted table routes to the same instances', async () => {
    const dir = tempDir('weft-endpoint-cache-');
    try {
      const t = new EndpointTable(true);
      const writer = new EndpointCacheWriter(t, dir);
      t.apply([set([d(1), d(2, false)]), set([], true, 'default/ratings')]);
      t.apply([set([d(1), d(3)])]);
      t.apply([set([d(4)], false)]); // the controller warms: 4 is added, nothing removed
      await writer.stop();
      const cached = await readEndpointCache(dir);
      assert.deepEqual(cached.map((s) => s.service), ['default/ratings', 'default/reviews']);
      const again = new EndpointTable(true);
      again.apply(cached);
      const reviews = service('reviews');
      assert.deepEqual(again.view(reviews).endpoints.map((e) => e.port), t.view(reviews).endpoints.map((e) => e.port));
      assert.deepEqual(again.view(reviews).endpoints.map((e) => e.port), [1, 3, 4]);
      assert.equal(again.view(service('ratings')).state, 'discovered', 'an empty set is remembered as known and empty');
      assert.equal(again.versionOf('default/reviews'), t.versionOf('default/reviews'), 'the poll resumes with the version it had');
      again.apply([set([d(3)])]);
      assert.deepEqual(again.view(reviews).endpoints.map((e) => e.port), [3], 'the controller\'s first complete answer replaces the cached set');
    } finally {
      await removeDir(dir);
    }
  });

  it('writes the newest table after a burst, never a torn file', async () => {
    const dir = tempDir('weft-endpoint-cache-');
    try {
      const t = new EndpointTable(true);
      const writer = new EndpointCacheWriter(t, dir);
      for (let i = 1; i <= 50; i++) t.apply([set(Array.from({ length: i }, (_, j) => d(1000 + j)))]);
      await writer.flush();
      const doc = JSON.parse(await readFile(path.join(dir, ENDPOINT_CACHE_FILE), 'utf8')) as { sets: EndpointSet[] };
      assert.equal(doc.sets[0]?.endpoints.length, 50);
      await writer.stop();
    } finally {
      await removeDir(dir);
    }
  });

  it('ignores a missing, damaged or foreign file, and drops malformed sets', async () => {
    const dir = tempDir('weft-endpoint-cache-');
    const logged: string[] = [];
    const logger = { log: (_l: LogLevel, msg: string, f: Record<string, unknown> = {}) => void logged.push(`${msg}: ${String(f.error)}`) };
    try {
      assert.deepEqual(await readEndpointCache(dir, logger), []);
      assert.deepEqual(logged, [], 'no cache yet is not worth a warning');
      const file = path.join(dir, ENDPOINT_CACHE_FILE);
      await writeFile(file, '{"apiVersion": "weft.dev/endpoints-cache/v1", "sets": [');
      assert.deepEqual(await readEndpointCache(dir, logger), []);
      await writeFile(file, JSON.stringify({ apiVersion: 'something/else', sets: [] }));
      assert.deepEqual(await readEndpointCache(dir, logger), []);
      assert.equal(logged.length, 2);
      assert.match(logged[1]!, /not a weft endpoint cache/);
      const good = set([d(1)]);
      const bad = { ...set([d(2)], true, 'default/bad'), endpoints: [{ address: '10.1.0.1', port: 70000, labels: {}, ready: true }] };
      await writeFile(file, JSON.stringify({ apiVersion: 'weft.dev/endpoints-cache/v1', sets: [good, bad, null] }));
      assert.deepEqual(await readEndpointCache(dir, logger), [good]);
    } finally {
      await removeDir(dir);
    }
  });
});
