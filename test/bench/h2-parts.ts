/**
 * What node:http2 itself costs on this machine, next to the HTTP/1.1 parts Weft uses, for the
 * "Proxy protocols" section (`npm run bench:protocols`): the CPU per request of each client and
 * server on its own, 1 KiB responses, 32 requests in flight, no proxy. It is the floor under the
 * proxy-to-proxy HTTP/2 hop: the chain rows of "Proxy mTLS" cannot cost less than these parts.
 *
 *  - clients (in this process): undici Pool.dispatch over HTTP/1.1, and node:http2
 *    ClientHttp2Session.request() on one h2c session;
 *  - servers (in a child process, CPU read over IPC): node:http, node:http2 on the core 'stream'
 *    API (what Weft's listener uses), node:http2 on the compatibility API.
 * The three pairs (HTTP/1.1, h2c core, h2c compat) run in alternating slices of 250 ms, so a
 * shared machine's load falls on all of them alike.
 *
 * Usage: node dist/test/bench/h2-parts.js [--seconds 6] (prints the rows); `server` is the child role.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { connect, createServer as createH2Server, type ServerHttp2Stream } from 'node:http2';
import { fileURLToPath } from 'node:url';
import { Pool, type Dispatcher } from 'undici';

const BODY = Buffer.alloc(1024, 120);
const HEADERS = { 'user-agent': 'bench', accept: '*/*', 'x-forwarded-for': '127.0.0.1', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'weft-source': 'web.default' };

/** The child: three servers, and its CPU time (µs) on each IPC message. */
function roleServer(): void {
  const h1 = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY.length });
    res.end(BODY);
  });
  h1.keepAliveTimeout = 65_000;
  const core = createH2Server({ settings: { maxConcurrentStreams: 1000 } });
  core.on('stream', (st: ServerHttp2Stream) => {
    st.on('error', () => {});
    st.respond({ ':status': 200, 'content-type': 'application/octet-stream', 'content-length': String(BODY.length) });
    st.end(BODY);
  });
  const compat = createH2Server({ settings: { maxConcurrentStreams: 1000 } }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY.length });
    res.end(BODY);
  });
  const ports: number[] = [];
  const listen = (s: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }): Promise<void> =>
    new Promise((resolve) => {
      s.listen(0, '127.0.0.1', () => {
        ports.push((s.address() as { port: number }).port);
        resolve();
      });
    });
  void (async () => {
    await listen(h1);
    await listen(core);
    await listen(compat);
    process.send!({ ports });
  })();
  process.on('message', () => {
    const c = process.cpuUsage();
    process.send!({ cpu: c.user + c.system });
  });
  process.on('disconnect', () => process.exit(0));
}

/** PartsRow is one client/server pair's CPU per request. */
export interface PartsRow {
  readonly pair: string;
  readonly client: string;
  readonly server: string;
  readonly clientUs: number;
  readonly serverUs: number;
  readonly requests: number;
}

/** h2Parts measures the three pairs for about `seconds` in total (alternating slices). */
export async function h2Parts(seconds = 6): Promise<PartsRow[]> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['server'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  try {
    const { ports } = await new Promise<{ ports: number[] }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { ports: number[] }));
      child.once('exit', (code) => reject(new Error(`h2-parts server exited ${code}`)));
    });
    const serverCpu = (): Promise<number> =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve((m as { cpu: number }).cpu));
        child.send('cpu');
      });
    const pool = new Pool(`http://127.0.0.1:${ports[0]}`, { connections: 32 });
    const h1 = (): Promise<void> =>
      new Promise((resolve) => {
        pool.dispatch(
          { method: 'GET', path: '/api/items', headers: { ...HEADERS, host: 'up' } },
          { onRequestStart() {}, onResponseStart() {}, onResponseData() {}, onResponseEnd: () => resolve(), onResponseError: () => resolve() } as Dispatcher.DispatchHandler,
        );
      });
    const h2 = (port: number): (() => Promise<void>) => {
      const session = connect(`http://127.0.0.1:${port}`, { settings: { enablePush: false }, peerMaxConcurrentStreams: 1000 });
      session.on('error', () => {});
      sessions.push(session);
      return () =>
        new Promise((resolve) => {
          const st = session.request({ ...HEADERS, ':method': 'GET', ':path': '/api/items', ':authority': 'up', ':scheme': 'http' }, { endStream: true });
          st.on('error', () => resolve());
          st.on('data', () => {});
          st.on('end', () => resolve());
        });
    };
    const sessions: ReturnType<typeof connect>[] = [];
    const pairs = [
      { pair: 'HTTP/1.1', client: 'undici Pool.dispatch', server: 'node:http', one: h1 },
      { pair: 'h2c, core API', client: 'node:http2 session.request()', server: "node:http2 'stream' (core API)", one: h2(ports[1]!) },
      { pair: 'h2c, compatibility API', client: 'node:http2 session.request()', server: 'node:http2 request/response (compatibility API)', one: h2(ports[2]!) },
    ];
    const acc = pairs.map(() => ({ client: 0, server: 0, n: 0 }));
    const slice = async (i: number, ms: number): Promise<void> => {
      const one = pairs[i]!.one;
      const end = performance.now() + ms;
      let n = 0;
      const s0 = await serverCpu();
      const c0 = process.cpuUsage();
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (performance.now() < end) {
            await one();
            n++;
          }
        }),
      );
      const c = process.cpuUsage(c0);
      const s1 = await serverCpu();
      acc[i]!.client += c.user + c.system;
      acc[i]!.server += s1 - s0;
      acc[i]!.n += n;
    };
    for (let i = 0; i < pairs.length; i++) await slice(i, 500); // warm-up: JIT, connections
    acc.forEach((a) => Object.assign(a, { client: 0, server: 0, n: 0 }));
    const rounds = Math.max(1, Math.round((seconds * 1000) / (250 * pairs.length)));
    for (let r = 0; r < rounds; r++) for (let i = 0; i < pairs.length; i++) await slice(r % 2 === 0 ? i : pairs.length - 1 - i, 250);
    await pool.close();
    for (const s of sessions) s.close();
    return pairs.map((p, i) => ({ pair: p.pair, client: p.client, server: p.server, clientUs: acc[i]!.client / acc[i]!.n, serverUs: acc[i]!.server / acc[i]!.n, requests: acc[i]!.n }));
  } finally {
    child.kill();
  }
}

/** partsTable is the markdown table of h2Parts' rows. */
export function partsTable(rows: readonly PartsRow[]): string[] {
  return [
    '| pair | client | client CPU µs/req | server | server CPU µs/req | both | requests |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.pair} | ${r.client} | ${r.clientUs.toFixed(1)} | ${r.server} | ${r.serverUs.toFixed(1)} | ${(r.clientUs + r.serverUs).toFixed(1)} | ${r.requests} |`),
  ];
}

if (process.argv[2] === 'server') roleServer();
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--seconds');
  h2Parts(i > 0 ? Number(process.argv[i + 1]) : 6).then(
    (rows) => {
      process.stdout.write(partsTable(rows).join('\n') + '\n');
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`h2-parts failed: ${(err as Error).message}\n`);
      process.exit(2);
    },
  );
}
