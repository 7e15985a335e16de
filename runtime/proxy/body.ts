import type { IncomingMessage } from 'node:http';
import type { H2Request } from './h2-server-stream.js';
import { Readable } from 'node:stream';
import { BadRequestError } from '../errors.js';

/**
 * PendingBodies counts the request bodies this process is reading before routing: a body of up
 * to bodyBufferLimit bytes is read whole before the first attempt, so each such read may hold
 * that much, plus (HTTP/2) one stream window of data not yet read, for as long as its client
 * withholds the end (up to requestTimeout). The HTTP/2 listeners take no new stream with a body
 * while `reading` is at `limit`: they refuse it with RST_STREAM REFUSED_STREAM, which says the
 * stream was not processed, so clients (calling proxies among them) send it again elsewhere or
 * later. This is the process-wide bound that H2_MAX_CONCURRENT_STREAMS (per connection) cannot
 * give: without it, N connections hold N × 100 bodies. Envoy's overload manager likewise refuses
 * new streams past a memory threshold. HTTP/1.1 reads are counted (they hold memory too) but
 * never refused: an HTTP/1.1 request carries one body per connection, bounded by maxConnections.
 */
export class PendingBodies {
  /** Bodies being read now. */
  reading = 0;
  /** @param limit bodies read at once before new HTTP/2 streams with a body are refused. */
  constructor(readonly limit: number) {}
}

/**
 * MAX_PENDING_REQUEST_BODIES is 256: at 64 KiB read + 64 KiB of stream window each, at most
 * 32 MiB held by unfinished bodies per process (each `--concurrency` worker has its own count).
 * A body that arrives with its head (the common case) is read within a tick, so only bodies
 * whose clients withhold or trickle them stay counted.
 */
export const MAX_PENDING_REQUEST_BODIES = 256;

/** PENDING_REQUEST_BODIES is this process's count. */
export const PENDING_REQUEST_BODIES = new PendingBodies(MAX_PENDING_REQUEST_BODIES);

/**
 * RequestBody reads the start of a request body before the first attempt. A body of at most
 * `limit` bytes (default 64 KiB) is kept whole, so it can be retried, mirrored, and so a body
 * with bad chunked framing is rejected (400) before a single byte reaches the upstream. A larger
 * body is streamed through — never buffered whole — and cannot be replayed: a retry of it is not
 * attempted. A client error while streaming aborts the upstream request mid-body, so the
 * upstream never sees a complete request.
 */
export class RequestBody {
  private constructor(
    /**
     * `none`: no body; `buffered`: whole body in memory; `stream`: larger, streamed once; `tee`:
     * streamed from the first byte (gRPC streams, where a message may wait for an answer) while a
     * copy of up to `limit` bytes is kept, so a retry can replay a body that ended within it.
     */
    readonly kind: 'none' | 'buffered' | 'stream' | 'tee',
    private readonly buffered: Buffer | null,
    private readonly prefix: Buffer[],
    private readonly rest: AsyncIterator<Buffer> | null,
    private readonly req: IncomingMessage | H2Request | null,
  ) {}

  private used = false;
  /** Set when the client's body failed (bad framing, disconnect). */
  failed: Error | null = null;

  /** EMPTY is a body-less request. */
  static readonly EMPTY = new RequestBody('none', null, [], null, null);

  /**
   * read reads up to `limit` bytes of the body; rejects with BadRequestError on a client body
   * error. A request without a body is answered at once (no promise), the common case.
   */
  static read(req: IncomingMessage | H2Request, limit = 64 * 1024): RequestBody | Promise<RequestBody> {
    const cl = req.headers['content-length'];
    // HTTP/2 has no transfer-encoding: a stream that ended with its headers has no body.
    const h2 = (req as H2Request).stream;
    const none = h2 !== undefined ? h2.endAfterHeaders || cl === '0' : req.headers['transfer-encoding'] === undefined && (cl === undefined || cl === '0');
    if (none) {
      // Nothing to read. An HTTP/2 stream is drained here; node:http drains (req._dump) an
      // HTTP/1.1 request nobody read when its response finishes, and its parser reads the next
      // request meanwhile, so resuming it now would only add a round of stream ticks per request.
      if (h2 !== undefined && !req.complete) req.resume();
      return RequestBody.EMPTY;
    }
    return RequestBody.readSome(req, limit);
  }

