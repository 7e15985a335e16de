import { EventEmitter } from 'node:events';
import type { Headers } from '../policy/headers.js';

/**
 * BodySink is where an upstream body goes: the client's response (node:http's ServerResponse or
 * node:http2's compatibility response; both have these members).
 */
export interface BodySink {
  write(chunk: Buffer): boolean;
  end(): void;
  addTrailers(headers: Headers): void;
  once(event: 'drain', fn: () => void): unknown;
  destroy(): void;
}

/**
 * BodyControl is what an UpstreamBody needs of the upstream request: undici's
 * DispatchController for HTTP/1.1, a small adapter over the stream for HTTP/2 (forward-h2.ts).
 */
export interface BodyControl {
  pause(): void;
  resume(): void;
  /** abort cancels the upstream request (HTTP/2: RST_STREAM CANCEL); `aborted` is then true. */
  abort(reason: Error): void;
  readonly aborted: boolean;
}

/** PAUSE_BUFFERED_BYTES: chunks kept before the body has a sink; past this, undici is paused. */
const PAUSE_BUFFERED_BYTES = 64 * 1024;

/**
 * UpstreamBody is an upstream response body as undici's dispatch handler (HTTP/1.1) or an HTTP/2
 * stream's 'data' events (forward-h2.ts) deliver it, written straight to the client's response
 * once the listener attaches it (`sendTo`): no
 * Readable, no pipe, no per-chunk events. Backpressure is undici's own: a `write` that returns
 * false pauses the upstream connection until the response drains. Chunks that arrive before the
 * reply is written (undici delivers the first chunk with the head) are kept, up to 64 KiB before
 * pausing.
 *
 * It keeps the parts of the Readable contract the pipeline uses: `destroy(err)` (aborts the
 * upstream request unless the body already ended), `destroyed`, `readableEnded`, `trailers`, the
 * `end` / `close` / `error` events (emitted only when someone listens), `dump({limit})` for a
 * discarded reply, and `whenDone(fn)`, the cheap form of "end, close or error" for slot holders.
 */
export class UpstreamBody {
  /** The response trailers (chunked HTTP/1.1), set at the end; sent on with the body. */
  trailers: Headers | null = null;
  /** True once the whole body was delivered to its sink (or dumped). */
  readableEnded = false;
  destroyed = false;
  /** True once undici has delivered the last byte. */
  private upstreamEnded = false;
  private sink: BodySink | null = null;
  private kept: Buffer[] | null = null;
  private keptBytes = 0;
  private dumping: { limit: number; seen: number } | null = null;
  private done: (() => void)[] | null = null;
  private readonly onDrain = (): void => {
    if (!this.destroyed) this.ctrl.resume();
  };

  /** Listeners of `end` / `close` / `error`, made on the first on()/once() (most bodies get none). */
  private emitter: EventEmitter | null = null;

  constructor(private readonly ctrl: BodyControl) {}

  on(event: 'end' | 'close' | 'error', fn: (...args: unknown[]) => void): this {
    (this.emitter ??= new EventEmitter()).on(event, fn);
    return this;
  }

  once(event: 'end' | 'close' | 'error', fn: (...args: unknown[]) => void): this {
    (this.emitter ??= new EventEmitter()).once(event, fn);
    return this;
  }

  off(event: 'end' | 'close' | 'error', fn: (...args: unknown[]) => void): this {
    this.emitter?.off(event, fn);
    return this;
  }

  private emit(event: 'end' | 'close' | 'error', arg?: unknown): void {
    const e = this.emitter;
    if (e !== null && e.listenerCount(event) > 0) e.emit(event, arg);
  }

  /** data is undici's onResponseData. */
  data(chunk: Buffer): void {
    if (this.destroyed) return;
    const sink = this.sink;
    if (sink !== null) {
      if (!sink.write(chunk)) {
        this.ctrl.pause();
        sink.once('drain', this.onDrain);
      }
      return;
    }
    if (this.dumping !== null) {
      this.dumping.seen += chunk.length;
      if (this.dumping.seen > this.dumping.limit) this.destroy();
      return;
    }
    (this.kept ??= []).push(chunk);
    this.keptBytes += chunk.length;
    if (this.keptBytes > PAUSE_BUFFERED_BYTES) this.ctrl.pause();
  }

  /** end is undici's onResponseEnd: the body is complete (trailers, if any, already set). */
  end(): void {
    if (this.destroyed) return;
    this.upstreamEnded = true;
    if (this.sink !== null || this.dumping !== null) this.finish();
  }

  /** sendTo writes the body to the client's response: what was kept, then each chunk as it comes. */
  sendTo(sink: BodySink): void {
    if (this.destroyed) {
      sink.destroy();
      return;
    }
    this.sink = sink;
    const kept = this.kept;
    if (kept !== null) {
      this.kept = null;
      let ok = true;
      for (const c of kept) ok = sink.write(c) && ok;
      if (!this.upstreamEnded) {
        if (!ok) sink.once('drain', this.onDrain);
        else if (this.keptBytes > PAUSE_BUFFERED_BYTES) this.ctrl.resume();
      }
    }
    if (this.upstreamEnded) this.finish();
  }

  /**
   * dump discards the rest of the body (undici's name, used by discard()): a short body is read
   * to its end so the connection is reused; past `limit` bytes the request is aborted.
   */
  dump(opts: { limit: number } = { limit: 64 * 1024 }): Promise<void> {
    return new Promise((resolve) => {
      if (this.destroyed || this.readableEnded) return resolve();
      this.whenDone(resolve);
      this.dumping = { limit: opts.limit, seen: this.keptBytes };
      this.kept = null;
      if (this.dumping.seen > opts.limit) this.destroy();
      else if (this.upstreamEnded) this.finish();
      else this.ctrl.resume();
    });
  }

  /** whenDone calls `fn` once when the body ended, failed or was destroyed (at once if it has). */
  whenDone(fn: () => void): void {
    if (this.destroyed || this.readableEnded) fn();
    else (this.done ??= []).push(fn);
  }

  /**
   * destroy ends the body early: the upstream request is aborted unless it already ended, the
   * client's response (when attached) is destroyed, `error` (when `err` and someone listens) and
   * `close` are emitted.
   */
  destroy(err?: Error | null): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.kept = null;
    if (!this.upstreamEnded && !this.ctrl.aborted) this.ctrl.abort(err ?? new Error('response body discarded'));
    const sink = this.sink;
    if (sink !== null && !this.readableEnded) sink.destroy();
    if (err) this.emit('error', err);
    this.settle();
    this.emit('close');
    return this;
  }

  private finish(): void {
    this.readableEnded = true;
    const sink = this.sink;
    if (sink !== null) {
      if (this.trailers !== null) sink.addTrailers(this.trailers);
      sink.end();
    }
    this.dumping = null;
    this.emit('end');
    this.settle();
    this.emit('close');
  }

  private settle(): void {
    const done = this.done;
    if (done === null) return;
    this.done = null;
    for (const fn of done) fn();
  }
}
