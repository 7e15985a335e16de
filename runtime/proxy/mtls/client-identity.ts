import { createSecureContext } from 'node:tls';
import type { TlsClientCredentials, TlsClientIdentity } from '../../identity/tls-client-identity.js';
import type { CertificateSource } from './certificate-source.js';
import type { WorkloadCertificate } from './workload-certificate.js';

/**
 * sourceClientIdentity presents a CertificateSource's current certificate as a TlsClientIdentity
 * (what the controller bundle source takes): one secure context per certificate, built on first
 * use after a rotation; the generation grows with each certificate.
 */
export function sourceClientIdentity(source: CertificateSource): TlsClientIdentity {
  let built: { cert: WorkloadCertificate; creds: TlsClientCredentials } | null = null;
  let generation = 0;
  return {
    current(): TlsClientCredentials | null {
      const cert = source.current();
      if (!cert) return null;
      if (built?.cert !== cert) {
        generation++;
        built = { cert, creds: Object.freeze({ generation, secureContext: createSecureContext({ key: cert.keyPem, cert: cert.certPem, ca: cert.trustBundle.pem, minVersion: 'TLSv1.2' }) }) };
      }
      return built.creds;
    },
  };
}
