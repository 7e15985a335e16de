/**
 * `weft status`'s traffic line (bin/commands/status.ts renderTraffic): the last seconds a traffic
 * generator posted, split by the instance that answered; nothing without recent samples.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTraffic } from '../../bin/commands/status.js';

test('status: the traffic line folds the newest complete seconds, split by instance', () => {
  const now = 1_764_109_010_500;
  const sample = (t: number, backends: Record<string, number>, errors = 0): { t: number; requests: number; errors: number; backends: Record<string, number> } => ({
    t, requests: Object.values(backends).reduce((a, b) => a + b, 0) + errors, errors, backends,
  });
  const doc = {
    source: 'weft-up',
    samples: [
      sample(now - 60_500, { 'reviews-v1': 100 }), // long gone: not counted
      ...[5, 4, 3, 2, 1].map((k) => sample(now - 500 - k * 1000, { 'reviews-v1': 10, 'reviews-v2': 5, 'reviews-v2#2': 5 })),
    ],
  };
  assert.equal(renderTraffic(doc, now), '\ntraffic     20.0 req/s, 0 error(s) in the last 5s, posted by weft-up: reviews-v1 50%  reviews-v2 25%  reviews-v2#2 25%\n');
  assert.equal(renderTraffic({ source: 'weft-up', samples: [sample(now - 60_500, { a: 1 })] }, now), '', 'nothing recent: no line');
  assert.equal(renderTraffic(null, now), '', 'no traffic document: no line');
  // Backend names come from the network: control characters are shown escaped.
  assert.ok(!renderTraffic({ source: 'x', samples: [sample(now - 1500, { 'evil\u001b[2J': 1 })] }, now).includes('\u001b'));
});
