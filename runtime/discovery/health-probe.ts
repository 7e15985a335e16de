import { request } from '../undici.js';

/** HealthProbeOptions: what to probe, how often, and the thresholds (Kubernetes' readiness-probe terms). */
export interface HealthProbeOptions {
  /** Full URL of the app's health endpoint, e.g. `http://127.0.0.1:8080/healthz`. */
  url: string;
  /** Period between probes (default 1000 ms) and per-probe timeout (default 1000 ms). */
  periodMs?: number;
  timeoutMs?: number;
  /** Consecutive failures before not-ready (default 2); successes before ready again (default 1). */
  failureThreshold?: number;
  successThreshold?: number;
}

/**
 * HealthProbe asks the local app whether it can take traffic: an HTTP GET whose status is 2xx or
 * 3xx is a success; anything else, a timeout or a refused connection is a failure. It starts
 * not-ready and becomes ready after `successThreshold` successes; `onChange` hears each flip.
 */
export class HealthProbe {
  ready = false;
  private timer: NodeJS.Timeout | null = null;
  private successes = 0;
  private failures = 0;
  private readonly periodMs: number;
  private readonly timeoutMs: number;
  private readonly failureThreshold: number;
  private readonly successThreshold: number;
  private stopped = false;

  constructor(
    private readonly options: HealthProbeOptions,
    private readonly onChange: (ready: boolean) => void,
  ) {
    this.periodMs = options.periodMs ?? 1000;
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.failureThreshold = options.failureThreshold ?? 2;
    this.successThreshold = options.successThreshold ?? 1;
  }

  /** start probes once now (resolving after it) and then every period. */
  async start(): Promise<void> {
    await this.probe();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** probe runs one check and updates readiness. */
  async probe(): Promise<boolean> {
    let ok = false;
    try {
      const res = await request(this.options.url, { method: 'GET', headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, signal: AbortSignal.timeout(this.timeoutMs) });
      await res.body.dump();
      ok = res.statusCode >= 200 && res.statusCode < 400;
    } catch {
      ok = false;
    }
    if (ok) {
      this.failures = 0;
      this.successes++;
      if (!this.ready && this.successes >= this.successThreshold) this.flip(true);
    } else {
      this.successes = 0;
      this.failures++;
      // The first probe decides at once: an app that is down at start is not ready.
      if (this.ready && this.failures >= this.failureThreshold) this.flip(false);
    }
    return ok;
  }

  private flip(ready: boolean): void {
    this.ready = ready;
    this.onChange(ready);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.probe().finally(() => this.schedule());
    }, this.periodMs);
    this.timer.unref();
  }
}
