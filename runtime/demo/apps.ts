/**
 * The demo applications: one small HTTP app per service instance, in the spirit of Istio's
 * bookinfo. Each answers with its name and version as JSON; productpage calls details and
 * reviews, reviews v2 and v3 call ratings, always through the instance's own sidecar (outbound
 * listener, Host header = service name), so every hop crosses the mesh.
 */
import http from 'node:http';

/** AppCall is a downstream call an app makes for each request it serves. */
export interface AppCall {
  /** Mesh service name, sent as the Host header to the sidecar's outbound listener. */
  service: string;
  path: string;
}

/** AppSpec describes one demo app instance. */
export interface AppSpec {
  /** Instance name (`reviews-v2`). */
  instance: string;
  /** Service name callers use (`reviews`). */
  service: string;
  version: string;
  /** Loopback port the app listens on (the sidecar's `--app`). */
  port: number;
  /** `host:port` of this instance's sidecar outbound listener; required when `calls` is set. */
  outbound?: string;
  calls: AppCall[];
}

/** Headers an app passes on to its downstream calls (tracing, the canary user). */
const PROPAGATED = ['traceparent', 'tracestate', 'x-request-id', 'x-user'] as const;

const agent = new http.Agent({ keepAlive: true, maxSockets: 64, keepAliveMsecs: 1000 });

interface Downstream {
  status: number;
  body: unknown;
}

function callDownstream(outbound: string, call: AppCall, incoming: http.IncomingHttpHeaders): Promise<Downstream> {
  const [host, port] = outbound.split(':');
  const headers: http.OutgoingHttpHeaders = { host: call.service, accept: 'application/json' };
  for (const h of PROPAGATED) if (incoming[h] !== undefined) headers[h] = incoming[h];
  return new Promise((resolve) => {
    const req = http.request({ host, port: Number(port), path: call.path, method: 'GET', headers, agent, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // The proxy's own error bodies are text: keep them as they are.
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', (err) => resolve({ status: 0, body: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 5s')));
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.end();
  });
}

/** Stars a ratings instance gives, by the path's id: deterministic, so answers are comparable. */
function stars(path: string): number {
  const id = Number(/(\d+)/.exec(path)?.[1] ?? '0');
  return 1 + (id % 5);
}

/**
 * demoHandler answers one request for `spec`: its identity as JSON, plus what its downstream
 * calls returned. When a downstream call fails the app answers 502, so mesh failures show up as
 * errors at the traffic generator instead of being swallowed.
 */
export function demoHandler(spec: AppSpec): http.RequestListener {
  return (req, res) => {
    req.resume();
    const path = req.url ?? '/';
    void (async () => {
      const body: Record<string, unknown> = { service: spec.service, version: spec.version, instance: spec.instance, path };
      if (spec.service === 'ratings') body.stars = stars(path);
      if (spec.service === 'reviews') body.text = 'An extremely entertaining play by Shakespeare.';
      let failed: string | null = null;
      if (spec.calls.length > 0 && spec.outbound) {
        const results = await Promise.all(spec.calls.map((c) => callDownstream(spec.outbound ?? '', c, req.headers)));
        spec.calls.forEach((c, i) => {
          const r = results[i];
          if (!r) return;
          body[c.service] = r.body;
          if ((r.status < 200 || r.status > 299) && failed === null) failed = `${c.service} answered ${r.status === 0 ? 'no response' : r.status}`;
        });
      }
      if (failed !== null) body.error = failed;
      const payload = JSON.stringify(body);
      res.writeHead(failed === null ? 200 : 502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
    })();
  };
}

/** startApp listens on 127.0.0.1:`spec.port` and resolves with the server once it accepts. */
export function startApp(spec: AppSpec): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    const server = http.createServer({ keepAliveTimeout: 65_000 }, demoHandler(spec));
    server.once('error', reject);
    server.listen(spec.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
