/** weft proxy: one sidecar (runtime/proxy). Flags are parsed here; the proxy itself lives in runtime/. */
import { seededRandom, type RandomSource } from '../../runtime/policy/random.js';
import type { Command } from '../cli.js';
import { UsageError, addressFlag, durationFlag, parseFlags } from '../cli.js';
import { ControllerEndpointSource } from '../../runtime/sources/endpoint-source.js';
import type { HostPort } from '../../runtime/address.js';
import { loadTrustKey } from '../../runtime/bundle/verify.js';
import { readTrustKey } from '../signing-keys.js';
import { WeftError } from '../../runtime/errors.js';
import { startProxy } from '../../runtime/proxy/proxy.js';
import { isWorker, runPrimary, workerStarted } from './proxy-workers.js';
import { FileSource } from '../../runtime/sources/file-source.js';
import { ControllerSource } from '../../runtime/sources/controller-source.js';
import { jsonLogger } from '../../runtime/log.js';
import type { BundleSource } from '../../runtime/sources/source.js';
import { accessSync, closeSync, constants as fsConstants, fstatSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { MAX_PEM_FILE_BYTES } from '../../runtime/bounded-read.js';
import type { Logger } from '../../runtime/log.js';
import { loadTrustBundle } from '../../runtime/identity/trust-bundle.js';
import { workloadId } from '../../runtime/identity/spiffe-id.js';
import type { CertificateSource } from '../../runtime/proxy/mtls/certificate-source.js';
import { sourceClientIdentity } from '../../runtime/proxy/mtls/client-identity.js';
import { ControllerCertificateSource } from '../../runtime/proxy/mtls/controller-certificates.js';
import { FileCertificateSource } from '../../runtime/proxy/mtls/file-certificates.js';

const HELP = `weft proxy: run one sidecar proxy.

Usage:
  weft proxy --service NAME (--bundle FILE | --controller URL) [options]

Options:
  --service NAME        this instance's Service (required)
  --namespace NS        its namespace (default: default)
  --bundle FILE         bundle file, watched (atomic rename and ConfigMap symlink swaps too); SIGHUP re-reads
  --controller URL      fetch bundles from a controller (long-poll)
  --outbound ADDR       listener for the app's outgoing calls (default 127.0.0.1:15001; "off" disables)
  --inbound ADDR        listener for peers calling this instance (default 0.0.0.0:15006 when --app is given)
  --app URL             the local app inbound requests go to, e.g. http://127.0.0.1:8080
  --admin ADDR          /metrics, /ready, /config (default 127.0.0.1:15000; "off" disables)
  --cache-dir DIR       keep the last good bundle (and, with --controller, the last known endpoint sets)
                        here; start from them when the source has none
  --trust-key PEM       accept only bundles signed by this ed25519 public key
  --access-log          one JSON line per request on stdout
  --concurrency N       run N worker processes sharing the listeners (node:cluster), for a shared or
                        front proxy; the admin listener then sums their metrics. Default 1 (a sidecar).
                        Not with --token/--token-file (one-use) or registration (give --no-register)
  --full-pipeline       run every pipeline step on every request (no per-route step plans): the general
                        path, for comparing behaviour or debugging a step; slower
  --random-seed N       seed the proxy's random draws (backend weights, Random and LeastRequest balancing,
                        fault and mirror percentages) so a run can be reproduced; default: unseeded

Identity (one of these is required):
  --ca FILE             the mesh CA certificate (trust bundle), with one of:
    --token T | --token-file F   a join token (weft token create): the proxy makes its own key and gets its
                        certificate from the --controller (https://) before it is ready, renews it at half its
                        lifetime over mTLS, and keeps it in --cache-dir (a restart then needs no token)
    --cert F --key F    certificate and key written by SPIRE, cert-manager or Vault; the three files are
                        watched and reloaded when they change
  --trust-domain TD     trust domain when the CA certificate does not name one (file certificates)
  --insecure            no identity: plaintext inbound, callers asserted by the weft-source header from
                        --trust-peers (default 127.0.0.0/8,::1/128). NOT cryptographic; local development only
  --trust-peers CIDRS   (with --insecure) peers allowed to assert a caller with weft-source
Discovery (with --controller; docs/discovery.md):
  --advertise HOST:PORT address callers reach this instance's inbound listener at
                        (default: the inbound address; required when that is a wildcard)
  --labels k=v,...      labels of this instance (repeatable), e.g. version=v2
  --app-health PATH     probe the app at PATH every second; failing = registered not ready (no traffic)
  --drain-delay D       on SIGTERM: deregister, keep serving this long, then drain (default 5s)
  --no-register         do not register this instance (it still follows registered endpoints)

Addresses are HOST:PORT, [V6]:PORT or PORT; port 0 picks a free port (see the "listening" log line).
Logs are JSON lines on stderr. SIGTERM/SIGINT: deregister, wait --drain-delay, drain in-flight requests, exit 0.
Exit codes: 0 stopped cleanly, 2 usage or start-up error.`;

/**
 * cacheDirProblem makes sure --cache-dir can be written before anything starts: it keeps the
 * certificate a one-use join token buys, the last good bundle and the no-rollback floor, so a
 * proxy that could not write it would work until its first restart and then need a new token.
 */
function cacheDirProblem(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, fsConstants.W_OK | fsConstants.X_OK);
  } catch (err) {
    throw new UsageError(`--cache-dir ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (give a folder this user can create and write: it keeps the certificate and the last good bundle across restarts)`);
  }
}

