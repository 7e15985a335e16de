/**
 * ControllerSource passes the shared BundleSource conformance suite, served by the controller's
 * real HTTP layer (routes, long-poll hub) with bundles put in place directly, since the suite
 * publishes arbitrary bytes (including broken ones) that no commit could produce.
 */
import { createHash } from 'node:crypto';
import { Controller } from '../../runtime/controller/controller.js';
import { silentLogger } from '../../runtime/log.js';
import { ControllerServer } from '../../runtime/controller/server.js';
import { ControllerSource } from '../../runtime/sources/controller-source.js';
import type { Bundle } from '../../schemas/bundle.js';
import { bundleSourceConformance } from '../runtime/sources/conformance.js';
import { removeTmp, tmpDir } from './helpers.js';

bundleSourceConformance('controller source (long-poll)', async (initial) => {
  const dir = await tmpDir('conf');
  const ctl = new Controller({ repo: dir, storeDir: dir, pollMs: 60_000, logger: silentLogger });
  const server = new ControllerServer(ctl);
  const addr = await server.listen('127.0.0.1', 0);
  const publish = (text: string): Promise<void> => {
    let bundle: Bundle | null = null;
    try {
      bundle = JSON.parse(text) as Bundle;
    } catch {
      bundle = null;
    }
    const digest = typeof bundle?.digest === 'string' ? bundle.digest : `sha256:${createHash('sha256').update(text).digest('hex')}`;
    ctl.serve({ digest, bytes: Buffer.from(text), bundle: (bundle ?? {}) as Bundle, commit: null, publishedAt: new Date().toISOString() });
    return Promise.resolve();
  };
  if (initial !== null) await publish(initial);
  const source = (proxyId: string): ControllerSource =>
    new ControllerSource({ url: `http://127.0.0.1:${addr.port}`, service: 'web', proxyId, waitSeconds: 5, backoffMs: { initial: 50, max: 200 } });
  return {
    source: source('conformance'),
    witness: () => source('witness'),
    publish,
    async cleanup() {
      await ctl.close();
      await server.close();
      await removeTmp(dir);
    },
  };
});
