/**
 * Layering rules from DESIGN.md, checked by `npm run lint` (so by `npm test`) with
 * dependency-cruiser. Type-only imports count (tsPreCompilationDeps), so a cycle or a forbidden
 * edge made only of types fails too. Paths are relative to the repository root.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'No import cycles, type-only ones included: a cycle hides which module is the lower layer.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'compiler-not-runtime',
      severity: 'error',
      comment: 'The compiler never imports the runtime: the bundle (schemas/) is all they share.',
      from: { path: '^compiler/' },
      to: { path: '^(runtime|bin)/' },
    },
    {
      name: 'router-only-schemas',
      severity: 'error',
      comment: 'The router is a pure function of a bundle: it imports only schemas/ (and libraries).',
      from: { path: '^runtime/router/' },
      to: { path: '^(bin|compiler|runtime|test)/', pathNot: '^runtime/router/' },
    },
    {
      name: 'policy-not-proxy',
      severity: 'error',
      comment: 'Traffic-policy decisions are pure: runtime/policy/ imports no proxy code.',
      from: { path: '^runtime/policy/' },
      to: { path: '^runtime/proxy/' },
    },
    {
      name: 'proxy-not-controller-or-compiler',
      severity: 'error',
      comment: 'A proxy speaks the protocol: proxy code (and its bundle sources) never imports controller or compiler code.',
      from: { path: '^(runtime/(proxy|sources|bundle)/|bin/commands/proxy\\.ts$)' },
      to: { path: '^(runtime/controller/|compiler/)' },
    },
    {
      name: 'shipped-code-not-tests',
      severity: 'error',
      comment: 'What ships (bin, compiler, runtime, schemas) never imports test code.',
      from: { path: '^(bin|compiler|runtime|schemas)/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
