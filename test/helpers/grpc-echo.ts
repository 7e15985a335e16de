/**
 * Test helper: a real @grpc/grpc-js server and client for one small service, `test.Echo`, with
 * JSON messages (no protobuf build step). The server implements every call shape, so the same
 * app serves the gRPC conformance tests and the benchmark:
 *
 *   Unary          echoes `{text}` with its own `name`; sends initial metadata `x-init` and the
 *                  trailer `x-trail`, and echoes request metadata `x-req` in `seen`
 *   Missing        fails with NOT_FOUND, details "no such thing", trailer `x-why: missing`
 *   Slow           answers after `{delayMs}`
 *   Forbidden      answers like Unary (an AuthorizationPolicy is expected to stop it)
 *   Weighted       answers `{name}` (weighted routing)
 *   Flaky          fails with UNAVAILABLE on every odd-numbered call, answers on the others
 *   ServerStream   sends `{count}` messages `{i}`
 *   ClientStream   sums `{n}` of every message
 *   Bidi           echoes each message `{text}` as `{text, name}`
 */
import * as grpc from '@grpc/grpc-js';

/** Msg is every message of test.Echo: a JSON object. */
export type Msg = Record<string, unknown>;

const ser = (m: Msg): Buffer => Buffer.from(JSON.stringify(m));
const de = (b: Buffer): Msg => JSON.parse(b.toString('utf8')) as Msg;

function method(name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Msg, Msg> {
  return { path: `/test.Echo/${name}`, requestStream, responseStream, requestSerialize: ser, requestDeserialize: de, responseSerialize: ser, responseDeserialize: de, originalName: name };
}

/** ECHO_SERVICE is the definition of test.Echo. */
export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Unary: method('Unary', false, false),
  Missing: method('Missing', false, false),
  Slow: method('Slow', false, false),
  Forbidden: method('Forbidden', false, false),
  Weighted: method('Weighted', false, false),
  Flaky: method('Flaky', false, false),
  ServerStream: method('ServerStream', false, true),
  ClientStream: method('ClientStream', true, false),
  Bidi: method('Bidi', true, true),
};

/** GrpcEcho is a running test.Echo server. */
export interface GrpcEcho {
  name: string;
  port: number;
  /** Calls received, by method name. */
  calls: Record<string, number>;
  close(): Promise<void>;
}

/** startGrpcEcho starts test.Echo on 127.0.0.1 (h2c) under the given instance name. */
export async function startGrpcEcho(name: string): Promise<GrpcEcho> {
  const server = new grpc.Server();
  const calls: Record<string, number> = {};
  const count = (m: string): void => {
    calls[m] = (calls[m] ?? 0) + 1;
  };
  const unary = (m: string) => (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
    count(m);
    const md = new grpc.Metadata();
    md.set('x-init', name);
    call.sendMetadata(md);
    const trailer = new grpc.Metadata();
    trailer.set('x-trail', `${name}-done`);
    cb(null, { ...call.request, name, seen: call.metadata.get('x-req')[0] ?? null }, trailer);
  };
  server.addService(ECHO_SERVICE, {
    Unary: unary('Unary'),
    Forbidden: unary('Forbidden'),
    Weighted: unary('Weighted'),
    Flaky: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      count('Flaky');
      if ((calls['Flaky'] ?? 0) % 2 === 1) cb({ code: grpc.status.UNAVAILABLE, details: 'try again' });
      else cb(null, { ...call.request, name });
    },
    Missing: (_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      count('Missing');
      const trailer = new grpc.Metadata();
      trailer.set('x-why', 'missing');
      cb({ code: grpc.status.NOT_FOUND, details: 'no such thing', metadata: trailer });
    },
    Slow: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      count('Slow');
      const t = setTimeout(() => cb(null, { name }), Number(call.request.delayMs ?? 1000));
      call.on('cancelled', () => clearTimeout(t));
    },
    ServerStream: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      count('ServerStream');
      const n = Number(call.request.count ?? 3);
      for (let i = 0; i < n; i++) call.write({ i, name });
      const trailer = new grpc.Metadata();
      trailer.set('x-trail', `${name}-streamed`);
      call.end(trailer);
    },
    ClientStream: (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      count('ClientStream');
      let sum = 0;
      let messages = 0;
      call.on('data', (m: Msg) => {
        sum += Number(m.n ?? 0);
        messages++;
      });
      call.on('end', () => cb(null, { sum, messages, name }));
    },
    Bidi: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      count('Bidi');
      call.on('data', (m: Msg) => call.write({ text: m.text, name }));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    name,
    port,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 2_000).unref();
      }),
  };
}

