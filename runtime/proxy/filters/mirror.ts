import type { Mirror } from '../../../schemas/bundle.js';
import { endpointKey } from '../../policy/endpoint-key.js';
import type { ProxyContext } from '../context.js';
import type { Exchange } from '../pipeline.js';

/**
 * sendMirror fires a copy of the request (as modified so far) at one endpoint of the mirror
 * Service and forgets it: the response is read and discarded, errors are counted, the real
 * request never waits. The mirror Service's BackendPolicy applies as to any request: its
 * load balancer picks among endpoints outlier detection has not ejected, the mirror holds a slot
 * of the endpoint's connection pool while in flight (a full pool drops it: mirrors never queue)
 * and its result counts towards the endpoint's outlier detection. Bounded: past
 * `mirrorConcurrency` in flight, or for a body too large to have been kept, the mirror is dropped
 * (counted in weft_mirrors_total{result="dropped"}).
 */
export function sendMirror(ctx: ProxyContext, ex: Exchange, m: Mirror): void {
  if (m.percent < 100 && ctx.random() * 100 >= m.percent) return;
  const body = ex.body.mirrorCopy();
  const svc = ex.router.services.get(m.service)?.entry;
  const policies = ctx.policies.forRouter(ex.router);
  const endpoint = svc && body !== undefined && ctx.mirrorsInFlight < ctx.settings.mirrorConcurrency ? policies.pickEndpoint(svc, ex, ctx.endpoints.view(svc).endpoints) : null;
  if (!svc || !endpoint) {
    ctx.metrics.mirrors.inc({ result: 'dropped' });
    return;
  }
  const key = endpointKey(endpoint);
  const state = policies.backend(svc).state;
  const lease = state.pools.limiter(key).tryAcquire();
  if (lease === null) {
    ctx.policies.metrics.poolOverflow.inc({ service: svc.id, endpoint: key });
    ctx.metrics.mirrors.inc({ result: 'dropped' });
    return;
  }
  ctx.mirrorsInFlight++;
  const headers = { ...ex.headers, host: ex.authority };
  ctx.pools
    .get(ctx.pools.keyFor(endpoint, svc))
    .request({ method: ex.method, path: ex.query === '' ? ex.path : `${ex.path}?${ex.query}`, headers, body: body ?? null, headersTimeout: 10_000, bodyTimeout: 10_000 })
    .then(
      async (r) => {
        state.outlier?.record(key, r.statusCode < 500);
        await r.body.dump();
        ctx.metrics.mirrors.inc({ result: 'sent' });
      },
      () => {
        state.outlier?.record(key, false);
        ctx.metrics.mirrors.inc({ result: 'failed' });
      },
    )
    .finally(() => {
      lease.release();
      ctx.mirrorsInFlight--;
    });
}
