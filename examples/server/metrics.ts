// /metrics in Prometheus's text format, through prom-client (its registry, histograms and the process's
// default metrics, event-loop delay among them, measured to the millisecond).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Served } from "./served.js";

/**
 * The event loop's sampling interval (ms). prom-client's nodejs_eventloop_lag_* are Node's
 * monitorEventLoopDelay, which records the whole time between two samples: an idle loop reads this
 * interval (p50 ~1.09 ms here), and a loop's delay is the reading minus it.
 */
export const LAG_SAMPLE_MS = 1;

export function metricsOf(model: Served) {
  const registry = new Registry();
  // (eventLoopMonitoringPrecision: prom-client samples the loop every 10 ms by default, too coarse for a
  // p99 of a few ms; its lag percentiles cover the time since the last scrape)
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: LAG_SAMPLE_MS });
  const latency = new Histogram({
    name: "http_request_duration_seconds",
    help: "Time from a request's arrival to its answer, by route and status.",
    labelNames: ["route", "status"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const batches = new Histogram({
    name: "convwasm_batch_examples",
    help: "Examples in each batch sent to a worker (requests gathered by the model's micro-batching).",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [registry],
  });
  new Gauge({
    name: "convwasm_queue_depth",
    help: "predict() requests queued or running.",
    registers: [registry],
    collect() {
      this.set(model.pending());
    },
  });
  new Gauge({
    name: "convwasm_wasm_memory_bytes",
    help: "WebAssembly memory held by the model's workers.",
    registers: [registry],
    collect() {
      this.set(model.wasmBytes());
    },
  });
  const ready = new Gauge({
    name: "convwasm_ready",
    help: "1 once the model answered its first predict (GET /ready), 0 before and while closing.",
    registers: [registry],
  });
  const refused = new Counter({
    name: "convwasm_requests_refused_total",
    help: "Requests answered with an error, by status.",
    labelNames: ["status"] as const,
    registers: [registry],
  });
  const off = model.onBatch((n) => batches.observe(n));
  return { registry, latency, ready, refused, stop: off };
}
