/**
 * `runs`: durable three-step runs (`json_transform` ×3, every step persisted)
 * submitted over HTTP to a real `aos serve`: sequential submit→succeeded
 * latency, then throughput at a fixed concurrency, with the server's memory
 * sampled under load.
 */
import {
  queryRows,
  startTestPostgres,
  type TestPostgres,
} from "../tests/support/postgres.ts";
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
  /** The database's side of the work, when the store is a local server. */
  storeProbe?: StoreProbe;
}

/** What the benchmark can see of the database server behind the store. */
export interface StoreProbe {
  /** CPU ms the database's processes have used so far. */
  cpuMs(): number;
  /** Forgets the statements counted so far. */
  resetStatements(): Promise<void>;
  /** Statements (each one round trip) executed since the last reset. */
  statements(): Promise<number>;
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
    const probe = options.storeProbe;
    await probe?.resetStatements();
    const syncsBefore = await storeSyncs(server.url);
    const twoRequests = (plan: string) => client.runToEnd(plan);
    const oneRequest = (plan: string) => client.submitAndWait(plan);
    const nextIndex = () => index++;
    const latenciesMs = await sequential(options, twoRequests, nextIndex);
    const syncsAfter = await storeSyncs(server.url);
    const storeFigures: Record<string, number> = {};
    if (syncsBefore !== undefined && syncsAfter !== undefined) {
      storeFigures.sequential_syncs_per_run = round(
        (syncsAfter - syncsBefore) / options.sequentialRuns,
        2,
      );
    }
    if (probe !== undefined) {
      storeFigures.sequential_statements_per_run = round(
        await probe.statements() / options.sequentialRuns,
        1,
      );
      await probe.resetStatements();
    }
    const storeCpuStartMs = probe?.cpuMs() ?? 0;
    const load = await underLoad(server, options, twoRequests, nextIndex);
    if (probe !== undefined) {
      storeFigures.database_cpu_per_run_ms = round(
        (probe.cpuMs() - storeCpuStartMs) / load.runs,
        3,
      );
      storeFigures.statements_per_run = round(
        await probe.statements() / load.runs,
        1,
      );
    }
    // The same again, each run submitted and waited on in one request.
    const oneLatenciesMs = await sequential(options, oneRequest, nextIndex);
    const oneLoad = await underLoad(server, options, oneRequest, nextIndex);
    const failures = failuresOf(client);
    return {
      scenario: options.scenario ?? "runs",
      figures: {
        sequential_p50_ms: round(percentile(latenciesMs, 0.5), 2),
        sequential_p99_ms: round(percentile(latenciesMs, 0.99), 2),
        runs_per_s: round(load.runs / load.seconds, 0),
        server_rss_mb: round(load.rssBytesMax / 2 ** 20, 1),
        server_cpu_per_run_ms: round(load.cpuMs / load.runs, 3),
        ...storeFigures,
        one_request_sequential_p50_ms: round(
          percentile(oneLatenciesMs, 0.5),
          2,
        ),
        one_request_sequential_p99_ms: round(
          percentile(oneLatenciesMs, 0.99),
          2,
        ),
        one_request_runs_per_s: round(oneLoad.runs / oneLoad.seconds, 0),
        one_request_server_rss_mb: round(oneLoad.rssBytesMax / 2 ** 20, 1),
        one_request_server_cpu_per_run_ms: round(
          oneLoad.cpuMs / oneLoad.runs,
          3,
        ),
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
        database_cpu_per_run_ms: "lower",
        statements_per_run: "lower",
        sequential_statements_per_run: "lower",
        sequential_syncs_per_run: "lower",
        one_request_sequential_p50_ms: "lower",
        one_request_sequential_p99_ms: "lower",
        one_request_runs_per_s: "higher",
        one_request_server_rss_mb: "lower",
        one_request_server_cpu_per_run_ms: "lower",
      },
      notes:
        `${options.sequentialRuns} sequential runs, then ${options.concurrency} concurrent lanes for ${options.loadSeconds} s (${load.runs} runs); each run submits with POST /v1/runs and waits with GET /v1/runs/:id?wait_ms; then the same again (${oneLoad.runs} runs under load) with each run submitted and waited on in one request, POST /v1/runs?wait_ms (one_request_*)${failures.note}; SQLite synchronous=FULL; sequential_syncs_per_run is the server's nova_store_syncs_total over the sequential phase (log syncs waited for, background claims and renewals included)`,
    };
  } finally {
    await server.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

/**
 * The server's `nova_store_syncs_total` (log syncs it waited for); undefined
 * for a server that does not export it.
 */
async function storeSyncs(url: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((entry) =>
    entry.startsWith("nova_store_syncs_total ")
  );
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

/** Submit→end latencies of `options.sequentialRuns` runs one after another, sorted. */
async function sequential(
  options: RunsOptions,
  runOne: (plan: string) => Promise<unknown>,
  nextIndex: () => number,
): Promise<number[]> {
  const latenciesMs: number[] = [];
  for (let run = 0; run < options.sequentialRuns; run++) {
    const started = performance.now();
    await runOne(threeStepPlan(nextIndex()));
    latenciesMs.push(performance.now() - started);
  }
  return latenciesMs.sort((a, b) => a - b);
}

async function underLoad(
  server: BenchServer,
  options: RunsOptions,
  runOne: (plan: string) => Promise<unknown>,
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
      await runOne(threeStepPlan(nextIndex()));
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
 * names, or else on a throwaway local server that is durable like a
 * production one (`fsync`, `synchronous_commit` and `full_page_writes` on)
 * and counts statements with `pg_stat_statements`, so the result also says
 * what each run costs the database: its CPU and its statements.
 */
export async function runsOnPostgres(
  options: RunsOptions,
): Promise<BenchResult> {
  const external = Deno.env.get("DATABASE_URL") !== undefined;
  await using database = await startTestPostgres({
    durable: true,
    settings: [
      "shared_preload_libraries=pg_stat_statements",
      "pg_stat_statements.track=all",
    ],
  });
  const probe = external ? undefined : await statementProbe(database);
  const result = await runsScenario({
    ...options,
    args: [...(options.args ?? []), "--store", database.url],
    ...(probe === undefined ? {} : { storeProbe: probe }),
  });
  const durability = external
    ? "PostgreSQL named by DATABASE_URL (a fresh database on it)"
    : "a throwaway local PostgreSQL 15 with fsync, synchronous_commit and full_page_writes on (durable: a 202 and every step are on disk); database_cpu_per_run_ms is the CPU of all its processes under load, statements_per_run counts the statements sent (BEGIN and COMMIT included; each is one round trip) under load, sequential_statements_per_run in the sequential phase, background claims and renewals included";
  return {
    ...result,
    targets: {
      runs_per_s: { op: ">=", value: 1200 },
      sequential_p50_ms: { op: "<=", value: 5 },
      failed_runs: { op: "<=", value: 0 },
    },
    notes: `${
      (result.notes ?? "").replace("; SQLite synchronous=FULL", "")
    }; ${durability}`,
  };
}

/** A probe of a local test server with pg_stat_statements preloaded. */
async function statementProbe(
  database: TestPostgres,
): Promise<StoreProbe | undefined> {
  const admin = database.superuserUrl;
  const cpuMs = database.cpuMs;
  if (admin === undefined || cpuMs === undefined) return undefined;
  await queryRows(admin, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  return {
    cpuMs,
    resetStatements: async () => {
      await queryRows(admin, "SELECT pg_stat_statements_reset()");
    },
    statements: async () => {
      // The store's own statements (those of its role, not this probe's),
      // as sent: statements run inside them (foreign key checks) are not
      // round trips.
      const [row] = await queryRows(
        admin,
        `SELECT COALESCE(SUM(calls), 0) AS calls FROM pg_stat_statements s
         JOIN pg_roles r ON r.oid = s.userid
         WHERE r.rolname <> 'postgres' AND s.toplevel`,
      );
      return Number(row?.calls ?? 0);
    },
  };
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
