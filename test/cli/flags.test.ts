/**
 * The command line's one duration grammar and one address parser: every command's flags read
 * durations as policies do (Gateway API GEP-2257) and addresses through runtime/address.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError, addressFlag, durationFlag } from '../../bin/cli.js';
import { formatHostPort, parseHostPort } from '../../runtime/address.js';

describe('durationFlag', () => {
  it('reads GEP-2257 durations into milliseconds', () => {
    assert.equal(durationFlag('--poll', '30s'), 30_000);
    assert.equal(durationFlag('--poll', '1m30s'), 90_000);
    assert.equal(durationFlag('--poll', '250ms'), 250);
    assert.equal(durationFlag('--poll', '1h0m0s0ms'), 3_600_000);
  });

  it('refuses what a policy would refuse: bare numbers, fractions, unknown units, spaces', () => {
    for (const bad of ['2', '1.5s', '10us', '1 s', '', 'soon', '123456s', '1h1m1s1ms1h']) {
      assert.throws(() => durationFlag('--poll', bad), (err: unknown) => err instanceof UsageError && err.message.startsWith('--poll: ') && err.message.includes(`"${bad}"`), bad);
    }
  });
});

describe('parseHostPort', () => {
  it('reads HOST:PORT, [V6]:PORT, :PORT and PORT', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:0', '0.0.0.0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseHostPort(':15010', '0.0.0.0'), { host: '0.0.0.0', port: 15010 });
    assert.deepEqual(parseHostPort('15000', '127.0.0.1'), { host: '127.0.0.1', port: 15000 });
    assert.deepEqual(parseHostPort('[::1]:80', '0.0.0.0'), { host: '::1', port: 80 });
    assert.deepEqual(parseHostPort(' localhost:8080 ', '0.0.0.0'), { host: 'localhost', port: 8080 });
  });

  it('returns null for malformed addresses and ports over 65535', () => {
    for (const bad of ['host:99999', '99999', 'localhost8080', '::1:80', '[::1]', 'a b:80', 'host:', 'host:-1', '[zz]:80']) {
      assert.equal(parseHostPort(bad, '0.0.0.0'), null, bad);
    }
  });

  it('formatHostPort is its inverse, bracketing IPv6', () => {
    for (const text of ['127.0.0.1:15001', '[::1]:15000', 'example.org:0']) {
      const a = parseHostPort(text, '0.0.0.0');
      assert.ok(a);
      assert.equal(formatHostPort(a), text);
    }
  });

  it('addressFlag turns a malformed address into a UsageError naming the flag', () => {
    assert.deepEqual(addressFlag('--admin', ':15000', '127.0.0.1'), { host: '127.0.0.1', port: 15000 });
    assert.throws(() => addressFlag('--admin', 'nowhere', '127.0.0.1'), (err: unknown) => err instanceof UsageError && err.message.startsWith('--admin: '));
  });
});
