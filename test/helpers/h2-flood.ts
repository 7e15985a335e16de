import net, { type Socket } from 'node:net';

/**
 * A raw HTTP/2 client that does what a hostile client may (RFC 9113): it opens `streams` POST
 * streams at once on one h2c connection, whatever the server's SETTINGS_MAX_CONCURRENT_STREAMS,
 * and sends each `bytes` of body (declaring one byte more in content-length, so no body ever
 * ends), honouring flow control (the connection and stream windows, SETTINGS_INITIAL_WINDOW_SIZE,
 * WINDOW_UPDATE). Frames are written by hand (literal HPACK, no Huffman) so that nothing on the
 * client side checks or queues them; what the server answers is counted.
 */
export interface FloodOptions {
  port: number;
  streams: number;
  /** Body bytes sent per stream (content-length is one more). */
  bytes: number;
  authority: string;
  path?: string;
}

/** FloodStats is what the server did with the flood, so far. */
export interface FloodStats {
  /** Body bytes written (those of streams the server refused included). */
  sent: number;
  /** RST_STREAM frames received, by error code. */
  resets: Map<number, number>;
  /** Response HEADERS frames received. */
  responses: number;
  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS (null: not announced). */
  maxConcurrentStreams: number | null;
  /** The server's SETTINGS_INITIAL_WINDOW_SIZE (65,535 until announced). */
  initialWindowSize: number;
  /** The error code of the server's GOAWAY (null: none). */
  goaway: number | null;
  /** Whether the connection has closed. */
  closed: boolean;
  /** Streams opened and not reset by the server. */
  open: number;
}

export interface Flood {
  readonly stats: FloodStats;
  /** connected resolves once the server's first SETTINGS frame has arrived. */
  readonly connected: Promise<void>;
  /** Body bytes sent on the streams still open (not reset by the server). */
  openBytes(): number;
  close(): void;
}

const FRAME_DATA = 0;
const FRAME_HEADERS = 1;
const FRAME_RST_STREAM = 3;
const FRAME_SETTINGS = 4;
const FRAME_GOAWAY = 7;
const FRAME_WINDOW_UPDATE = 8;
const FLAG_ACK = 1;
const FLAG_END_HEADERS = 4;
const DEFAULT_WINDOW = 65_535;
const MAX_FRAME = 16_384;

/** h2Frame is one HTTP/2 frame (RFC 9113 §4.1): 24-bit length, type, flags, stream id, payload. */
export function h2Frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, prefixBits: number, firstByte: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const out = [firstByte | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** A header block of literal fields without indexing, new names (RFC 7541 §6.2.2). */
function headerBlock(fields: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name);
    const v = Buffer.from(value);
    parts.push(Buffer.from([0]), Buffer.from(hpackInt(n.length, 7, 0)), n, Buffer.from(hpackInt(v.length, 7, 0)), v);
  }
  return Buffer.concat(parts);
}

/** flood connects and starts sending; see the module comment. */
export function flood(opts: FloodOptions): Flood {
  const stats: FloodStats = { sent: 0, resets: new Map(), responses: 0, maxConcurrentStreams: null, initialWindowSize: DEFAULT_WINDOW, goaway: null, closed: false, open: 0 };
  const sock: Socket = net.connect(opts.port, '127.0.0.1');
  sock.on('error', () => {});
  let connWindow = DEFAULT_WINDOW;
  /** Per open stream: body bytes sent and its send window. */
  const open = new Map<number, { sent: number; window: number }>();
  let onSettings!: () => void;
  const connected = new Promise<void>((resolve) => (onSettings = resolve));

  const pump = (): void => {
    let progress = true;
    while (progress && !sock.destroyed) {
      progress = false;
      for (const [id, s] of open) {
        const n = Math.min(MAX_FRAME, opts.bytes - s.sent, connWindow, s.window);
        if (n <= 0) continue;
        // Let the socket drain rather than queue megabytes in this process.
        if (sock.writableLength > 1 << 20) return;
        sock.write(h2Frame(FRAME_DATA, 0, id, Buffer.alloc(n, 97)));
        s.sent += n;
        s.window -= n;
        connWindow -= n;
        stats.sent += n;
        progress = true;
      }
    }
  };

  sock.on('connect', () => {
    const out = [Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), h2Frame(FRAME_SETTINGS, 0, 0, Buffer.alloc(0))];
    const fields: [string, string][] = [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':authority', opts.authority],
      [':path', opts.path ?? '/'],
      ['content-length', String(opts.bytes + 1)],
    ];
    const block = headerBlock(fields);
    for (let i = 0; i < opts.streams; i++) {
      const id = 1 + 2 * i;
      out.push(h2Frame(FRAME_HEADERS, FLAG_END_HEADERS, id, block));
      open.set(id, { sent: 0, window: DEFAULT_WINDOW });
    }
    stats.open = open.size;
    sock.write(Buffer.concat(out));
    pump();
  });
  sock.on('drain', pump);

  let buf: Buffer = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      const type = buf[3]!;
      const flags = buf[4]!;
      const id = buf.readUInt32BE(5) & 0x7fffffff;
      const p = buf.subarray(9, 9 + len);
      buf = buf.subarray(9 + len);
      if (type === FRAME_SETTINGS && (flags & FLAG_ACK) === 0) {
        for (let i = 0; i + 6 <= p.length; i += 6) {
          const key = p.readUInt16BE(i);
          const value = p.readUInt32BE(i + 2);
          if (key === 3) stats.maxConcurrentStreams = value;
          if (key === 4) {
            for (const s of open.values()) s.window += value - stats.initialWindowSize;
            stats.initialWindowSize = value;
          }
        }
        sock.write(h2Frame(FRAME_SETTINGS, FLAG_ACK, 0, Buffer.alloc(0)));
        onSettings();
      } else if (type === FRAME_WINDOW_UPDATE) {
        const inc = p.readUInt32BE(0) & 0x7fffffff;
        if (id === 0) connWindow += inc;
        else {
          const s = open.get(id);
          if (s) s.window += inc;
        }
      } else if (type === FRAME_RST_STREAM) {
        const code = p.readUInt32BE(0);
        stats.resets.set(code, (stats.resets.get(code) ?? 0) + 1);
        open.delete(id);
        stats.open = open.size;
      } else if (type === FRAME_HEADERS) stats.responses++;
      else if (type === FRAME_GOAWAY) stats.goaway = p.readUInt32BE(4);
    }
    pump();
  });
  sock.on('close', () => {
    stats.closed = true;
    onSettings();
  });
  const openBytes = (): number => {
    let n = 0;
    for (const st of open.values()) n += st.sent;
    return n;
  };
  return { stats, connected, openBytes, close: () => sock.destroy() };
}
