/**
 * FileCertificateSource (--cert --key --ca: SPIRE, cert-manager, Vault) against real files:
 * the conformance suite, plus what writers of such files do — write the three files one after
 * another (a half-written set is not taken), swap a `..data` symlink as Kubernetes volumes do —
 * and what it must refuse at start (a certificate of another CA, an expired one, two URI SANs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createCa, type MeshCa } from '../../../runtime/identity/ca.js';
import { workloadId } from '../../../runtime/identity/spiffe-id.js';
import { FileCertificateSource } from '../../../runtime/proxy/mtls/file-certificates.js';
import { WeftError } from '../../../runtime/errors.js';
import { otherCa, removeDir, rogueLeaf, tmpDir, workload } from '../../helpers/identity-kit.js';
import { waitFor } from '../../helpers/proxy-harness.js';
import { certificateSourceConformance, nextRotation } from './certificate-source-conformance.js';

async function writeSet(dir: string, ca: MeshCa, service = 'ratings'): Promise<void> {
  const w = await workload(ca, service);
  await writeFile(path.join(dir, 'tls.key'), w.keyPem);
  await writeFile(path.join(dir, 'tls.crt'), w.certPem);
  await writeFile(path.join(dir, 'ca.crt'), ca.certPem);
}

function source(dir: string): FileCertificateSource {
  return new FileCertificateSource({ cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key'), ca: path.join(dir, 'ca.crt'), debounceMs: 20, pollMs: 200 });
}

certificateSourceConformance('FileCertificateSource', async () => {
  const ca = await createCa('weft.local');
  const dir = await tmpDir('filecerts');
  await writeSet(dir, ca);
  return {
    source: source(dir),
    expectedId: workloadId('weft.local', 'default', 'ratings').uri,
    rotate: () => writeSet(dir, ca),
    close: () => removeDir(dir),
  };
});

test('FileCertificateSource: a key that does not match the new certificate is not taken; the consistent set is', async () => {
  const ca = await createCa('weft.local');
  const dir = await tmpDir('filecerts');
  const s = source(dir);
  try {
    await writeSet(dir, ca);
    await s.start();
    const first = s.current()!;
    // The writer puts the new certificate first and the key a moment later (cert-manager does).
    const w = await workload(ca, 'ratings');
    await writeFile(path.join(dir, 'tls.crt'), w.certPem);
    await waitFor(() => s.status().lastError !== null, 10_000, 'the source to report the certificate that does not match its key');
    assert.equal(s.current(), first, 'the old certificate stays while the set is inconsistent');
    assert.equal(s.status().lastError?.code, 'WEFT_ID_CERT');
    const next = nextRotation(s);
    await writeFile(path.join(dir, 'tls.key'), w.keyPem);
    const c = await next;
    assert.notEqual(c.leaf.serialNumber, first.leaf.serialNumber);
    assert.equal(s.status().lastError, null);
  } finally {
    await s.stop();
    await removeDir(dir);
  }
});

test('FileCertificateSource: a Kubernetes-style ..data symlink swap is picked up', async () => {
  const ca = await createCa('weft.local');
  const dir = await tmpDir('filecerts');
  const s = source(dir);
  try {
    await mkdir(path.join(dir, 'v1'));
    await writeSet(path.join(dir, 'v1'), ca);
    await symlink('v1', path.join(dir, '..data'));
    for (const f of ['tls.crt', 'tls.key', 'ca.crt']) await symlink(path.join('..data', f), path.join(dir, f));
    await s.start();
    const first = s.current()!;
    await mkdir(path.join(dir, 'v2'));
    await writeSet(path.join(dir, 'v2'), ca);
    const next = nextRotation(s);
    await symlink('v2', path.join(dir, '..data_tmp'));
    await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    const c = await next;
    assert.notEqual(c.leaf.serialNumber, first.leaf.serialNumber);
  } finally {
    await s.stop();
    await removeDir(dir);
  }
});

test('FileCertificateSource: refuses at start a certificate of another CA, an expired one, or one with two URI SANs', async () => {
  const ca = await createCa('weft.local');
  const foreign = await otherCa();
  const cases: [string, () => Promise<{ keyPem: string; certPem: string }>, string][] = [
    ['another CA', () => workload(foreign, 'ratings'), 'WEFT_ID_CERT_CHAIN'],
    ['expired', () => rogueLeaf(ca, ['spiffe://weft.local/ns/default/sa/ratings'], { notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) }), 'WEFT_ID_CERT_EXPIRED'],
    ['two URI SANs', () => rogueLeaf(ca, ['spiffe://weft.local/ns/default/sa/ratings', 'spiffe://weft.local/ns/default/sa/admin']), 'WEFT_ID_CERT_SAN'],
    ['another trust domain', () => rogueLeaf(ca, ['spiffe://evil.example/ns/default/sa/ratings']), 'WEFT_ID_CERT_SAN'],
  ];
  for (const [what, make, code] of cases) {
    const dir = await tmpDir('filecerts');
    const s = source(dir);
    try {
      const w = await make();
      await writeFile(path.join(dir, 'tls.key'), w.keyPem);
      await writeFile(path.join(dir, 'tls.crt'), w.certPem);
      await writeFile(path.join(dir, 'ca.crt'), ca.certPem);
      await assert.rejects(s.start(), (err: unknown) => err instanceof WeftError && err.code === code, what);
      assert.equal(s.current(), null);
    } finally {
      await s.stop();
      await removeDir(dir);
    }
  }
});

test('FileCertificateSource with expect: refuses at start a certificate naming another Service, and never rotates to one', async () => {
  const ca = await createCa('weft.local');
  const dir = await tmpDir('filecerts');
  const expect = workloadId('weft.local', 'default', 'ratings').uri;
  const withExpect = (): FileCertificateSource =>
    new FileCertificateSource({ cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key'), ca: path.join(dir, 'ca.crt'), expect, debounceMs: 20, pollMs: 200 });
  try {
    await writeSet(dir, ca, 'reviews');
    await assert.rejects(withExpect().start(), (err: unknown) => err instanceof WeftError && err.code === 'WEFT_ID_CERT_SAN' && /names spiffe:\/\/weft\.local\/ns\/default\/sa\/reviews, not spiffe:\/\/weft\.local\/ns\/default\/sa\/ratings/.test(err.message));
    await writeSet(dir, ca, 'ratings');
    const s = withExpect();
    await s.start();
    try {
      const first = s.current()!;
      // Files swapped for another Service's set: not taken, the reason kept; ratings' own set is.
      await writeSet(dir, ca, 'reviews');
      // The three files are written one after another, so a read between them can see a key that
      // does not match its certificate (WEFT_ID_CERT) first; the next read sees the whole set.
      await waitFor(() => s.status().lastError?.code === 'WEFT_ID_CERT_SAN', 10_000, 'the source to report the certificate naming another Service');
      assert.equal(s.current(), first);
      assert.equal(s.status().lastError?.code, 'WEFT_ID_CERT_SAN');
      const next = nextRotation(s);
      await writeSet(dir, ca, 'ratings');
      assert.equal((await next).leaf.id.uri, expect);
    } finally {
      await s.stop();
    }
  } finally {
    await removeDir(dir);
  }
});