  private static async readSome(req: IncomingMessage | H2Request, limit: number): Promise<RequestBody> {
    const it = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const chunks: Buffer[] = [];
    let size = 0;
    PENDING_REQUEST_BODIES.reading++;
    try {
      while (size <= limit) {
        const r = await it.next();
        if (r.done) return new RequestBody('buffered', chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), [], null, null);
        chunks.push(r.value);
        size += r.value.length;
      }
    } catch (err) {
      throw new BadRequestError(`request body could not be read: ${(err as Error).message}`);
    } finally {
      PENDING_REQUEST_BODIES.reading--;
    }
    return new RequestBody('stream', null, chunks, it, req);
  }

  private teeKept: Buffer[] = [];
  private teeSize = 0;
  private teeDone = false;
  private teeLimit = 0;

  /**
   * teed starts forwarding at once, for a request that must not wait for its body (a gRPC
   * stream: bidi ping-pong would deadlock behind a buffer). The first attempt streams; later
   * attempts get the kept copy when the body ended within `limit` bytes.
   */
  static teed(req: IncomingMessage | H2Request, limit = 64 * 1024): RequestBody {
    const b = new RequestBody('tee', null, [], req[Symbol.asyncIterator]() as AsyncIterator<Buffer>, req);
    b.teeLimit = limit;
    return b;
  }

  /** replayable: the body can be sent again (retry, mirror). A teed body: once it ended within its limit. */
  get replayable(): boolean {
    if (this.kind === 'tee') return this.teeDone && this.teeSize <= this.teeLimit && this.failed === null;
    return this.kind !== 'stream';
  }

  /** size of a buffered body, 0 for none, -1 for a stream. */
  get size(): number {
    return this.kind === 'buffered' ? this.buffered!.length : this.kind === 'none' ? 0 : -1;
  }

  /**
   * forAttempt returns what to send: null, the buffer, or (once only) the stream. Returns
   * undefined when the stream was already used, i.e. the attempt must not be made.
   */
  forAttempt(): Buffer | Readable | null | undefined {
    if (this.kind === 'none') return null;
    if (this.kind === 'buffered') return this.buffered;
    if (this.kind === 'tee' && this.used) return this.replayable ? Buffer.concat(this.teeKept, this.teeSize) : undefined;
    if (this.used) return undefined;
    this.used = true;
    return Readable.from(this.streamed(), { objectMode: false });
  }

  /** mirrorCopy is the body a mirror may send: only a kept body (undefined: do not mirror). */
  mirrorCopy(): Buffer | null | undefined {
    return this.kind === 'stream' || this.kind === 'tee' ? undefined : this.buffered;
  }

  private async *streamed(): AsyncGenerator<Buffer> {
    for (const c of this.prefix) yield c;
    const it = this.rest!;
    const tee = this.kind === 'tee';
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) {
          this.teeDone = true;
          return;
        }
        if (tee && this.teeSize <= this.teeLimit) {
          this.teeSize += r.value.length;
          if (this.teeSize <= this.teeLimit) this.teeKept.push(r.value);
          else this.teeKept = [];
        }
        yield r.value;
      }
    } catch (err) {
      // Rethrowing makes undici abort the upstream request: it never sees a complete body.
      this.failed = err as Error;
      throw err;
    }
  }

  /** destroy releases the client stream when the body will not be sent. */
  destroy(): void {
    if ((this.kind === 'stream' || this.kind === 'tee') && !this.used) this.req?.resume();
  }
}
