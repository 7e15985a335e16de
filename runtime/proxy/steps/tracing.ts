import { randomHex } from '../random-id.js';
import type { ProxyContext } from '../context.js';
import type { Step } from '../pipeline.js';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * tracing propagates W3C Trace Context: a valid `traceparent` keeps its trace id and flags and
 * gets this proxy's span id (ex.id) as the new parent; an absent or invalid one is replaced by a
 * new trace (sampled flag set). `tracestate` passes through untouched. Off when the mesh's
 * telemetry.tracing is false (headers then pass through as they are).
 */
export function tracing(_ctx: ProxyContext): Step {
  return {
    name: 'tracing',
    needs: ['hop-by-hop-removed'],
    provides: ['trace-context'],
    idle: (p) => !p.router.mesh.telemetry.tracing,
    wrap: (next) => (ex) => {
      if (!ex.router.mesh.telemetry.tracing) return next(ex);
      const tp = ex.headers['traceparent'];
      const m = typeof tp === 'string' ? TRACEPARENT.exec(tp.trim().toLowerCase()) : null;
      let traceId: string;
      let flags: string;
      if (m && m[1] !== 'ff' && !/^0+$/.test(m[2]!) && !/^0+$/.test(m[3]!) && (m[1] !== '00' || m[5] === undefined)) {
        traceId = m[2]!;
        flags = m[4]!;
      } else {
        traceId = randomHex(16);
        flags = '01';
        delete ex.headers['tracestate'];
      }
      ex.headers['traceparent'] = `00-${traceId}-${ex.id}-${flags}`;
      ex.notes['trace_id'] = traceId;
      return next(ex);
    },
  };
}
