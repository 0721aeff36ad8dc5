/** Shared by the benchmark scenarios: statistics and the result file format. */
import { join } from "node:path";

/** One scenario's result: a flat record of named figures. */
export interface BenchResult {
  scenario: string;
  figures: Record<string, number>;
  /** The target each figure is held to, when the project sets one. */
  targets: Record<string, { op: "<=" | ">="; value: number }>;
  notes?: string;
}

/** Percentile of sorted values (nearest rank). */
export function percentile(
  sorted: readonly number[],
  fraction: number,
): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(
    sorted.length - 1,
    Math.max(0, Math.ceil(fraction * sorted.length) - 1),
  );
  return sorted[rank]!;
}

/** The machine the figures were measured on. */
export function machine(): Record<string, string | number> {
  return {
    cores: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    os: Deno.build.os,
    arch: Deno.build.arch,
  };
}

/** Prints one JSON line and writes `bench/results/<scenario>.json`. */
export async function report(result: BenchResult): Promise<void> {
  const verdicts: Record<string, "met" | "missed"> = {};
  for (const [name, target] of Object.entries(result.targets)) {
    const value = result.figures[name];
    if (value === undefined) continue;
    const met = target.op === "<="
      ? value <= target.value
      : value >= target.value;
    verdicts[name] = met ? "met" : "missed";
  }
  const document = {
    ...result,
    verdicts,
    machine: machine(),
    measured_at: new Date().toISOString(),
  };
  console.log(JSON.stringify(document));
  const dir = new URL("./results/", import.meta.url).pathname;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    join(dir, `${result.scenario}.json`),
    JSON.stringify(document, null, 2) + "\n",
  );
}
