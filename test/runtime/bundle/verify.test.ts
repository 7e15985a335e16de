import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadTrustKey, verifyBundle } from '../../../runtime/bundle/verify.js';
import { BundleRejectedError } from '../../../runtime/errors.js';
import { bundle, keyPair, service, spec } from '../../helpers/bundle-builder.js';

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    if (err instanceof BundleRejectedError) return err.code;
    throw err;
  }
  return 'accepted';
};

describe('verifyBundle', () => {
  const s = spec([service('a', { endpoints: ['127.0.0.1:9'] })]);
  const good = JSON.stringify(bundle(s));

  it('accepts a well-formed bundle', () => assert.equal(code(() => verifyBundle(good, { trustKey: null })), 'accepted'));
  it('refuses oversized input', () => assert.equal(code(() => verifyBundle(good, { trustKey: null, maxBytes: 10 })), 'WEFT_BUNDLE_TOO_LARGE'));
  it('refuses truncated JSON', () => assert.equal(code(() => verifyBundle(good.slice(0, -5), { trustKey: null })), 'WEFT_BUNDLE_PARSE'));
  it('refuses a schema violation', () => assert.equal(code(() => verifyBundle(JSON.stringify({ ...bundle(s), apiVersion: 'v0' }), { trustKey: null })), 'WEFT_BUNDLE_SCHEMA'));
  it('refuses content that does not match its digest', () => {
    const b = bundle(s);
    b.spec.services[0]!.endpoints[0]!.port = 10;
    assert.equal(code(() => verifyBundle(JSON.stringify(b), { trustKey: null })), 'WEFT_BUNDLE_DIGEST');
  });
  it('checks signatures against the trust key', () => {
    const k = keyPair();
    const other = keyPair();
    const trust = loadTrustKey(k.publicPem);
    assert.equal(code(() => verifyBundle(JSON.stringify(bundle(s, { key: k.privateKey, publicKey: k.publicKey })), { trustKey: trust })), 'accepted');
    assert.equal(code(() => verifyBundle(good, { trustKey: trust })), 'WEFT_BUNDLE_UNSIGNED');
    assert.equal(code(() => verifyBundle(JSON.stringify(bundle(s, { key: other.privateKey, publicKey: other.publicKey })), { trustKey: trust })), 'WEFT_BUNDLE_SIGNATURE');
    const forged = bundle(s, { key: other.privateKey, publicKey: other.publicKey });
    forged.signature!.keyId = trust.keyId;
    assert.equal(code(() => verifyBundle(JSON.stringify(forged), { trustKey: trust })), 'WEFT_BUNDLE_SIGNATURE');
    const replayed = bundle(s, { key: k.privateKey, publicKey: k.publicKey });
    replayed.revision = { commit: 'a'.repeat(40), ref: 'main', path: '' };
    assert.equal(code(() => verifyBundle(JSON.stringify(replayed), { trustKey: trust })), 'WEFT_BUNDLE_SIGNATURE');
  });
});
