/**
 * The proxy's endpoint-set cache: the last known sets of every followed Service, kept in
 * `--cache-dir/endpoints.json` next to the last good bundle, so a proxy restarted while the
 * controller is unreachable still routes to the last known instances (as it still routes by the
 * last good bundle). Written atomically (runtime/atomic-write.ts) after each change, at most one
 * write at a time, always the newest table; read once at start-up, bounded and validated.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { readFileBounded } from '../bounded-read.js';
import { messageOf } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { EndpointTable } from './endpoint-table.js';
import { isEndpointSet, type EndpointSet } from './protocol.js';

/** ENDPOINT_CACHE_FILE is the cache's name inside `--cache-dir`. */
export const ENDPOINT_CACHE_FILE = 'endpoints.json';
/** MAX_ENDPOINT_CACHE_BYTES bounds the file read at start-up (50,000 instances fit well inside). */
export const MAX_ENDPOINT_CACHE_BYTES = 32 * 1024 * 1024;

/** EndpointCacheDocument is the file's JSON: `apiVersion` guards against reading another format. */
interface EndpointCacheDocument {
  apiVersion: 'weft.dev/endpoints-cache/v1';
  sets: EndpointSet[];
}

/**
 * readEndpointCache returns the cached sets in `dir`, or [] when there is no cache. A file that is
 * too large, not JSON or not this format is ignored (logged): the controller's first answer
 * rebuilds the table anyway, and a damaged cache must never stop a proxy from starting. Sets or
 * endpoints that do not have the protocol's shape are dropped one by one.
 */
export async function readEndpointCache(dir: string, logger: Logger = silentLogger): Promise<EndpointSet[]> {
  const file = path.join(dir, ENDPOINT_CACHE_FILE);
  let doc: unknown;
  try {
    doc = JSON.parse((await readFileBounded(file, MAX_ENDPOINT_CACHE_BYTES)).toString('utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.log('warn', 'endpoint cache not loaded', { file, error: messageOf(err) });
    return [];
  }
  const d = doc as Partial<EndpointCacheDocument> | null;
  if (typeof d !== 'object' || d === null || d.apiVersion !== 'weft.dev/endpoints-cache/v1' || !Array.isArray(d.sets)) {
    logger.log('warn', 'endpoint cache not loaded', { file, error: 'not a weft endpoint cache' });
    return [];
  }
  return d.sets.filter(isEndpointSet);
}

/**
 * EndpointCacheWriter writes `table`'s sets to `dir` whenever they change. Writes never overlap: a
 * change during a write schedules one more write of the then-newest table, so bursts of churn
 * cost at most two writes. A failed write is logged and retried at the next change.
 */
export class EndpointCacheWriter {
  private writing: Promise<void> | null = null;
  private dirty = false;
  private readonly unsubscribe: () => void;
  private readonly file: string;

  constructor(
    private readonly table: EndpointTable,
    private readonly dir: string,
    private readonly logger: Logger = silentLogger,
  ) {
    this.file = path.join(dir, ENDPOINT_CACHE_FILE);
    this.unsubscribe = table.subscribe(() => this.changed());
  }

  private changed(): void {
    this.dirty = true;
    this.writing ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        const doc: EndpointCacheDocument = { apiVersion: 'weft.dev/endpoints-cache/v1', sets: this.table.currentSets() };
        try {
          await mkdir(this.dir, { recursive: true });
          await writeFileAtomic(this.file, JSON.stringify(doc) + '\n');
        } catch (err) {
          this.logger.log('warn', 'endpoint cache not written', { file: this.file, error: messageOf(err) });
        }
      }
    } finally {
      this.writing = null;
    }
  }

  /** flush resolves once the newest table is on disk (tests; shutdown). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** stop writes what is pending and stops following the table. */
  async stop(): Promise<void> {
    this.unsubscribe();
    await this.flush();
  }
}
