import assert from "node:assert/strict";
import { Registry } from "prom-client";
import type { TimerHost } from "../deps/mod.ts";
import { EventLoopLag, LAG_SAMPLE_EVERY_MS } from "./event_loop_lag.ts";
import { Metrics } from "./metrics.ts";

/** Timers that fire only when the test says, at the time it says. */
class ManualTimers implements TimerHost {
  nowMs = 0;
  readonly pending = new Map<number, { dueMs: number; callback: () => void }>();
  #next = 1;

  now(): number {
    return this.nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): unknown {
    const id = this.#next++;
    this.pending.set(id, { dueMs: this.nowMs + delayMs, callback });
    return id;
  }

  clearTimeout(id: unknown): void {
    this.pending.delete(id as number);
  }

  /** Fires the one pending timer `lateMs` after it was due. */
  fire(lateMs: number): void {
    assert.equal(this.pending.size, 1);
    const [id, timer] = [...this.pending][0]!;
    this.pending.delete(id);
    this.nowMs = timer.dueMs + lateMs;
    timer.callback();
  }
}

async function lagSeries(registry: Registry): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const metric of await registry.getMetricsAsJSON()) {
    if (!metric.name.startsWith("nodejs_eventloop_lag")) continue;
    found.set(metric.name, metric.values[0]?.value ?? NaN);
  }
  return found;
}

Deno.test("EventLoopLag arms no timer while no work is open, and reads 0 at scrape", async () => {
  const timers = new ManualTimers();
  const lag = new EventLoopLag(timers);
  const registry = new Registry();
  lag.register(registry);
  assert.equal(lag.sampling, false);
  assert.equal(timers.pending.size, 0);
  const series = await lagSeries(registry);
  assert.deepEqual([...series.keys()].sort(), [
    "nodejs_eventloop_lag_max_seconds",
    "nodejs_eventloop_lag_mean_seconds",
    "nodejs_eventloop_lag_min_seconds",
    "nodejs_eventloop_lag_p50_seconds",
    "nodejs_eventloop_lag_p90_seconds",
    "nodejs_eventloop_lag_p99_seconds",
    "nodejs_eventloop_lag_seconds",
    "nodejs_eventloop_lag_stddev_seconds",
  ]);
  for (const [name, value] of series) {
    if (name === "nodejs_eventloop_lag_seconds") assert.ok(value >= 0);
    else assert.equal(value, 0, name);
  }
});

Deno.test("EventLoopLag records how late its timer fires while work is open, and stops when the last ends", async () => {
  const timers = new ManualTimers();
  const lag = new EventLoopLag(timers);
  const registry = new Registry();
  lag.register(registry);
  lag.workStarted();
  lag.workStarted();
  assert.equal(lag.sampling, true);
  assert.equal(timers.pending.size, 1);
  timers.fire(0);
  timers.fire(40);
  timers.fire(2);
  timers.fire(2);
  lag.workEnded();
  assert.equal(timers.pending.size, 1, "one piece of work is still open");
  lag.workEnded();
  assert.equal(lag.sampling, false);
  assert.equal(timers.pending.size, 0);
  const series = await lagSeries(registry);
  assert.equal(series.get("nodejs_eventloop_lag_min_seconds"), 0);
  assert.equal(series.get("nodejs_eventloop_lag_max_seconds"), 0.04);
  assert.equal(series.get("nodejs_eventloop_lag_mean_seconds"), 0.011);
  assert.equal(series.get("nodejs_eventloop_lag_p50_seconds"), 0.002);
  assert.equal(series.get("nodejs_eventloop_lag_p99_seconds"), 0.04);
  // A scrape takes its window: the next one, with no work since, reads 0.
  const next = await lagSeries(registry);
  assert.equal(next.get("nodejs_eventloop_lag_max_seconds"), 0);
  // Work after idling samples again, from its own start.
  lag.workStarted();
  const started = timers.nowMs;
  timers.fire(5);
  assert.equal(timers.nowMs, started + LAG_SAMPLE_EVERY_MS + 5);
  lag.workEnded();
  assert.equal(
    (await lagSeries(registry)).get("nodejs_eventloop_lag_max_seconds"),
    0.005,
  );
});

Deno.test("EventLoopLag on live timers sees the JavaScript thread blocked", async () => {
  const lag = new EventLoopLag();
  const registry = new Registry();
  lag.register(registry);
  lag.workStarted();
  const blockedUntil = performance.now() + 60;
  while (performance.now() < blockedUntil) {
    // the thread is busy: the sampling timer cannot fire
  }
  // One turn of the loop: the overdue sampling timer fires first.
  await new Promise((resolve) => setTimeout(resolve, 0));
  lag.workEnded();
  const series = await lagSeries(registry);
  assert.ok(
    series.get("nodejs_eventloop_lag_max_seconds")! >= 0.04,
    `max ${series.get("nodejs_eventloop_lag_max_seconds")}`,
  );
});

Deno.test("Metrics exports the event-loop lag series and samples only while work is open", async () => {
  const metrics = new Metrics();
  const names = (await metrics.registry.getMetricsAsJSON()).map((metric) =>
    metric.name
  );
  for (
    const name of [
      "nodejs_eventloop_lag_seconds",
      "nodejs_eventloop_lag_p99_seconds",
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_heap_size_used_bytes",
    ]
  ) assert.ok(names.includes(name), name);
  // The test's op sanitizer fails it if a sampling timer is left behind.
  metrics.eventLoop.workStarted();
  metrics.eventLoop.workEnded();
});
