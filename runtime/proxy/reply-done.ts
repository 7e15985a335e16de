import type { Reply } from './pipeline.js';
import { UpstreamBody } from './upstream-body.js';

/**
 * onReplyDone calls `fn` exactly once when the reply's body has been sent, failed or been
 * discarded (a string or empty body: at once). Limits that count requests "in flight" must hold
 * until the body ends, not until the headers arrive, or streaming responses would escape them.
 */
export function onReplyDone(reply: Reply, fn: () => void): void {
  const body = reply.body;
  if (body === null || typeof body === 'string' || body.destroyed || body.readableEnded) {
    fn();
    return;
  }
  if (body instanceof UpstreamBody) {
    body.whenDone(fn);
    return;
  }
  let done = false;
  const once = (): void => {
    if (done) return;
    done = true;
    body.off('end', once);
    body.off('close', once);
    body.off('error', once);
    fn();
  };
  body.once('end', once);
  body.once('close', once);
  body.once('error', once);
}
