/**
 * The endpoint ports the demo's policies declare, read through the compiler (load, parse,
 * validate: YAML and CUE alike): the demo needs them before any bundle exists, to pick ports and
 * start the sidecars' inbound listeners.
 */
import path from 'node:path';
import { readdir } from 'node:fs/promises';
import { readResources } from '../../compiler/compile.js';
import { isPolicyFile } from '../../compiler/load.js';
import type { Service } from '../../compiler/resources.js';

/** DeclaredEndpoint is one `spec.endpoints` entry of a Service, with the file it is written in. */
export interface DeclaredEndpoint {
  service: string;
  address: string;
  port: number;
  /** Relative to the policy folder, `/`-separated. */
  file: string;
}

/** policyFiles lists the policy files under `dir` that the compiler reads (any depth; dot-folders and node_modules skipped, as load does), as absolute paths. */
export async function policyFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules') await walk(full);
      else if (e.isFile() && isPolicyFile(e.name)) out.push(full);
    }
  };
  await walk(dir);
  return out.sort();
}

/**
 * declaredServices returns the Services written in `dir` that pass their schema. Files with
 * errors are skipped: the controller reports them with positions, the better place for it.
 */
async function declaredServices(dir: string): Promise<Service[]> {
  const { resources } = await readResources({ dir });
  return resources.filter((r): r is Service => r.kind === 'Service');
}

/** declaredEndpoints returns every Service endpoint written in `dir` with an explicit port. */
export async function declaredEndpoints(dir: string): Promise<DeclaredEndpoint[]> {
  return (await declaredServices(dir)).flatMap((s) =>
    (s.spec.endpoints ?? []).flatMap((ep) => (ep.port === undefined ? [] : [{ service: s.metadata.name, address: ep.address, port: ep.port, file: s.origin.file }])),
  );
}

/** declaredServicePorts returns the `spec.ports[].port` numbers of every Service in `dir`. */
export async function declaredServicePorts(dir: string): Promise<Set<number>> {
  return new Set((await declaredServices(dir)).flatMap((s) => s.spec.ports.map((p) => p.port)));
}
