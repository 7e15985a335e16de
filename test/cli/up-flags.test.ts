/**
 * weft up's --policies mistakes, as real processes: a missing folder or a file is a usage error
 * (one line, exit 2) found before anything is created; a --policies given when .weft/demo already
 * exists is said to be unused instead of being ignored without a word.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WEFT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'weft.js');

/** up runs `weft up ARGS` in `cwd` (bounded: these all end before any process starts). */
function up(cwd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WEFT, 'up', ...args], { cwd, timeout: 30_000 }, (err, _stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr });
    });
  });
}

describe('weft up --policies', () => {
  it('a missing folder or a file is one line and exit 2, and nothing is created', async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'weft-up-flags-'));
    try {
      const file = path.join(cwd, 'mesh.yaml');
      writeFileSync(file, 'kind: Service\n');
      for (const [arg, why] of [[path.join(cwd, 'nope'), /no such folder$/], [file, /not a folder \(give the folder of policy files to seed the demo from\)$/]] as const) {
        const r = await up(cwd, ['--policies', arg]);
        assert.equal(r.code, 2, r.stderr);
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0]!, new RegExp(`^weft: --policies ${arg.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
        assert.match(lines[0]!, why);
        assert.equal(existsSync(path.join(cwd, '.weft')), false, 'nothing created');
      }
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('with .weft/demo already there, says --policies is not used', async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'weft-up-flags-'));
    try {
      const policies = path.join(cwd, 'policies');
      mkdirSync(policies);
      // A repository with no commit: weft up stops at it (exit 1) right after reading its flags.
      mkdirSync(path.join(cwd, '.weft', 'demo', '.git'), { recursive: true });
      const r = await up(cwd, ['--policies', policies]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^weft up: note: \.weft\/demo already exists and is reused; --policies only seeds a new one/);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
