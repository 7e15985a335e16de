/** runtime/atomic-write.ts: the one atomic, durable file replacement (compile --out, proxy cache, controller store). */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFileAtomic, writeFileAtomicChunks } from '../../runtime/atomic-write.js';

describe('writeFileAtomic', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'weft-atomic-'));
  after(() => rm(dir, { recursive: true, force: true }));

  it('creates and replaces a file with the given mode, leaving no temp file behind', async () => {
    const file = path.join(dir, 'key.pem');
    await writeFileAtomic(file, 'one', 0o600);
    await writeFileAtomic(file, new TextEncoder().encode('two'), 0o600);
    assert.equal(await readFile(file, 'utf8'), 'two');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['key.pem']);
  });

  it('applies concurrent writes to one file in call order', async () => {
    const file = path.join(dir, 'order.json');
    await Promise.all(Array.from({ length: 20 }, (_, i) => writeFileAtomic(file, String(i))));
    assert.equal(await readFile(file, 'utf8'), '19');
  });

  it('writes through a symlink to its target (a ConfigMap-style link stays a link)', async () => {
    const target = path.join(dir, 'real.json');
    const link = path.join(dir, 'link.json');
    await writeFile(target, 'old');
    await symlink(target, link);
    await writeFileAtomic(link, 'new');
    assert.equal(await readFile(target, 'utf8'), 'new');
    assert.equal(await readFile(link, 'utf8'), 'new');
  });

  it('rejects with the file system error when the directory does not exist', async () => {
    await assert.rejects(writeFileAtomic(path.join(dir, 'missing', 'x.json'), '{}'), { code: 'ENOENT' });
  });
});

describe('writeFileAtomicChunks', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'weft-atomic-chunks-'));
  after(() => rm(dir, { recursive: true, force: true }));

  it('writes chunks in order, each consumed before the next (one buffer reused), through a symlink', async () => {
    const target = path.join(dir, 'bundle.json');
    const link = path.join(dir, 'current.json');
    await writeFile(target, 'old');
    await symlink(target, link);
    const buf = Buffer.alloc(3);
    const chunks = function* (): Generator<Buffer> {
      for (const part of ['{"a"', ':', '12345', '}']) {
        for (let at = 0; at < part.length; at += buf.length) yield buf.subarray(0, buf.write(part.slice(at, at + buf.length)));
      }
    };
    await writeFileAtomicChunks(link, chunks(), 0o640);
    assert.equal(await readFile(target, 'utf8'), '{"a":12345}');
    assert.equal((await stat(target)).mode & 0o777, 0o640);
    assert.deepEqual((await readdir(dir)).sort(), ['bundle.json', 'current.json']);
  });

  it('leaves the old file and no temp file when a chunk cannot be made', async () => {
    const file = path.join(dir, 'kept.json');
    await writeFile(file, 'old');
    const failing = function* (): Generator<Buffer> {
      yield Buffer.from('partial');
      throw new Error('no more');
    };
    await assert.rejects(writeFileAtomicChunks(file, failing()), /no more/);
    assert.equal(await readFile(file, 'utf8'), 'old');
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('kept')), ['kept.json']);
  });
});
