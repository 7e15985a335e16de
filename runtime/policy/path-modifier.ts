import type { PathModifier } from '../../schemas/bundle.js';

/**
 * modifyPath applies ReplaceFullPath or ReplacePrefixMatch. ReplacePrefixMatch works on whole
 * path elements (Gateway API): prefix `/foo` with `/xyz` turns `/foo/bar` into `/xyz/bar`; with
 * '' into `/bar`; `/foo` with `/` becomes `/`. The result always starts with `/`.
 */
export function modifyPath(path: string, m: PathModifier): string {
  if (m.type === 'ReplaceFullPath') return m.value.startsWith('/') ? m.value : `/${m.value}`;
  const prefix = m.prefix === '/' ? '' : m.prefix.endsWith('/') ? m.prefix.slice(0, -1) : m.prefix;
  if (!(path === prefix || path.startsWith(prefix + '/') || prefix === '')) return path;
  const rest = path.slice(prefix.length);
  const repl = m.value.endsWith('/') ? m.value.slice(0, -1) : m.value;
  let out = repl + rest;
  if (out === '') out = '/';
  return out.startsWith('/') ? out : `/${out}`;
}
