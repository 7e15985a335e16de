import assert from 'node:assert/strict';
import { mkdirSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FileSource } from '../../../runtime/sources/file-source.js';
import { tempDir, writeAtomic } from '../../helpers/proxy-harness.js';
import { bundleSourceConformance, RecordingSink, sampleBundle } from './conformance.js';

const digest = (t: string): string => (JSON.parse(t) as { digest: string }).digest;

async function eventually(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

bundleSourceConformance('file source (atomic rename)', async (initial) => {
  const dir = tempDir();
  const file = path.join(dir, 'bundle.json');
  if (initial !== null) writeAtomic(file, initial);
  const source = (): FileSource => new FileSource(file, { pollMs: 500, sighup: false });
  return { source: source(), witness: source, publish: async (t) => writeAtomic(file, t), cleanup: async () => {} };
});

bundleSourceConformance('file source (in-place write)', async (initial) => {
  const dir = tempDir();
  const file = path.join(dir, 'bundle.json');
  if (initial !== null) writeFileSync(file, initial);
  const source = (): FileSource => new FileSource(file, { pollMs: 500, sighup: false });
  return { source: source(), witness: source, publish: async (t) => writeFileSync(file, t), cleanup: async () => {} };
});

/**
 * ConfigMap layout: bundle.json → ..data/bundle.json, ..data → ..<timestamp>/; an update writes
 * a new timestamped dir, points ..data_tmp at it and renames ..data_tmp over ..data.
 */
function configMap(dir: string): { file: string; publish(text: string): void } {
  let n = 0;
  const publish = (text: string): void => {
    const ts = `..2026_${n++}`;
    mkdirSync(path.join(dir, ts));
    writeFileSync(path.join(dir, ts, 'bundle.json'), text);
    symlinkSync(ts, path.join(dir, '..data_tmp'));
    renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  };
  return { file: path.join(dir, 'bundle.json'), publish };
}

bundleSourceConformance('file source (Kubernetes ConfigMap symlink swap)', async (initial) => {
  const dir = tempDir();
  const cm = configMap(dir);
  if (initial !== null) cm.publish(initial);
  else {
    mkdirSync(path.join(dir, '..init'));
    symlinkSync('..init', path.join(dir, '..data'));
  }
  symlinkSync(path.join('..data', 'bundle.json'), cm.file);
  const source = (): FileSource => new FileSource(cm.file, { pollMs: 0, sighup: false });
  return { source: source(), witness: source, publish: async (t) => cm.publish(t), cleanup: async () => {} };
});

describe('file source', () => {
  it('re-reads on SIGHUP', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bundle.json');
    writeAtomic(file, sampleBundle(1));
    const src = new FileSource(file, { pollMs: 0 });
    const sink = new RecordingSink();
    try {
      await src.start(sink);
      const n = sink.offers.length;
      process.kill(process.pid, 'SIGHUP');
      await eventually(() => sink.offers.length > n);
    } finally {
      await src.stop();
    }
  });

  it('survives the file being deleted and recreated', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bundle.json');
    writeAtomic(file, sampleBundle(1));
    const src = new FileSource(file, { pollMs: 0, sighup: false });
    const sink = new RecordingSink();
    try {
      await src.start(sink);
      unlinkSync(file);
      await new Promise((r) => setTimeout(r, 100));
      const b = sampleBundle(2);
      writeAtomic(file, b);
      await eventually(() => sink.lastDigest() === digest(b));
      assert.equal(sink.offers.at(-1), b, 'the recreated file is offered as written');
    } finally {
      await src.stop();
    }
  });
});
