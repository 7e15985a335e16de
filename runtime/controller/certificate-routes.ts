/**
 * `POST /v1/certificates`: the controller as the mesh CA (docs/identity.md, docs/protocol.md).
 * Request `{csr, tokenType?, token?}`: with a token it is a bootstrap (the identity is the one
 * the token is bound to, and a use is spent); without one it is a renewal, allowed only over
 * mTLS with a valid current certificate (the identity is that certificate's). The CSR only
 * proves possession of the new key: nothing it names is used.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { IdentityError } from '../identity/errors.js';
import type { IssuedLeaf } from '../identity/issue.js';
import type { Controller } from './controller.js';
import { ControllerError, messageOf } from './errors.js';
import { readBody, sendError, sendJson } from './http.js';
import { authenticatePeer } from './peer-identity.js';

/** CERTIFICATES_BODY_LIMIT bounds the request (a P-256 CSR and a token are under 2 KiB). */
export const CERTIFICATES_BODY_LIMIT = 32 * 1024;

/** CertificateResponse is the 200 body. */
export interface CertificateResponse {
  spiffeId: string;
  /** The new leaf, PEM. */
  certificate: string;
  /** The roots to trust (the mesh CA), PEM. */
  trustBundle: string;
  notBefore: string;
  notAfter: string;
}

/** postCertificates: see the module comment. */
export async function postCertificates(ctl: Controller, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const issuer = ctl.issuer;
  if (!issuer) {
    sendError(res, 404, 'WEFT_CTL_NOT_FOUND', 'this controller issues no certificates (start it with --ca-dir)');
    return;
  }
  let body: Record<string, unknown>;
  try {
    const v: unknown = JSON.parse((await readBody(req, CERTIFICATES_BODY_LIMIT)).toString('utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
    body = v as Record<string, unknown>;
  } catch (err) {
    sendError(res, err instanceof ControllerError ? 413 : 400, 'WEFT_CTL_BAD_REQUEST', messageOf(err));
    return;
  }
  const { csr, token, tokenType } = body;
  if (typeof csr !== 'string' || (token !== undefined && typeof token !== 'string') || (tokenType !== undefined && typeof tokenType !== 'string')) {
    sendError(res, 400, 'WEFT_CTL_BAD_REQUEST', 'expected {csr: PEM, tokenType?: "join_token", token?: string}');
    return;
  }
  const kind = token !== undefined ? 'bootstrap' : 'renewal';
  let leaf: IssuedLeaf;
  let ref: string;
  try {
    if (token !== undefined) {
      ({ leaf, ref } = await issuer.bootstrap(csr, tokenType ?? 'join_token', token));
    } else {
      const current = authenticatePeer(req);
      leaf = await issuer.renew(csr, current);
      ref = `certificate:${current.serialNumber.slice(0, 16)}`;
    }
  } catch (err) {
    ctl.metrics.certificates.inc({ kind, result: 'refused' });
    if (err instanceof IdentityError) {
      ctl.log.log('warn', 'certificate refused', { kind, code: err.code, error: err.message, remote: req.socket.remoteAddress ?? null });
      sendError(res, err.status, err.code, err.message);
    } else if (err instanceof ControllerError) {
      ctl.log.log('error', 'certificate refused', { kind, code: err.code, error: err.message });
      sendError(res, 503, err.code, err.message);
    } else {
      throw err;
    }
    return;
  }
  ctl.metrics.certificates.inc({ kind, result: 'issued' });
  ctl.log.log('info', 'certificate issued', { kind, spiffeId: leaf.id.uri, serial: leaf.serialNumber, notAfter: leaf.notAfter.toISOString(), by: ref });
  const out: CertificateResponse = {
    spiffeId: leaf.id.uri,
    certificate: leaf.certPem,
    trustBundle: issuer.trustBundle.pem,
    notBefore: leaf.notBefore.toISOString(),
    notAfter: leaf.notAfter.toISOString(),
  };
  sendJson(res, 200, out);
}
