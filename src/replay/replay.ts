import {
  messageOf,
  pinLabel,
  type RunMessage,
  type SkillPin,
} from "../../actors/run_messages.ts";
import type { StepExecutor, StepOutcome } from "../../actors/run_ports.ts";
import { reduce, type RunState } from "../../actors/run_reducer.ts";
import { pinFor, planStep, type StepState } from "../../actors/run_state.ts";
import {
  type Json,
  type LogRecord,
  recordFromLine,
  sameCanonicalJson,
  verifyChain,
} from "../store/mod.ts";
import {
  type Divergence,
  divergence,
  type ReplayReport,
} from "./divergence.ts";
import { replayHostCalls } from "./host_call_check.ts";
import { batching } from "./_step_batches.ts";
import type { ModuleCatalog } from "./modules.ts";

/**
 * Logs `aos replay` certifies at once by default (`--concurrency`). One
 * log's steps replay one after another; on a 2-core machine 16 logs at a
 * time certified about 28% more records a second than 8 (32 gained
 * nothing more).
 */
export const REPLAY_CONCURRENCY = 16;

/** Options of `replayLog`. */
export interface ReplayOptions {
  /**
   * Upgrade dry-run: steps of the skill this pin names run this module
   * instead of the pinned one. The log is only read, never changed.
   */
  candidate?: SkillPin;
  /** Lets a `skill_bytes_changed` report name the bytes replay found instead. */
  catalog?: ModuleCatalog;
}

// Failures caused by the environment, not by the skill's logic: the recorded
// outcome stands, re-executing would only test the machine.
const ENVIRONMENTAL = new Set([
  "SANDBOX_TIMEOUT",
  "SANDBOX_LOAD_FAILED",
  "SKILL_MODULE_MISSING",
  "INTERNAL",
]);

/** Where records of the log are, to point a divergence at the right one. */
interface Positions {
  /** step → index of its latest StepStarted. */
  started: Map<string, number>;
  /** `step/attempt/call` → index of the HostCall record. */
  hostCalls: Map<string, number>;
}

/**
 * Re-executes a recorded run and certifies it: the hash chain holds, the
 * reducer takes the same decisions, and every step, run against the pinned
 * module with the recorded host-call answers, gives the same output bytes.
 * Nothing live is reachable: a skill asking for an answer the log lacks
 * diverges. Reports the first divergence in log order.
 */
export async function replayLog(
  records: readonly LogRecord[],
  executor: StepExecutor,
  options: ReplayOptions = {},
): Promise<ReplayReport> {
  const last = records[records.length - 1];
  const report = (found: Divergence | null): ReplayReport => ({
    run_id: records[0]?.run_id ?? "",
    records: records.length,
    digest: last?.hash ?? "",
    verdict: found === null ? "identical" : "diverged",
    divergence: found,
  });
  const broken = verifyChain(records);
  if (broken !== undefined) {
    return report(divergence({
      class: "chain_broken",
      index: broken.index,
      type: records[broken.index]!.type,
      message: `record ${broken.index}: ${broken.reason} does not match`,
      expected: broken.expected,
      actual: broken.actual,
    }));
  }
  // A step's input, pin and recorded answers are all in the log, so its
  // re-execution starts as soon as the fold meets its outcome, while the
  // fold goes on: the steps of a run run at once, and the sandbox's workers
  // are kept busy while this thread folds. Each check still answers for its
  // own place in the log: the first divergence in log order is reported.
  const checks: Promise<Divergence | null>[] = [];
  const steps = batching(executor);
  const folded = fold(records, (index, state, positions) => {
    const check = checkStep(records, index, state, {
      executor: steps,
      positions,
      options,
    });
    if (check !== null) checks.push(check);
  });
  steps.logFolded();
  try {
    for (const check of checks) {
      const found = await check;
      if (found !== null) return report(found);
    }
  } finally {
    // Nothing is left running in the sandbox once the report is out.
    await Promise.allSettled(checks);
  }
  return report(folded);
}

/**
 * Folds the log through the reducer, comparing every decision it takes with
 * the log's next record; `onStep` is told of each step outcome, with the
 * state before it. Returns the first divergence of the fold, if any.
 */
function fold(
  records: readonly LogRecord[],
  onStep: (index: number, state: RunState, positions: Positions) => void,
): Divergence | null {
  const positions: Positions = { started: new Map(), hostCalls: new Map() };
  let state: RunState | undefined;
  let decision: RunMessage | undefined;
  for (let index = 0; index < records.length; index++) {
    const record = records[index]!;
    if (decision !== undefined) {
      const found = checkDecision(record, index, decision);
      if (found !== null) return found;
    } else if (state !== undefined) {
      onStep(index, state, positions);
    }
    note(record, index, positions);
    decision = undefined;
    try {
      const reduction = reduce(state, messageOf(record));
      state = reduction.state;
      for (const effect of reduction.effects) {
        if (effect.kind === "AppendMessage") decision = effect.message;
      }
    } catch (error) {
      return divergence({
        class: "record_invalid",
        index,
        type: record.type,
        message: error instanceof Error ? error.message : String(error),
        expected: null,
        actual: { type: record.type, body: record.body },
      });
    }
  }
  if (decision !== undefined) {
    return divergence({
      class: "plan_changed",
      index: records.length,
      type: decision.type,
      message: `the log ends where the run decides ${decision.type}`,
      expected: null,
      actual: messageJson(decision),
    });
  }
  return null;
}

