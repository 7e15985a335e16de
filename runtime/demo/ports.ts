/**
 * Loopback port helpers for the demo: whether a port is free, and a fresh one from the OS.
 * Checks bind for real (no netstat parsing), so they agree with what a child will see.
 */
import net from 'node:net';

/** isPortFree resolves true when `host:port` can be bound right now. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * freePort asks the OS for an unused port on `host`. `avoid` lists ports already promised to
 * someone else in this run (the OS may hand the same one out twice once it is closed again).
 */
export async function freePort(host = '127.0.0.1', avoid: ReadonlySet<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.unref();
      server.once('error', reject);
      server.listen({ port: 0, host, exclusive: true }, () => {
        const addr = server.address();
        const p = typeof addr === 'object' && addr !== null ? addr.port : 0;
        server.close(() => resolve(p));
      });
    });
    if (port > 0 && !avoid.has(port)) return port;
  }
  throw new Error(`no free port on ${host}`);
}

/** PortAllocator hands out distinct free ports for one run. */
export class PortAllocator {
  private readonly given = new Set<number>();
  constructor(private readonly host = '127.0.0.1') {}

  /** reserve marks ports that are already spoken for (declared endpoints, say). */
  reserve(...ports: number[]): void {
    for (const p of ports) this.given.add(p);
  }

  /** next returns `preferred` when it is free and not yet given, else a fresh OS port. */
  async next(preferred?: number): Promise<number> {
    if (preferred !== undefined && !this.given.has(preferred) && (await isPortFree(preferred, this.host))) {
      this.given.add(preferred);
      return preferred;
    }
    const p = await freePort(this.host, this.given);
    this.given.add(p);
    return p;
  }
}
