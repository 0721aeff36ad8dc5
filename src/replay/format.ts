import { canonicalJson, type Json } from "../store/mod.ts";
import type { Divergence, ReplayReport } from "./divergence.ts";
import type { DryRunReport } from "./dry_run.ts";

const LABELS: Record<string, string> = {
  identical: "ok  ",
  diverged: "FAIL",
  needs_new_host_call: "NEW ",
};

/** One report for a terminal: a line when identical, the divergence when not. */
export function formatReport(
  source: string,
  report: ReplayReport | DryRunReport,
): string {
  const head = `${
    LABELS[report.verdict] ?? report.verdict
  } ${source}  run ${report.run_id}`;
  const found = report.divergence;
  if (found === null) {
    const unused = "uses_skill" in report && !report.uses_skill
      ? "  (does not use the skill)"
      : "";
    return `${head}  ${report.records} records  digest ${
      report.digest.slice(0, 16)
    }${unused}`;
  }
  return [
    `${head}  ${report.verdict} at record ${found.index} (${found.type}): ${found.class}`,
    ...formatDivergence(found).map((line) => `     ${line}`),
  ].join("\n");
}

/** The divergence's lines: where, what, and the diff from expected to actual. */
export function formatDivergence(found: Divergence): string[] {
  const lines = [found.message];
  if (found.step !== null) {
    lines.push(
      `step ${found.step}${
        found.attempt === null ? "" : ` attempt ${found.attempt}`
      }  skill ${found.skill}`,
    );
  }
  if (found.host_call !== null) {
    const call = found.host_call;
    lines.push(
      `host call ${call.index} (${call.kind}): ${call.change}${
        call.needs_new_host_call ? ", needs a new host call" : ""
      }`,
    );
  }
  lines.push(`expected: ${truncate(canonicalJson(found.expected))}`);
  lines.push(`actual:   ${truncate(canonicalJson(found.actual))}`);
  // A change of the whole value is already said by the two lines above.
  if (found.diff.every((difference) => difference.path === "")) return lines;
  lines.push("diff (expected → actual):");
  for (const difference of found.diff) {
    const path = difference.path === "" ? "(root)" : difference.path;
    if (difference.op === "added") {
      lines.push(`  + ${path}: ${show(difference.actual)}`);
    } else if (difference.op === "removed") {
      lines.push(`  - ${path}: ${show(difference.expected)}`);
    } else {
      lines.push(
        `  ~ ${path}: ${show(difference.expected)} → ${
          show(difference.actual)
        }`,
      );
    }
  }
  if (found.diff_truncated) lines.push("  … more differences (see --json)");
  return lines;
}

function show(value: Json | undefined): string {
  return truncate(canonicalJson(value ?? null), 160);
}

function truncate(text: string, limit = 400): string {
  return text.length <= limit
    ? text
    : `${text.slice(0, limit)}… (${text.length} chars)`;
}
