/**
 * `runs`: durable three-step runs (`json_transform` ×3, every step persisted)
 * submitted over HTTP to a real `aos serve`: sequential submit→succeeded
 * latency, then throughput at a fixed concurrency, with the server's memory
 * sampled under load.
 */
import { startTestPostgres } from "../tests/support/postgres.ts";
import { ApiClient, failuresOf } from "./_http.ts";
import { type BenchResult, percentile } from "./_report.ts";
import { BenchServer } from "./_server.ts";

/** Sizes of the scenario (the smoke variant uses small ones). */
export interface RunsOptions {
  warmupRuns: number;
  sequentialRuns: number;
  concurrency: number;
  loadSeconds: number;
  /** Extra server environment, e.g. a PostgreSQL `DATABASE_URL`. */
  env?: Record<string, string>;
  /** Extra `aos serve` flags. */
  args?: string[];
  /** API key for servers that require one. */
  key?: string;
  /** Name of the result (`runs`, `runs_postgres`). */
  scenario?: string;
  /** Flags for the server's `deno run` (e.g. `--cpu-prof`). */
  denoFlags?: string[];
}

/** The defaults: ≥ 300 sequential runs, 32 lanes for ≥ 10 s. */
export const RUNS_DEFAULTS: RunsOptions = {
  warmupRuns: 300,
  sequentialRuns: 500,
  concurrency: 32,
  loadSeconds: 10,
};

/** A three-step plan; `index` varies the input so no two runs are alike. */
export function threeStepPlan(index: number): string {
  return JSON.stringify({
    steps: [
      {
        id: "pick",
        skill: "json_transform",
        params: {
          op: "pick",
          input: { n: index, name: `run-${index}`, tags: ["a", "b"], x: 1 },
          keys: ["n", "name", "tags"],
        },
      },
      {
        id: "merge",
        skill: "json_transform",
        params: {
          op: "merge",
          input: "{{steps.pick.output.result}}",
          with: { stage: 2 },
        },
      },
      {
        id: "extract",
        skill: "json_transform",
        params: {
          op: "extract",
          input: "{{steps.merge.output.result}}",
          path: "$.name",
        },
      },
    ],
  });
}

/** Runs the scenario against a fresh server and store. */
export async function runsScenario(
  options: RunsOptions = RUNS_DEFAULTS,
): Promise<BenchResult> {
  const dataDir = await Deno.makeTempDir({ prefix: "aos_bench_runs_" });
  const server = await BenchServer.start({
    dataDir,
    env: { ...options.env },
    ...(options.args === undefined ? {} : { args: options.args }),
    ...(options.denoFlags === undefined
      ? {}
      : { denoFlags: options.denoFlags }),
  });
  const client = new ApiClient(server.url, { key: options.key });
  let index = 0;
  try {
    for (let run = 0; run < options.warmupRuns; run++) {
      await client.runToEnd(threeStepPlan(index++));
    }
    const latenciesMs: number[] = [];
    for (let run = 0; run < options.sequentialRuns; run++) {
      const started = performance.now();
      await client.runToEnd(threeStepPlan(index++));
      latenciesMs.push(performance.now() - started);
    }
    latenciesMs.sort((a, b) => a - b);
    const load = await underLoad(server, client, options, () => index++);
    const failures = failuresOf(client);
    return {
      scenario: options.scenario ?? "runs",
      figures: {
        sequential_p50_ms: round(percentile(latenciesMs, 0.5), 2),
        sequential_p99_ms: round(percentile(latenciesMs, 0.99), 2),
        runs_per_s: round(load.runs / load.seconds, 0),
        server_rss_mb: round(load.rssBytesMax / 2 ** 20, 1),
        server_cpu_per_run_ms: round(load.cpuMs / load.runs, 3),
        failed_runs: failures.count,
      },
      targets: {
        sequential_p50_ms: { op: "<=", value: 3 },
        sequential_p99_ms: { op: "<=", value: 10 },
        runs_per_s: { op: ">=", value: 2000 },
        server_rss_mb: { op: "<=", value: 150 },
        failed_runs: { op: "<=", value: 0 },
      },
      directions: {
        sequential_p50_ms: "lower",
        sequential_p99_ms: "lower",
        runs_per_s: "higher",
        server_rss_mb: "lower",
        server_cpu_per_run_ms: "lower",
      },
      notes:
        `${options.sequentialRuns} sequential runs, then ${options.concurrency} concurrent lanes for ${options.loadSeconds} s (${load.runs} runs); each run submits with POST /v1/runs and waits with GET /v1/runs/:id?wait_ms${failures.note}; SQLite synchronous=FULL`,
    };
  } finally {
    await server.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

async function underLoad(
  server: BenchServer,
  client: ApiClient,
  options: RunsOptions,
  nextIndex: () => number,
): Promise<
  { runs: number; seconds: number; rssBytesMax: number; cpuMs: number }
> {
  let runs = 0;
  let rssBytesMax = server.rssBytes();
  const cpuStartMs = server.cpuMs();
  const started = performance.now();
  const endAt = started + options.loadSeconds * 1000;
  const sampler = setInterval(() => {
    rssBytesMax = Math.max(rssBytesMax, server.rssBytes());
  }, 200);
  const lane = async () => {
    while (performance.now() < endAt) {
      await client.runToEnd(threeStepPlan(nextIndex()));
      runs++;
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, lane));
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  rssBytesMax = Math.max(rssBytesMax, server.rssBytes());
  return { runs, seconds, rssBytesMax, cpuMs: server.cpuMs() - cpuStartMs };
}

/**
 * `runs` on PostgreSQL: on a database of its own on the server DATABASE_URL
 * names, or else on a throwaway local server, which runs with `fsync=off`
 * (the result's notes say which).
 */
export async function runsOnPostgres(
  options: RunsOptions,
): Promise<BenchResult> {
  const external = Deno.env.get("DATABASE_URL") !== undefined;
  await using database = await startTestPostgres();
  const result = await runsScenario({
    ...options,
    args: [...(options.args ?? []), "--store", database.url],
  });
  const durability = external
    ? "PostgreSQL named by DATABASE_URL (a fresh database on it)"
    : "a throwaway local PostgreSQL with fsync=off: durability is NOT on, set DATABASE_URL to measure a real server";
  return {
    ...result,
    targets: {
      runs_per_s: { op: ">=", value: 1200 },
      sequential_p50_ms: { op: "<=", value: 5 },
      failed_runs: { op: "<=", value: 0 },
    },
    notes: `${
      (result.notes ?? "").replace(/; SQLite synchronous=FULL$/, "")
    }; ${durability}`,
  };
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
