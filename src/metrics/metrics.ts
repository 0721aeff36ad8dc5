import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { registerDefaultMetrics } from "./default_metrics.ts";
import { EventLoopLag } from "./event_loop_lag.ts";

// Seconds; a run spans milliseconds (pure steps) to minutes (retries, LLMs).
const RUN_BUCKETS = [
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
];
const STEP_BUCKETS = [
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
];
// A store append is a transaction with an fsync: sub-millisecond to seconds.
const STORE_BUCKETS = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  1,
];
const HTTP_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  1,
];

/** Kinds of `nova_sandbox_limit_breaches_total`. */
export const SANDBOX_LIMIT_KIND_NAMES = [
  "timeout",
  "memory",
  "output_size",
  "output_depth",
  "queue",
  "http_response_size",
  "network_policy",
] as const;

/** A tenant's spend today, as `nova_tenant_daily_spend_cents` shows it. */
export interface TenantSpend {
  tenant: string;
  spentCents: number;
}

/** What the worker-pool gauges read when scraped. */
export interface WorkerPoolStats {
  size: number;
  busy: number;
  queued: number;
}

/**
 * The Prometheus metrics of one AOS process. Each instance has its own
 * registry, so tests can run several runtimes side by side. Labels are
 * bounded sets (statuses, catalog codes, skill names, route patterns,
 * configured tenants), never run ids.
 *
 * Replay counts only into `replayTestsTotal`, `goldenFileMismatchesTotal`
 * and `determinismViolationsTotal`; the live run and step metrics describe
 * work this node did for clients.
 */
