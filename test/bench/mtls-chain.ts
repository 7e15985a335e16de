/**
 * A two-proxy chain for the mTLS rows of `npm run bench:proxy` (run by mtls-scenarios.ts):
 * the load driver → `web`'s outbound listener → `up`'s inbound listener → the upstream. With
 * `mtls` the hop between the proxies is mTLS (file certificates from a fresh mesh CA; the
 * endpoint is `meshed: true`); with `plaintext` both proxies run --insecure and the same hop is
 * plain HTTP/2 (h2c). With `http1` both run --insecure and the endpoint is not meshed, so the hop is
 * HTTP/1.1 over an undici pool: the baseline the HTTP/2 hop is compared with. Both proxies are children of this process, so the bench's CPU-per-request figure
 * (this process and its direct children) covers both ends of the hop.
 *
 * Usage: node mtls-chain.js mtls|plaintext|http1 LISTEN_PORT UPSTREAM INFO_FILE
 * Writes {webAdmin, upAdmin} to INFO_FILE, then prints "ready". SIGTERM stops both proxies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCa } from '../../runtime/identity/ca.js';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { workload } from '../helpers/identity-kit.js';

const WEFT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'weft.js');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function start(args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [WEFT, 'proxy', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let out = '';
    c.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"msg":"listening"')) resolve(c);
    });
    c.on('exit', (code) => reject(new Error(`proxy exited ${code}: ${out}`)));
  });
}

async function main(): Promise<void> {
  const [mode, listen, upstream, infoFile] = process.argv.slice(2);
  if ((mode !== 'mtls' && mode !== 'plaintext' && mode !== 'http1') || !listen || !upstream || !infoFile) throw new Error('usage: mtls-chain mtls|plaintext|http1 PORT UPSTREAM INFO_FILE');
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-mtls-'));
  const identity = async (name: string): Promise<string[]> => {
    if (mode !== 'mtls') return ['--insecure'];
    const w = await workload(ca, name);
    writeFileSync(path.join(dir, `${name}.crt`), w.certPem);
    writeFileSync(path.join(dir, `${name}.key`), w.keyPem);
    return ['--cert', path.join(dir, `${name}.crt`), '--key', path.join(dir, `${name}.key`), '--ca', path.join(dir, 'ca.pem')];
  };
  const ca = await createCa('weft.local');
  writeFileSync(path.join(dir, 'ca.pem'), ca.certPem);
  const [inPort, webAdmin, upAdmin] = [await freePort(), await freePort(), await freePort()];
  const file = path.join(dir, 'bundle.json');
  const b = bundle(spec([service('web'), service('up', { endpoints: [{ address: '127.0.0.1', port: inPort, labels: {}, ...(mode === 'http1' ? {} : { meshed: true as const }) }] })]));
  writeFileSync(file, JSON.stringify(b));
  const children: ChildProcess[] = [];
  const stop = (): void => {
    for (const c of children) c.kill('SIGTERM');
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on('SIGTERM', stop);
  const [u, p] = upstream.split(':');
  children.push(await start([...(await identity('up')), '--service', 'up', '--bundle', file, '--outbound', 'off', '--inbound', `127.0.0.1:${inPort}`, '--app', `http://${u}:${p}`, '--admin', `127.0.0.1:${upAdmin}`]));
  children.push(await start([...(await identity('web')), '--service', 'web', '--bundle', file, '--outbound', `127.0.0.1:${listen}`, '--admin', `127.0.0.1:${webAdmin}`]));
  writeFileSync(infoFile, JSON.stringify({ webAdmin: `127.0.0.1:${webAdmin}`, upAdmin: `127.0.0.1:${upAdmin}` }));
  process.stdout.write('ready\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`mtls-chain failed: ${(err as Error).message}\n`);
  process.exit(2);
});
