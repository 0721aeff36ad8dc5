import type { Registry } from "prom-client";
import gc from "prom-client/lib/metrics/gc.js";
import heapSizeAndUsed from "prom-client/lib/metrics/heapSizeAndUsed.js";
import heapSpacesSizeAndUsed from "prom-client/lib/metrics/heapSpacesSizeAndUsed.js";
import osMemoryHeap from "prom-client/lib/metrics/osMemoryHeap.js";
import processCpuTotal from "prom-client/lib/metrics/processCpuTotal.js";
import processHandles from "prom-client/lib/metrics/processHandles.js";
import processMaxFileDescriptors from "prom-client/lib/metrics/processMaxFileDescriptors.js";
import processOpenFileDescriptors from "prom-client/lib/metrics/processOpenFileDescriptors.js";
import processRequests from "prom-client/lib/metrics/processRequests.js";
import processResources from "prom-client/lib/metrics/processResources.js";
import processStartTime from "prom-client/lib/metrics/processStartTime.js";
import version from "prom-client/lib/metrics/version.js";
import type { EventLoopLag } from "./event_loop_lag.ts";

type DefaultMetric = (registry: Registry, config: object) => void;

/**
 * prom-client's default metrics (`process_*`, `nodejs_*`), every one read
 * at scrape time: `collectDefaultMetrics` with its event-loop monitor
 * replaced by `lag`, which samples only while the node has work.
 */
export function registerDefaultMetrics(
  registry: Registry,
  lag: EventLoopLag,
): void {
  const metrics: DefaultMetric[] = [
    processCpuTotal,
    processStartTime,
    osMemoryHeap,
    processOpenFileDescriptors,
    processMaxFileDescriptors,
    ...(typeof process.getActiveResourcesInfo === "function"
      ? [processResources]
      : []),
    processHandles,
    processRequests,
    heapSizeAndUsed,
    heapSpacesSizeAndUsed,
    version,
    gc,
  ];
  for (const metric of metrics) metric(registry, {});
  lag.register(registry);
}
