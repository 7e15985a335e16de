import type { ProxyContext } from '../context.js';
import { SOURCE_HEADER } from '../caller-identity.js';
import type { Step } from '../pipeline.js';

/**
 * callerIdentity (inbound) establishes ex.caller through the IdentityProvider and removes a
 * `weft-source` the provider did not accept, so the app never sees a forged one.
 */
export function callerIdentity(ctx: ProxyContext): Step {
  return {
    name: 'caller-identity',
    needs: ['hop-by-hop-removed'],
    provides: ['caller'],
    direction: 'inbound',
    wrap: (next) => (ex) => {
      ex.caller = ctx.identity.identify({ headers: ex.headers, remoteAddress: ex.clientAddress });
      if (ex.caller === null) delete ex.headers[SOURCE_HEADER];
      else ex.headers[SOURCE_HEADER] = `${ex.caller.service}.${ex.caller.namespace}`;
      return next(ex);
    },
  };
}

/** sourceStamp (outbound) stamps this proxy's Service as `weft-source`, replacing whatever the app sent. */
export function sourceStamp(ctx: ProxyContext): Step {
  const value = `${ctx.settings.service}.${ctx.settings.namespace}`;
  return {
    name: 'source-stamp',
    needs: ['hop-by-hop-removed'],
    provides: ['caller'],
    direction: 'outbound',
    wrap: (next) => (ex) => {
      ex.caller = ctx.selfIdentity;
      ex.headers[SOURCE_HEADER] = value;
      return next(ex);
    },
  };
}
