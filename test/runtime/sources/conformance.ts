/**
 * The BundleSource conformance suite: every implementation (file, controller) passes these, so
 * the proxy can rely on the same behaviour whatever the source. Call it from a *.test.ts with a
 * factory:
 *
 *   bundleSourceConformance('file source', async (initial) => { ... return { source, publish, cleanup } });
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestOf } from '../../../schemas/canonical.js';
import type { BundleSink, BundleSource, LoadVerdict } from '../../../runtime/sources/source.js';
import { bundle, service, spec } from '../../helpers/bundle-builder.js';

/** SourceFixture is one source under test and the way to publish a new bundle to it. */
export interface SourceFixture {
  readonly source: BundleSource;
  /** Makes `text` the bundle the source should deliver next. */
  publish(text: string): Promise<void>;
  /**
   * witness builds a second source of the same kind on the same origin. The suite uses it to
   * observe that a publication has arrived (an event), instead of sleeping, before asserting
   * that the source under test did not deliver it.
   */
  witness(): BundleSource;
  /** Stops everything the fixture started (the suite calls source.stop() itself first). */
  cleanup(): Promise<void>;
}

/** SourceFactory builds a fixture; `initial` is available before start (null: nothing yet). */
export type SourceFactory = (initial: string | null) => Promise<SourceFixture>;

/** sampleBundle returns a distinct valid bundle text for each n. */
export function sampleBundle(n: number): string {
  return JSON.stringify(bundle(spec([service(`svc-${n}`, { endpoints: [`127.0.0.1:${10_000 + n}`] })])));
}

/** RecordingSink records offers and checks they never overlap. */
export class RecordingSink implements BundleSink {
  readonly offers: string[] = [];
  maxConcurrent = 0;
  private running = 0;
  constructor(private readonly delayMs = 0) {}
  async offer(text: string): Promise<LoadVerdict> {
    this.running++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.running);
    this.offers.push(text);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    this.running--;
    try {
      const digest = (JSON.parse(text) as { digest: string }).digest;
      return { state: 'active', digest };
    } catch {
      return { state: 'rejected', digest: null, code: 'WEFT_BUNDLE_PARSE', reason: 'not JSON' };
    }
  }
  /** last offered text that parses. */
  lastDigest(): string | null {
    for (let i = this.offers.length - 1; i >= 0; i--) {
      try {
        return (JSON.parse(this.offers[i]!) as { digest: string }).digest;
      } catch {
        // skip partial or invalid texts
      }
    }
    return null;
  }
}

async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const digestOfText = (t: string): string => (JSON.parse(t) as { digest: string }).digest;

/** bundleSourceConformance registers the suite for one implementation. */
export function bundleSourceConformance(name: string, factory: SourceFactory, opts: { deliveryMs?: number } = {}): void {
  const within = opts.deliveryMs ?? 5_000;
  describe(`BundleSource conformance: ${name}`, () => {
    it('has a description', async () => {
      const f = await factory(null);
      try {
        assert.ok(f.source.description.length > 0);
      } finally {
        await f.cleanup();
      }
    });

    it('offers the available bundle before start() resolves', async () => {
      const b = sampleBundle(1);
      const f = await factory(b);
      const sink = new RecordingSink();
      try {
        await f.source.start(sink);
        assert.equal(sink.lastDigest(), digestOfText(b));
      } finally {
        await f.source.stop();
        await f.cleanup();
      }
    });

    it('start() resolves when nothing is available, and a later bundle is offered', async () => {
      const f = await factory(null);
      const sink = new RecordingSink();
      try {
        await f.source.start(sink);
        assert.equal(sink.lastDigest(), null);
        const b = sampleBundle(2);
        await f.publish(b);
        await eventually(() => sink.lastDigest() === digestOfText(b), within, 'the published bundle to be offered');
      } finally {
        await f.source.stop();
        await f.cleanup();
      }
    });

    it('offers each new bundle, ending on the newest, never concurrently', async () => {
      const f = await factory(sampleBundle(3));
      const sink = new RecordingSink(30);
      try {
        await f.source.start(sink);
        let last = '';
        for (let n = 4; n < 9; n++) {
          last = sampleBundle(n);
          await f.publish(last);
          await new Promise((r) => setTimeout(r, 10));
        }
        await eventually(() => sink.lastDigest() === digestOfText(last), within, 'the newest bundle to be offered');
        assert.equal(sink.maxConcurrent, 1, 'offers are serialised');
      } finally {
        await f.source.stop();
        await f.cleanup();
      }
    });

    it('does not re-offer unchanged content endlessly', async () => {
      const b = sampleBundle(10);
      const f = await factory(b);
      const sink = new RecordingSink();
      try {
        await f.source.start(sink);
        // The same content published again, then a new bundle: once the new one arrives, the
        // source has handled the republication, and has offered `b` at most once more for it.
        await f.publish(b);
        const next = sampleBundle(15);
        await f.publish(next);
        await eventually(() => sink.lastDigest() === digestOfText(next), within, 'the bundle after the republication');
        assert.ok(sink.offers.filter((t) => t === b).length <= 2, `offered ${sink.offers.filter((t) => t === b).length} times`);
      } finally {
        await f.source.stop();
        await f.cleanup();
      }
    });

    it('keeps going after a rejected candidate', async () => {
      const f = await factory(sampleBundle(11));
      const sink = new RecordingSink();
      try {
        await f.source.start(sink);
        await f.publish('{ not json');
        await eventually(() => sink.offers.includes('{ not json'), within, 'the broken candidate to be offered');
        const good = sampleBundle(12);
        await f.publish(good);
        await eventually(() => sink.lastDigest() === digestOfText(good), within, 'the good bundle after a bad one');
      } finally {
        await f.source.stop();
        await f.cleanup();
      }
    });

    it('makes no offer after stop() resolves', async () => {
      const f = await factory(sampleBundle(13));
      const sink = new RecordingSink();
      const witness = f.witness();
      const seen = new RecordingSink();
      try {
        await f.source.start(sink);
        await witness.start(seen);
        await f.source.stop();
        const count = sink.offers.length;
        const next = sampleBundle(14);
        await f.publish(next);
        // The witness, still running, receiving it shows the publication went out.
        await eventually(() => seen.lastDigest() === digestOfText(next), within, 'the witness to be offered the new bundle');
        assert.equal(sink.offers.length, count);
      } finally {
        await witness.stop();
        await f.cleanup();
      }
    });
  });
}

/** digestOfSample is the digest sampleBundle(n) carries (for sources that serve by digest). */
export function digestOfSample(n: number): string {
  return digestOf((JSON.parse(sampleBundle(n)) as { spec: unknown }).spec);
}
