/**
 * `deno task bench`: runs benchmark scenarios, prints one JSON line each and
 * writes `bench/results/<scenario>.json`. `--only a,b` picks scenarios.
 */
import { parseArgs } from "node:util";
import { type BenchResult, report } from "./_report.ts";
import { clusterThroughput } from "./cluster_scenarios.ts";
import {
  coldStart,
  skillCall,
  timeoutEnforcement,
} from "./sandbox_scenarios.ts";

const SCENARIOS: Record<string, () => Promise<BenchResult>> = {
  skill_call: skillCall,
  cold_start: coldStart,
  timeout_enforcement: timeoutEnforcement,
  cluster_throughput: clusterThroughput,
};

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { only: { type: "string" } },
  });
  const names = values.only === undefined
    ? Object.keys(SCENARIOS)
    : values.only.split(",");
  for (const name of names) {
    const scenario = SCENARIOS[name];
    if (scenario === undefined) {
      console.error(
        `unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(", ")}`,
      );
      Deno.exit(2);
    }
    await report(await scenario());
  }
}
