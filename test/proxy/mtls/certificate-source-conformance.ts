/**
 * The conformance suite every CertificateSource passes (file certificates, controller-issued
 * SVIDs): it starts with a verified certificate naming the expected identity, a rotation hands
 * listeners a new certificate that `current()` then returns, and `status()` says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CertificateSource } from '../../../runtime/proxy/mtls/certificate-source.js';
import type { WorkloadCertificate } from '../../../runtime/proxy/mtls/workload-certificate.js';
import { within } from '../../helpers/proxy-harness.js';

/** CertificateSourceHarness is one implementation under test, with a way to make it rotate. */
export interface CertificateSourceHarness {
  readonly source: CertificateSource;
  /** The SPIFFE ID the source must hand out. */
  readonly expectedId: string;
  /** Causes a new certificate (new files written, renewal asked for). */
  rotate(): Promise<void>;
  close(): Promise<void>;
}

/**
 * nextRotation resolves with the next certificate `source` hands to its rotation listeners;
 * rejects after `ms` (a source that never rotates fails the test, it does not hang the run).
 */
export function nextRotation(source: CertificateSource, ms = 20_000): Promise<WorkloadCertificate> {
  return within(
    new Promise((resolve) => {
      let done = false;
      source.onRotate((c) => {
        if (done) return;
        done = true;
        resolve(c);
      });
    }),
    ms,
    'the certificate source to hand over its next certificate',
  );
}

/** certificateSourceConformance registers the suite for one implementation. */
export function certificateSourceConformance(name: string, make: () => Promise<CertificateSourceHarness>): void {
  test(`${name}: start yields a verified certificate naming the workload`, async () => {
    const h = await make();
    try {
      await h.source.start();
      const c = h.source.current();
      assert.ok(c, 'a certificate after start');
      assert.equal(c.leaf.id.uri, h.expectedId);
      assert.ok(c.leaf.notAfter.getTime() > Date.now());
      assert.match(c.keyPem, /PRIVATE KEY/);
      const st = h.source.status();
      assert.equal(st.spiffeId, h.expectedId);
      assert.equal(st.rotations, 1);
      assert.equal(st.lastError, null);
    } finally {
      await h.source.stop();
      await h.close();
    }
  });

  test(`${name}: a rotation hands listeners a new certificate and current() returns it`, async () => {
    const h = await make();
    try {
      await h.source.start();
      const before = h.source.current()!;
      const next = nextRotation(h.source);
      await h.rotate();
      const c = await next;
      assert.notEqual(c.leaf.serialNumber, before.leaf.serialNumber);
      assert.equal(c.leaf.id.uri, h.expectedId);
      assert.equal(h.source.current(), c);
      assert.equal(h.source.status().rotations, 2);
      assert.equal(h.source.status().serialNumber, c.leaf.serialNumber);
    } finally {
      await h.source.stop();
      await h.close();
    }
  });
}
