import {
  messageOf,
  pinLabel,
  type RunMessage,
} from "../../actors/run_messages.ts";
import type { StepExecutor, StepOutcome } from "../../actors/run_actor.ts";
import { reduce, type RunState } from "../../actors/run_reducer.ts";
import { pinFor, planStep } from "../../actors/run_state.ts";
import { replayPort } from "../sandbox/mod.ts";
import {
  canonicalJson,
  type Json,
  type LogRecord,
  recordFromLine,
  verifyChain,
} from "../store/mod.ts";

/** Why a replay stopped agreeing with the log. */
export type DivergenceReason =
  | "chain_broken"
  | "record_invalid"
  | "decision_changed"
  | "output_changed"
  | "host_call_changed"
  | "host_calls_unused";

/** The first record where re-execution and the log disagree. */
export interface Divergence {
  /** Position of the record in the log (0-based; equals its seq). */
  index: number;
  type: string;
  reason: DivergenceReason;
  step: string | null;
  /** The pinned module, `name@version#sha256`, when a step is concerned. */
  skill: string | null;
  message: string;
  expected: Json;
  actual: Json;
}

/** The verdict on one log. */
export interface ReplayReport {
  run_id: string;
  records: number;
  /** Hash of the last record. */
  digest: string;
  verdict: "identical" | "diverged";
  divergence: Divergence | null;
}

// Failures caused by the environment, not by the skill's logic: the recorded
// outcome stands, re-executing would only test the machine.
const ENVIRONMENTAL = new Set([
  "SANDBOX_TIMEOUT",
  "SANDBOX_LOAD_FAILED",
  "SKILL_MODULE_MISSING",
  "INTERNAL",
]);

/**
 * Re-executes a recorded run and certifies it: the hash chain holds, the
 * reducer takes the same decisions, and every step, run against the pinned
 * module with the recorded host-call answers, gives the same output bytes.
 * Nothing live is reachable: a skill asking for an answer the log lacks
 * diverges. Stops at the first divergence.
 */
export async function replayLog(
  records: readonly LogRecord[],
  executor: StepExecutor,
): Promise<ReplayReport> {
  const last = records[records.length - 1];
  const report = (divergence: Divergence | null): ReplayReport => ({
    run_id: records[0]?.run_id ?? "",
    records: records.length,
    digest: last?.hash ?? "",
    verdict: divergence === null ? "identical" : "diverged",
    divergence,
  });
  const broken = verifyChain(records);
  if (broken !== undefined) {
    return report({
      index: broken.index,
      type: records[broken.index]!.type,
      reason: "chain_broken",
      step: null,
      skill: null,
      message: `record ${broken.index}: ${broken.reason} does not match`,
      expected: broken.expected,
      actual: broken.actual,
    });
  }
  let state: RunState | undefined;
  let decision: RunMessage | undefined;
  for (let index = 0; index < records.length; index++) {
    const record = records[index]!;
    const divergence = await checkRecord(
      record,
      index,
      state,
      decision,
      executor,
    );
    if (divergence !== null) return report(divergence);
    decision = undefined;
    try {
      const reduction = reduce(state, messageOf(record));
      state = reduction.state;
      for (const effect of reduction.effects) {
        if (effect.kind === "AppendMessage") decision = effect.message;
      }
    } catch (error) {
      return report(invalid(record, index, error));
    }
  }
  if (decision !== undefined) {
    return report({
      index: records.length,
      type: decision.type,
      reason: "decision_changed",
      step: null,
      skill: null,
      message: `the log ends where the run decides ${decision.type}`,
      expected: null,
      actual: { type: decision.type, body: decision.body as unknown as Json },
    });
  }
  return report(null);
}

function invalid(record: LogRecord, index: number, error: unknown): Divergence {
  return {
    index,
    type: record.type,
    reason: "record_invalid",
    step: null,
    skill: null,
    message: error instanceof Error ? error.message : String(error),
    expected: null,
    actual: { type: record.type, body: record.body },
  };
}

async function checkRecord(
  record: LogRecord,
  index: number,
  state: RunState | undefined,
  decision: RunMessage | undefined,
  executor: StepExecutor,
): Promise<Divergence | null> {
  if (decision !== undefined) {
    const expected = {
      type: decision.type,
      body: decision.body as unknown as Json,
    };
    const actual = { type: record.type, body: record.body };
    if (canonicalJson(expected) !== canonicalJson(actual)) {
      return {
        index,
        type: record.type,
        reason: "decision_changed",
        step: null,
        skill: null,
        message:
          `the run decides ${decision.type} here, but the log holds ${record.type}`,
        expected,
        actual,
      };
    }
    return null;
  }
  if (
    (record.type !== "StepSucceeded" && record.type !== "StepFailed") ||
    state === undefined
  ) return null;
  const stepId = String(record.body.step);
  const step = state.steps.find((candidate) => candidate.id === stepId);
  if (step === undefined || step.status !== "running") return null;
  const recordedError = record.type === "StepFailed"
    ? (record.body.error as { code?: string })
    : undefined;
  if (
    recordedError !== undefined && ENVIRONMENTAL.has(String(recordedError.code))
  ) return null;
  const pin = pinFor(state, planStep(state, stepId), step.fallback);
  let served = 0;
  const outcome = await executor.execute({
    run_id: state.run_id,
    step: stepId,
    attempt: step.attempt,
    pin,
    input: step.input,
    hostCalls: replayPort(step.host_calls, () => served++),
  });
  const base = { index, type: record.type, step: stepId, skill: pinLabel(pin) };
  if (!outcome.ok && outcome.error.code === "HOST_CALL_MISMATCH") {
    return {
      ...base,
      reason: "host_call_changed",
      message: outcome.error.message,
      expected: (outcome.error.details.expected ?? null) as Json,
      actual: (outcome.error.details.actual ?? outcome.error.details) as Json,
    };
  }
  const expected = recordedOutcome(record);
  const actual = outcomeJson(outcome);
  if (canonicalJson(expected) !== canonicalJson(actual)) {
    return {
      ...base,
      reason: "output_changed",
      message: `step ${stepId} gives another outcome`,
      expected,
      actual,
    };
  }
  if (served !== step.host_calls.length) {
    return {
      ...base,
      reason: "host_calls_unused",
      message:
        `step ${stepId} used ${served} of ${step.host_calls.length} recorded host calls`,
      expected: step.host_calls.length,
      actual: served,
    };
  }
  return null;
}

function recordedOutcome(record: LogRecord): Json {
  if (record.type === "StepSucceeded") {
    return {
      ok: true,
      output: record.body.output!,
      output_sha256: record.body.output_sha256!,
    };
  }
  const error = record.body.error as Record<string, Json>;
  return {
    ok: false,
    code: error.code ?? null,
    message: error.message ?? null,
  };
}

function outcomeJson(outcome: StepOutcome): Json {
  if (outcome.ok) {
    return {
      ok: true,
      output: outcome.output,
      output_sha256: outcome.output_sha256,
    };
  }
  return {
    ok: false,
    code: outcome.error.code,
    message: outcome.error.message,
  };
}

/** Parses a `.jsonl` export into records; a bad line is LOG_RECORD_INVALID. */
export function parseLogLines(text: string, source: string): LogRecord[] {
  return text.split("\n")
    .filter((line) => line.trim().length > 0)
    .map((line, index) => recordFromLine(line, `${source}:${index + 1}`));
}
