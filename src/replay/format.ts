import { canonicalJson } from "../store/mod.ts";
import type { ReplayReport } from "./replay.ts";

/** One report for a terminal: a line when identical, the divergence when not. */
export function formatReport(source: string, report: ReplayReport): string {
  const digest = report.digest.slice(0, 16);
  if (report.divergence === null) {
    return `ok   ${source}  run ${report.run_id}  ${report.records} records  digest ${digest}`;
  }
  const divergence = report.divergence;
  return [
    `FAIL ${source}  run ${report.run_id}  diverged at record ${divergence.index} (${divergence.type}): ${divergence.reason}`,
    `     ${divergence.message}`,
    ...(divergence.step === null
      ? []
      : [`     step ${divergence.step}  skill ${divergence.skill}`]),
    `     expected: ${truncate(canonicalJson(divergence.expected))}`,
    `     actual:   ${truncate(canonicalJson(divergence.actual))}`,
  ].join("\n");
}

function truncate(text: string, limit = 400): string {
  return text.length <= limit
    ? text
    : `${text.slice(0, limit)}… (${text.length} chars)`;
}
