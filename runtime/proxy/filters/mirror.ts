import type { Mirror } from '../../../schemas/bundle.js';
import { endpointKey } from '../../policy/endpoint-key.js';
import type { ProxyContext } from '../context.js';
import type { Exchange } from '../pipeline.js';

/**
 * sendMirror fires a copy of the request (as modified so far) at one endpoint of the mirror
 * Service and forgets it: the response is read and discarded, errors are counted, the real
 * request never waits. Bounded: past `mirrorConcurrency` in flight, or for a body too large to
 * have been kept, the mirror is dropped (counted in weft_mirrors_total{result="dropped"}).
 */
export function sendMirror(ctx: ProxyContext, ex: Exchange, m: Mirror): void {
  if (m.percent < 100 && ctx.random() * 100 >= m.percent) return;
  const body = ex.body.mirrorCopy();
  const svc = ex.router.services.get(m.service)?.entry;
  const endpoint = svc ? ctx.picker.pick(ex, svc) : null;
  if (body === undefined || !endpoint || ctx.mirrorsInFlight >= ctx.settings.mirrorConcurrency) {
    ctx.metrics.mirrors.inc({ result: 'dropped' });
    return;
  }
  ctx.mirrorsInFlight++;
  const headers = { ...ex.headers, host: ex.authority };
  ctx.pools
    .get(`http://${endpointKey(endpoint)}`)
    .request({ method: ex.method, path: ex.query === '' ? ex.path : `${ex.path}?${ex.query}`, headers, body, headersTimeout: 10_000, bodyTimeout: 10_000 })
    .then(
      async (r) => {
        await r.body.dump();
        ctx.metrics.mirrors.inc({ result: 'sent' });
      },
      () => ctx.metrics.mirrors.inc({ result: 'failed' }),
    )
    .finally(() => {
      ctx.mirrorsInFlight--;
    });
}
