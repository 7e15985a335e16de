/**
 * SliceCache serves each proxy the slice of the current bundle for its Service (compiler/slice.ts):
 * an ordinary signed bundle with its own digest. Slices are cut on first demand per Service and
 * kept until the next bundle; identical slices (two Services with the same scope and no inbound
 * policies of their own, say) are stored once, by digest, with their bytes and gzip form.
 *
 * The cost of a new commit is one slice per Service that has proxies waiting, and a slice reuses
 * the serialised text of every unchanged Service entry (emit's per-entry cache), so it is the
 * size of the slice, not of the mesh.
 */
import type { KeyObject } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { sliceBundle } from '../../compiler/slice.js';
import type { Bundle } from '../../schemas/bundle.js';

/** ServedBundle is one bundle as the controller answers it: digest (the ETag), bytes, gzip made on demand. */
export interface ServedBundle {
  readonly digest: string;
  readonly bytes: Buffer;
  gzip?: Buffer;
}

/**
 * serviceId turns what a proxy says it serves into a Service id `namespace/name`: `ns/name`
 * as is, a bare `name` in `namespace` (the proxy's --namespace, default `default`). Empty: null.
 */
export function serviceId(service: string, namespace: string | null): string | null {
  if (service === '') return null;
  return service.includes('/') ? service : `${namespace || 'default'}/${service}`;
}

/** SliceCache: see above. Bound to one bundle at a time (`use`). */
export class SliceCache {
  private bundle: Bundle | null = null;
  private byService = new Map<string, ServedBundle>();
  private byDigest = new Map<string, ServedBundle>();

  constructor(private readonly key: KeyObject | null) {}

  /** use makes `bundle` the one slices are cut from; slices of the previous one are dropped. */
  use(bundle: Bundle): void {
    if (this.bundle === bundle) return;
    this.bundle = bundle;
    this.byService = new Map();
    this.byDigest = new Map();
  }

  /** sliceFor is Service `id`'s slice of the current bundle (null before any bundle). */
  sliceFor(id: string): ServedBundle | null {
    const bundle = this.bundle;
    if (!bundle) return null;
    let served = this.byService.get(id);
    if (served) return served;
    const out = sliceBundle(bundle, id, this.key);
    served = this.byDigest.get(out.bundle.digest);
    if (!served) {
      served = { digest: out.bundle.digest, bytes: Buffer.from(out.json, 'utf8') };
      this.byDigest.set(served.digest, served);
    }
    this.byService.set(id, served);
    return served;
  }

  /** gzipOf is `served` gzipped, made once per distinct slice. */
  static gzipOf(served: ServedBundle): Buffer {
    return (served.gzip ??= gzipSync(served.bytes));
  }

  /** size is the number of distinct slices held (metrics). */
  get distinct(): number {
    return this.byDigest.size;
  }
}
