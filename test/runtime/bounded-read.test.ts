/**
 * Bounded reads (issue 13 item 12): sizes are checked before bytes are held, on disk (fstat on the
 * open descriptor, then a read capped at limit + 1) and on the network (Content-Length, then a
 * running count). Real files, a real FIFO, /dev/zero, and a real `weft status` process against a
 * server that never stops sending.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { readFileBounded, safeJsonError } from '../../runtime/bounded-read.js';
import { ReadLimitError } from '../../runtime/errors.js';
import { tempDir, WEFT_BIN } from '../helpers/proxy-harness.js';

const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));

describe('readFileBounded', () => {
  it('reads a file at the limit; refuses one byte more with ReadLimitError naming both sizes', async () => {
    const f = path.join(dir, 'at-limit');
    writeFileSync(f, 'x'.repeat(1000));
    assert.equal((await readFileBounded(f, 1000)).length, 1000);
    await assert.rejects(readFileBounded(f, 999), (e: unknown) => e instanceof ReadLimitError && /larger than the 999-byte limit \(1000 bytes\)/.test(e.message));
  });

  it('refuses a 200 MB sparse file by its size, not by reading it', async () => {
    const f = path.join(dir, 'huge');
    writeFileSync(f, '');
    truncateSync(f, 200 * 1024 * 1024);
    const before = process.memoryUsage().rss;
    await assert.rejects(readFileBounded(f, 64 * 1024 * 1024), ReadLimitError);
    assert.ok(process.memoryUsage().rss - before < 32 * 1024 * 1024, 'nothing close to 200 MB was allocated');
  });

  it('refuses /dev/zero and a FIFO as not regular files, without blocking', async () => {
    await assert.rejects(readFileBounded('/dev/zero', 1024), { code: 'ENOTREGULAR' });
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await assert.rejects(readFileBounded(fifo, 1024), { code: 'ENOTREGULAR' });
  });

  it('passes filesystem errors through (ENOENT)', async () => {
    await assert.rejects(readFileBounded(path.join(dir, 'nope'), 10), { code: 'ENOENT' });
  });
});

describe('safeJsonError', () => {
  it('never quotes the input', () => {
    let err: unknown;
    try {
      JSON.parse('root:x:0:0:root:/root:/bin/bash');
    } catch (e) {
      err = e;
    }
    assert.doesNotMatch(safeJsonError(err), /root/);
    assert.match(safeJsonError(err), /syntax error/);
  });
});

describe('weft status reads a bounded document', () => {
  it('a server that streams without end: one line naming the limit, exit 2', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (res.write(chunk));
        res.once('drain', pump);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    try {
      const child = spawn(process.execPath, [WEFT_BIN, 'status', '--controller', `http://127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      assert.equal(code, 2, stderr);
      assert.match(stderr, /the status document is larger than the 16777216-byte limit/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
