import type { Metrics } from "../metrics/mod.ts";
import type { Divergence } from "./divergence.ts";

/**
 * Counts one replayed log in the replay metrics (never in the live run or
 * skill metrics). `golden` marks a committed golden log, whose divergence is
 * also a golden file mismatch.
 */
export function countReplay(
  metrics: Metrics,
  report: { verdict: string; divergence: Divergence | null },
  options: { golden?: boolean } = {},
): void {
  metrics.replayTestsTotal.inc({ status: report.verdict });
  const found = report.divergence;
  if (found === null) return;
  metrics.determinismViolationsTotal.inc({
    skill: found.skill?.split("@")[0] ?? "none",
    violation_type: found.class,
  });
  if (options.golden === true) metrics.goldenFileMismatchesTotal.inc();
}

const REPLAY_METRICS = [
  "nova_replay_tests_total",
  "nova_determinism_violations_total",
  "nova_golden_file_mismatches_total",
];

/** The replay metrics alone, as Prometheus text (for a textfile collector). */
export async function replayMetricsText(metrics: Metrics): Promise<string> {
  const parts = await Promise.all(
    REPLAY_METRICS.map((name) =>
      metrics.registry.getSingleMetricAsString(name)
    ),
  );
  return parts.join("\n\n") + "\n";
}
