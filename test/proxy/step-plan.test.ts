/**
 * Step plans (issue 16): a proxy composes, per route table and rule, only the steps a route needs
 * (pipeline.ts compose); `--full-pipeline` runs every step on every request. This suite proves the
 * two answer identically, with real processes and real servers on loopback: bodies (none, kept,
 * streamed past the 64 KiB prefix, chunked uploads), chunked and large responses, retries, mirrors,
 * filters and timeouts, and a client that goes away mid-response (the upstream request is
 * cancelled either way). The plans themselves are checked without processes first.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Filter, HeaderModifier } from '../../schemas/bundle.js';
import { buildRouter } from '../../runtime/router/index.js';
import { planSteps, type Step } from '../../runtime/proxy/pipeline.js';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { startProxy, tempDir, waitFor, within, writeBundle, type ProxyProcess } from '../helpers/proxy-harness.js';

const hm = (set: [string, string][] = [], add: [string, string][] = []): HeaderModifier => ({ set: set.map(([name, value]) => ({ name, value })), add: add.map(([name, value]) => ({ name, value })), remove: [] });

/** Upstream is the app behind both proxies: a few behaviours by path, and what it saw. */
interface Upstream {
  port: number;
  /** Attempts per `x-key` at /flaky. */
  flaky: Map<string, number>;
  /** /slow requests whose client connection closed before the response ended, by `x-key`. */
  cancelled: Set<string>;
  close(): Promise<void>;
}

function startUpstream(): Promise<Upstream> {
  const sockets = new Set<Socket>();
  const up: Upstream = { port: 0, flaky: new Map(), cancelled: new Set(), close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = req.url ?? '/';
      const key = String(req.headers['x-key'] ?? '');
      if (url.startsWith('/flaky')) {
        const n = (up.flaky.get(key) ?? 0) + 1;
        up.flaky.set(key, n);
        const text = n === 1 ? 'not yet' : `recovered after ${n}`;
        res.writeHead(n === 1 ? 503 : 200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      if (url.startsWith('/chunked')) {
        // No content-length: a chunked response, written in pieces.
        res.writeHead(200, { 'content-type': 'text/plain', 'x-shape': 'chunked' });
        let i = 0;
        const more = (): void => {
          if (i === 5) return void res.end(`end ${body.length}`);
          res.write(`part ${i++};`);
          setImmediate(more);
        };
        more();
        return;
      }
      if (url.startsWith('/big')) {
        const big = Buffer.alloc(300 * 1024, 97);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': big.length });
        res.end(big);
        return;
      }
      if (url.startsWith('/slow')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first;');
        res.on('close', () => {
          if (!res.writableFinished) up.cancelled.add(key);
        });
        return; // never ends: the client goes away
      }
      const seen = {
        method: req.method,
        url,
        length: body.length,
        sha: createHash('sha256').update(body).digest('hex').slice(0, 16),
        chunkedIn: req.headers['transfer-encoding'] ?? null,
        added: req.headers['x-added'] ?? null,
        source: req.headers['weft-source'] ?? null,
        hop: req.headers['x-hop'] ?? null,
        forwarded: req.headers['x-forwarded-for'] !== undefined,
        traced: /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/.test(String(req.headers['traceparent'] ?? '')),
      };
      const text = JSON.stringify(seen);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'keep-alive, x-hop-back', 'x-hop-back': 'must go' });
      res.end(text);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  up.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      up.port = (server.address() as AddressInfo).port;
      resolve(up);
    }),
  );
}

