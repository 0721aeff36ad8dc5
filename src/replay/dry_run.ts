import type { StepExecutor } from "../../actors/run_ports.ts";
import type { SkillPin } from "../../actors/run_messages.ts";
import type { SkillModule } from "../sandbox/mod.ts";
import type { LogRecord } from "../store/mod.ts";
import type { ReplayReport } from "./divergence.ts";
import { replayLog } from "./replay.ts";
import { skillPin } from "../skills/pin.ts";

/**
 * What an upgrade would do to a recorded run: nothing (`identical`), change
 * what it records (`diverged`), or call out where the old version did not
 * (`needs_new_host_call`), which replay cannot answer without a live call.
 */
export type DryRunVerdict = "identical" | "diverged" | "needs_new_host_call";

/** The verdict of one run under a candidate skill version. */
export interface DryRunReport extends Omit<ReplayReport, "verdict"> {
  verdict: DryRunVerdict;
  /** The candidate, `name@version#sha256`. */
  candidate: string;
  /** False when the run never started a step of the candidate's skill. */
  uses_skill: boolean;
}

/** The pin a run would record for this module. */
export function candidatePin(module: SkillModule, sha256: string): SkillPin {
  return skillPin(module.manifest, sha256);
}

/**
 * Replays a recorded run with every step of the candidate's skill running
 * the candidate instead of the pinned version. The executor must have no
 * live side effects (see `replaySandbox`); the records are only read.
 */
export async function dryRunLog(
  records: readonly LogRecord[],
  executor: StepExecutor,
  options: { candidate: SkillPin },
): Promise<DryRunReport> {
  const { candidate } = options;
  const report = await replayLog(records, executor, { candidate });
  const needsNew = report.divergence?.host_call?.needs_new_host_call === true;
  const prefix = `${candidate.name}@`;
  return {
    ...report,
    verdict: needsNew ? "needs_new_host_call" : report.verdict,
    candidate: `${candidate.name}@${candidate.version}#${candidate.sha256}`,
    uses_skill: records.some((record) =>
      record.type === "StepStarted" &&
      String(record.body.skill).startsWith(prefix)
    ),
  };
}