/** isFolder: does `p` name an existing directory (following symlinks)? */
function isFolder(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** listenFlag is addressFlag with "off" for a listener that is not started. */
function listenFlag(flag: string, v: string, defaultHost: string): HostPort | null {
  return v === 'off' ? null : addressFlag(flag, v, defaultHost);
}

/**
 * selectSource picks where bundles come from: exactly one of --bundle or --controller.
 */
export async function selectSource(values: { bundle?: string | undefined; controller?: string | undefined }, _service: { name: string; namespace: string }, identity: Identity | null = null): Promise<BundleSource> {
  if (values.bundle !== undefined && values.controller !== undefined) throw new UsageError('give either --bundle or --controller, not both');
  if (values.bundle !== undefined) {
    // A missing file may still appear (the source waits and says so); a folder is a mistake.
    if (isFolder(values.bundle)) throw new UsageError(`--bundle ${values.bundle}: is a folder; give the bundle file (weft compile --out FILE writes one)`);
    return new FileSource(values.bundle);
  }
  if (values.controller !== undefined) {
    if (!URL.canParse(values.controller)) throw new UsageError(`--controller: "${values.controller}" is not a URL`);
    // The controller serves each Service its slice; a bare name means namespace default there.
    const service = _service.namespace === 'default' ? _service.name : `${_service.namespace}/${_service.name}`;
    const https = new URL(values.controller).protocol === 'https:';
    if (https && !identity) throw new UsageError('--controller https:// needs an identity (--ca with --token/--token-file, or --cert --key --ca)');
    if (!https && identity) throw new UsageError('--controller must be https:// when the proxy has an identity (the controller channel is mTLS)');
    const tls = identity ? { identity: sourceClientIdentity(identity.source), trustDomain: identity.trustDomain } : undefined;
    return new ControllerSource({ url: values.controller, service, logger: jsonLogger(), ...(tls ? { tls } : {}) });
  }
  throw new UsageError('one of --bundle FILE or --controller URL is required');
}

/** Identity is the chosen certificate source and the trust domain its CA names. */
export interface Identity {
  readonly source: CertificateSource;
  readonly trustDomain: string;
}

/**
 * selectCertificates decides where the workload certificate comes from, or null with --insecure.
 * Without any identity flag the proxy refuses to start: identity is the default, not an option.
 */
export function selectCertificates(
  values: { ca?: string | undefined; token?: string | undefined; 'token-file'?: string | undefined; cert?: string | undefined; key?: string | undefined; 'trust-domain'?: string | undefined; insecure?: boolean | undefined; controller?: string | undefined; 'cache-dir'?: string | undefined },
  service: { name: string; namespace: string },
  logger: Logger,
): Identity | null {
  const files = values.cert !== undefined || values.key !== undefined;
  const token = values.token !== undefined || values['token-file'] !== undefined;
  if (values.insecure) {
    if (files || token || values.ca !== undefined) throw new UsageError('--insecure cannot be combined with --ca, --token, --token-file, --cert or --key');
    return null;
  }
  if (values.token !== undefined && values['token-file'] !== undefined) throw new UsageError('give either --token or --token-file, not both');
  if (files && token) throw new UsageError('give either --cert/--key (certificates from files) or --token/--token-file (certificates from the controller), not both');
  if (values.ca === undefined) {
    throw new UsageError(
      files || token
        ? '--ca FILE (the mesh CA certificate) is required with ' + (files ? '--cert/--key' : '--token/--token-file')
        : 'no identity: give --ca with --token/--token-file (certificate from the controller) or --cert --key --ca (certificate files), or --insecure for plaintext local development',
    );
  }
  const caPem = readPem('--ca', values.ca);
  let trustDomain: string;
  try {
    trustDomain = loadTrustBundle(caPem, values['trust-domain']).trustDomain;
  } catch (err) {
    throw new UsageError(`--ca ${values.ca}: ${(err as Error).message}`);
  }
  if (files) {
    if (values.cert === undefined || values.key === undefined) throw new UsageError('--cert and --key go together');
    // The certificate must name this proxy's Service: a proxy serving one Service with another's
    // certificate would be refused by every caller, and would misname itself to its app (XFCC By=).
    const expect = workloadId(trustDomain, service.namespace, service.name).uri;
    const src = new FileCertificateSource({ cert: values.cert, key: values.key, ca: values.ca, expect, ...(values['trust-domain'] !== undefined ? { trustDomain: values['trust-domain'] } : {}) });
    return { source: src, trustDomain };
  }
  if (values.controller === undefined) throw new UsageError('--ca with --token/--token-file gets the certificate from --controller https://HOST:PORT (give --controller, or use --cert --key --ca)');
  let url: URL;
  try {
    url = new URL(values.controller);
  } catch {
    throw new UsageError(`--controller: "${values.controller}" is not a URL`);
  }
  if (url.protocol !== 'https:') throw new UsageError('--controller must be https:// when the proxy gets its certificate from it');
  const tokenFile = values['token-file'];
  const tokenValue = values.token;
  const readToken = tokenValue !== undefined ? () => Promise.resolve(tokenValue) : tokenFile !== undefined ? () => Promise.resolve(readPem('--token-file', tokenFile)) : null;
  const src = new ControllerCertificateSource({
    url: values.controller,
    caPem,
    token: readToken,
    service: service.name,
    namespace: service.namespace,
    cacheDir: values['cache-dir'] ?? null,
    log: (e) => logger.log(e['state'] === 'renewed' ? 'info' : 'warn', 'certificate', e),
  });
  return { source: src, trustDomain };
}

/**
 * readPem reads a small file named by `flag` (a CA bundle, a join token): a regular file of at
 * most MAX_PEM_FILE_BYTES. A FIFO or a device (/dev/zero) is refused, never waited on or read
 * without end; every problem is a UsageError naming the flag.
 */
function readPem(flag: string, file: string): string {
  let fd: number;
  try {
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new UsageError(`${flag}: cannot read ${file}: EISDIR`);
    if (!st.isFile()) throw new UsageError(`${flag}: ${file} is not a regular file`);
    const buf = Buffer.alloc(MAX_PEM_FILE_BYTES + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n > MAX_PEM_FILE_BYTES) throw new UsageError(`${flag}: ${file} is over ${MAX_PEM_FILE_BYTES} bytes; a PEM file or a token is far smaller`);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export const command: Command = {
  summary: 'run a sidecar proxy that routes by the bundle',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values } = parseFlags('weft proxy', {
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        service: { type: 'string' },
        namespace: { type: 'string', default: 'default' },
        bundle: { type: 'string' },
        controller: { type: 'string' },
        outbound: { type: 'string', default: '127.0.0.1:15001' },
        inbound: { type: 'string' },
        app: { type: 'string' },
        admin: { type: 'string', default: '127.0.0.1:15000' },
        'cache-dir': { type: 'string' },
        'trust-key': { type: 'string' },
        'trust-peers': { type: 'string', multiple: true },
        'access-log': { type: 'boolean', default: false },
        'full-pipeline': { type: 'boolean', default: false },
        concurrency: { type: 'string', default: '1' },
        'random-seed': { type: 'string' },
        ca: { type: 'string' },
        token: { type: 'string' },
        'token-file': { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        'trust-domain': { type: 'string' },
        insecure: { type: 'boolean', default: false },
        advertise: { type: 'string' },
        labels: { type: 'string', multiple: true },
        'app-health': { type: 'string' },
        'drain-delay': { type: 'string', default: '5s' },
        'no-register': { type: 'boolean', default: false },
      },
    });
    if (!values.service) throw new UsageError('--service NAME is required');
    const namespace = values.namespace ?? 'default';
    // They name a Service of the policies and its SPIFFE ID (/ns/NS/sa/NAME): DNS labels, as there.
    for (const [flag, v] of [['--namespace', namespace], ['--service', values.service]] as const) {
      if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(v)) throw new UsageError(`${flag}: "${v}" is not a DNS label (lower-case letters, digits and "-", at most 63, as a Service's name in the policies)`);
    }
    let app: { address: string; port: number; labels: Record<string, string> } | null = null;
    if (values.app !== undefined) {
      let u: URL;
      try {
        u = new URL(values.app);
      } catch {
        throw new UsageError(`--app: "${values.app}" is not a URL`);
      }
      if (u.protocol !== 'http:') throw new UsageError('--app: only http:// is supported');
      app = { address: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80), labels: {} };
    }
    const inbound = values.inbound !== undefined ? listenFlag('--inbound', values.inbound, '0.0.0.0') : app ? { host: '0.0.0.0', port: 15006 } : null;
    if (inbound && !app) throw new UsageError('--inbound needs --app URL (where inbound requests go)');
    let trustKey = null;
    if (values['trust-key'] !== undefined) {
      trustKey = loadTrustKey(readTrustKey('--trust-key', values['trust-key']).export({ type: 'spki', format: 'pem' }).toString());
    }
    let random: RandomSource | undefined;
    if (values['random-seed'] !== undefined) {
      const seed = values['random-seed'];
      if (!/^\d{1,10}$/.test(seed) || Number(seed) > 0xffffffff) throw new UsageError(`--random-seed: expected an integer from 0 to 4294967295, got "${seed}"`);
      random = seededRandom(Number(seed));
    }
    if (values['cache-dir'] !== undefined) cacheDirProblem(values['cache-dir']);
    const logger = jsonLogger();
    const identity = selectCertificates(values, { name: values.service, namespace }, logger);
    const source = await selectSource(values, { name: values.service, namespace }, identity);
    const drainDelayMs = durationFlag('--drain-delay', values['drain-delay'] ?? '5s');
    const labels = parseLabels(values.labels ?? []);
    const appHealth = values['app-health'] ?? null;
    if (appHealth !== null && (!appHealth.startsWith('/') || /\s/.test(appHealth))) throw new UsageError(`--app-health: expected a path such as /healthz, got "${appHealth}"`);
    if (appHealth !== null && !app) throw new UsageError('--app-health needs --app URL (the app it probes)');
    const advertise = values.advertise !== undefined ? addressFlag('--advertise', values.advertise, '') : null;
    if (advertise && (advertise.host === '' || advertise.port === 0 || isWildcard(advertise.host))) throw new UsageError(`--advertise: expected the HOST:PORT callers dial, got "${values.advertise}"`);
    const controllerSource = source instanceof ControllerSource ? source : null;
    const registering = controllerSource !== null && inbound !== null && !values['no-register'];
    if (registering && !advertise && isWildcard(inbound.host)) {
      throw new UsageError(`--inbound ${inbound.host}:${inbound.port} listens on every address: give --advertise HOST:PORT (the address callers reach this instance at), or --no-register`);
    }
    if ((advertise || labels.size > 0 || appHealth !== null) && !registering) {
      throw new UsageError('--advertise, --labels and --app-health register this instance: they need --controller URL and an inbound listener (--app)');
    }
    const concurrency = concurrencyFlag(values.concurrency ?? '1');
    if (concurrency > 1 && (values.token !== undefined || values['token-file'] !== undefined)) {
      throw new UsageError('--concurrency: every worker needs its own certificate, and a join token is for one use: give --cert --key --ca files');
    }
    if (concurrency > 1 && registering) throw new UsageError('--concurrency: the workers would register one instance N times; give --no-register');
    const adminAddr = listenFlag('--admin', values.admin ?? '127.0.0.1:15000', '127.0.0.1');
    if (concurrency > 1 && !isWorker()) return runPrimary({ workers: concurrency, admin: adminAddr, service: `${values.service}.${namespace}`, drainDelayMs, logger });
    const controllerUrl = values.controller;
    let proxy;
    try {
      proxy = await startProxy({
        settings: { service: values.service, namespace, app, accessLog: values['access-log'] ?? false, fullPipeline: values['full-pipeline'] ?? false, bodyBufferLimit: 64 * 1024, mirrorConcurrency: 64 },
        outbound: listenFlag('--outbound', values.outbound ?? '127.0.0.1:15001', '127.0.0.1'),
        inbound,
        // Workers leave the admin listener to the primary, which sums their metrics.
        admin: isWorker() ? null : adminAddr,
        source,
        trustKey,
        trustPeers: values['trust-peers']?.flatMap((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
        cacheDir: values['cache-dir'] ?? null,
        ...(random ? { random } : {}),
        logger,
        certificates: identity?.source ?? null,
        ...(controllerSource && controllerUrl !== undefined
          ? { endpointSource: new ControllerEndpointSource({ url: controllerUrl, dispatcher: () => controllerSource.dispatcher(), logger }) }
          : {}),
        ...(registering && controllerSource && controllerUrl !== undefined
          ? {
              register: {
                url: controllerUrl,
                dispatcher: () => controllerSource.dispatcher(),
                advertise: advertise ? { address: advertise.host, port: advertise.port } : null,
                labels: Object.fromEntries(labels),
                appHealth,
                instance: controllerSource.proxyId,
              },
            }
          : {}),
      });
    } catch (err) {
      // startProxy has closed everything it opened: the process exits 2 with one line (a
      // worker lets go of its channel to the primary, which would keep it alive).
      if (isWorker()) process.disconnect();
      if (err instanceof WeftError) throw new UsageError(`${err.code}: ${err.message}`);
      throw err;
    }
    const waiting = proxy.reloader.current() === null ? proxy.reloader.sourceProblem : null;
    if (isWorker()) {
      const report = workerStarted(proxy.context.metrics.registry, { outbound: proxy.addresses.outbound, inbound: proxy.addresses.inbound }, proxy.reloader.current() !== null, () => proxy.config());
      proxy.reloader.onActivate(() => report(true));
    }
    logger.log('info', isWorker() ? 'worker listening' : 'listening', { service: `${values.service}.${namespace}`, ...proxy.addresses, source: source.description, ready: proxy.reloader.current() !== null, ...(waiting ? { waiting: `${waiting.code}: ${waiting.reason}` } : {}) });
    const running = proxy;
    return new Promise<number>((resolve) => {
      const stop = (signal: NodeJS.Signals): void => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        // A registered instance deregisters, keeps serving for the drain delay, then drains.
        const delay = running.registration ? drainDelayMs : 0;
        logger.log('info', 'stopping', { signal, ...(running.registration ? { drainDelayMs: delay } : {}) });
        const force = setTimeout(() => {
          logger.log('warn', 'stopped before every connection closed', { afterMs: delay + 10_000 });
          if (isWorker()) process.disconnect();
          resolve(0);
        }, delay + 10_000);
        force.unref();
        void running.shutdown(delay).then(() => {
          logger.log('info', 'stopped');
          // A worker's channel to the primary would keep the process alive.
          if (isWorker()) process.disconnect();
          resolve(0);
        });
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
  },
};

/** concurrencyFlag reads --concurrency: a whole number of worker processes, 1 to 64. */
function concurrencyFlag(v: string): number {
  if (!/^\d{1,2}$/.test(v) || Number(v) < 1 || Number(v) > 64) throw new UsageError(`--concurrency: expected a number of worker processes from 1 to 64, got "${v}"`);
  return Number(v);
}

/** isWildcard: an address that listens everywhere, which no caller can dial. */
function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '' || host === '[::]';
}

/** parseLabels reads `k=v,k=v` (repeatable) into a map; names and values as Kubernetes labels allow. */
export function parseLabels(values: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9]([-A-Za-z0-9_./]{0,251}[A-Za-z0-9])?)=([-A-Za-z0-9_.]{0,63})$/.exec(part);
    if (!m) throw new UsageError(`--labels: expected k=v[,k=v...], got "${part}"`);
    out.set(m[1]!, m[3]!);
  }
  return out;
}
