import type { Headers } from './headers.js';

/**
 * appendForwarded updates the X-Forwarded-* headers in place, as a proxy hop does:
 * X-Forwarded-For gets `clientAddress` appended (`a, b` form), X-Forwarded-Proto is kept when
 * present, else `http` (the listeners speak plain HTTP), X-Forwarded-Host is kept when present,
 * else the Host the client sent (`authority`, unless empty).
 */
export function appendForwarded(h: Headers, clientAddress: string, authority: string): void {
  const xff = h['x-forwarded-for'];
  const prior = xff === undefined ? '' : typeof xff === 'string' ? xff : xff.join(', ');
  h['x-forwarded-for'] = prior === '' ? clientAddress : `${prior}, ${clientAddress}`;
  if (h['x-forwarded-proto'] === undefined) h['x-forwarded-proto'] = 'http';
  if (h['x-forwarded-host'] === undefined && authority !== '') h['x-forwarded-host'] = authority;
}
