import type { Step } from '../pipeline.js';

/**
 * forwardedHeaders maintains X-Forwarded-For (the client address appended), X-Forwarded-Proto
 * (kept when present, else `http`: both listeners speak plain HTTP) and X-Forwarded-Host (kept
 * when present, else the Host the client sent).
 */
export function forwardedHeaders(): Step {
  return {
    name: 'forwarded-headers',
    needs: ['hop-by-hop-removed'],
    provides: ['forwarded-headers'],
    wrap: (next) => (ex) => {
      const h = ex.headers;
      const xff = h['x-forwarded-for'];
      const prior = xff === undefined ? '' : typeof xff === 'string' ? xff : xff.join(', ');
      h['x-forwarded-for'] = prior === '' ? ex.clientAddress : `${prior}, ${ex.clientAddress}`;
      if (h['x-forwarded-proto'] === undefined) h['x-forwarded-proto'] = 'http';
      if (h['x-forwarded-host'] === undefined && ex.authority !== '') h['x-forwarded-host'] = ex.authority;
      return next(ex);
    },
  };
}
