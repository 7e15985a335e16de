/**
 * What `weft up` prints once the mesh runs: where to look and the exact commands to try.
 * The commands are printed with the repository path as the user would type it from where they
 * started `weft up`, so they can be pasted as they are.
 */
import path from 'node:path';
import type { PortMove } from './seed.js';

/** BannerInfo is what the banner names. */
export interface BannerInfo {
  dashboard: string;
  repo: string;
  branch: string;
  logs: string;
  created: boolean;
  moved: readonly PortMove[];
  rate: number;
  proxies: number;
  cwd: string;
}

/** shellPath quotes `p` for a POSIX shell when it needs it. */
export function shellPath(p: string): string {
  return /^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

/** tryCommands are the walkthrough's commands, for the repository at `repo` (as typed). */
export function tryCommands(repo: string): { shift: string[]; break: string[]; fix: string[]; scale: string[] } {
  const r = shellPath(repo);
  const routes = shellPath(path.join(repo, 'routes', 'reviews.yaml'));
  return {
    shift: [`sed -i 's/weight: 90/weight: 50/; s/weight: 10$/weight: 50/' ${routes}`, `git -C ${r} commit -am "reviews: 50/50 between v1 and v2"`],
    break: [`sed -i 's/name: reviews-v3/name: reviews-v4/' ${routes}`, `git -C ${r} commit -am "reviews: send to v4 (does not exist)"`],
    fix: [`git -C ${r} revert --no-edit HEAD`],
    scale: ['npx weft up --instance reviews-v2'],
  };
}

/** renderBanner is the block printed once the demo is up. */
export function renderBanner(info: BannerInfo): string {
  const rel = path.relative(info.cwd, info.repo);
  const repo = rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? info.repo : rel;
  const cmds = tryCommands(repo);
  const lines: string[] = [];
  lines.push('');
  lines.push(`Weft demo mesh is up: ${info.proxies} services behind their weft proxies, ${info.rate} req/s of traffic to productpage.`);
  if (info.moved.length > 0) {
    lines.push(`  (endpoint ports moved in the seed: ${info.moved.map((m) => `${m.from}->${m.to}`).join(', ')})`);
  }
  lines.push('');
  lines.push(`  dashboard   ${info.dashboard}`);
  lines.push(`  repository  ${info.repo}  (branch ${info.branch}${info.created ? ', seeded from policies/ just now' : ', reused'})`);
  lines.push(`  logs        ${info.logs}`);
  lines.push('');
  lines.push('Try it, in another terminal (from this directory):');
  lines.push('  # shift half of the reviews traffic to v2 (or edit routes/reviews.yaml in your editor), then commit:');
  for (const c of cmds.shift) lines.push(`  ${c}`);
  lines.push('  # break a reference and commit: the controller rejects it, proxies keep the last good bundle:');
  for (const c of cmds.break) lines.push(`  ${c}`);
  lines.push('  # fix it:');
  for (const c of cmds.fix) lines.push(`  ${c}`);
  lines.push('  # one more reviews-v2 instance (it registers itself; Ctrl-C drains it away):');
  for (const c of cmds.scale) lines.push(`  ${c}`);
  // weft status defaults to a real controller's dashboard port (15014); the demo's is the one above.
  lines.push('  # what the controller serves and whether every proxy runs it:');
  lines.push(`  npx weft status --controller ${info.dashboard.replace(/\/$/, '')}`);
  lines.push('');
  lines.push('Ctrl-C stops everything; the repository stays for next time.');
  lines.push('');
  return lines.join('\n');
}
