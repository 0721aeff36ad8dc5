/**
 * `deno task bench`: runs benchmark scenarios, prints one JSON line each and
 * writes `bench/results/<scenario>.json`.
 *
 *   --only a,b        pick scenarios
 *   --smoke           small sizes (CI); results go to bench/results/smoke/
 *   --compare PATH    compare with a saved result set (a folder like
 *                     bench/results/ or a --save file) and flag every figure
 *                     more than 15% worse; exits 3 when one is, except with
 *                     --smoke, which only reports
 *
 * A run whose runs fail, whose replay diverges or whose runs do not park
 * exits 4 whatever the flags: that is a broken system, not noise.
 *   --rounds N        run each scenario N times (1-20) and report the median
 *                     of each figure, with its spread (lowest, highest)
 *   --save FILE       also write this run's results as one result set
 *   --cpu-prof DIR    servers started by `runs` write V8 CPU profiles to DIR,
 *                     their plugin workers' threads included
 *
 * `runs_postgres` uses the PostgreSQL server DATABASE_URL names (a database
 * of its own on it), or else a throwaway local one; every other scenario
 * uses SQLite. AOS_BENCH_API_KEY (default: a fresh random key) is seeded into
 * the servers as the default tenant's key and sent by the client.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  compareDocuments,
  readResultSet,
  type Regression,
} from "./_compare.ts";
import {
  type BenchDocument,
  type BenchResult,
  report,
  RESULTS_DIR,
} from "./_report.ts";
import { clusterThroughput } from "./cluster_scenarios.ts";
import {
  coldStart,
  skillCall,
  timeoutEnforcement,
} from "./sandbox_scenarios.ts";
import {
  HISTORY_DEFAULTS,
  HISTORY_SMOKE,
  historyOnPostgres,
  historyScenario,
} from "./history_scenario.ts";
import { idleRuns } from "./idle_runs_scenario.ts";
import { REPLAY_DEFAULTS, replayScenario } from "./replay_scenario.ts";
import {
  RUNS_DEFAULTS,
  runsOnPostgres,
  runsScenario,
} from "./runs_scenario.ts";
import { storeAppend } from "./store_scenarios.ts";
import {
  SUSTAINED_DEFAULTS,
  SUSTAINED_SMOKE,
  sustainedOnPostgres,
  sustainedScenario,
} from "./sustained_scenario.ts";
import { PLUGIN_CPU_PROFILE_DIR_ENV } from "../src/sandbox/mod.ts";
import { combineRounds, parseRounds, ROUNDS_MAX } from "./_rounds.ts";

// Every /v1 route needs a key, and the servers a scenario starts have empty
// stores: the key is seeded into them as the default tenant's and sent by
// the client. Without AOS_BENCH_API_KEY a fresh random key is used.
const apiKey = Deno.env.get("AOS_BENCH_API_KEY") ?? randomApiKey();
const client = { env: { AOS_BOOTSTRAP_TENANT_KEY: apiKey }, key: apiKey };

function randomApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `aos_${
    Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}
let cpuProfileDir: string | undefined;
const profiled = () =>
  cpuProfileDir === undefined ? {} : {
    denoFlags: ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`],
    // `--cpu-prof` does not reach the plugin workers' threads: they
    // profile themselves into the same folder.
    env: { ...client.env, [PLUGIN_CPU_PROFILE_DIR_ENV]: cpuProfileDir },
  };

const SCENARIOS: Record<string, () => Promise<BenchResult>> = {
  runs: () => runsScenario({ ...RUNS_DEFAULTS, ...client, ...profiled() }),
  runs_postgres: () =>
    runsOnPostgres({
      ...RUNS_DEFAULTS,
      ...client,
      ...profiled(),
      scenario: "runs_postgres",
    }),
  replay: () => replayScenario({ ...REPLAY_DEFAULTS, ...client }),
  idle_runs: () => idleRuns({ runs: 10_000, idleSeconds: 10, ...client }),
  store_append: () => storeAppend({ appenders: 64, seconds: 10 }),
  history: () => historyScenario({ ...HISTORY_DEFAULTS, ...client }),
  history_postgres: () => historyOnPostgres({ ...HISTORY_DEFAULTS, ...client }),
  sustained: () => sustainedScenario({ ...SUSTAINED_DEFAULTS, ...client }),
  sustained_postgres: () =>
    sustainedOnPostgres({ ...SUSTAINED_DEFAULTS, ...client }),
  skill_call: skillCall,
  cold_start: coldStart,
  timeout_enforcement: timeoutEnforcement,
  cluster_throughput: clusterThroughput,
};

/**
 * Figures that say whether the system worked, not how fast: missing one of
 * their targets fails the run (exit 4), the smoke variant included.
 */
