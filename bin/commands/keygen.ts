/** weft keygen: write an ed25519 key pair for bundle signing. */
import path from 'node:path';
import { existsSync, mkdirSync } from 'node:fs';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { Command } from '../cli.js';
import { UsageError, parseFlags } from '../cli.js';
import { keyIdOf } from '../../schemas/canonical.js';
import { writeFileAtomic } from '../../runtime/atomic-write.js';

const help = `weft keygen: create an ed25519 key pair for signing bundles.

Usage: weft keygen [--out-dir DIR] [--name NAME] [--force]

  --out-dir DIR   where to write the keys (default .)
  --name NAME     file name stem (default weft-signing): NAME.key (private, mode 0600) and NAME.pub
  --force         overwrite existing files

Give NAME.key to \`weft controller --sign-key\` (or \`weft compile --sign-key\`) and NAME.pub to
\`weft proxy --trust-key\`. Prints the key id (the id bundles carry in signature.keyId).

Exit codes: 0 written, 2 usage error or files exist.`;

export const command: Command = {
  summary: 'create an ed25519 key pair for signing bundles',
  help,
  async run(argv) {
    const { values } = parseFlags('weft keygen', {
      args: argv,
      options: {
        'out-dir': { type: 'string', default: '.' },
        name: { type: 'string', default: 'weft-signing' },
        force: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (!/^[A-Za-z0-9._-]+$/.test(values.name)) throw new UsageError('--name: letters, digits, ".", "_" and "-" only');
    const dir = path.resolve(values['out-dir']);
    const privFile = path.join(dir, `${values.name}.key`);
    const pubFile = path.join(dir, `${values.name}.pub`);
    if (!values.force) {
      for (const f of [privFile, pubFile]) if (existsSync(f)) throw new UsageError(`${f} exists (use --force to overwrite)`);
    }
    try {
      mkdirSync(dir, { recursive: true });
    } catch {
      throw new UsageError(`--out-dir: cannot create ${dir}`);
    }
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const privPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await writeFileAtomic(privFile, privPem, 0o600);
    await writeFileAtomic(pubFile, pubPem, 0o644);
    const keyId = keyIdOf(createPublicKey(pubPem).export({ type: 'spki', format: 'der' }));
    process.stdout.write(`private key: ${privFile} (keep secret; mode 0600)\npublic key:  ${pubFile}\nkey id:      ${keyId}\n`);
    return 0;
  },
};
