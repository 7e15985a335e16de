import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { identityOf, type CallerIdentity, type IdentityProvider } from '../identity.js';
import { ConfigError } from '../errors.js';
import type { PeerInfo } from './context.js';

/** SOURCE_HEADER names the caller's Service as `name.namespace`; outbound sets it, inbound checks it. */
export const SOURCE_HEADER = 'weft-source';

/**
 * HeaderIdentityProvider trusts `weft-source` only from peers whose address is in the trusted
 * CIDRs (`--trust-peers`, default loopback: the sidecars of one host). THIS IS NOT CRYPTOGRAPHIC:
 * any process that can connect from a trusted address can claim any Service. It becomes real
 * identity when mTLS (SPIFFE) replaces it behind the same CallerIdentity interface.
 */
export class HeaderIdentityProvider implements IdentityProvider<PeerInfo> {
  private readonly trusted = new BlockList();

  constructor(cidrs: readonly string[]) {
    for (const c of cidrs) {
      const [addr, bits] = c.split('/');
      const family = addr && isIPv4(addr) ? 'ipv4' : addr && isIPv6(addr) ? 'ipv6' : null;
      const prefix = bits === undefined ? (family === 'ipv4' ? 32 : 128) : Number(bits);
      if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 'ipv4' ? 32 : 128)) throw new ConfigError(`--trust-peers: "${c}" is not a CIDR (e.g. 10.0.0.0/8)`);
      this.trusted.addSubnet(addr!, prefix, family);
    }
  }

  /**
   * Verdicts by peer address, asked per request: BlockList.check makes a SocketAddress each time.
   * The CIDRs never change, so a verdict never goes stale; bounded (past the bound an address is
   * checked each time), as peers come and go.
   */
  private readonly verdicts = new Map<string, boolean>();

  /** isTrusted: may this peer assert a caller identity? */
  isTrusted(address: string): boolean {
    let v = this.verdicts.get(address);
    if (v === undefined) {
      const a = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
      v = isIPv4(a) ? this.trusted.check(a, 'ipv4') : isIPv6(a) && this.trusted.check(a, 'ipv6');
      if (this.verdicts.size < VERDICTS_KEPT) this.verdicts.set(address, v);
    }
    return v;
  }

  identify(peer: PeerInfo): CallerIdentity | null {
    if (!this.isTrusted(peer.remoteAddress)) return null;
    const v = peer.headers[SOURCE_HEADER];
    if (typeof v !== 'string') return null;
    const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(v.trim());
    return m ? identityOf(m[1]!, m[3]!, 'header') : null;
  }
}

/** VERDICTS_KEPT bounds HeaderIdentityProvider's remembered peer addresses. */
const VERDICTS_KEPT = 4096;

/** DEFAULT_TRUSTED_PEERS: loopback only. */
export const DEFAULT_TRUSTED_PEERS: readonly string[] = ['127.0.0.0/8', '::1/128'];
