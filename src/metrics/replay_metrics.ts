import type { Metrics } from "./metrics.ts";

/** What a replay found, in the shape of the replay report. */
export interface ReplayObservation {
  verdict: "identical" | "diverged";
  divergence: { reason: string; skill: string | null } | null;
}

// A pin label is `name@version#sha256`; the skill name is the bounded part.
function skillName(pin: string | null): string {
  if (pin === null) return "none";
  const at = pin.indexOf("@");
  return at < 0 ? pin : pin.slice(0, at);
}

/**
 * Counts one replay into the replay metrics only: the verdict, a determinism
 * violation (by skill and divergence reason) when it diverged, and a golden
 * file mismatch when the log was a committed golden one. Replays never touch
 * the live run, step, cost or sandbox metrics.
 */
export function observeReplay(
  metrics: Metrics,
  report: ReplayObservation,
  options: { golden: boolean },
): void {
  metrics.replayTestsTotal.inc({ status: report.verdict });
  if (report.verdict !== "diverged") return;
  metrics.determinismViolationsTotal.inc({
    skill: skillName(report.divergence?.skill ?? null),
    violation_type: report.divergence?.reason ?? "unknown",
  });
  if (options.golden) metrics.goldenFileMismatchesTotal.inc();
}
