import { networkInterfaces, hostname } from 'node:os';
import type { SecureContextOptions } from 'node:tls';
import type { Attestor } from '../identity/attestor.js';
import type { MeshCa } from '../identity/ca.js';
import { createCsr, parseCsr } from '../identity/csr.js';
import { IdentityError } from '../identity/errors.js';
import { DEFAULT_LEAF_TTL_MS, issueLeaf, type IssuedLeaf } from '../identity/issue.js';
import { controllerId, isControllerId, parseWorkloadId, type WorkloadId } from '../identity/spiffe-id.js';
import { loadTrustBundle, type TrustBundle } from '../identity/trust-bundle.js';
import type { VerifiedLeaf } from '../identity/verify-leaf.js';

/**
 * Issuer is the controller as the mesh CA: it turns a CSR into an X.509-SVID for the identity an
 * Attestor vouches for (bootstrap) or the identity of the caller's current certificate (renewal),
 * and never for an identity the CSR names. It also issues the controller's own serving
 * certificate (`spiffe://<td>/ns/weft-system/sa/weft-controller`, plus DNS and IP SANs).
 */
export class Issuer {
  readonly trustBundle: TrustBundle;
  private readonly attestors: ReadonlyMap<string, Attestor>;

  constructor(
    readonly ca: MeshCa,
    attestors: readonly Attestor[],
    /** Lifetime of issued certificates in ms (--cert-ttl, default 24 h). */
    readonly certTtlMs: number = DEFAULT_LEAF_TTL_MS,
  ) {
    this.trustBundle = loadTrustBundle(ca.certPem, ca.trustDomain);
    this.attestors = new Map(attestors.map((a) => [a.tokenType, a]));
  }

  get trustDomain(): string {
    return this.ca.trustDomain;
  }

  /** tokenTypes are the bootstrap credentials accepted (`join_token`, ...). */
  get tokenTypes(): string[] {
    return [...this.attestors.keys()];
  }

  /**
   * bootstrap issues for a new workload: `token` is checked (and spent) by the attestor of
   * `tokenType`; the certificate names the identity the attestor returns. Throws IdentityError.
   */
  async bootstrap(csrPem: string, tokenType: string, token: string, now = new Date()): Promise<{ leaf: IssuedLeaf; ref: string }> {
    const attestor = this.attestors.get(tokenType);
    if (!attestor) throw new IdentityError('WEFT_ID_TOKEN', `token type "${tokenType}" is not accepted here (accepted: ${this.tokenTypes.join(', ')})`, 400);
    // Order: the token is verified (cheap, spends nothing), so anonymous requests cost no CSR
    // parsing; then the CSR is checked, so a malformed request does not burn a one-use token;
    // only then is the use spent.
    const claimed = await attestor.verify(token, now);
    // Whatever an attestor vouches for, the controller's own identity is never issued to a client.
    if (isControllerId(claimed.identity)) throw new IdentityError('WEFT_ID_CERT_SAN', 'the controller identity is never issued to a client', 403);
    await parseCsr(csrPem);
    const { identity, ref } = await attestor.attest(token, now);
    if (isControllerId(identity)) throw new IdentityError('WEFT_ID_CERT_SAN', 'the controller identity is never issued to a client', 403);
    return { leaf: await issueLeaf(this.ca, csrPem, { id: identity, ttlMs: this.certTtlMs, now }), ref };
  }

  /**
   * renew issues a fresh certificate (for the new key in `csrPem`) to the holder of a valid
   * current one: same identity, new lifetime. Only workload identities renew.
   */
  async renew(csrPem: string, current: VerifiedLeaf, now = new Date()): Promise<IssuedLeaf> {
    const id: WorkloadId = current.workload ?? parseWorkloadId(current.id.uri, this.trustDomain);
    if (isControllerId(id)) throw new IdentityError('WEFT_ID_CERT_SAN', 'the controller identity is never issued to a client', 403);
    return issueLeaf(this.ca, csrPem, { id, ttlMs: this.certTtlMs, now });
  }

  /**
   * serverCredentials makes the controller's own key and certificate for `names` (DNS names and
   * IP addresses it is reached by), ready for https.createServer / setSecureContext.
   */
  async serverCredentials(names: { dns: string[]; ips: string[] }, now = new Date()): Promise<{ options: SecureContextOptions; leaf: IssuedLeaf }> {
    const { key, csrPem } = await createCsr('weft-controller');
    const leaf = await issueLeaf(this.ca, csrPem, { id: controllerId(this.trustDomain), ttlMs: this.certTtlMs, dnsNames: names.dns, ipAddresses: names.ips, now });
    return { options: { key: key.privateKeyPem, cert: leaf.certPem, ca: this.trustBundle.pem, minVersion: 'TLSv1.2' }, leaf };
  }
}

/**
 * servingNames are the SANs of the controller's certificate for a listen host: the host itself
 * when it is specific; for a wildcard (0.0.0.0, ::), every local interface address, `localhost`
 * and the host name. `extra` adds names given with --san.
 */
export function servingNames(listenHost: string, extra: readonly string[] = []): { dns: string[]; ips: string[] } {
  const dns = new Set<string>();
  const ips = new Set<string>();
  const add = (n: string): void => {
    if (/^[0-9.]+$/.test(n) || n.includes(':')) ips.add(n);
    else if (n) dns.add(n.toLowerCase());
  };
  if (listenHost === '0.0.0.0' || listenHost === '::' || listenHost === '') {
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) if (!i.address.includes('%')) add(i.address);
    add('localhost');
    add(hostname());
  } else {
    add(listenHost);
    if (listenHost === '127.0.0.1' || listenHost === '::1') add('localhost');
  }
  for (const n of extra) add(n);
  return { dns: [...dns].sort(), ips: [...ips].sort() };
}
