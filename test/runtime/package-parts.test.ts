/**
 * runtime/undici.ts and runtime/prom-client.ts load the modules of undici and prom-client a proxy
 * uses instead of the packages' indexes (memory). These tests pin that down: the classes are the
 * indexes' own objects (an upgrade that moves a file fails here), `request` answers as undici's
 * `request` does against a real server on loopback, and a proxy process loads no more of either
 * package than those modules.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as promClient from 'prom-client';
import * as undici from 'undici';
import { aggregatorRegistry, Counter, Gauge, Registry } from '../../runtime/prom-client.js';
import { Agent, buildConnector, Pool, request } from '../../runtime/undici.js';
import { within } from '../helpers/proxy-harness.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

async function echoServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('x-method', req.method ?? '');
      res.setHeader('x-url', req.url ?? '');
      res.setHeader('x-header', String(req.headers['x-test'] ?? ''));
      res.statusCode = req.url?.startsWith('/missing') ? 404 : 200;
      res.end(Buffer.concat(chunks).toString() || 'empty');
    });
  });
  await within(new Promise<void>((r) => server.listen(0, '127.0.0.1', r)), 5_000, 'the echo server to listen');
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('runtime/undici and runtime/prom-client', () => {
  it("exports the very classes and functions undici's index exports", () => {
    assert.equal(Pool, undici.Pool);
    assert.equal(Agent, undici.Agent);
    assert.equal(buildConnector, undici.buildConnector);
    assert.equal(Registry, promClient.Registry);
    assert.equal(Counter, promClient.Counter);
    assert.equal(Gauge, promClient.Gauge);
    assert.equal(aggregatorRegistry(), promClient.AggregatorRegistry);
  });

  it("request answers as undici's request does: method, path and query, headers, body, status, dispatcher", async () => {
    const { server, origin } = await echoServer();
    const pool = new Pool(origin);
    try {
      const cases: [string | URL, Parameters<typeof request>[1]][] = [
        [`${origin}/a/b?x=1&y=2`, {}],
        [new URL('/p', origin), { method: 'POST', body: 'hello', headers: { 'x-test': 'v' } }],
        [`${origin}/put`, { body: 'implied PUT' }],
        [`${origin}/missing`, { dispatcher: pool }],
      ];

      for (const [url, opts] of cases) {
        const ours = await within(request(url, opts), 10_000, `runtime/undici request ${String(url)}`);
        const theirs = await within(undici.request(url, opts as undici.Dispatcher.RequestOptions), 10_000, `undici request ${String(url)}`);
        const pick = async (r: undici.Dispatcher.ResponseData): Promise<unknown[]> => [r.statusCode, r.headers['x-method'], r.headers['x-url'], r.headers['x-header'], await r.body.text()];
        assert.deepEqual(await pick(ours), await pick(theirs), String(url));
      }
    } finally {
      await pool.close();
      await new Promise((r) => server.close(r));
    }
  });

  it('refuses a URL that is not http(s), as a TypeError', () => {
    assert.throws(() => request('ftp://127.0.0.1/x'), TypeError);
  });

  it("a process that imports the proxy loads none of undici's fetch, WebSocket, cache or mock modules nor prom-client's others, and its pools have the index's methods", () => {
    const proxyModule = path.resolve(HERE, '..', '..', 'runtime', 'proxy', 'proxy.js');
    const script = `await import(${JSON.stringify(proxyModule)}); const { createRequire } = await import('node:module'); const m = createRequire(import.meta.url)('module'); const { Pool } = await import(${JSON.stringify(path.resolve(HERE, '..', '..', 'runtime', 'undici.js'))}); console.log(JSON.stringify({ loaded: Object.keys(m._cache).filter((k) => k.includes('/undici/')), prom: Object.keys(m._cache).filter((k) => ['prom-client', '@opentelemetry', 'tdigest', 'bintrees'].some((p) => k.includes('/node_modules/' + p + '/'))).map((k) => k.slice(k.lastIndexOf('node_modules/') + 13)), methods: ['request', 'stream', 'pipeline', 'connect', 'upgrade'].map((k) => typeof Pool.prototype[k]) }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const { loaded, methods, prom } = JSON.parse(r.stdout.trim()) as { loaded: string[]; methods: string[]; prom: string[] };
    assert.deepEqual(prom.filter((k) => !/^prom-client\/lib\/(registry|util|counter|gauge|validation|metric|exemplar)\.js$/.test(k)), [], 'prom-client: Registry, Counter and Gauge only');
    assert.deepEqual(methods, ['function', 'function', 'function', 'function', 'function'], 'request, stream, pipeline, connect, upgrade (the mirror filter calls pool.request)');
    assert.ok(loaded.length > 0, 'the proxy loads undici');
    const unused = loaded.filter((k) => /\/undici\/(index\.js|lib\/(web|mock|cache|interceptor)\/)/.test(k));
    assert.deepEqual(unused, []);
  });
});
