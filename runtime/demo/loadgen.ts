/**
 * The demo's traffic generator: a steady, bounded, open-loop stream of GET /productpage to
 * productpage's sidecar inbound listener. Open loop (requests are sent on schedule, not after
 * the previous answer) so a slow mesh shows as latency and errors instead of quietly lowering
 * the rate; bounded by `maxInFlight` so a stuck mesh cannot pile up requests.
 */
import { Agent, request } from 'undici';
import { TrafficWindow } from './traffic.js';

/** LoadOptions: where to send, how fast. */
export interface LoadOptions {
  /** `http://127.0.0.1:PORT` of productpage's inbound listener. */
  target: string;
  /** Host header (the service name). */
  host: string;
  path: string;
  /** Requests per second (1..500). */
  rate: number;
  /** Requests in flight beyond this are not sent and count as errors. */
  maxInFlight?: number;
  timeoutMs?: number;
}

/** reviewsInstanceOf finds which reviews instance served a productpage answer, or null. */
export function reviewsInstanceOf(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const reviews = (body as { reviews?: unknown }).reviews;
  if (typeof reviews !== 'object' || reviews === null) return null;
  const instance = (reviews as { instance?: unknown }).instance;
  return typeof instance === 'string' ? instance : null;
}

/** LoadGenerator sends the traffic and counts what came back, per second, in `window`. */
export class LoadGenerator {
  readonly window = new TrafficWindow(180);
  /** The most recent failure, for the terminal view ("503 from productpage: ..."). */
  lastError: string | null = null;
  private readonly agent: Agent;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private sent = 0;
  private startedAt = 0;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly opts: LoadOptions) {
    this.agent = new Agent({ connections: 32, keepAliveTimeout: 10_000 });
  }

  /** start begins sending; ticks every 50 ms and sends what the schedule says is due. */
  start(): void {
    this.startedAt = Date.now();
    this.sent = 0;
    this.timer = setInterval(() => this.tick(), 50);
  }

  private tick(): void {
    const due = Math.floor(((Date.now() - this.startedAt) / 1000) * this.opts.rate) - this.sent;
    const max = this.opts.maxInFlight ?? Math.max(10, this.opts.rate * 2);
    for (let i = 0; i < due; i++) {
      this.sent++;
      if (this.inFlight >= max) {
        this.window.record(Date.now(), false, null);
        this.lastError = `more than ${max} requests in flight: the mesh is not answering`;
        continue;
      }
      const p = this.one();
      this.pending.add(p);
      void p.finally(() => this.pending.delete(p));
    }
  }

  private async one(): Promise<void> {
    this.inFlight++;
    try {
      const res = await request(this.opts.target + this.opts.path, {
        method: 'GET',
        headers: { host: this.opts.host, 'x-request-id': `weft-up-${this.sent}` },
        dispatcher: this.agent,
        headersTimeout: this.opts.timeoutMs ?? 10_000,
        bodyTimeout: this.opts.timeoutMs ?? 10_000,
      });
      const text = await res.body.text();
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        // A proxy error page: counted as an error below by its status.
      }
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      if (!ok) this.lastError = `${res.statusCode} from productpage: ${oneLine(body, text)}`;
      this.window.record(Date.now(), ok, ok ? reviewsInstanceOf(body) : null);
    } catch (err) {
      this.lastError = `productpage unreachable: ${err instanceof Error ? err.message : String(err)}`;
      this.window.record(Date.now(), false, null);
    } finally {
      this.inFlight--;
    }
  }

  /** stop sends nothing more, waits for the requests in flight, and closes connections. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.pending]);
    await this.agent.close();
  }
}

function oneLine(body: unknown, text: string): string {
  const err = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  const s = typeof err === 'string' ? err : text;
  return s.replace(/\s+/g, ' ').slice(0, 160);
}
