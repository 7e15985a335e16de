import type { ProxyContext } from '../context.js';
import type { Step } from '../pipeline.js';

/**
 * accessLog writes one JSON line per request when the response ends (`--access-log`, or the mesh
 * telemetry.accessLog switch). Off by default: a line per request costs throughput.
 */
export function accessLog(ctx: ProxyContext): Step {
  return {
    name: 'access-log',
    needs: [],
    provides: [],
    idle: (p) => !ctx.settings.accessLog && !p.router.mesh.telemetry.accessLog,
    wrap: (next) => (ex) => {
      if (!ctx.settings.accessLog && !ex.router.mesh.telemetry.accessLog) return next(ex);
      ex.onDone.push((x, o) => {
        ctx.writeLog(
          JSON.stringify({
            time: new Date().toISOString(),
            direction: x.direction,
            client: x.clientAddress,
            caller: x.caller ? `${x.caller.service}.${x.caller.namespace}` : null,
            method: x.req.method,
            authority: x.req.headers.host ?? x.req.headers[':authority'] ?? null,
            protocol: x.protocol,
            path: x.req.url,
            status: o.status,
            grpc_status: o.grpcStatus,
            code: o.code,
            completed: o.completed,
            duration_ms: Math.round(o.durationSeconds * 1e6) / 1e3,
            service: x.service?.id ?? null,
            route: x.rule?.id ?? null,
            backend: x.backendService?.id ?? null,
            endpoint: x.endpoint ? `${x.endpoint.address}:${x.endpoint.port}` : null,
            attempts: x.attempt,
            upstream_path: x.path,
            ...x.notes,
          }) + '\n',
        );
      });
      return next(ex);
    },
  };
}
