import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

/**
 * The parts of prom-client a proxy uses (Registry, Counter, Gauge), loaded from prom-client's own
 * modules instead of its package index, which also loads Summary (with tdigest and bintrees),
 * the Pushgateway, the default process metrics, the cluster aggregator and, for exemplars,
 * @opentelemetry/api: about 1.4 MiB of V8 heap a proxy never uses (BENCHMARKS.md, Data plane: RSS
 * with a 10,000-route bundle). The classes are the very objects the index exports (the index
 * re-exports these modules; test/runtime/package-parts.test.ts checks both this module and
 * runtime/undici.ts, so an upgrade that moves a file fails there). `aggregatorRegistry` loads the
 * cluster aggregator when `weft proxy --concurrency` needs it.
 */
const load = createRequire(import.meta.url);

/** Registry is prom-client's Registry (lib/registry.js). */
export const Registry = load('prom-client/lib/registry.js') as typeof PromClient.Registry;
/** Registry's instance type. */
export type Registry = PromClient.Registry;

/** Counter is prom-client's Counter (lib/counter.js). */
export const Counter = load('prom-client/lib/counter.js') as typeof PromClient.Counter;
/** Counter's instance type. */
export type Counter<T extends string = string> = PromClient.Counter<T>;

/** Gauge is prom-client's Gauge (lib/gauge.js). */
export const Gauge = load('prom-client/lib/gauge.js') as typeof PromClient.Gauge;
/** Gauge's instance type. */
export type Gauge<T extends string = string> = PromClient.Gauge<T>;

/** aggregatorRegistry is prom-client's AggregatorRegistry (lib/cluster.js), loaded on first call. */
export function aggregatorRegistry(): typeof PromClient.AggregatorRegistry {
  return load('prom-client/lib/cluster.js') as typeof PromClient.AggregatorRegistry;
}
