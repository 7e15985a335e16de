/** weft proxy: one sidecar (runtime/proxy). Flags are parsed here; the proxy itself lives in runtime/. */
import type { Command } from '../cli.js';
import { UsageError, addressFlag, parseFlags } from '../cli.js';
import type { HostPort } from '../../runtime/address.js';
import { loadTrustKey } from '../../runtime/bundle/verify.js';
import { readTrustKey } from '../signing-keys.js';
import { WeftError } from '../../runtime/errors.js';
import { startProxy } from '../../runtime/proxy/proxy.js';
import { FileSource } from '../../runtime/sources/file-source.js';
import { ControllerSource } from '../../runtime/sources/controller-source.js';
import { jsonLogger } from '../../runtime/log.js';
import type { BundleSource } from '../../runtime/sources/source.js';

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
  --cache-dir DIR       keep the last good bundle here; start from it when the source has none
  --trust-key PEM       accept only bundles signed by this ed25519 public key
  --trust-peers CIDRS   peers allowed to assert a caller with weft-source (default 127.0.0.0/8,::1/128);
                        NOT cryptographic: any process at such an address can claim any Service
  --access-log          one JSON line per request on stdout

Addresses are HOST:PORT, [V6]:PORT or PORT; port 0 picks a free port (see the "listening" log line).
Logs are JSON lines on stderr. SIGTERM/SIGINT drain and exit 0.
Exit codes: 0 stopped cleanly, 2 usage or start-up error.`;

/** listenFlag is addressFlag with "off" for a listener that is not started. */
function listenFlag(flag: string, v: string, defaultHost: string): HostPort | null {
  return v === 'off' ? null : addressFlag(flag, v, defaultHost);
}

/**
 * selectSource picks where bundles come from: exactly one of --bundle or --controller.
 * (The controller issue plugs its ControllerSource in here.)
 */
export async function selectSource(values: { bundle?: string | undefined; controller?: string | undefined }, _service: { name: string; namespace: string }): Promise<BundleSource> {
  if (values.bundle !== undefined && values.controller !== undefined) throw new UsageError('give either --bundle or --controller, not both');
  if (values.bundle !== undefined) return new FileSource(values.bundle);
  if (values.controller !== undefined) {
    if (!URL.canParse(values.controller)) throw new UsageError(`--controller: "${values.controller}" is not a URL`);
    // The controller serves each Service its slice; a bare name means namespace default there.
    const service = _service.namespace === 'default' ? _service.name : `${_service.namespace}/${_service.name}`;
    return new ControllerSource({ url: values.controller, service, logger: jsonLogger() });
  }
  throw new UsageError('one of --bundle FILE or --controller URL is required');
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
      },
    });
    if (!values.service) throw new UsageError('--service NAME is required');
    const namespace = values.namespace ?? 'default';
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
    const source = await selectSource(values, { name: values.service, namespace });
    const logger = jsonLogger();
    let proxy;
    try {
      proxy = await startProxy({
        settings: { service: values.service, namespace, app, accessLog: values['access-log'] ?? false, bodyBufferLimit: 64 * 1024, mirrorConcurrency: 64 },
        outbound: listenFlag('--outbound', values.outbound ?? '127.0.0.1:15001', '127.0.0.1'),
        inbound,
        admin: listenFlag('--admin', values.admin ?? '127.0.0.1:15000', '127.0.0.1'),
        source,
        trustKey,
        trustPeers: values['trust-peers']?.flatMap((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
        cacheDir: values['cache-dir'] ?? null,
        logger,
      });
    } catch (err) {
      // startProxy has closed everything it opened: the process exits 2 with one line.
      if (err instanceof WeftError) throw new UsageError(`${err.code}: ${err.message}`);
      throw err;
    }
    const waiting = proxy.reloader.current() === null ? proxy.reloader.sourceProblem : null;
    logger.log('info', 'listening', { service: `${values.service}.${namespace}`, ...proxy.addresses, source: source.description, ready: proxy.reloader.current() !== null, ...(waiting ? { waiting: `${waiting.code}: ${waiting.reason}` } : {}) });
    const running = proxy;
    return new Promise<number>((resolve) => {
      const stop = (signal: NodeJS.Signals): void => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        logger.log('info', 'stopping', { signal });
        const force = setTimeout(() => {
          logger.log('warn', 'stopped before every connection closed', { afterMs: 10_000 });
          resolve(0);
        }, 10_000);
        force.unref();
        void running.close().then(() => {
          logger.log('info', 'stopped');
          resolve(0);
        });
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
  },
};
