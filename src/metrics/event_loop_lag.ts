import { setImmediate } from "node:timers";
import { Gauge, type Registry } from "prom-client";
import type { TimerHost } from "../deps/mod.ts";

/** How often the loop is sampled while there is work: prom-client's default. */
export const LAG_SAMPLE_EVERY_MS = 10;

/** Most delays kept between two scrapes (a uniform sample of them beyond). */
const SAMPLES_MAX = 4_096;

/** The delays seen since the last scrape, in ms. */
interface LagSummary {
  count: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
  stddevMs: number;
  percentileMs(percent: number): number;
}

const liveTimers: TimerHost = {
  now: () => performance.now(),
  setTimeout: (callback, delayMs) => {
    const id = setTimeout(callback, delayMs);
    // Sampling never keeps a process alive that has nothing else to do.
    Deno.unrefTimer(id);
    return id;
  },
  clearTimeout: (id) => clearTimeout(id as number),
};

/**
 * Event-loop delay, sampled only while the node has work: the series of
 * prom-client's `collectDefaultMetrics` (`nodejs_eventloop_lag_*`), without
 * its monitor, which wakes the process every 10 ms for as long as it lives
 * (on Deno that monitor also misses time the JavaScript thread spends
 * blocked, so its figures stay near zero under any load). Work is what the
 * callers mark (`workStarted` / `workEnded`: requests being served, run
 * actors alive); while any is open, a timer every `LAG_SAMPLE_EVERY_MS`
 * records how late it fires. An idle node samples nothing and costs
 * nothing; its lag figures read 0.
 * `nodejs_eventloop_lag_seconds` is measured at each scrape.
 */
export class EventLoopLag {
  readonly #timers: TimerHost;
  #open = 0;
  #timer: unknown;
  #dueAt = 0;
  #count = 0;
  #sumMs = 0;
  #sumSquaresMs = 0;
  #minMs = Infinity;
  #maxMs = 0;
  #kept: number[] = [];
  #draw = 1;

  constructor(timers: TimerHost = liveTimers) {
    this.#timers = timers;
  }

  /** True while the loop is being sampled. */
  get sampling(): boolean {
    return this.#timer !== undefined;
  }

  /** A piece of work began: sample until it and every other one ended. */
  workStarted(): void {
    this.#open++;
    if (this.#timer === undefined) this.#arm(this.#timers.now());
  }

  /** A piece of work begun with `workStarted` ended. */
  workEnded(): void {
    this.#open = Math.max(0, this.#open - 1);
    if (this.#open > 0 || this.#timer === undefined) return;
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(nowMs: number): void {
    this.#dueAt = nowMs + LAG_SAMPLE_EVERY_MS;
    this.#timer = this.#timers.setTimeout(this.#tick, LAG_SAMPLE_EVERY_MS);
  }

  readonly #tick = (): void => {
    const nowMs = this.#timers.now();
    this.#record(Math.max(0, nowMs - this.#dueAt));
    this.#arm(nowMs);
  };

  #record(delayMs: number): void {
    this.#count++;
    this.#sumMs += delayMs;
    this.#sumSquaresMs += delayMs * delayMs;
    this.#minMs = Math.min(this.#minMs, delayMs);
    this.#maxMs = Math.max(this.#maxMs, delayMs);
    // Reservoir sampling: past SAMPLES_MAX, each delay replaces a kept one
    // with the chance that keeps the kept ones a uniform sample of all.
    if (this.#kept.length < SAMPLES_MAX) this.#kept.push(delayMs);
    else {
      this.#draw = (this.#draw * 48_271) % 2_147_483_647;
      const slot = this.#draw % this.#count;
      if (slot < SAMPLES_MAX) this.#kept[slot] = delayMs;
    }
  }

  /** The delays since the last call, and starts afresh (one scrape's window). */
  take(): LagSummary {
    const count = this.#count;
    const meanMs = count === 0 ? 0 : this.#sumMs / count;
    const variance = count === 0
      ? 0
      : Math.max(0, this.#sumSquaresMs / count - meanMs * meanMs);
    const sorted = this.#kept.sort((a, b) => a - b);
    const summary: LagSummary = {
      count,
      minMs: count === 0 ? 0 : this.#minMs,
      maxMs: this.#maxMs,
      meanMs,
      stddevMs: Math.sqrt(variance),
      percentileMs: (percent) =>
        sorted.length === 0 ? 0 : sorted[
          Math.min(
            sorted.length - 1,
            Math.ceil(percent / 100 * sorted.length) - 1,
          )
        ]!,
    };
    this.#count = 0;
    this.#sumMs = 0;
    this.#sumSquaresMs = 0;
    this.#minMs = Infinity;
    this.#maxMs = 0;
    this.#kept = [];
    return summary;
  }

  /** Registers the `nodejs_eventloop_lag_*` gauges, read at scrape time. */
  register(registry: Registry): void {
    const registers = [registry];
    const take = () => this.take();
    const window: Gauge[] = [];
    // Registered first, so that its collect sets the others from one window
    // before the scrape reads them, as prom-client's does.
    new Gauge({
      name: "nodejs_eventloop_lag_seconds",
      help: "Lag of event loop in seconds.",
      registers,
      async collect() {
        const summary = take();
        const [min, max, mean, stddev, ...percentiles] = window;
        min!.set(summary.minMs / 1000);
        max!.set(summary.maxMs / 1000);
        mean!.set(summary.meanMs / 1000);
        stddev!.set(summary.stddevMs / 1000);
        PERCENTILES.forEach((percent, index) =>
          percentiles[index]!.set(summary.percentileMs(percent) / 1000)
        );
        this.set(await immediateDelaySeconds());
      },
    });
    const gauge = (suffix: string, help: string) =>
      window.push(
        new Gauge({ name: `nodejs_eventloop_lag${suffix}`, help, registers }),
      );
    gauge("_min_seconds", "The minimum recorded event loop delay.");
    gauge("_max_seconds", "The maximum recorded event loop delay.");
    gauge("_mean_seconds", "The mean of the recorded event loop delays.");
    gauge(
      "_stddev_seconds",
      "The standard deviation of the recorded event loop delays.",
    );
    for (const percent of PERCENTILES) {
      gauge(
        `_p${percent}_seconds`,
        `The ${percent}th percentile of the recorded event loop delays.`,
      );
    }
  }
}

const PERCENTILES = [50, 90, 99];

/** How long a callback queued now waits for the event loop to reach it. */
function immediateDelaySeconds(): Promise<number> {
  const started = performance.now();
  return new Promise((resolve) =>
    setImmediate(() => resolve((performance.now() - started) / 1000))
  );
}
