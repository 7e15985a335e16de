import type { Endpoint, ServiceEntry } from '../../schemas/bundle.js';
import type { Exchange } from './pipeline.js';

/**
 * upstreamProtocol decides what one attempt speaks to its endpoint (DESIGN "Protocols"):
 *
 *  1. an Upgrade (WebSocket) is HTTP/1.1, always: the upgrade is an HTTP/1.1 mechanism;
 *  2. a meshed endpoint is a Weft inbound listener: HTTP/2, one multiplexed connection per peer,
 *     whatever the app speaks (its own proxy converts);
 *  3. a gRPC call is HTTP/2 (gRPC requires it);
 *  4. otherwise the target port's `appProtocol` (Gateway API GEP-1911, Kubernetes values):
 *     `kubernetes.io/h2c` is HTTP/2 with prior knowledge; `http` (the default) and
 *     `kubernetes.io/ws` are HTTP/1.1.
 *
 * The target port is the chosen backend's port outbound; inbound (toward the local app) it is the
 * Service port named by the request's authority, else the Service's only port, else the port
 * whose appProtocol all ports share (none shared: HTTP/1.1).
 */
export function upstreamProtocol(ex: Exchange, e: Endpoint): 'h2' | 'http/1.1' {
  if (ex.upgrade !== null) return 'http/1.1';
  if (e.meshed === true || ex.grpc) return 'h2';
  return appProtocolOf(ex) === 'kubernetes.io/h2c' ? 'h2' : 'http/1.1';
}

function appProtocolOf(ex: Exchange): string | undefined {
  if (ex.direction === 'outbound') {
    const svc = ex.backendService;
    const port = ex.backend?.port;
    return svc?.ports.find((p) => p.port === port)?.appProtocol;
  }
  return inboundAppProtocol(ex.service, ex.authority);
}

function inboundAppProtocol(svc: ServiceEntry | null, authority: string): string | undefined {
  if (!svc || svc.ports.length === 0) return undefined;
  if (svc.ports.length === 1) return svc.ports[0]!.appProtocol;
  const colon = authority.lastIndexOf(':');
  const port = colon > 0 && !authority.endsWith(']') ? Number(authority.slice(colon + 1)) : NaN;
  const named = svc.ports.find((p) => p.port === port);
  if (named) return named.appProtocol;
  const first = svc.ports[0]!.appProtocol;
  return svc.ports.every((p) => p.appProtocol === first) ? first : undefined;
}
