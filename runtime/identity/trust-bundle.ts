import { X509Certificate } from 'node:crypto';
import { trustDomainOfCa } from './ca.js';
import { IdentityError } from './errors.js';
import { checkTrustDomain } from './spiffe-id.js';

/**
 * TrustBundle is what a party trusts: the CA certificates of one trust domain (SPIFFE trust
 * bundle). Several roots may be present at once, so a CA is rotated by adding the new root,
 * reissuing, then removing the old one. The trust domain comes from the roots' `spiffe://<td>`
 * SANs (Weft and SPIRE roots carry one), or is given explicitly (roots from cert-manager or Vault).
 */
export interface TrustBundle {
  readonly trustDomain: string;
  readonly roots: readonly X509Certificate[];
  /** The roots as one PEM text, for node:tls `ca`. */
  readonly pem: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * loadTrustBundle parses every certificate of `pem` (each must be a CA) and settles the trust
 * domain: `trustDomain` when given, else the one the roots name. Throws IdentityError WEFT_ID_CA.
 */
export function loadTrustBundle(pem: string, trustDomain?: string): TrustBundle {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new IdentityError('WEFT_ID_CA', 'the trust bundle holds no PEM certificate', 500);
  const roots: X509Certificate[] = [];
  const named = new Set<string>();
  for (const b of blocks) {
    let c: X509Certificate;
    try {
      c = new X509Certificate(b);
    } catch (err) {
      throw new IdentityError('WEFT_ID_CA', `the trust bundle holds a certificate that cannot be parsed: ${(err as Error).message}`, 500);
    }
    if (!c.ca) throw new IdentityError('WEFT_ID_CA', `the trust bundle holds a certificate that is not a CA (${c.subject.replace(/\n/g, ', ')})`, 500);
    roots.push(c);
    const td = trustDomainOfCa(b);
    if (td) named.add(td);
  }
  let td = trustDomain;
  if (td === undefined) {
    if (named.size !== 1) {
      throw new IdentityError('WEFT_ID_CA', named.size === 0 ? 'the trust bundle names no trust domain; give it explicitly (--trust-domain)' : `the trust bundle names several trust domains (${[...named].join(', ')})`, 500);
    }
    td = [...named][0]!;
  }
  checkTrustDomain(td);
  return Object.freeze({ trustDomain: td, roots: Object.freeze(roots), pem: blocks.join('\n') + '\n' });
}
