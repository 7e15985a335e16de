import type { WorkloadCertificate } from './workload-certificate.js';

/**
 * CertificateSource is where a proxy's workload certificate comes from: the controller (an SVID
 * issued for a join token, renewed over mTLS: controller-certificates.ts) or files written by
 * SPIRE, cert-manager or Vault (file-certificates.ts). Both pass one conformance suite
 * (test/proxy/mtls/certificate-source-conformance.ts).
 *
 * The TLS layer (mesh-tls.ts) builds its contexts from `current()` once per certificate and again
 * on each `onRotate`; a source never hands out a certificate that failed the mesh's checks, and a
 * bad replacement leaves the current one in place (reported in `status().lastError`).
 */
export interface CertificateSource {
  /** Where certificates come from, for logs and /config, e.g. `files:/etc/weft/tls.crt`. */
  readonly description: string;
  /** Gets the first certificate; resolves once `current()` has one. Rejects with a WeftError. */
  start(): Promise<void>;
  /** The certificate in force, or null before `start` resolved. */
  current(): WorkloadCertificate | null;
  /** Registers a listener called with each new certificate after the first. */
  onRotate(listener: (c: WorkloadCertificate) => void): void;
  /** Stops watching and renewing. */
  stop(): Promise<void>;
  /** For /config and the controller's proxy table. */
  status(): CertificateStatus;
}

/** CertificateStatus is what the admin listener shows about the proxy's identity. */
export interface CertificateStatus {
  readonly source: string;
  /** The SPIFFE ID in force, or null. */
  readonly spiffeId: string | null;
  readonly serialNumber: string | null;
  readonly notAfter: string | null;
  /** When the next renewal is planned (controller source), or null. */
  readonly renewAt: string | null;
  /** Certificates taken since start (1 after the first). */
  readonly rotations: number;
  /** The last failed load or renewal, and why; null once a later one succeeded. */
  readonly lastError: { readonly at: string; readonly code: string; readonly message: string } | null;
}
