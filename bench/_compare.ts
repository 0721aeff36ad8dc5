/**
 * `--compare`: figures of this run against a saved result set. A figure
 * more than `toleranceFraction` worse, in the direction it improves, is
 * flagged.
 */
import { join } from "node:path";
import type { BenchDocument } from "./_report.ts";

/** One figure that got worse beyond the tolerance. */
export interface Regression {
  scenario: string;
  figure: string;
  baseline: number;
  current: number;
  /** How much worse, as a fraction of the baseline (0.2 = 20% worse). */
  worse: number;
}

/** The default tolerance: 15%. */
export const COMPARE_TOLERANCE = 0.15;

/**
 * Reads a saved result set: a folder of `<scenario>.json` documents (like
 * `bench/results/`), or one file holding one document, an array of them,
 * or `{ "results": [...] }` (what `--save` writes).
 */
export async function readResultSet(
  path: string,
): Promise<Map<string, BenchDocument>> {
  const documents: BenchDocument[] = [];
  if ((await Deno.stat(path)).isDirectory) {
    for await (const entry of Deno.readDir(path)) {
      if (!entry.isFile || !entry.name.endsWith(".json")) continue;
      documents.push(...asDocuments(
        JSON.parse(await Deno.readTextFile(join(path, entry.name))),
      ));
    }
  } else {
    documents.push(...asDocuments(JSON.parse(await Deno.readTextFile(path))));
  }
  return new Map(documents.map((document) => [document.scenario, document]));
}

function asDocuments(value: unknown): BenchDocument[] {
  if (Array.isArray(value)) return value as BenchDocument[];
  const object = value as { results?: unknown; scenario?: unknown };
  if (Array.isArray(object.results)) return object.results as BenchDocument[];
  if (typeof object.scenario === "string") return [value as BenchDocument];
  throw new Error("not a benchmark result set");
}

/** Which way a figure improves. */
export function directionOf(
  document: Pick<BenchDocument, "directions" | "targets">,
  figure: string,
): "higher" | "lower" {
  const stated = document.directions?.[figure];
  if (stated !== undefined) return stated;
  const target = document.targets[figure];
  if (target !== undefined) return target.op === ">=" ? "higher" : "lower";
  return /per_s/.test(figure) ? "higher" : "lower";
}

/** The figures of `current` more than `tolerance` worse than in `baseline`. */
export function compareDocuments(
  baseline: BenchDocument,
  current: BenchDocument,
  tolerance = COMPARE_TOLERANCE,
): Regression[] {
  const regressions: Regression[] = [];
  for (const [figure, now] of Object.entries(current.figures)) {
    const before = baseline.figures[figure];
    if (before === undefined || !Number.isFinite(before)) continue;
    const direction = directionOf(current, figure);
    const delta = direction === "higher" ? before - now : now - before;
    let worse: number;
    if (before === 0) {
      // No scale to be a fraction of: only a now-missed target counts.
      worse = delta > 0 && current.verdicts?.[figure] === "missed"
        ? Infinity
        : 0;
    } else {
      worse = delta / Math.abs(before);
    }
    if (worse > tolerance) {
      regressions.push({
        scenario: current.scenario,
        figure,
        baseline: before,
        current: now,
        worse,
      });
    }
  }
  return regressions;
}
