/** weft ca init: create the mesh CA (a self-signed ECDSA P-256 root for one trust domain). */
import path from 'node:path';
import type { Command } from '../cli.js';
import { UsageError, parseFlags } from '../cli.js';
import { createCa, writeCaDir } from '../../runtime/identity/ca.js';
import { IdentityError } from '../../runtime/identity/errors.js';
import { DEFAULT_TRUST_DOMAIN, isTrustDomain } from '../../runtime/identity/spiffe-id.js';

const help = `weft ca init: create the mesh certificate authority.

Usage: weft ca init --out-dir DIR [--trust-domain DOMAIN] [--force]

  --out-dir DIR          where to write DIR/ca.pem (the root certificate) and DIR/ca.key
                         (its private key, mode 0600)
  --trust-domain DOMAIN  the SPIFFE trust domain (default ${DEFAULT_TRUST_DOMAIN}); identities are
                         spiffe://DOMAIN/ns/<namespace>/sa/<service>
  --force                replace an existing CA (every certificate it issued stops being trusted)

The root is ECDSA P-256, valid ten years, and names its trust domain in a URI SAN
(spiffe://DOMAIN). Give DIR to \`weft controller --ca-dir\` (it issues workload certificates) and
to \`weft token create --ca-dir\`; give DIR/ca.pem to proxies (\`weft proxy --ca\`). Keep ca.key on
the controller's machine only.

Exit codes: 0 written, 2 usage error or the files exist.`;

export const command: Command = {
  summary: 'create the mesh CA (weft ca init)',
  help,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub !== 'init') throw new UsageError(sub === undefined ? 'weft ca: expected a subcommand: init (weft ca --help)' : `weft ca: unknown subcommand "${sub}"; expected init`);
    const { values } = parseFlags('weft ca init', {
      args: rest,
      options: {
        'out-dir': { type: 'string' },
        'trust-domain': { type: 'string', default: DEFAULT_TRUST_DOMAIN },
        force: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (!values['out-dir']) throw new UsageError('--out-dir DIR is required');
    const td = values['trust-domain'];
    if (!isTrustDomain(td)) throw new UsageError(`--trust-domain: "${td}" is not a trust domain name (lower-case letters, digits, ".", "-" and "_", e.g. ${DEFAULT_TRUST_DOMAIN})`);
    const dir = path.resolve(values['out-dir']);
    let files: { certFile: string; keyFile: string };
    try {
      files = await writeCaDir(dir, await createCa(td), values.force);
    } catch (err) {
      if (err instanceof IdentityError) throw new UsageError(`${err.code}: ${err.message}`);
      const code = (err as NodeJS.ErrnoException).code;
      // mkdir -p over an existing file says EEXIST (or ENOTDIR under it): name the real problem.
      if (code === 'EEXIST' || code === 'ENOTDIR') throw new UsageError(`--out-dir ${values['out-dir']}: ${code === 'EEXIST' ? 'is' : 'is under'} a file, not a folder`);
      throw new UsageError(`--out-dir ${values['out-dir']}: cannot write the CA in ${dir}: ${code ?? (err as Error).message}`);
    }
    process.stdout.write(`trust domain: ${td}\nroot:         ${files.certFile}\nkey:          ${files.keyFile} (keep secret; mode 0600)\n`);
    return 0;
  },
};
