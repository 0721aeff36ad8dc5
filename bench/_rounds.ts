/**
 * `--rounds N`: a scenario run N times and reported once. On a machine whose
 * speed moves by 5–10% from one run to the next, one run cannot show a change
 * of a few per cent; the median of several can, and the spread says how far
 * to trust it.
 */
import { directionOf } from "./_compare.ts";
import type { BenchResult } from "./_report.ts";

/** Most rounds `--rounds` takes. */
export const ROUNDS_MAX = 20;

/** A result of several rounds: the figures are medians. */
export interface RoundsResult extends BenchResult {
  /** How many rounds the figures were taken from. */
  rounds?: number;
  /** Each figure's lowest and highest value over the rounds. */
  spread?: Record<string, [number, number]>;
}

/**
 * One result for several rounds of a scenario: each figure the median of the
 * rounds that have it (for an even count, the mean of the middle two), except
 * those in `worstOf`, which take the worst round (a run that failed once
 * failed, whatever the other rounds say). The first round gives the targets,
 * directions and notes. One round is returned as it is.
 */
export function combineRounds(
  results: readonly BenchResult[],
  options: { worstOf?: readonly string[] } = {},
): RoundsResult {
  const first = results[0];
  if (first === undefined) throw new Error("no rounds to combine");
  if (results.length === 1) return first;
  const values = new Map<string, number[]>();
  for (const result of results) {
    for (const [figure, value] of Object.entries(result.figures)) {
      if (!Number.isFinite(value)) continue;
      const list = values.get(figure) ?? [];
      list.push(value);
      values.set(figure, list);
    }
  }
  const figures: Record<string, number> = {};
  const spread: Record<string, [number, number]> = {};
  for (const [figure, list] of values) {
    const sorted = [...list].sort((a, b) => a - b);
    const low = sorted[0]!;
    const high = sorted[sorted.length - 1]!;
    spread[figure] = [low, high];
    if (options.worstOf?.includes(figure)) {
      figures[figure] = directionOf(first, figure) === "higher" ? low : high;
      continue;
    }
    const middle = sorted.length >> 1;
    figures[figure] = sorted.length % 2 === 1
      ? sorted[middle]!
      : (sorted[middle - 1]! + sorted[middle]!) / 2;
  }
  return {
    ...first,
    figures,
    rounds: results.length,
    spread,
    notes: `${
      first.notes === undefined ? "" : `${first.notes}; `
    }figures are the median of ${results.length} rounds (spread: lowest and highest)`,
  };
}

/** `--rounds` as given: an integer from 1 to `ROUNDS_MAX`, else undefined. */
export function parseRounds(text: string | undefined): number | undefined {
  if (text === undefined) return 1;
  if (!/^\d+$/.test(text)) return undefined;
  const rounds = Number(text);
  return rounds >= 1 && rounds <= ROUNDS_MAX ? rounds : undefined;
}
