import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Agent } from 'undici';
import { writeFileAtomic } from '../atomic-write.js';
import { createCa, loadCaDir, writeCaDir, type MeshCa } from '../identity/ca.js';
import { issueLeafForKey } from '../identity/issue.js';
import { createJoinToken } from '../identity/join-token.js';
import { generateKeyPair } from '../identity/keys.js';
import { DEFAULT_TRUST_DOMAIN, workloadId } from '../identity/spiffe-id.js';
import { controllerDispatcher } from '../sources/controller-tls.js';

/**
 * DemoIdentity is what `weft up` needs to run the mesh with identity on, as an operator would:
 * a mesh CA kept in `.weft/ca` (made on the first run, reused after), one fresh one-use join token
 * per proxy and start (the proxies keep their certificates in their cache directories, so a token
 * is spent only when a cache is missing or expired), and a client certificate for the demo's own
 * traffic reports to the controller (`POST /v1/traffic` needs one).
 */
export interface DemoIdentity {
  readonly caDir: string;
  readonly caFile: string;
  readonly trustDomain: string;
  /** tokenFile writes a one-use join token for `service` (mode 0600) and returns its path. */
  tokenFile(instance: string, service: string, namespace?: string): Promise<string>;
  /** An undici dispatcher presenting the demo's own certificate to the controller. */
  readonly controllerClient: Agent;
}

/** DEMO_CLIENT_SERVICE is the identity of `weft up` itself toward the controller. */
export const DEMO_CLIENT_SERVICE = 'weft-up';

/** demoIdentity loads or creates the demo's CA under `stateDir/ca` and prepares tokens and a client. */
export async function demoIdentity(stateDir: string): Promise<DemoIdentity> {
  const caDir = path.join(stateDir, 'ca');
  let ca: MeshCa;
  if (existsSync(path.join(caDir, 'ca.pem'))) ca = await loadCaDir(caDir);
  else {
    ca = await createCa(DEFAULT_TRUST_DOMAIN);
    await writeCaDir(caDir, ca);
  }
  const tokens = path.join(stateDir, 'tokens');
  await mkdir(tokens, { recursive: true, mode: 0o700 });
  const key = await generateKeyPair();
  const leaf = await issueLeafForKey(ca, key.cryptoKeys.publicKey, { id: workloadId(ca.trustDomain, 'weft-system', DEMO_CLIENT_SERVICE), ttlMs: 7 * 24 * 3600_000 });
  const ctx = createSecureContext({ key: key.privateKeyPem, cert: leaf.certPem, ca: ca.certPem, minVersion: 'TLSv1.2' });
  return {
    caDir,
    caFile: path.join(caDir, 'ca.pem'),
    trustDomain: ca.trustDomain,
    async tokenFile(instance, service, namespace = 'default') {
      const file = path.join(tokens, `${instance}.token`);
      await writeFileAtomic(file, createJoinToken(ca, workloadId(ca.trustDomain, namespace, service), { ttlMs: 3600_000, uses: 1 }).token + '\n', 0o600);
      return file;
    },
    controllerClient: controllerDispatcher(ctx, ca.trustDomain),
  };
}
