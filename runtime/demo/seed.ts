/**
 * The demo repository: a real git repository under `.weft/demo/`, seeded once from policies/ and
 * reused on later runs (the user's commits are the point of the demo, so it is never reseeded).
 */
import { cp, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { git, gitOk } from './git.js';
import { declaredEndpoints, declaredServicePorts, policyFiles } from './service-endpoints.js';
import { isPortFree, PortAllocator } from './ports.js';
import { DemoError } from './errors.js';

/** SeedOptions: where the example policies are and where the repository goes. */
export interface SeedOptions {
  policies: string;
  repo: string;
  /** Move every endpoint to a fresh port even when the declared ones are free (parallel runs, tests). */
  pickPorts?: boolean;
}

/** PortMove is one endpoint port rewritten in the seed because it was busy (or pickPorts). */
export interface PortMove {
  from: number;
  to: number;
}

/** SeedResult says whether the repository was created now, on which branch, and what moved. */
export interface SeedResult {
  repo: string;
  created: boolean;
  branch: string;
  moved: PortMove[];
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * seedRepository creates the demo repository from `policies` (copy, endpoint ports moved off busy
 * ports, git init, one commit) or reuses the one already there. Throws DemoError when the target
 * exists but is not a git repository, so nothing of the user's is overwritten.
 */
export async function seedRepository(opts: SeedOptions): Promise<SeedResult> {
  const repo = path.resolve(opts.repo);
  if (await exists(path.join(repo, '.git'))) {
    if (!(await gitOk(repo, ['rev-parse', '--verify', '-q', 'HEAD']))) {
      throw new DemoError(`${repo} is a git repository with no commit; remove it to reseed the demo`);
    }
    const branch = (await git(repo, ['rev-parse', '--abbrev-ref', 'HEAD'])).stdout.trim();
    return { repo, created: false, branch, moved: [] };
  }
  if ((await exists(repo)) && (await readdir(repo)).length > 0) {
    throw new DemoError(`${repo} exists and is not a git repository; remove it (or move it away) to seed the demo`);
  }
  if (!(await exists(opts.policies))) throw new DemoError(`policies directory ${opts.policies} does not exist`);

  await mkdir(repo, { recursive: true });
  await cp(opts.policies, repo, { recursive: true, filter: (src) => !path.basename(src).startsWith('.') || src === opts.policies });
  const moved = await moveBusyPorts(repo, opts.pickPorts === true);

  const branch = 'main';
  await git(repo, ['init', '-q', '-b', branch]);
  // The user commits here by hand; without an identity of their own, git would refuse.
  if (!(await gitOk(repo, ['config', 'user.email']))) {
    await git(repo, ['config', 'user.email', 'demo@weft.invalid']);
    await git(repo, ['config', 'user.name', 'Weft demo']);
  }
  await git(repo, ['add', '-A']);
  const note = moved.length > 0 ? `\n\nEndpoint ports moved off busy ports: ${moved.map((m) => `${m.from}->${m.to}`).join(', ')}.` : '';
  await git(repo, ['-c', 'commit.gpgsign=false', 'commit', '-q', '--no-verify', '-m', `Seed the demo mesh from policies/${note}`]);
  return { repo, created: true, branch, moved };
}

/**
 * moveBusyPorts rewrites endpoint `port:` values in the copied files when the declared port is
 * busy (or always, with `all`). Rewriting the text keeps the user's comments and layout.
 */
async function moveBusyPorts(dir: string, all: boolean): Promise<PortMove[]> {
  const endpoints = await declaredEndpoints(dir);
  const servicePorts = await declaredServicePorts(dir);
  const declared = [...new Set(endpoints.map((e) => e.port))].sort((a, b) => a - b);
  const alloc = new PortAllocator();
  alloc.reserve(...declared, ...servicePorts);
  const remap = new Map<number, number>();
  for (const port of declared) {
    if (!all && (await isPortFree(port))) continue;
    if (servicePorts.has(port)) {
      throw new DemoError(`endpoint port ${port} is busy and is also a Service port in the policies; free it or edit the policies`);
    }
    remap.set(port, await alloc.next());
  }
  if (remap.size === 0) return [];
  for (const file of await policyFiles(dir)) {
    const text = await readFile(file, 'utf8');
    const next = text.replace(/(\bport:\s*)(\d+)/g, (whole, key: string, num: string) => {
      const to = remap.get(Number(num));
      return to === undefined ? whole : `${key}${to}`;
    });
    if (next !== text) await writeFile(file, next);
  }
  return [...remap].map(([from, to]) => ({ from, to }));
}
