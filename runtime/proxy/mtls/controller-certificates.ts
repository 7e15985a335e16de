import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { request } from '../../undici.js';
import { writeFileAtomic } from '../../atomic-write.js';
import { isRuntimeCode, WeftError, type RuntimeCode } from '../../errors.js';
import { createCsr } from '../../identity/csr.js';
import { workloadId } from '../../identity/spiffe-id.js';
import { loadTrustBundle, type TrustBundle } from '../../identity/trust-bundle.js';
import { controllerDispatcher } from '../../sources/controller-tls.js';
import type { CertificateSource, CertificateStatus } from './certificate-source.js';
import { checkWorkloadCertificate, type WorkloadCertificate } from './workload-certificate.js';

/** ControllerCertificatesOptions: where the controller is, what to trust, who this proxy is. */
export interface ControllerCertificatesOptions {
  /** The controller's base URL, `https://HOST:PORT`. */
  readonly url: string;
  /** The mesh CA certificate(s), PEM (`--ca`): the controller and every peer must chain to it. */
  readonly caPem: string;
  /** Reads the join token (`--token` or `--token-file`); null when none was given. Read only when needed. */
  readonly token: (() => Promise<string>) | null;
  readonly service: string;
  readonly namespace: string;
  /** Key and certificate are kept here (`svid.pem`, mode 0600) so a restart needs no token. */
  readonly cacheDir: string | null;
  /** Jitter source in [0, 1). */
  readonly random?: () => number;
  /** Structured log lines (renewals, failures). */
  readonly log?: (event: Record<string, unknown>) => void;
  /** First retry delay after a failed bootstrap or renewal (doubles up to `maxRetryMs`). Default 1000 ms. */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
}

/**
 * SVID_FILE is kept in --cache-dir: the certificate chain, then the private key, in ONE file
 * written atomically, so a crash can never pair a new key with an old certificate.
 */
export const SVID_FILE = 'svid.pem';
const PEM_KEY = /-----BEGIN (?:EC )?PRIVATE KEY-----[\s\S]+?-----END (?:EC )?PRIVATE KEY-----\n?/;

/** CertificateResponse is the controller's answer to `POST /v1/certificates`. */
interface CertificateResponse {
  readonly certificate: string;
  readonly trustBundle?: string;
}

/**
 * ControllerCertificateSource gets the proxy's X.509-SVID from the controller (the mesh CA):
 * - start: a cached key and certificate (--cache-dir) that still verify and name this Service are
 *   used as they are; otherwise a fresh P-256 key is made here (it never leaves the proxy) and its
 *   CSR is sent with the join token. `start` resolves only with a certificate, so the proxy is not
 *   ready before it has one. An unreachable controller is retried with backoff; a refusal (a used
 *   or expired token) is final.
 * - renewal: at half the certificate's lifetime, minus up to a tenth of it as jitter (so proxies
 *   started together do not renew together), with a NEW key, over mTLS with the current
 *   certificate and no token; failures are retried with backoff while the certificate is valid.
 * The controller must present the controller identity (`spiffe://<td>/ns/weft-system/sa/
 * weft-controller`) chaining to --ca; the issued leaf must name this proxy's Service.
 */
export class ControllerCertificateSource implements CertificateSource {
  readonly description: string;
  private cert: WorkloadCertificate | null = null;
  private readonly listeners: ((c: WorkloadCertificate) => void)[] = [];
  private readonly bundle: TrustBundle;
  private readonly expected: string;
  private timer: NodeJS.Timeout | null = null;
  private renewAt: Date | null = null;
  private rotations = 0;
  private lastError: CertificateStatus['lastError'] = null;
  private stopped = false;
  private renewing: Promise<void> | null = null;
  private readonly base: URL;

