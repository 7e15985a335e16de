import type { Dispatcher } from 'undici';
import { request } from '../undici.js';
import { messageOf } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { HEARTBEAT_MS, type RegistrationRequest, type RegistrationResponse } from './protocol.js';

/** RegistrationOptions: the controller, this instance, and how to tell whether it is ready. */
export interface RegistrationOptions {
  url: string;
  dispatcher?: () => { dispatcher?: Dispatcher };
  /** The proxy id (`<service>@<host>:<pid>`). */
  instance: string;
  /** What callers connect to: this proxy's inbound listener as they reach it. */
  advertise: { address: string; port: number };
  labels: Record<string, string>;
  /** Sent for a controller in --insecure mode; one with identity on takes them from the certificate. */
  service: string;
  namespace: string;
  /** Readiness now (a bundle is active, the app's health probe passes). */
  ready: () => boolean;
  logger?: Logger;
}

/**
 * Registration keeps this instance registered with the controller: `PUT /v1/endpoints/self`
 * now, then every heartbeat the controller asks for (HEARTBEAT_MS by default), and at once when
 * readiness flips. A failed heartbeat is retried at a quarter period, so a restarted controller
 * hears of the instance well within its warming lease. `deregister()` stops the heartbeats and
 * sends `DELETE /v1/endpoints/self` (SIGTERM, before draining).
 */
export class Registration {
  private heartbeatMs = HEARTBEAT_MS;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private inFlight: Promise<void> | null = null;
  private again = false;
  private failures = 0;
  private leaving: Promise<void> | null = null;
  /** Set once the controller accepted a registration (tests, /config). */
  registered = false;
  private readonly base: URL;
  private readonly log: Logger;

  constructor(private readonly options: RegistrationOptions) {
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.log = options.logger ?? silentLogger;
  }

  /** start registers now (resolving once the first attempt ended, whatever its outcome) and keeps heartbeating. */
  async start(): Promise<void> {
    await this.beat();
  }

  /** readinessChanged renews at once, so callers stop (or resume) sending within one round-trip. */
  readinessChanged(): void {
    void this.beat();
  }

  /** deregister stops heartbeating and removes the registration; resolves when the controller answered (or could not). */
  deregister(): Promise<void> {
    return (this.leaving ??= this.leave());
  }

  private async leave(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight?.catch(() => undefined);
    try {
      const res = await request(new URL('v1/endpoints/self', this.base), {
        method: 'DELETE',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ service: this.options.service, namespace: this.options.namespace, ...this.options.advertise }),
        headersTimeout: 3000,
        bodyTimeout: 3000,
        ...(this.options.dispatcher?.() ?? {}),
      });
      await res.body.dump();
      this.registered = false;
    } catch (err) {
      // The lease expires by itself; callers learn a little later.
      this.log.log('warn', 'deregistration failed; the lease will expire', { error: messageOf(err) });
    }
  }

  private beat(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    if (this.timer) clearTimeout(this.timer);
    this.inFlight = this.put().finally(() => {
      this.inFlight = null;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        void this.beat();
        return;
      }
      const next = this.failures > 0 ? Math.max(250, this.heartbeatMs / 4) : this.heartbeatMs;
      this.timer = setTimeout(() => void this.beat(), next);
      this.timer.unref();
    });
    return this.inFlight;
  }

  private async put(): Promise<void> {
    const body: RegistrationRequest = {
      instance: this.options.instance,
      address: this.options.advertise.address,
      port: this.options.advertise.port,
      labels: this.options.labels,
      ready: this.options.ready(),
      service: this.options.service,
      namespace: this.options.namespace,
    };
    try {
      const res = await request(new URL('v1/endpoints/self', this.base), {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        headersTimeout: 5000,
        bodyTimeout: 5000,
        ...(this.options.dispatcher?.() ?? {}),
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`PUT /v1/endpoints/self answered ${res.statusCode}: ${text.slice(0, 200)}`);
      const answer = JSON.parse(text) as RegistrationResponse;
      if (Number.isFinite(answer.heartbeatMs) && answer.heartbeatMs >= 100) this.heartbeatMs = answer.heartbeatMs;
      if (!this.registered || this.failures > 0) this.log.log('info', 'registered', { service: answer.service, address: `${body.address}:${body.port}`, ready: body.ready, leaseMs: answer.leaseMs });
      this.registered = true;
      this.failures = 0;
    } catch (err) {
      this.failures++;
      this.log.log(this.failures === 1 ? 'warn' : 'debug', 'registration failed; retrying', { error: messageOf(err), failures: this.failures });
    }
  }
}