/** Shadow counts mirrored requests by path and body. */
function startShadow(): Promise<{ port: number; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`);
      res.end('shadow');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        seen,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      }),
    ),
  );
}

/** Answer is what a client saw, minus what differs between any two requests (date, trace ids). */
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/**
 * ask sends one request to a proxy's outbound listener; `chunks` are written one by one without a
 * content-length (a chunked upload). Bounded: 15 s.
 */
function ask(addr: string, path: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer; chunks?: Buffer[] } = {}): Promise<Answer> {
  const i = addr.lastIndexOf(':');
  return within(
    new Promise<Answer>((resolve, reject) => {
      const headers: Record<string, string> = { host: 'up', ...(opts.headers ?? {}) };
      if (opts.body) headers['content-length'] = String(opts.body.length);
      const req = http.request({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)), method: opts.method ?? 'GET', path, agent, headers }, (res) => {
        const got: Buffer[] = [];
        res.on('data', (c: Buffer) => got.push(c));
        res.on('end', () => {
          const h: Record<string, string | string[] | undefined> = { ...res.headers };
          delete h['date'];
          const body = Buffer.concat(got);
          resolve({ status: res.statusCode ?? 0, headers: h, body: body.length > 4096 ? `${body.length} bytes sha ${createHash('sha256').update(body).digest('hex')}` : body.toString() });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      if (opts.chunks) {
        for (const c of opts.chunks) req.write(c);
        req.end();
      } else req.end(opts.body);
    }),
    15_000,
    `answer to ${opts.method ?? 'GET'} ${path} from ${addr}`,
  );
}

describe('step plans: which steps a route runs', () => {
  const named = (name: string, idle?: Step['idle']): Step => ({ name, needs: [], provides: [], ...(idle ? { idle } : {}), wrap: (next) => next });
  it('leaves out exactly the steps that say they are idle for the plan', () => {
    const router = buildRouter(spec([service('up', { endpoints: ['127.0.0.1:1'], producer: [{ route: 'a', filters: [], backends: [{ service: 'up' }] }] })]));
    const rule = router.services.get('default/up')!.producer!.source.rules[0]!;
    const steps = [named('always'), named('filters', (p) => p.rule !== null && p.rule.filters.length === 0), named('grpc-only', (p) => !p.grpc)];
    assert.deepEqual(planSteps(steps, { direction: 'outbound', router, rule, grpc: false }), ['always']);
    assert.deepEqual(planSteps(steps, { direction: 'outbound', router, rule, grpc: true }), ['always', 'grpc-only']);
    assert.deepEqual(planSteps(steps, { direction: 'outbound', router, rule: null, grpc: false }), ['always', 'filters']);
  });
});

describe('step plans answer like the full pipeline (real proxies, real servers)', () => {
  let up: Upstream;
  let shadow: Awaited<ReturnType<typeof startShadow>>;
  let planned: ProxyProcess;
  let full: ProxyProcess;

  before(async () => {
    up = await startUpstream();
    shadow = await startShadow();
    const mirror: Filter = { type: 'RequestMirror', mirror: { service: 'default/shadow', port: 80, percent: 100 } };
    const s = spec([
      service('shadow', { endpoints: [`127.0.0.1:${shadow.port}`] }),
      service('up', {
        endpoints: [`127.0.0.1:${up.port}`],
        producer: [
          { route: 'flaky', matches: [{ path: { type: 'PathPrefix', value: '/flaky' } }], retry: { attempts: 2, codes: [503], backoffMs: 1 }, backends: [{ service: 'up' }] },
          { route: 'mirror', matches: [{ path: { type: 'PathPrefix', value: '/mirror' } }], filters: [mirror], backends: [{ service: 'up' }] },
          {
            route: 'edited',
            matches: [{ path: { type: 'PathPrefix', value: '/edited' } }],
            filters: [
              { type: 'RequestHeaderModifier', modifier: hm([['x-added', 'yes']]) },
              { type: 'ResponseHeaderModifier', modifier: hm([['x-resp', 'set']], [['x-resp-add', 'one']]) },
            ],
            timeouts: { requestMs: 10_000, backendRequestMs: 8_000 },
            backends: [{ service: 'up' }],
          },
          { route: 'root', matches: [{ path: { type: 'PathPrefix', value: '/' } }], backends: [{ service: 'up' }] },
        ],
      }),
    ]);
    const file = `${tempDir('weft-step-plan-')}/bundle.json`;
    writeBundle(file, bundle(s));
    [planned, full] = await Promise.all([startProxy({ service: 'client', bundle: file }), startProxy({ service: 'client', bundle: file, extra: ['--full-pipeline'] })]);
  });

  after(async () => {
    agent.destroy();
    await Promise.all([planned?.stop(), full?.stop()]);
    await Promise.all([up?.close(), shadow?.close()]);
  });

  /** both sends the same request through each proxy and returns the two answers. */
  const both = async (path: string, opts: Parameters<typeof ask>[2] = {}): Promise<[Answer, Answer]> => [await ask(planned.outbound, path, opts), await ask(full.outbound, path, opts)];

  it('bodies: none, kept, streamed past the kept prefix, chunked uploads; hop-by-hop removed both ways', async () => {
    const kept = Buffer.from('x'.repeat(1000));
    const streamed = Buffer.alloc(200 * 1024, 98);
    const cases: [string, Parameters<typeof ask>[2]][] = [
      ['/get?q=1', {}],
      ['/post', { method: 'POST', body: kept, headers: { 'x-hop': 'gone', connection: 'x-hop' } }],
      ['/post-large', { method: 'PUT', body: streamed }],
      ['/upload-chunked', { method: 'POST', chunks: [Buffer.from('one,'), Buffer.from('two,'), Buffer.alloc(70 * 1024, 99)] }],
      ['/empty', { method: 'POST', body: Buffer.alloc(0) }],
    ];
    for (const [path, opts] of cases) {
      const [a, b] = await both(path, opts);
      assert.equal(a.status, 200, `${path}: ${a.body}`);
      assert.deepEqual(a, b, path);
      assert.equal(a.headers['x-hop-back'], undefined, 'a header the upstream named in Connection does not reach the client');
      const seen = JSON.parse(a.body) as { source: string; traced: boolean; forwarded: boolean; hop: string | null };
      assert.equal(seen.source, 'client.default');
      assert.ok(seen.traced && seen.forwarded);
      assert.equal(seen.hop, null);
    }
  });

  it('responses: chunked, and large (backpressure past the kept chunks)', async () => {
    for (const path of ['/chunked', '/big']) {
      const [a, b] = await both(path);
      assert.equal(a.status, 200);
      assert.deepEqual(a, b, path);
    }
    const [c] = await both('/chunked');
    assert.equal(c.body, 'part 0;part 1;part 2;part 3;part 4;end 0');
    assert.equal(c.headers['transfer-encoding'], 'chunked');
  });

  it('filters and timeouts on a rule that needs them', async () => {
    const [a, b] = await both('/edited/x', { method: 'POST', body: Buffer.from('hello') });
    assert.deepEqual(a, b);
    assert.equal(a.headers['x-resp'], 'set');
    assert.equal(a.headers['x-resp-add'], 'one');
    assert.equal((JSON.parse(a.body) as { added: string }).added, 'yes');
  });

  it('retries: a 503 is retried with the kept body, the same way', async () => {
    const a = await ask(planned.outbound, '/flaky', { method: 'POST', body: Buffer.from('again'), headers: { 'x-key': 'planned' } });
    const b = await ask(full.outbound, '/flaky', { method: 'POST', body: Buffer.from('again'), headers: { 'x-key': 'full' } });
    assert.equal(a.status, 200);
    assert.deepEqual(a, b);
    assert.equal(up.flaky.get('planned'), 2);
    assert.equal(up.flaky.get('full'), 2);
  });

  it('mirrors: each proxy sends the same copy', async () => {
    const [a, b] = await both('/mirror/m', { method: 'POST', body: Buffer.from('copy me') });
    assert.deepEqual(a, b);
    await waitFor(() => shadow.seen.length >= 2, 10_000, 'two mirrored requests at the shadow');
    assert.deepEqual(shadow.seen, ['POST /mirror/m copy me', 'POST /mirror/m copy me']);
  });

  it('aborts: a client that goes away mid-response cancels the upstream request', async () => {
    for (const [name, p] of [
      ['planned', planned],
      ['full', full],
    ] as const) {
      const i = p.outbound.lastIndexOf(':');
      await within(
        new Promise<void>((resolve, reject) => {
          const req = http.request({ host: '127.0.0.1', port: Number(p.outbound.slice(i + 1)), path: '/slow', headers: { host: 'up', 'x-key': name } }, (res) => {
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          });
          req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
          req.end();
        }),
        10_000,
        `the first bytes of /slow through the ${name} proxy`,
      );
      await waitFor(() => up.cancelled.has(name), 10_000, `the upstream request of the ${name} proxy to be cancelled`);
    }
  });
});
