/**
 * The one import of @peculiar/x509, loaded on first use: a proxy needs it only to make a CSR
 * (controller-issued certificates) or to read a SAN node cannot print unambiguously, and loading
 * it with its dependencies costs about 16 MiB of RSS (BENCHMARKS.md, proxy memory). Its 2.x builds
 * need `reflect-metadata` loaded first (they throw on import otherwise), so every module of Weft
 * gets it from here: `x509()` for values, `import type * as x509 from '@peculiar/x509'` for types.
 */
import { createRequire } from 'node:module';
import { X509Certificate, webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import { IdentityError } from './errors.js';

let lib: typeof X509 | undefined;

/** x509 is the @peculiar/x509 module, loaded (synchronously) on the first call; WebCrypto is node's. */
export function x509(): typeof X509 {
  if (lib === undefined) {
    // A CommonJS require, so that first use can be synchronous (uriSans below is); the package's
    // main entry is its CommonJS build, which is also what an ES import of it loads.
    const require = createRequire(import.meta.url);
    require('reflect-metadata');
    const m = require('@peculiar/x509') as typeof X509;
    m.cryptoProvider.set(webcrypto as unknown as Parameters<typeof m.cryptoProvider.set>[0]);
    lib = m;
  }
  return lib;
}

/**
 * uriSans is every URI SAN of a certificate. Node prints SANs as `TYPE:value, TYPE:value` and
 * JSON-quotes any value holding a comma, a quote, a backslash or a control character (the
 * CVE-2021-44532 fix), so a list without a `"` splits unambiguously; that is the fast path
 * (0.2 ms). Anything else is read from the ASN.1 with @peculiar/x509 (about 2 ms). Throws
 * IdentityError WEFT_ID_CERT when that reading fails.
 */
export function uriSans(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san === undefined) return [];
  if (!san.includes('"')) return san.split(', ').filter((e) => e.startsWith('URI:')).map((e) => e.slice(4));
  const lib = x509();
  let parsed: X509.X509Certificate;
  try {
    parsed = new lib.X509Certificate(cert.raw);
  } catch (err) {
    throw new IdentityError('WEFT_ID_CERT', `the certificate cannot be parsed: ${(err as Error).message}`);
  }
  const out: string[] = [];
  for (const e of parsed.getExtensions(lib.SubjectAlternativeNameExtension)) for (const n of e.names.items) if (n.type === 'url') out.push(n.value);
  return out;
}
