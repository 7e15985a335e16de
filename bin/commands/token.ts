/** weft token create: a join token that lets one proxy bootstrap its certificate. */
import path from 'node:path';
import type { Command } from '../cli.js';
import { UsageError, durationFlag, parseFlags } from '../cli.js';
import { loadCaDir } from '../../runtime/identity/ca.js';
import { IdentityError } from '../../runtime/identity/errors.js';
import { createJoinToken } from '../../runtime/identity/join-token.js';
import { workloadId } from '../../runtime/identity/spiffe-id.js';

const help = `weft token create: make a join token bound to one Service's identity.

Usage: weft token create --ca-dir DIR --service NAME [--namespace NS] [--ttl 1h] [--uses 1]

  --ca-dir DIR      the mesh CA (weft ca init); the token is signed with DIR/ca.key
  --service NAME    the Service the token grants: spiffe://<trust-domain>/ns/NS/sa/NAME
  --namespace NS    its namespace (default default)
  --ttl DURATION    how long the token can be used (default 1h)
  --uses N          how many certificates it can bootstrap (default 1; the controller counts
                    uses durably, so a one-use token works once, across controller restarts)

Prints the token alone on stdout (for --token-file or a secret store); details go to stderr.
A proxy given the token (\`weft proxy --token-file F\`) sends it once with its CSR, then renews
with its certificate. Treat a token like a password until it is used or expires.

Exit codes: 0 printed, 2 usage error or the CA cannot be read.`;

export const command: Command = {
  summary: 'make a join token for a proxy to bootstrap its certificate (weft token create)',
  help,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub !== 'create') throw new UsageError(sub === undefined ? 'weft token: expected a subcommand: create (weft token --help)' : `weft token: unknown subcommand "${sub}"; expected create`);
    const { values } = parseFlags('weft token create', {
      args: rest,
      options: {
        'ca-dir': { type: 'string' },
        service: { type: 'string' },
        namespace: { type: 'string', default: 'default' },
        ttl: { type: 'string', default: '1h' },
        uses: { type: 'string', default: '1' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (!values['ca-dir']) throw new UsageError('--ca-dir DIR is required');
    if (!values.service) throw new UsageError('--service NAME is required');
    const ttlMs = durationFlag('--ttl', values.ttl);
    if (ttlMs < 1000) throw new UsageError('--ttl must be at least 1s');
    if (!/^[1-9]\d{0,5}$/.test(values.uses)) throw new UsageError(`--uses: expected a whole number from 1 to 999999, got "${values.uses}"`);
    try {
      const ca = await loadCaDir(path.resolve(values['ca-dir']));
      const { token, claims } = createJoinToken(ca, workloadId(ca.trustDomain, values.namespace, values.service), { ttlMs, uses: Number(values.uses) });
      process.stdout.write(`${token}\n`);
      process.stderr.write(`join token ${claims.id.slice(0, 8)} for ${claims.identity.uri}: ${claims.uses} use(s), expires ${claims.expiresAt.toISOString()}\n`);
    } catch (err) {
      if (err instanceof IdentityError) throw new UsageError(`${err.code}: ${err.message}`);
      throw err;
    }
    return 0;
  },
};
