/** weft controller: watch a repository, compile each new commit, serve bundles to proxies. */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../cli.js';
import { UsageError, durationFlag, addressFlag, parseFlags } from '../cli.js';
import { formatHostPort } from '../../runtime/address.js';
import { readSigningKey } from '../signing-keys.js';
import { Controller } from '../../runtime/controller/controller.js';
import { ControllerError } from '../../runtime/controller/errors.js';
import { jsonLogger } from '../../runtime/log.js';
import { isRemoteRepo } from '../../runtime/controller/repository.js';
import { ControllerServer, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_UNAUTHENTICATED } from '../../runtime/controller/server.js';
import { dashboardHostCheck } from '../../runtime/host-check.js';
import { DASHBOARD_LISTENER_ROUTES, MTLS_ROUTES, ROUTES } from '../../runtime/controller/routes.js';
import { Issuer, servingNames } from '../../runtime/controller/issuer.js';
import { JoinTokenAttestor } from '../../runtime/controller/join-token-attestor.js';
import { TokenLedger } from '../../runtime/controller/token-ledger.js';
import { loadCaDir } from '../../runtime/identity/ca.js';
import { IdentityError } from '../../runtime/identity/errors.js';

const help = `weft controller: watch a policy repository, compile every new commit, serve the bundle.

Usage: weft controller --repo PATH|URL [options]

  --repo PATH|URL        a local git checkout (watched) or a URL (cloned, fetched)
  --branch B             branch to compile (default: the checked-out branch, or the remote's default)
  --path DIR             compile only this folder of the repository
  --listen ADDR          address to serve on (default 0.0.0.0:15010; port 0 picks one)
  --store DIR            bundle store and clone cache (default .weft/store under the current directory)
  --out FILE             also write the current bundle to FILE, atomically
  --poll DURATION        fetch interval for a URL (default 30s); safety-net re-read for a path (default 10s)
  --sign-key PEM         sign bundles with this ed25519 private key (weft keygen makes one)
  --webhook-secret S     require X-Hub-Signature-256 on POST /v1/hooks/git (or env WEFT_WEBHOOK_SECRET);
                         with --ca-dir the webhook is off without it
  --ca-dir DIR           be the mesh CA (weft ca init): issue workload certificates, serve TLS with
                         this controller's own certificate, require client certificates of proxies
  --cert-ttl DURATION    lifetime of issued certificates (default 24h; proxies renew at half of it)
  --san NAME             another DNS name or IP for the controller's certificate (repeatable);
                         the listen address (every local address for 0.0.0.0) is always in it
  --dashboard ADDR       plain-HTTP, read-only listener for people and tools: the dashboard,
                         GET /v1/status, /metrics, /healthz (default 127.0.0.1:15014; "off": none)
  --dashboard-host NAME  another name the dashboard listener answers to (repeatable; *.example.com
                         for a domain): it answers only Host values naming this machine (IP
                         addresses, localhost, the host name), against DNS rebinding
  --max-connections N    open connections the main listener holds at most (default 10000; the
                         dashboard listener holds 256); past it new ones are closed at once
  --max-unauthenticated-connections N
                         of those, connections without a valid client certificate (bootstrap,
                         probes) at most (default 256, or --max-connections if less; with --ca-dir): each gets one request,
                         10 s idle, so they cannot take the places proxies need
  --insecure             run without --ca-dir: plain HTTP, and anyone who can reach the controller
                         may fetch bundles, report status and register (local development only)
  --max-wait DURATION    longest long-poll honoured (default 60s)
  --whole-bundles        serve every proxy the whole bundle instead of its Service's slice
                         (docs/scale.md); the demo mesh uses it so all proxies share one digest
  --debounce DURATION    quiet time after a change before compiling (default 15ms)
  --lease DURATION       registration lease of an instance (default 15s; proxies heartbeat every third)
  --debug                debug log lines

With --ca-dir the main listener (TLS) serves GET /v1/bundle, POST /v1/status (client certificate
required), POST /v1/certificates (join token or current certificate), POST /v1/hooks/git,
/healthz, /readyz, PUT|DELETE /v1/endpoints/self, GET /v1/endpoints (docs/discovery.md);
with --insecure it serves everything over plain HTTP. docs/protocol.md,
docs/identity.md. Logs JSON lines on stderr. SIGINT/SIGTERM stop it.

Exit codes: 0 stopped by a signal, 2 usage error or the repository cannot be opened.`;