function note(record: LogRecord, index: number, positions: Positions): void {
  const body = record.body as Record<string, Json>;
  if (record.type === "StepStarted") {
    positions.started.set(String(body.step), index);
  } else if (record.type === "HostCall") {
    // The first record of a call stands: a later one of the same place is
    // refused by the reducer, after a check started earlier may look here.
    const place = `${body.step}/${body.attempt}/${body.index}`;
    if (!positions.hostCalls.has(place)) positions.hostCalls.set(place, index);
  }
}

function messageJson(message: RunMessage): Json {
  return { type: message.type, body: message.body as unknown as Json };
}

// The reducer took a decision on the previous record; the log must hold
// exactly that decision next.
function checkDecision(
  record: LogRecord,
  index: number,
  decision: RunMessage,
): Divergence | null {
  const expected = { type: record.type, body: record.body };
  const actual = messageJson(decision);
  if (sameCanonicalJson(expected, actual)) return null;
  return divergence({
    class: "plan_changed",
    index,
    type: record.type,
    step: typeof record.body.step === "string" ? record.body.step : null,
    message: decision.type === record.type
      ? `the run decides ${decision.type} with other content than the log records`
      : `the run decides ${decision.type} here, but the log holds ${record.type}`,
    expected,
    actual,
  });
}

interface StepContext {
  executor: StepExecutor;
  positions: Positions;
  options: ReplayOptions;
}

// A step outcome in the log: run the step again and compare. Null when
// the record asks for no re-execution; what the check needs of `state` and
// of the positions is taken now, as the fold moves on.
function checkStep(
  records: readonly LogRecord[],
  index: number,
  state: RunState,
  context: StepContext,
): Promise<Divergence | null> | null {
  const record = records[index]!;
  if (record.type !== "StepSucceeded" && record.type !== "StepFailed") {
    return null;
  }
  const stepId = String(record.body.step);
  const step = state.steps.find((candidate) => candidate.id === stepId);
  if (step === undefined || step.status !== "running") return null;
  const recordedError = record.type === "StepFailed"
    ? (record.body.error as { code?: string })
    : undefined;
  if (
    recordedError !== undefined && ENVIRONMENTAL.has(String(recordedError.code))
  ) return null;
  const pinned = pinFor(state, planStep(state, stepId), step.fallback);
  const candidate = context.options.candidate;
  const pin = candidate !== undefined && candidate.name === pinned.name
    ? candidate
    : pinned;
  const started = context.positions.started.get(stepId) ?? index;
  return rerunStep(records, index, started, {
    run_id: state.run_id,
    stepId,
    attempt: step.attempt,
    pin,
    input: step.input,
    hostCalls: step.host_calls,
  }, context);
}

interface StepRerun {
  run_id: string;
  stepId: string;
  attempt: number;
  pin: SkillPin;
  input: StepState["input"];
  hostCalls: StepState["host_calls"];
}

async function rerunStep(
  records: readonly LogRecord[],
  index: number,
  started: number,
  rerun: StepRerun,
  context: StepContext,
): Promise<Divergence | null> {
  const record = records[index]!;
  const { stepId, pin } = rerun;
  const { outcome, finding } = await replayHostCalls(
    rerun.hostCalls,
    (hostCalls) =>
      context.executor.execute({
        run_id: rerun.run_id,
        step: stepId,
        attempt: rerun.attempt,
        pin,
        input: rerun.input,
        hostCalls,
      }),
  );
  const base = { step: stepId, attempt: rerun.attempt, skill: pinLabel(pin) };
  if (!outcome.ok && outcome.error.code === "SKILL_MODULE_MISSING") {
    const at = started;
    const found = await context.options.catalog?.sha256sOf(
      pin.name,
      pin.version,
    );
    return divergence({
      ...base,
      class: "skill_bytes_changed",
      index: at,
      type: records[at]!.type,
      message: found === undefined || found.length === 0
        ? `no module ${pin.name}@${pin.version} with the pinned bytes, nor any other, is available`
        : `the module available for ${pin.name}@${pin.version} is not the pinned one`,
      expected: { name: pin.name, version: pin.version, sha256: pin.sha256 },
      actual: {
        name: pin.name,
        version: pin.version,
        sha256: found?.[0] ?? null,
      },
    });
  }
  if (finding !== null) {
    // Only a record before the outcome is where the fold stood then.
    const recorded = context.positions.hostCalls.get(
      `${stepId}/${rerun.attempt}/${finding.position}`,
    );
    const at = recorded !== undefined && recorded < index ? recorded : index;
    return divergence({
      ...base,
      ...finding,
      index: at,
      type: records[at]!.type,
      message: `step ${stepId}: ${finding.message}`,
    });
  }
  const expected = recordedOutcome(record);
  const actual = outcomeJson(outcome);
  if (sameCanonicalJson(expected, actual)) return null;
  return divergence({
    ...base,
    class: "output_changed",
    index,
    type: record.type,
    message: `step ${stepId} gives another outcome`,
    expected,
    actual,
  });
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
