/**
 * The JSON document of `GET /v1/status`, shared by the controller (which writes it) and
 * `weft status` (which reads it). Times are ISO 8601 strings; digests `sha256:<hex>`.
 */
import type { Diagnostic } from '../../compiler/types.js';
import type { CommitEvent } from './commit-history.js';
import type { CommitInfo } from './git.js';
import type { ProxyState } from './fleet.js';
import type { ServiceInstances } from '../discovery/discovery.js';

export interface StatusDocument {
  /** True once a bundle is being served. */
  ready: boolean;
  repository: { url: string; branch: string; path: string; error: { code: string; message: string; at: string } | null };
  /**
   * How the controller authenticates proxies: `mtls` (it is the mesh CA; proxy-facing routes need
   * a client certificate) or `insecure` (--insecure: anyone may fetch, report and register).
   */
  security: {
    mode: 'mtls' | 'insecure';
    trustDomain: string | null;
    /** When the CA's root expires. */
    caNotAfter: string | null;
    /** Lifetime of the certificates it issues (--cert-ttl), in seconds. */
    certTtlSeconds: number | null;
  };
  /** The bundle being served, or null before the first one. */
  current: {
    digest: string;
    commit: CommitInfo | null;
    /** Key id of the signature, null when unsigned. */
    signedBy: string | null;
    publishedAt: string;
  } | null;
  /** The most recent compile, good or bad; null before the first one finishes. */
  lastCompile: {
    commit: CommitInfo;
    ok: boolean;
    digest: string | null;
    startedAt: string;
    durationMs: number;
    errors: number;
    warnings: number;
    diagnostics: Diagnostic[];
  } | null;
  /** What the controller did with each compiled commit, oldest first (bounded; commit-history.ts). */
  history: CommitEvent[];
  /** Registered instances per Service (docs/discovery.md); `warming` after a controller restart. */
  discovery: { leaseMs: number; heartbeatMs: number; warming: boolean; services: ServiceInstances[] };
  proxies: ProxyStatus[];
}

/** ProxyStatus is one row of the proxy table. */
export interface ProxyStatus {
  proxy: string;
  service: string;
  digest: string | null;
  state: ProxyState;
  error: string | null;
  lastContact: string;
  /** Not on the current digest, or its last bundle was rejected. */
  behind: boolean;
  /** Not heard of for a while (see docs/protocol.md); listed, but not waited for. */
  lost: boolean;
  /** SPIFFE ID of the proxy's client certificate; null in insecure mode. */
  identity: string | null;
  /** When that certificate expires (ISO 8601); null in insecure mode. */
  certNotAfter: string | null;
}