export const command: Command = {
  summary: 'watch a repository, compile each commit, serve bundles to proxies',
  help,
  async run(argv) {
    const { values } = parseFlags('weft controller', {
      args: argv,
      options: {
        repo: { type: 'string' },
        branch: { type: 'string' },
        path: { type: 'string' },
        listen: { type: 'string', default: '0.0.0.0:15010' },
        store: { type: 'string', default: path.join('.weft', 'store') },
        out: { type: 'string' },
        poll: { type: 'string' },
        'sign-key': { type: 'string' },
        'webhook-secret': { type: 'string' },
        'max-wait': { type: 'string', default: '60s' },
        debounce: { type: 'string', default: '15ms' },
        'ca-dir': { type: 'string' },
        'cert-ttl': { type: 'string' },
        san: { type: 'string', multiple: true, default: [] },
        dashboard: { type: 'string', default: '127.0.0.1:15014' },
        'dashboard-host': { type: 'string', multiple: true, default: [] },
        'max-connections': { type: 'string', default: String(DEFAULT_MAX_CONNECTIONS) },
        'max-unauthenticated-connections': { type: 'string' },
        insecure: { type: 'boolean', default: false },
        lease: { type: 'string', default: '15s' },
        debug: { type: 'boolean', default: false },
        'whole-bundles': { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (!values.repo) throw new UsageError('--repo PATH|URL is required');
    const listen = addressFlag('--listen', values.listen ?? '0.0.0.0:15010', '0.0.0.0');
    const remote = isRemoteRepo(values.repo);
    const pollMs = durationFlag('--poll', values.poll ?? (remote ? '30s' : '10s'));
    if (pollMs < 100) throw new UsageError('--poll must be at least 100ms');
    const maxWaitMs = durationFlag('--max-wait', values['max-wait']);
    const debounceMs = durationFlag('--debounce', values.debounce);
    const leaseMs = durationFlag('--lease', values.lease);
    if (leaseMs < 300) throw new UsageError('--lease must be at least 300ms');
    let signKey: string | undefined;
    if (values['sign-key']) signKey = readSigningKey('--sign-key', values['sign-key']);
    const webhookSecret = values['webhook-secret'] ?? process.env.WEFT_WEBHOOK_SECRET;
    if (!values['ca-dir'] && !values.insecure) {
      throw new UsageError('no identity: give --ca-dir DIR (weft ca init makes one), or --insecure to run without mTLS (local development only)');
    }
    if (values['ca-dir'] && values.insecure) throw new UsageError('--insecure and --ca-dir contradict each other; give one');
    // Certificate flags without a CA would be silently ignored: say so instead.
    if (!values['ca-dir'] && (values['cert-ttl'] !== undefined || (values.san ?? []).length > 0)) throw new UsageError(`${values['cert-ttl'] !== undefined ? '--cert-ttl' : '--san'} needs --ca-dir: without a CA the controller issues no certificates`);
    if (values.out) outFileProblem(values.out);
    const certTtlMs = durationFlag('--cert-ttl', values['cert-ttl'] ?? '24h');
    if (certTtlMs < 10_000) throw new UsageError('--cert-ttl must be at least 10s');
    const dashboard = values.dashboard === 'off' ? null : addressFlag('--dashboard', values.dashboard ?? '127.0.0.1:15014', '127.0.0.1');
    const maxConnections = Number(values['max-connections']);
    if (!/^[1-9][0-9]*$/.test(values['max-connections'] ?? '') || maxConnections > 1_000_000) throw new UsageError('--max-connections must be a whole number from 1 to 1000000');
    const unauthenticatedFlag = values['max-unauthenticated-connections'];
    const maxUnauthenticated = unauthenticatedFlag === undefined ? Math.min(DEFAULT_MAX_UNAUTHENTICATED, maxConnections) : Number(unauthenticatedFlag);
    if ((unauthenticatedFlag !== undefined && !/^[1-9][0-9]*$/.test(unauthenticatedFlag)) || maxUnauthenticated > maxConnections) throw new UsageError(`--max-unauthenticated-connections must be a whole number from 1 to --max-connections (${maxConnections})`);
    const dashboardHosts = (values['dashboard-host'] ?? []).flatMap((v) => v.split(',').map((n) => n.trim()).filter(Boolean));
    for (const n of dashboardHosts) if (!/^(\*\.)?[A-Za-z0-9]([-A-Za-z0-9.]{0,251}[A-Za-z0-9])?$/.test(n)) throw new UsageError(`--dashboard-host ${n}: expected a DNS name, or *.DOMAIN`);
    const logger = jsonLogger({ debug: values.debug });
    const storeDir = path.resolve(values.store);
    let issuer: Issuer | undefined;
    if (values['ca-dir']) {
      try {
        const ca = await loadCaDir(path.resolve(values['ca-dir']));
        issuer = new Issuer(ca, [new JoinTokenAttestor(ca, new TokenLedger(storeDir))], certTtlMs);
      } catch (err) {
        if (err instanceof IdentityError) throw new UsageError(`--ca-dir ${values['ca-dir']}: ${err.message}`);
        throw err;
      }
    } else {
      logger.log('warn', 'INSECURE: no --ca-dir; plain HTTP, no client certificates: anyone who can reach this controller can fetch any bundle, report any proxy\'s status and register instances', { insecure: true });
    }
    let ctl: Controller;
    try {
      ctl = new Controller({
        repo: values.repo,
        ...(values.branch ? { branch: values.branch } : {}),
        ...(values.path ? { path: values.path } : {}),
        storeDir,
        // No issuer is --insecure: every route trusts its request (said loudly above).
        ...(issuer ? { issuer } : {}),
        ...(values.out ? { outFile: path.resolve(values.out) } : {}),
        pollMs,
        maxWaitMs,
        ...(values['whole-bundles'] ? { slices: false } : {}),
        debounceMs,
        leaseMs,
        heartbeatMs: Math.floor(leaseMs / 3),
        ...(signKey ? { signKey } : {}),
        ...(webhookSecret ? { webhookSecret } : {}),
        logger,
      });
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    let server: ControllerServer;
    let rotation: NodeJS.Timeout | null = null;
    if (issuer) {
      const names = servingNames(listen.host, values.san ?? []);
      const first = await issuer.serverCredentials(names);
      server = new ControllerServer(ctl, MTLS_ROUTES, { credentials: first.options, bundle: issuer.trustBundle }, { listener: 'main', maxConnections, maxUnauthenticated });
      logger.log('info', 'serving certificate', { spiffeId: first.leaf.id.uri, dns: names.dns, ips: names.ips, notAfter: first.leaf.notAfter.toISOString() });
      // The controller renews its own certificate at half its lifetime; open connections keep theirs.
      const renew = (): void => {
        rotation = setTimeout(() => {
          void issuer!.serverCredentials(names).then(
            (next) => {
              server.setCredentials(next.options);
              logger.log('info', 'serving certificate renewed', { serial: next.leaf.serialNumber, notAfter: next.leaf.notAfter.toISOString() });
              renew();
            },
            (err: unknown) => {
              logger.log('error', 'cannot renew the serving certificate', { error: err instanceof Error ? err.message : String(err) });
              renew();
            },
          );
        }, Math.min(issuer!.certTtlMs / 2, 2 ** 31 - 1));
        rotation.unref();
      };
      renew();
    } else {
      server = new ControllerServer(ctl, ROUTES, undefined, { listener: 'main', maxConnections });
    }
    const dash = dashboard ? new ControllerServer(ctl, DASHBOARD_LISTENER_ROUTES, undefined, { listener: 'dashboard', maxConnections: 256, hostCheck: dashboardHostCheck(dashboardHosts) }) : null;
    const closeAll = (): Promise<unknown> => {
      if (rotation) clearTimeout(rotation);
      return Promise.allSettled([ctl.close(), server.close(), dash?.close()]);
    };
    try {
      // Everything that can be wrong with the flags (the store, the repository, the branch) is
      // found before the controller says it is listening: a supervisor or a person reading the
      // log never sees "listening" from a controller that is about to exit.
      await ctl.loadStored();
      await ctl.start();
      const addr = await server.listen(listen.host, listen.port);
      const d = dash && dashboard
        ? await dash.listen(dashboard.host, dashboard.port).catch((err: unknown) => {
            throw new UsageError(`--dashboard ${formatHostPort(dashboard)}: ${err instanceof Error ? err.message.replace(/^cannot listen on \S+: /, '') : String(err)} (give another address, or --dashboard off)`);
          })
        : null;
      const scheme = issuer ? 'https' : 'http';
      logger.log('info', 'listening', { address: `${scheme}://${formatHostPort({ host: addr.address, port: addr.port })}`, port: addr.port, mode: issuer ? 'mtls' : 'insecure', ...(issuer ? { trustDomain: issuer.trustDomain } : {}) });
      if (d) logger.log('info', 'dashboard listening', { address: `http://${formatHostPort({ host: d.address, port: d.port })}`, port: d.port });
    } catch (err) {
      await closeAll();
      if (err instanceof UsageError) throw err;
      if (err instanceof ControllerError) throw new UsageError(startupProblem(err, values.repo, values.store, formatHostPort(listen)));
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UsageError(`the address is in use (another controller, or another program, listens there): ${(err as Error).message}`);
      if ((err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') throw new UsageError(`this machine has no such address: ${(err as Error).message}`);
      throw err;
    }
    return new Promise<number>((resolve) => {
      const stop = (signal: string): void => {
        logger.log('info', 'stopping', { signal });
        void closeAll().then(() => resolve(0));
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
  },
};

/**
 * startupProblem phrases a start-up failure for the person who typed the flags: which flag,
 * what is wrong, what to do. The controller's internal codes (WEFT_CTL_*) stay in its logs.
 */
function startupProblem(err: ControllerError, repo: string, store: string, listen: string): string {
  const why = err.message;
  if (err.code === 'WEFT_CTL_LISTEN') {
    // The hint follows the cause: only EADDRINUSE means someone else listens there.
    const cause = why.replace(/^cannot listen on \S+: /, '');
    const hint = /ENOTFOUND|EAI_AGAIN/.test(why)
      ? 'no such host name: give an IP address or a name this machine resolves'
      : /EADDRNOTAVAIL/.test(why)
        ? 'this machine has no such address'
        : /EACCES/.test(why)
          ? 'ports below 1024 need privileges'
          : 'another controller, or another program, listens there';
    return `--listen ${listen}: ${cause} (${hint}: give another --listen)`;
  }
  if (err.code === 'WEFT_CTL_STORE') return `--store ${store}: ${why.replace(/^cannot /, 'cannot ')} (give a writable folder)`;
  if (err.code !== 'WEFT_CTL_REPO') return why;
  if (/ENOENT/.test(why)) return `--repo ${repo}: no such folder (give the path of a git working tree, or a URL to clone)`;
  if (/not a directory/.test(why)) return `--repo ${repo}: not a folder (give the path of a git working tree, or a URL to clone)`;
  if (/not a git repository/i.test(why)) return `--repo ${repo}: not a git repository (run git init there, or give a clone's path or a URL)`;
  if (/bare repositories/.test(why)) return `--repo ${repo}: a bare repository; give the path of a working tree (git clone it) or its URL`;
  if (/^branch /.test(why)) return `--branch: ${why} in ${repo}`;
  if (/cannot resolve/.test(why)) return `--repo ${repo}: ${why} (check --branch: the branch must exist in the repository)`;
  return `--repo ${repo}: ${why}`;
}

/**
 * outFileProblem refuses an --out that can never be written: a folder, or a file below a path
 * that is a file. Missing folders are fine: the controller creates them at the first write, as
 * it always has. Found at start-up; otherwise every compile would log the same failure.
 */
function outFileProblem(out: string): void {
  const file = path.resolve(out);
  const isDir = (p: string): boolean | null => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return null;
    }
  };
  if (isDir(file) === true) throw new UsageError(`--out ${out}: is a folder; give the path of a file to write the bundle to`);
  let dir = path.dirname(file);
  while (isDir(dir) === null && path.dirname(dir) !== dir) dir = path.dirname(dir);
  if (isDir(dir) === false) throw new UsageError(`--out ${out}: ${dir} is a file, not a folder`);
}
