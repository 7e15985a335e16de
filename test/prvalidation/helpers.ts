/**
 * PR-validation test helpers: a small mesh of policy files (independent of policies/, so these
 * tests do not move when the example changes), real temporary git repositories, and the real CLI
 * spawned as a child process (`node dist/bin/weft.js`).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** ROOT is the package root (this file runs from dist/test/prvalidation/). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** WEFT is the compiled CLI. */
export const WEFT = path.join(ROOT, 'dist', 'bin', 'weft.js');

/** MESH: file → content, a mesh exercising routes, weights, filters, authorization, rate limits. */
export const MESH: Readonly<Record<string, string>> = Object.freeze({
  'services.yaml': [
    service('productpage', 19080),
    service('reviews', 19081),
    service('reviews-v1', 19082),
    service('reviews-v2', 19083),
    service('reviews-v3', 19084),
    service('ratings', 19085),
  ].join('---\n'),
  'routes/reviews.yaml': `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reviews
spec:
  parentRefs:
    - kind: Service
      name: reviews
  rules:
    - matches:
        - headers:
            - name: x-user
              value: beta
      backendRefs:
        - name: reviews-v2
          port: 9080
    - matches:
        - path: { type: PathPrefix, value: /api }
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set:
              - name: x-canary
                value: "true"
        - type: URLRewrite
          urlRewrite:
            path: { type: ReplacePrefixMatch, replacePrefixMatch: /v2 }
      backendRefs:
        - name: reviews-v1
          port: 9080
          weight: 90
        - name: reviews-v2
          port: 9080
          weight: 10
`,
  'routes/productpage.yaml': `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: productpage
spec:
  parentRefs:
    - kind: Service
      name: productpage
  rules:
    - matches:
        - path: { type: Exact, value: /old }
      filters:
        - type: RequestRedirect
          requestRedirect:
            path: { type: ReplaceFullPath, replaceFullPath: /new }
            statusCode: 301
    - matches:
        - path: { type: PathPrefix, value: /new }
      backendRefs:
        - name: productpage
          port: 9080
`,
  'policies.yaml': `apiVersion: weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata:
  name: ratings-readers
spec:
  targetRefs:
    - kind: Service
      name: ratings
  action: ALLOW
  rules:
    - from:
        - service: reviews-v2
---
apiVersion: weft.dev/v1alpha1
kind: RateLimitPolicy
metadata:
  name: ratings
spec:
  targetRefs:
    - kind: Service
      name: ratings
  limits:
    - key: caller
      requests: 10
      per: 1s
      burst: 5
`,
  'tests/routing.yaml': `apiVersion: weft.dev/v1alpha1
kind: RouteTest
metadata:
  name: routing
spec:
  cases:
    - name: beta users reach v2
      from: productpage
      request:
        url: http://reviews:9080/profile
        headers: { x-user: beta }
      expect:
        backend: reviews-v2
    - name: the api is split 90/10, rewritten and stamped
      from: productpage
      request:
        url: http://reviews/api/items?page=2
      expect:
        backends: { reviews-v1: 90, reviews-v2: 10 }
        path: /v2/items?page=2
        headers: { x-canary: "true" }
    - name: the old page moved
      request:
        url: http://productpage/old?q=1
      expect:
        redirect: { status: 301, location: "http://productpage/new?q=1" }
    - name: unknown paths are not routed
      request:
        url: http://productpage/nowhere
      expect:
        status: 404
    - name: reviews-v1 may not read ratings
      from: reviews-v1
      request:
        url: http://ratings/ratings/1
      expect:
        status: 403
    - name: reviews-v2 may, within its rate limit
      from: reviews-v2
      request:
        url: http://ratings/ratings/1
      expect:
        backend: ratings
    - name: reviews-v2 is rate limited
      from: reviews-v2
      request:
        url: http://ratings/ratings/1
      expect:
        status: 429
`,
});

function service(name: string, port: number): string {
  return `apiVersion: weft.dev/v1alpha1
kind: Service
metadata:
  name: ${name}
spec:
  ports:
    - name: http
      port: 9080
  endpoints:
    - { address: 127.0.0.1, port: ${port} }
`;
}

/** git runs git in `cwd` with a fixed identity (no global config needed). */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Weft Test', '-c', 'user.email=test@weft.invalid', '-c', 'commit.gpgsign=false', '-c', 'init.defaultBranch=main', ...args], {
    cwd,
    encoding: 'utf8',
  });
}

/** writeFiles writes `files` (relative paths → content) under `dir`. */
export function writeFiles(dir: string, files: Readonly<Record<string, string>>): void {
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
}

/** Repo is a temporary git repository whose `main` holds MESH under `policies/`. */
export interface Repo {
  dir: string;
  /** Writes policy files (relative to policies/) and commits them on the current branch. */
  commit(files: Readonly<Record<string, string>>, message: string): void;
  cleanup(): void;
}

/** makeRepo creates the repository, commits MESH on `main`, and checks out a branch `pr`. */
export function makeRepo(): Repo {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-pr-'));
  git(dir, 'init', '-q');
  writeFiles(path.join(dir, 'policies'), MESH);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'mesh');
  git(dir, 'checkout', '-qb', 'pr');
  return {
    dir,
    commit(files, message) {
      writeFiles(path.join(dir, 'policies'), files);
      git(dir, 'add', '-A');
      git(dir, 'commit', '-qm', message);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** RunResult is a finished CLI run. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** weft runs the real CLI in `cwd` and collects its output. */
export function weft(cwd: string, ...args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WEFT, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', WEFT_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
