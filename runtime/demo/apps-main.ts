/**
 * Entry of the demo apps child process: `node apps-main.js --weft-demo-apps`, with the apps in
 * WEFT_DEMO_APPS (AppSpec[] as JSON; the environment keeps `ps` readable, and `--weft-demo-apps`
 * lets a later `weft up` recognise this process as the demo's).
 * All apps share one process (they are tiny), which keeps the process count sane on small
 * machines. The parent talks over IPC: "ready" once every app listens; when the parent goes away
 * (even killed), the IPC channel closes and the apps exit with it, never orphaned.
 */
import type { Server } from 'node:http';
import { startApp, type AppSpec } from './apps.js';

async function main(): Promise<void> {
  const specs = JSON.parse(process.env.WEFT_DEMO_APPS ?? '[]') as AppSpec[];
  const servers: Server[] = [];
  const stop = (): void => {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    process.exit(0);
  };
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    for (const spec of specs) servers.push(await startApp(spec));
  } catch (err) {
    process.send?.({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
  process.send?.({ type: 'ready', apps: specs.map((s) => `${s.instance}@${s.port}`) });
}

void main();