export class Metrics {
  readonly registry = new Registry();
  /**
   * Event-loop delay, sampled while work is marked open on it (requests
   * being served, run actors alive). Without default metrics nothing reads
   * it, so marks are ignored.
   */
  readonly eventLoop: Pick<EventLoopLag, "workStarted" | "workEnded">;
  readonly runsTotal: Counter<"status">;
  readonly runsFailedTotal: Counter<"code">;
  readonly runDurationSeconds: Histogram;
  readonly skillDurationSeconds: Histogram<"skill" | "version">;
  readonly skillAttemptsTotal: Counter<"skill" | "outcome">;
  /** Runs or steps refused because a budget would be passed. */
  readonly budgetExceededTotal: Counter;
  /** Runs whose log passed a size limit: `soft` (warned) or `hard` (failed). */
  readonly runLogLimitsTotal: Counter<"limit">;
  readonly signalsRelayedTotal: Counter<"outcome">;
  readonly resumesRelayedTotal: Counter<"outcome">;
  /** Signal requests a run ended without taking (past its end, or a full log). */
  readonly signalRequestsDroppedTotal: Counter;
  /** Today's spend of each tenant (UTC day), set by whoever keeps the ledger. */
  readonly tenantDailySpendCents: Gauge<"tenant">;
  readonly llmCostCentsTotal: Counter<"provider" | "model">;
  /** `type` is `input` or `output`. */
  readonly llmTokensTotal: Counter<"provider" | "model" | "type">;
  readonly determinismViolationsTotal: Counter<"skill" | "violation_type">;
  readonly goldenFileMismatchesTotal: Counter;
  /** Replays by verdict: `identical`, `diverged`, `needs_new_host_call`. */
  readonly replayTestsTotal: Counter<"status">;
  readonly registryOperationSeconds: Histogram<"op">;
  readonly unhandledExceptionsTotal: Counter;
  readonly storeAppendSeconds: Histogram;
  /** `kind`: one of `SANDBOX_LIMIT_KIND_NAMES`. */
  readonly sandboxLimitBreachesTotal: Counter<"kind">;
  readonly httpRequestsTotal: Counter<"route" | "status">;
  readonly httpRequestDurationSeconds: Histogram<"route">;
  #workerPool: () => WorkerPoolStats = () => ({ size: 0, busy: 0, queued: 0 });
  #dbPoolAvailable: () => number = () => 0;
  #storeSyncs: () => number = () => 0;
  #tenantDailySpend: () => Promise<TenantSpend[]> = () => Promise.resolve([]);

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) {
      const lag = new EventLoopLag();
      registerDefaultMetrics(this.registry, lag);
      this.eventLoop = lag;
    } else this.eventLoop = { workStarted() {}, workEnded() {} };
    const registers = [this.registry];
    const counter = <L extends string>(
      name: string,
      help: string,
      labelNames: L[] = [],
    ) => new Counter<L>({ name, help, labelNames, registers });
    const histogram = <L extends string>(
      name: string,
      help: string,
      buckets: number[],
      labelNames: L[] = [],
    ) => new Histogram<L>({ name, help, labelNames, buckets, registers });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });

    this.runsTotal = counter(
      "nova_runs_total",
      "Runs that reached a final status, by status.",
      ["status"],
    );
    this.runsFailedTotal = counter(
      "nova_runs_failed_total",
      "Failed runs by failure code.",
      ["code"],
    );
    this.runDurationSeconds = histogram(
      "nova_run_duration_seconds",
      "Time from submission to a final status.",
      RUN_BUCKETS,
    );
    this.skillDurationSeconds = histogram(
      "nova_skill_duration_seconds",
      "Time from a step's start to its outcome, by skill and version.",
      STEP_BUCKETS,
      ["skill", "version"],
    );
    this.skillAttemptsTotal = counter(
      "nova_skill_attempts_total",
      "Step attempts by skill and outcome (succeeded, failed).",
      ["skill", "outcome"],
    );
    this.runLogLimitsTotal = counter(
      "nova_run_log_limits_total",
      "Runs whose log passed its soft size limit (a warning) or would have passed its hard one (the run failed).",
      ["limit"],
    );
    this.signalsRelayedTotal = counter(
      "nova_signals_relayed_total",
      "Signals sent through a node that did not hold their run, by outcome: recorded by the holder, queued (not recorded within 30 s, left for the run's next holder), refused (the run ended first).",
      ["outcome"],
    );
    this.resumesRelayedTotal = counter(
      "nova_resumes_relayed_total",
      "Resumes sent through a node that did not hold their paused run, by outcome: recorded by the holder, queued (not recorded within 30 s, left for the node holding the run), refused (the holder's run could not take it, or it ended).",
      ["outcome"],
    );
    this.signalRequestsDroppedTotal = counter(
      "nova_signal_requests_dropped_total",
      "Signals left in the store for a run that ended without taking them: they came after a signal that ended it, its log was full, or its supervisor gave up. Each is also logged as signal_request_dropped.",
    );
    this.budgetExceededTotal = counter(
      "nova_budget_exceeded_total",
      "Runs or steps stopped because they would pass a budget.",
    );
    // Read from the ledger at scrape time, so every node of a cluster shows
    // the tenant's whole day, not only its own share.
    const tenantSpend = () => this.#tenantDailySpend();
    this.tenantDailySpendCents = new Gauge({
      name: "nova_tenant_daily_spend_cents",
      help: "Cents a tenant has spent today (UTC), from the budget ledger.",
      labelNames: ["tenant"],
      registers,
      async collect() {
        const spends = await tenantSpend();
        this.reset();
        for (const { tenant, spentCents } of spends) {
          this.set({ tenant }, spentCents);
        }
      },
    });
    this.llmCostCentsTotal = counter(
      "nova_llm_cost_cents_total",
      "Cents charged for model calls, by provider (adapter) and model.",
      ["provider", "model"],
    );
    this.llmTokensTotal = counter(
      "nova_llm_tokens_total",
      "Model tokens by provider, model and type (input, output).",
      ["provider", "model", "type"],
    );
    this.determinismViolationsTotal = counter(
      "nova_determinism_violations_total",
      "Re-executions that disagreed with the log (replay divergences by class, live host-call mismatches), by skill and kind.",
      ["skill", "violation_type"],
    );
    this.goldenFileMismatchesTotal = counter(
      "nova_golden_file_mismatches_total",
      "Golden logs whose replay diverged.",
    );
    this.replayTestsTotal = counter(
      "nova_replay_tests_total",
      "Replayed logs by verdict (identical, diverged, needs_new_host_call).",
      ["status"],
    );
    this.registryOperationSeconds = histogram(
      "nova_registry_operation_seconds",
      "Skill registry operations (install, installDir, pin, module).",
      STEP_BUCKETS,
      ["op"],
    );
    gauge(
      "nova_worker_pool_size",
      "Sandbox worker threads alive, over every skill module.",
      () => this.#workerPool().size,
    );
    gauge(
      "nova_worker_pool_busy",
      "Sandbox worker threads running a call.",
      () => this.#workerPool().busy,
    );
    gauge(
      "nova_worker_pool_queue_depth",
      "Step calls waiting for a sandbox worker thread.",
      () => this.#workerPool().queued,
    );
    this.unhandledExceptionsTotal = counter(
      "nova_unhandled_exceptions_total",
      "Errors nothing expected: run actor crashes and internal API errors.",
    );
    gauge(
      "nova_db_pool_available",
      "Store connections free to take work (the embedded store has one).",
      () => this.#dbPoolAvailable(),
    );
    this.storeAppendSeconds = histogram(
      "nova_store_append_seconds",
      "Time to append records to a run's log: durable on return, or committed for a step's own continuations (made durable by a later barrier).",
      STORE_BUCKETS,
    );
    // Read from the store at scrape time: its own count only grows.
    const storeSyncs = () => this.#storeSyncs();
    new Counter({
      name: "nova_store_syncs_total",
      help:
        "Log syncs the store waited for (SQLite WAL fdatasyncs; PostgreSQL commits and barriers that waited for a WAL flush).",
      registers,
      collect() {
        this.reset();
        this.inc(storeSyncs());
      },
    });
    this.sandboxLimitBreachesTotal = counter(
      "nova_sandbox_limit_breaches_total",
      "Steps stopped at a sandbox limit, by kind.",
      ["kind"],
    );
    this.httpRequestsTotal = counter(
      "nova_http_requests_total",
      "API requests by route pattern and status code.",
      ["route", "status"],
    );
    this.httpRequestDurationSeconds = histogram(
      "nova_http_request_duration_seconds",
      "API request latency by route pattern.",
      HTTP_BUCKETS,
      ["route"],
    );
    this.#zeroSeries();
  }

  // Series of bounded label sets exist from the start at 0, so rate() and
  // increase() see the first event instead of a series appearing with it.
  #zeroSeries(): void {
    for (const status of ["succeeded", "partial", "failed", "cancelled"]) {
      this.runsTotal.inc({ status }, 0);
    }
    for (const status of ["identical", "diverged", "needs_new_host_call"]) {
      this.replayTestsTotal.inc({ status }, 0);
    }
    for (const kind of SANDBOX_LIMIT_KIND_NAMES) {
      this.sandboxLimitBreachesTotal.inc({ kind }, 0);
    }
  }

  /** Where the worker-pool gauges read from at scrape time. */
  watchWorkerPool(read: () => WorkerPoolStats): void {
    this.#workerPool = read;
  }

  /** Where `nova_db_pool_available` reads from at scrape time. */
  watchDbPool(read: () => number): void {
    this.#dbPoolAvailable = read;
  }

  /** Where `nova_store_syncs_total` reads from at scrape time. */
  watchStoreSyncs(read: () => number): void {
    this.#storeSyncs = read;
  }

  /** Where `nova_tenant_daily_spend_cents` reads from at scrape time. */
  watchTenantSpend(read: () => Promise<TenantSpend[]>): void {
    this.#tenantDailySpend = read;
  }

  /** The exposition text served at /metrics. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    return {
      contentType: this.registry.contentType,
      text: await this.registry.metrics(),
    };
  }
}
