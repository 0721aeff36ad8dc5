/** Shared by the benchmark scenarios: statistics and the result file format. */
import { join } from "node:path";

/** One scenario's result: a flat record of named figures. */
export interface BenchResult {
  scenario: string;
  figures: Record<string, number>;
  /** The target each figure is held to, when the project sets one. */
  targets: Record<string, { op: "<=" | ">="; value: number }>;
  /**
   * Which way each figure improves, for `--compare`; when absent it follows
   * the figure's target, then its unit (`_per_s` higher, anything else lower).
   */
  directions?: Record<string, "higher" | "lower">;
  notes?: string;
}

/** A result as printed and saved: the figures plus verdicts and the machine. */
export interface BenchDocument extends BenchResult {
  verdicts: Record<string, "met" | "missed">;
  machine: Record<string, string | number>;
  measured_at: string;
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
    // Other work on the machine skews figures; this says how busy it was.
    load_average_1m: Deno.loadavg()[0]!,
  };
}

/** Where results go unless told otherwise. */
export const RESULTS_DIR = new URL("./results/", import.meta.url).pathname;

/**
 * Prints one JSON line and writes `<dir>/<scenario>.json` (by default
 * `bench/results/`); returns the document.
 */
export async function report(
  result: BenchResult,
  options: { dir?: string } = {},
): Promise<BenchDocument> {
  const verdicts: Record<string, "met" | "missed"> = {};
  for (const [name, target] of Object.entries(result.targets)) {
    const value = result.figures[name];
    if (value === undefined) continue;
    const met = target.op === "<="
      ? value <= target.value
      : value >= target.value;
    verdicts[name] = met ? "met" : "missed";
  }
  const document: BenchDocument = {
    ...result,
    verdicts,
    machine: machine(),
    measured_at: new Date().toISOString(),
  };
  console.log(JSON.stringify(document));
  const dir = options.dir ?? RESULTS_DIR;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    join(dir, `${result.scenario}.json`),
    JSON.stringify(document, null, 2) + "\n",
  );
  return document;
}
