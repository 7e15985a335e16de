import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * verifyHubSignature checks GitHub's `X-Hub-Signature-256: sha256=<hex>` header: HMAC-SHA256 of
 * the raw body with the shared secret, compared in constant time. A missing, malformed or
 * wrong-length header is false (never an exception).
 */
export function verifyHubSignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header || !header.startsWith('sha256=')) return false;
  const hex = header.slice('sha256='.length).trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(hex, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** hubSignature is the header value GitHub would send for `body` (for tests and tools). */
export function hubSignature(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** PushEvent is the part of GitHub's push event the controller uses. */
export interface PushEvent {
  /** `refs/heads/<branch>`. */
  ref: string;
  /** Commit SHA the ref moved to, when given. */
  after: string | null;
}

/**
 * parsePushEvent reads a push event body, JSON or GitHub's form encoding (`payload=<json>`).
 * Returns null when the body is not a push event (a ping, or garbage).
 */
export function parsePushEvent(body: Buffer, contentType: string | undefined): PushEvent | null {
  let text = body.toString('utf8');
  if ((contentType ?? '').startsWith('application/x-www-form-urlencoded')) {
    text = new URLSearchParams(text).get('payload') ?? '';
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { ref, after } = value as { ref?: unknown; after?: unknown };
  if (typeof ref !== 'string') return null;
  return { ref, after: typeof after === 'string' ? after : null };
}