  constructor(private readonly opts: ControllerCertificatesOptions) {
    this.base = new URL(opts.url);
    if (this.base.protocol !== 'https:') throw new WeftError('WEFT_ID_CONTROLLER_URL', `--controller must be https:// when certificates come from the controller (got ${opts.url})`, 500);
    this.bundle = loadTrustBundle(opts.caPem);
    this.expected = workloadId(this.bundle.trustDomain, opts.namespace, opts.service).uri;
    this.description = `controller:${this.base.origin}`;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const cached = await this.readCache();
    if (cached) {
      this.take(cached, false);
      return;
    }
    if (!this.opts.token) throw new WeftError('WEFT_ID_NO_TOKEN', `no certificate for ${this.expected} in --cache-dir, and no join token: give --token or --token-file (weft token create)`, 500);
    const token = (await this.opts.token()).trim();
    let delay = this.opts.retryMs ?? 1000;
    for (;;) {
      try {
        const c = await this.issue(token);
        this.take(c, false);
        return;
      } catch (err) {
        const e = asWeftError(err);
        this.fail(e);
        if (!isTransient(e) || this.stopped) throw e;
        this.opts.log?.({ event: 'certificate', state: 'retry', code: e.code, reason: e.message, retryInMs: delay });
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, this.opts.maxRetryMs ?? 10_000);
      }
    }
  }

  current(): WorkloadCertificate | null {
    return this.cert;
  }

  onRotate(listener: (c: WorkloadCertificate) => void): void {
    this.listeners.push(listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.renewing?.catch(() => {});
  }

  status(): CertificateStatus {
    const c = this.cert;
    return {
      source: this.description,
      spiffeId: c?.leaf.id.uri ?? null,
      serialNumber: c?.leaf.serialNumber ?? null,
      notAfter: c?.leaf.notAfter.toISOString() ?? null,
      renewAt: this.renewAt?.toISOString() ?? null,
      rotations: this.rotations,
      lastError: this.lastError,
    };
  }

  /** renewNow renews at once (tests; SIGHUP could call it). */
  renewNow(): Promise<void> {
    if (!this.renewing) {
      this.renewing = this.renew().finally(() => {
        this.renewing = null;
      });
    }
    return this.renewing;
  }

  private take(c: WorkloadCertificate, rotated: boolean): void {
    this.cert = c;
    this.lastError = null;
    this.rotations++;
    this.schedule(c);
    if (rotated) for (const l of this.listeners) l(c);
  }

  /**
   * schedule plans the renewal at half the lifetime, minus up to 10 % of it as jitter. The
   * lifetime counts from when the certificate was taken, not from notBefore: issuers backdate
   * notBefore for clock skew (30 s here), which would otherwise eat a short lifetime's first half.
   */
  private schedule(c: WorkloadCertificate, delayMs?: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const now = Date.now();
    const from = Math.max(c.leaf.notBefore.getTime(), now);
    const life = Math.max(c.leaf.notAfter.getTime() - from, 0);
    const at = delayMs !== undefined ? now + delayMs : Math.max(from + life / 2 - life * 0.1 * (this.opts.random ?? Math.random)(), now + 1_000);
    this.renewAt = new Date(at);
    this.timer = setTimeout(() => void this.renewNow(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private retryDelay = 0;

  private async renew(): Promise<void> {
    const cur = this.cert;
    if (!cur || this.stopped) return;
    try {
      const next = await this.issue(null, cur);
      this.retryDelay = 0;
      this.opts.log?.({ event: 'certificate', state: 'renewed', spiffeId: next.leaf.id.uri, serialNumber: next.leaf.serialNumber, notAfter: next.leaf.notAfter.toISOString() });
      this.take(next, true);
    } catch (err) {
      const e = asWeftError(err);
      this.fail(e);
      const left = cur.leaf.notAfter.getTime() - Date.now();
      this.retryDelay = Math.min(Math.max(this.retryDelay * 2, this.opts.retryMs ?? 1000), this.opts.maxRetryMs ?? 10_000, Math.max(left / 4, 100));
      this.opts.log?.({ event: 'certificate', state: 'renewal-failed', code: e.code, reason: e.message, retryInMs: Math.round(this.retryDelay), expiresInMs: left });
      this.schedule(cur, this.retryDelay);
    }
  }

  /** issue sends a CSR for a new key: with the token (bootstrap) or over mTLS with `current` (renewal). */
  private async issue(token: string | null, current?: WorkloadCertificate): Promise<WorkloadCertificate> {
    const { key, csrPem } = await createCsr(`${this.opts.service}.${this.opts.namespace}`);
    const ctx = current
      ? createSecureContext({ key: current.keyPem, cert: current.certPem, ca: this.bundle.pem, minVersion: 'TLSv1.2' })
      : createSecureContext({ ca: this.bundle.pem, minVersion: 'TLSv1.2' });
    const agent = controllerDispatcher(ctx, this.bundle.trustDomain);
    let body: CertificateResponse;
    try {
      const res = await request(new URL('/v1/certificates', this.base), {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(token !== null ? { csr: csrPem, tokenType: 'join_token', token } : { csr: csrPem }),
        headersTimeout: 15_000,
        bodyTimeout: 15_000,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) {
        let code: RuntimeCode = 'WEFT_ID_ISSUE';
        let message = text.slice(0, 300);
        try {
          const j = JSON.parse(text) as { error?: { code?: string; message?: string } };
          // Only a code of the one table is kept: a controller cannot invent codes for this proxy.
          if (isRuntimeCode(j.error?.code)) code = j.error.code;
          message = j.error?.message ?? message;
        } catch {
          // not JSON: keep the text
        }
        throw new WeftError(code, `the controller refused the certificate request (${res.statusCode}): ${message}`, res.statusCode);
      }
      body = JSON.parse(text) as CertificateResponse;
    } finally {
      await agent.close().catch(() => {});
    }
    if (typeof body.certificate !== 'string') throw new WeftError('WEFT_ID_ISSUE', 'the controller answered without a certificate', 502);
    // The trust bundle stays what --ca says: a controller cannot widen what this proxy trusts.
    const c = checkWorkloadCertificate({ key: key.privateKeyPem, cert: body.certificate, ca: this.bundle.pem }, { trustDomain: this.bundle.trustDomain, expect: this.expected });
    await this.writeCache(c);
    return c;
  }

  private async readCache(): Promise<WorkloadCertificate | null> {
    const dir = this.opts.cacheDir;
    if (!dir) return null;
    try {
      const text = await readFile(path.join(dir, SVID_FILE), 'utf8');
      const key = PEM_KEY.exec(text)?.[0] ?? '';
      return checkWorkloadCertificate({ key, cert: text.replace(PEM_KEY, ''), ca: this.bundle.pem }, { trustDomain: this.bundle.trustDomain, expect: this.expected });
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') this.opts.log?.({ event: 'certificate', state: 'cache-ignored', reason: (err as Error).message });
      return null;
    }
  }

  private async writeCache(c: WorkloadCertificate): Promise<void> {
    const dir = this.opts.cacheDir;
    if (!dir) return;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(path.join(dir, SVID_FILE), c.certPem + c.keyPem, 0o600);
    } catch (err) {
      this.opts.log?.({ event: 'certificate', state: 'cache-write-failed', reason: (err as Error).message });
    }
  }

  private fail(e: WeftError): void {
    this.lastError = { at: new Date().toISOString(), code: e.code, message: e.message };
  }
}

function asWeftError(err: unknown): WeftError {
  if (err instanceof WeftError) return err;
  const e = err as { code?: string; message?: string };
  const detail = e.code !== undefined && !isRuntimeCode(e.code) ? `${e.code}: ` : '';
  // OpenSSL's words for "this server's chain is not ours": most often --ca is another CA's.
  const hint = /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_SIGNATURE_FAILURE)$/.test(e.code ?? '')
    ? ' (the controller\'s certificate does not chain to --ca: give the ca.pem of the CA the controller runs with, its --ca-dir)'
    : '';
  return new WeftError(isRuntimeCode(e.code) ? e.code : 'WEFT_ID_ISSUE', `certificate request failed: ${detail}${e.message ?? String(err)}${hint}`, 503);
}

/** isTransient: worth retrying (the controller is down or busy), as opposed to a refusal. */
function isTransient(e: WeftError): boolean {
  return e.status >= 500 || e.status === 429 || e.status === 408;
}
