/**
 * Reads the endpoint ports the policies declare, straight from the YAML files: the demo needs
 * them before any bundle exists (to pick ports and start the sidecars' inbound listeners).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as yaml from 'js-yaml';

/** DeclaredEndpoint is one `spec.endpoints` entry of a Service, with the file it is written in. */
export interface DeclaredEndpoint {
  service: string;
  address: string;
  port: number;
  file: string;
}

/** policyFiles lists the YAML files under `dir` (any depth, dot-folders such as .git skipped). */
export async function policyFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = path.join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile() && /\.ya?ml$/.test(e.name)) out.push(full);
    }
  };
  await walk(dir);
  return out.sort();
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * declaredEndpoints returns every Service endpoint written in `dir`. Files that do not parse are
 * skipped: the controller reports them with positions, which is the better place for it.
 */
export async function declaredEndpoints(dir: string): Promise<DeclaredEndpoint[]> {
  const out: DeclaredEndpoint[] = [];
  for (const file of await policyFiles(dir)) {
    let docs: unknown[];
    try {
      docs = yaml.loadAll(await readFile(file, 'utf8'));
    } catch {
      continue;
    }
    for (const doc of docs) {
      if (!isRecord(doc) || doc.kind !== 'Service' || !isRecord(doc.metadata) || !isRecord(doc.spec)) continue;
      const name = doc.metadata.name;
      const endpoints = doc.spec.endpoints;
      if (typeof name !== 'string' || !Array.isArray(endpoints)) continue;
      for (const ep of endpoints) {
        if (!isRecord(ep) || typeof ep.port !== 'number') continue;
        out.push({ service: name, address: typeof ep.address === 'string' ? ep.address : '127.0.0.1', port: ep.port, file: path.relative(dir, file) });
      }
    }
  }
  return out;
}

/** declaredServicePorts returns the `spec.ports[].port` numbers of every Service in `dir`. */
export async function declaredServicePorts(dir: string): Promise<Set<number>> {
  const out = new Set<number>();
  for (const file of await policyFiles(dir)) {
    let docs: unknown[];
    try {
      docs = yaml.loadAll(await readFile(file, 'utf8'));
    } catch {
      continue;
    }
    for (const doc of docs) {
      if (!isRecord(doc) || doc.kind !== 'Service' || !isRecord(doc.spec) || !Array.isArray(doc.spec.ports)) continue;
      for (const p of doc.spec.ports) if (isRecord(p) && typeof p.port === 'number') out.add(p.port);
    }
  }
  return out;
}
