import type { ProxyContext } from '../context.js';
import { SOURCE_HEADER } from '../caller-identity.js';
import { peerOf } from '../mtls/mesh-tls.js';
import { errorReply, type Step } from '../pipeline.js';
import { WeftError } from '../../errors.js';

/** XFCC_HEADER is Envoy's x-forwarded-client-cert: the verified caller, as the app sees it. */
export const XFCC_HEADER = 'x-forwarded-client-cert';

/**
 * callerIdentity (inbound) establishes ex.caller.
 *
 * With mTLS (the proxy has an identity) the caller comes ONLY from the peer certificate verified
 * when the connection was accepted (mtls/mesh-tls.ts); a plaintext caller (PERMISSIVE) has none.
 * An incoming `weft-source` and any incoming `x-forwarded-client-cert` are removed, never read;
 * the app gets the verified caller in Envoy's XFCC form, `By=<this proxy's SPIFFE ID>;Hash=<SHA-256
 * of the peer certificate, hex>;URI=<caller's SPIFFE ID>`.
 *
 * The peer's certificate is checked for expiry on every request, not only at the handshake: a
 * request on a connection whose caller certificate has expired gets 403 WEFT_ID_CERT_EXPIRED.
 *
 * Without identity (--insecure) the IdentityProvider judges `weft-source` by peer address, as
 * before; an XFCC from the client is still removed.
 */
export function callerIdentity(ctx: ProxyContext): Step {
  const mtls = ctx.mtls;
  if (mtls) {
    const by = `By=${ctx.selfIdentity.uri};Hash=`;
    return {
      name: 'caller-identity',
      needs: ['hop-by-hop-removed'],
      provides: ['caller'],
      wrap: (next) => (ex) => {
        const h = ex.headers;
        delete h[SOURCE_HEADER];
        delete h[XFCC_HEADER];
        const peer = peerOf(ex.req.socket);
        if (peer) {
          // The certificate was verified when the connection opened; a kept-open connection must not
          // outlive it (a stolen certificate would otherwise act past its expiry on one HTTP/2 session).
          if (peer.notAfter <= Date.now()) {
            mtls.metrics.caller('expired');
            return Promise.resolve(errorReply(new WeftError('WEFT_ID_CERT_EXPIRED', `the caller's certificate expired at ${new Date(peer.notAfter).toISOString()}; reconnect with a current one`)));
          }
          ex.caller = peer.identity;
          h[XFCC_HEADER] = `${by}${peer.hash};URI=${peer.identity.uri}`;
          mtls.metrics.caller(peer.callerKey);
        } else {
          ex.caller = null;
          mtls.metrics.caller('unidentified');
        }
        return next(ex);
      },
    };
  }
  return {
    name: 'caller-identity',
    needs: ['hop-by-hop-removed'],
    provides: ['caller'],
    direction: 'inbound',
    wrap: (next) => (ex) => {
      ex.caller = ctx.identity.identify({ headers: ex.headers, remoteAddress: ex.clientAddress });
      delete ex.headers[XFCC_HEADER];
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