const BROKEN_WHEN_MISSED = ["failed_runs", "diverged", "parked_sampled_ok"];

/** The smoke variant: every scenario that takes sizes, at sizes CI affords. */
const SMOKE: Record<string, () => Promise<BenchResult>> = {
  runs: () =>
    runsScenario({
      warmupRuns: 20,
      sequentialRuns: 50,
      concurrency: 8,
      loadSeconds: 2,
      ...client,
      ...profiled(),
    }),
  runs_postgres: () =>
    runsOnPostgres({
      warmupRuns: 20,
      sequentialRuns: 50,
      concurrency: 8,
      loadSeconds: 2,
      ...client,
      scenario: "runs_postgres",
    }),
  replay: () =>
    replayScenario({ recordsMin: 2_000, concurrency: 4, ...client }),
  idle_runs: () =>
    idleRuns({ runs: 500, idleSeconds: 2, settledSeconds: 5, ...client }),
  store_append: () => storeAppend({ appenders: 16, seconds: 2 }),
  history: () => historyScenario({ ...HISTORY_SMOKE, ...client }),
  history_postgres: () => historyOnPostgres({ ...HISTORY_SMOKE, ...client }),
  sustained: () => sustainedScenario({ ...SUSTAINED_SMOKE, ...client }),
  sustained_postgres: () =>
    sustainedOnPostgres({ ...SUSTAINED_SMOKE, ...client }),
};

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      only: { type: "string" },
      smoke: { type: "boolean", default: false },
      compare: { type: "string" },
      save: { type: "string" },
      "cpu-prof": { type: "string" },
      rounds: { type: "string" },
    },
  });
  const rounds = parseRounds(values.rounds);
  if (rounds === undefined) {
    console.error(`--rounds takes a whole number from 1 to ${ROUNDS_MAX}`);
    Deno.exit(2);
  }
  cpuProfileDir = values["cpu-prof"];
  const registry = values.smoke ? SMOKE : SCENARIOS;
  const names = values.only === undefined
    ? Object.keys(registry)
    : values.only.split(",");
  const unknown = names.filter((name) => registry[name] === undefined);
  if (unknown.length > 0) {
    console.error(
      `unknown scenario ${unknown.join(", ")}; known${
        values.smoke ? " with --smoke" : ""
      }: ${Object.keys(registry).join(", ")}`,
    );
    Deno.exit(2);
  }
  const baseline = values.compare === undefined
    ? undefined
    : await readResultSet(values.compare);
  const dir = values.smoke ? join(RESULTS_DIR, "smoke") : RESULTS_DIR;
  const documents: BenchDocument[] = [];
  const regressions: Regression[] = [];
  for (const name of names) {
    const results: BenchResult[] = [];
    for (let round = 0; round < rounds; round++) {
      results.push(await registry[name]!());
    }
    const document = await report(
      combineRounds(results, { worstOf: BROKEN_WHEN_MISSED }),
      { dir },
    );
    documents.push(document);
    const before = baseline?.get(document.scenario);
    if (before !== undefined) {
      regressions.push(...compareDocuments(before, document));
    }
  }
  if (values.save !== undefined) {
    await Deno.writeTextFile(
      values.save,
      JSON.stringify({ results: documents }, null, 2) + "\n",
    );
  }
  if (baseline !== undefined) {
    for (const regression of regressions) {
      console.error(
        `worse: ${regression.scenario}.${regression.figure} ${regression.baseline} -> ${regression.current} (${
          Number.isFinite(regression.worse)
            ? `${Math.round(regression.worse * 100)}% worse`
            : "target now missed"
        })`,
      );
    }
    console.log(JSON.stringify({ compare: values.compare, regressions }));
  }
  const broken = documents.flatMap((document) =>
    BROKEN_WHEN_MISSED.filter((figure) =>
      document.verdicts[figure] === "missed"
    ).map((figure) =>
      `${document.scenario}.${figure} = ${document.figures[figure]}`
    )
  );
  if (broken.length > 0) {
    console.error(`broken: ${broken.join(", ")}`);
    Deno.exit(4);
  }
  if (regressions.length > 0 && !values.smoke) Deno.exit(3);
}