/** echoClient is a generic gRPC client to `address` that sends `:authority` = `authority` (the mesh Service name). */
export function echoClient(address: string, authority: string): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.default_authority': authority });
}

/** UnaryResult is a finished unary call: its error or answer, and the metadata both ways. */
export interface UnaryResult {
  error: grpc.ServiceError | null;
  value: Msg | undefined;
  headers: grpc.Metadata | null;
  trailers: grpc.Metadata | null;
}

/**
 * bounded gives a call a 10 s deadline unless the test set one: a call that got no answer fails
 * as DEADLINE_EXCEEDED instead of hanging the test run.
 */
function bounded(options: grpc.CallOptions = {}): grpc.CallOptions {
  return { deadline: Date.now() + 10_000, ...options };
}

/** unary makes one unary call of test.Echo/`name` (10 s deadline unless `options` sets one). */
export function unary(client: grpc.Client, name: string, req: Msg, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<UnaryResult> {
  options = bounded(options);
  return new Promise((resolve) => {
    let headers: grpc.Metadata | null = null;
    let trailers: grpc.Metadata | null = null;
    const call = client.makeUnaryRequest(`/test.Echo/${name}`, ser, de, req, metadata, options, (error, value) => {
      // 'status' comes after the callback in grpc-js; give it a turn.
      setImmediate(() => resolve({ error: error ?? null, value, headers, trailers }));
    });
    call.on('metadata', (m: grpc.Metadata) => (headers = m));
    call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
  });
}

/** serverStream collects every message of test.Echo/ServerStream and the final status. */
export function serverStream(client: grpc.Client, req: Msg): Promise<{ messages: Msg[]; status: grpc.StatusObject }> {
  return new Promise((resolve, reject) => {
    const messages: Msg[] = [];
    const call = client.makeServerStreamRequest('/test.Echo/ServerStream', ser, de, req, new grpc.Metadata(), bounded());
    call.on('data', (m: Msg) => messages.push(m));
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => resolve({ messages, status }));
    call.on('error', reject);
  });
}

/** clientStream sends `msgs` to test.Echo/ClientStream and returns the answer. */
export function clientStream(client: grpc.Client, msgs: Msg[]): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const call = client.makeClientStreamRequest('/test.Echo/ClientStream', ser, de, new grpc.Metadata(), bounded(), (err, value) => (err ? reject(err) : resolve(value!)));
    for (const m of msgs) call.write(m);
    call.end();
  });
}

/** bidi writes each message after the previous answer arrived (a true ping-pong) and collects the answers. */
export function bidi(client: grpc.Client, texts: string[]): Promise<Msg[]> {
  return new Promise((resolve, reject) => {
    const out: Msg[] = [];
    const call = client.makeBidiStreamRequest('/test.Echo/Bidi', ser, de, new grpc.Metadata(), bounded());
    let i = 0;
    call.on('data', (m: Msg) => {
      out.push(m);
      i++;
      if (i < texts.length) call.write({ text: texts[i] });
      else call.end();
    });
    call.on('error', reject);
    call.on('end', () => resolve(out));
    if (texts.length === 0) call.end();
    else call.write({ text: texts[0] });
  });
}
