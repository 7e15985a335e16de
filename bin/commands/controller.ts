/** weft controller: watch a repository, compile each new commit, serve bundles to proxies. */
import path from 'node:path';
import type { Command } from '../cli.js';
import { UsageError, durationFlag, addressFlag, parseFlags } from '../cli.js';
import { formatHostPort } from '../../runtime/address.js';
import { readSigningKey } from '../signing-keys.js';
import { Controller } from '../../runtime/controller/controller.js';
import { ControllerError } from '../../runtime/controller/errors.js';
import { jsonLogger } from '../../runtime/log.js';
import { isRemoteRepo } from '../../runtime/controller/repository.js';
import { ControllerServer } from '../../runtime/controller/server.js';

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
  --webhook-secret S     require X-Hub-Signature-256 on POST /v1/hooks/git (or env WEFT_WEBHOOK_SECRET)
  --max-wait DURATION    longest long-poll honoured (default 60s)
  --debounce DURATION    quiet time after a change before compiling (default 15ms)
  --debug                debug log lines

Serves GET /v1/bundle, POST|GET /v1/status, POST /v1/hooks/git, /metrics, /healthz, /readyz
(docs/protocol.md). Logs JSON lines on stderr. SIGINT/SIGTERM stop it.

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
        debug: { type: 'boolean', default: false },
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
    let signKey: string | undefined;
    if (values['sign-key']) signKey = readSigningKey('--sign-key', values['sign-key']);
    const webhookSecret = values['webhook-secret'] ?? process.env.WEFT_WEBHOOK_SECRET;
    const logger = jsonLogger({ debug: values.debug });
    let ctl: Controller;
    try {
      ctl = new Controller({
        repo: values.repo,
        ...(values.branch ? { branch: values.branch } : {}),
        ...(values.path ? { path: values.path } : {}),
        storeDir: path.resolve(values.store),
        ...(values.out ? { outFile: path.resolve(values.out) } : {}),
        pollMs,
        maxWaitMs,
        debounceMs,
        ...(signKey ? { signKey } : {}),
        ...(webhookSecret ? { webhookSecret } : {}),
        logger,
      });
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    const server = new ControllerServer(ctl);
    try {
      await ctl.loadStored();
      const addr = await server.listen(listen.host, listen.port);
      logger.log('info', 'listening', { address: `http://${formatHostPort({ host: addr.address, port: addr.port })}`, port: addr.port });
      await ctl.start();
    } catch (err) {
      await Promise.allSettled([ctl.close(), server.close()]);
      if (err instanceof ControllerError) throw new UsageError(`${err.code}: ${err.message}`);
      throw err;
    }
    return new Promise<number>((resolve) => {
      const stop = (signal: string): void => {
        logger.log('info', 'stopping', { signal });
        void Promise.allSettled([ctl.close(), server.close()]).then(() => resolve(0));
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
  },
};

