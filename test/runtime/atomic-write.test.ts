/** runtime/atomic-write.ts: the one atomic, durable file replacement (compile --out, proxy cache, controller store). */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../../runtime/atomic-write.js';

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
