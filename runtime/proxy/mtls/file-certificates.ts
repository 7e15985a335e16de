import { MAX_PEM_FILE_BYTES, readFileBounded } from '../../bounded-read.js';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { WeftError } from '../../errors.js';
import type { CertificateSource, CertificateStatus } from './certificate-source.js';
import { checkWorkloadCertificate, type WorkloadCertificate } from './workload-certificate.js';

/** FileCertificatesOptions name the three PEM files and tune watching (tests shorten the delays). */
export interface FileCertificatesOptions {
  readonly cert: string;
  readonly key: string;
  /** The trust bundle: the CA certificate(s) peers' certificates must chain to. */
  readonly ca: string;
  /** Trust domain when the CA certificate does not name one (cert-manager, Vault). */
  readonly trustDomain?: string;
  /** The SPIFFE ID the certificate must name (this proxy's Service); a set naming another is not taken. */
  readonly expect?: string;
  /** Coalesce a burst of writes (cert-manager writes the files one after another). Default 100 ms. */
  readonly debounceMs?: number;
  /** Re-read this often even without an event (symlink swaps, NFS). Default 2000 ms; 0 disables. */
  readonly pollMs?: number;
}

/**
 * FileCertificateSource reads a certificate, key and trust bundle written by something else
 * (SPIRE's helper, cert-manager's CSI driver or Secret volume, Vault agent) and reloads them when
 * they change. It watches the files' directories, not the files: these tools replace files by
 * rename or by swapping a `..data` symlink (chokidar reports no event for that swap, so a periodic
 * re-read, `pollMs`, is what catches it). The three files are re-read together; a set that does
 * not pass the mesh's checks (a key that does not match a new certificate while the writer is
 * half-way, an expired or foreign certificate) is not taken: the current certificate stays and
 * the reason is kept in `status().lastError`. A later consistent set is taken.
 */
export class FileCertificateSource implements CertificateSource {
  readonly description: string;
  private cert: WorkloadCertificate | null = null;
  private lastText = '';
  private readonly listeners: ((c: WorkloadCertificate) => void)[] = [];
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private poller: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private rotations = 0;
  private lastError: CertificateStatus['lastError'] = null;
  private readonly files: { cert: string; key: string; ca: string };

  constructor(private readonly opts: FileCertificatesOptions) {
    this.files = { cert: path.resolve(opts.cert), key: path.resolve(opts.key), ca: path.resolve(opts.ca) };
    this.description = `files:${this.files.cert}`;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.load(true);
    const dirs = [...new Set(Object.values(this.files).map((f) => path.dirname(f)))];
    const w = watch(dirs, { depth: 0, ignoreInitial: true, persistent: true });
    this.watcher = w;
    w.on('all', () => this.schedule());
    w.on('error', () => this.schedule());
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    const pollMs = this.opts.pollMs ?? 2000;
    if (pollMs > 0) {
      this.poller = setInterval(() => this.enqueue(), pollMs);
      this.poller.unref();
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
    if (this.poller) clearInterval(this.poller);
    const w = this.watcher;
    this.watcher = null;
    if (w) await w.close();
    await this.chain;
  }

  status(): CertificateStatus {
    const c = this.cert;
    return {
      source: this.description,
      spiffeId: c?.leaf.id.uri ?? null,
      serialNumber: c?.leaf.serialNumber ?? null,
      notAfter: c?.leaf.notAfter.toISOString() ?? null,
      renewAt: null,
      rotations: this.rotations,
      lastError: this.lastError,
    };
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.enqueue();
    }, this.opts.debounceMs ?? 100);
  }

  private enqueue(): void {
    this.chain = this.chain.then(() => this.load(false)).catch(() => {});
  }

  /** load reads the three files; on the first load a failure is thrown, later it is recorded. */
  private async load(first: boolean): Promise<void> {
    if (this.stopped) return;
    let pem: { key: string; cert: string; ca: string };
    try {
      // Bounded, regular files only: a FIFO or /dev/zero swapped in must not hang or fill the proxy.
      const [cert, key, ca] = await Promise.all([this.files.cert, this.files.key, this.files.ca].map(async (f) => (await readFileBounded(f, MAX_PEM_FILE_BYTES)).toString('utf8')));
      pem = { cert: cert!, key: key!, ca: ca! };
    } catch (err) {
      const e = new WeftError('WEFT_ID_CERT_FILES', `cannot read the certificate files: ${(err as Error).message}`, 500);
      if (first) throw e;
      return this.fail(e);
    }
    const text = `${pem.cert}\0${pem.key}\0${pem.ca}`;
    if (!first && text === this.lastText) return;
    let next: WorkloadCertificate;
    try {
      next = checkWorkloadCertificate(pem, { ...(this.opts.trustDomain !== undefined ? { trustDomain: this.opts.trustDomain } : {}), ...(this.opts.expect !== undefined ? { expect: this.opts.expect } : {}) });
    } catch (err) {
      const e = err instanceof WeftError ? err : new WeftError('WEFT_ID_CERT', String(err), 500);
      if (first) throw new WeftError(e.code, `${this.files.cert}: ${e.message}`, 500);
      return this.fail(e);
    }
    this.lastText = text;
    this.lastError = null;
    this.cert = next;
    this.rotations++;
    if (!first) for (const l of this.listeners) l(next);
  }

  private fail(e: WeftError): void {
    this.lastError = { at: new Date().toISOString(), code: e.code, message: e.message };
  }
}
