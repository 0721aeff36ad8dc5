import {
  collectDefaultMetrics,
  Counter,
  Histogram,
  Registry,
} from "prom-client";

/**
 * The Prometheus metrics of one AOS process. Each instance has its own
 * registry, so tests can run several runtimes side by side. Labels are
 * bounded sets (statuses, codes, skill names), never run ids.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly runsTotal: Counter<"status">;
  readonly runsFailedTotal: Counter<"code">;
  readonly runDurationSeconds: Histogram;
  readonly skillDurationSeconds: Histogram<"skill" | "version">;
  readonly skillAttemptsTotal: Counter<"skill" | "outcome">;
  readonly httpRequestsTotal: Counter<"route" | "status">;
  readonly httpRequestDurationSeconds: Histogram<"route">;
  readonly replayTestsTotal: Counter<"status">;
  readonly determinismViolationsTotal: Counter<"skill" | "violation_type">;
  readonly goldenFileMismatchesTotal: Counter;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
    }
    const registers = [this.registry];
    this.runsTotal = new Counter({
      name: "nova_runs_total",
      help: "Runs that reached a final status, by status.",
      labelNames: ["status"],
      registers,
    });
    this.runsFailedTotal = new Counter({
      name: "nova_runs_failed_total",
      help: "Failed runs by failure code.",
      labelNames: ["code"],
      registers,
    });
    this.runDurationSeconds = new Histogram({
      name: "nova_run_duration_seconds",
      help: "Time from submission to a final status.",
      buckets: [
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1,
        2.5,
        5,
        10,
        30,
        60,
        300,
      ],
      registers,
    });
    this.skillDurationSeconds = new Histogram({
      name: "nova_skill_duration_seconds",
      help: "Time from a step's start to its outcome, by skill and version.",
      labelNames: ["skill", "version"],
      buckets: [
        0.0005,
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1,
        5,
        30,
      ],
      registers,
    });
    this.skillAttemptsTotal = new Counter({
      name: "nova_skill_attempts_total",
      help: "Step attempts by skill and outcome (succeeded, failed).",
      labelNames: ["skill", "outcome"],
      registers,
    });
    this.httpRequestsTotal = new Counter({
      name: "nova_http_requests_total",
      help: "API requests by route pattern and status code.",
      labelNames: ["route", "status"],
      registers,
    });
    this.httpRequestDurationSeconds = new Histogram({
      name: "nova_http_request_duration_seconds",
      help: "API request latency by route pattern.",
      labelNames: ["route"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    // Replay counts here, never in the run and skill metrics above: a
    // replayed step is not a live attempt.
    this.replayTestsTotal = new Counter({
      name: "nova_replay_tests_total",
      help:
        "Replayed logs by verdict (identical, diverged, needs_new_host_call).",
      labelNames: ["status"],
      registers,
    });
    this.determinismViolationsTotal = new Counter({
      name: "nova_determinism_violations_total",
      help: "Replay divergences by skill and divergence class.",
      labelNames: ["skill", "violation_type"],
      registers,
    });
    this.goldenFileMismatchesTotal = new Counter({
      name: "nova_golden_file_mismatches_total",
      help: "Golden log files whose replay diverged.",
      registers,
    });
  }

  /** The exposition text served at /metrics. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    return {
      contentType: this.registry.contentType,
      text: await this.registry.metrics(),
    };
  }
}
