/**
 * proxyLimits: what a proxy applies from a bundle's `mesh.proxy`. A bundle from a compiler that
 * predates requestTimeout (no `requestTimeoutMs`) still loads, with the default; an absent
 * `mesh.proxy` is the defaults table itself.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MeshProxySettings } from '../../schemas/bundle.js';
import { DEFAULT_PROXY_SETTINGS, proxyLimits } from '../../schemas/proxy-settings.js';

test('proxyLimits fills requestTimeoutMs for a bundle that does not carry it, keeps what it does carry', () => {
  const { requestTimeoutMs: _omitted, ...older } = DEFAULT_PROXY_SETTINGS;
  const old: MeshProxySettings = { ...older, streamIdleTimeoutMs: 1_000 };
  const l = proxyLimits(old);
  assert.equal(l.requestTimeoutMs, 300_000);
  assert.equal(l.streamIdleTimeoutMs, 1_000);
  assert.equal(proxyLimits({ ...old, requestTimeoutMs: 0 }).requestTimeoutMs, 0, '0 (disabled) is kept, not replaced by the default');
  assert.equal(proxyLimits(undefined), DEFAULT_PROXY_SETTINGS);
  assert.ok(Object.isFrozen(l));
});
