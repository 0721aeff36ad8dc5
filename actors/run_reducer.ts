import { AosError, type RecordedError } from "../src/errors/mod.ts";
import { type Plan, resolveTemplates } from "../src/plan/mod.ts";
import type { Json, RunStatus } from "../src/store/mod.ts";
import {
  type HostCallBody,
  pinLabel,
  type RunMessage,
  type SkillPin,
  type TimedMessage,
} from "./run_messages.ts";

/** Where one step stands. */
export interface StepState {
  id: string;
  status: "pending" | "running" | "succeeded" | "failed";
  attempt: number;
  input: Json | null;
  output: Json | null;
  output_sha256: string | null;
  error: RecordedError | null;
  started_at: number | null;
  finished_at: number | null;
  /** Host calls recorded for the current attempt, in call order. */
  host_calls: HostCallBody[];
}

/** A run's state: nothing but a fold of its log. */
export interface RunState {
  run_id: string;
  tenant: string;
  status: RunStatus;
  plan: Plan;
  pins: Record<string, SkillPin>;
  abi: number;
  steps: StepState[];
  submitted_at: number;
  finished_at: number | null;
  output: Json | null;
  error: RecordedError | null;
  /** How many records have been applied. */
  records: number;
}

/** What the shell must do after a message; results come back as messages. */
export type Effect =
  /** Record a decision: append this message next, before anything else. */
  | { kind: "AppendMessage"; message: RunMessage }
  /** Execute a step's skill, serving `recorded` host calls first. */
  | {
    kind: "RunStep";
    step: string;
    attempt: number;
    pin: SkillPin;
    input: Json;
    recorded: HostCallBody[];
  }
  /** The run is over: stop the actor and release what it holds. */
  | { kind: "FinishRun"; status: RunStatus };

/** A message as the reducer sees it: the record envelope's fields. */
export type RunEnvelope = TimedMessage & { run_id: string };

/** The result of applying one message. */
export interface Reduction {
  state: RunState;
  effects: Effect[];
}

function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new AosError("RUN_INVARIANT_BROKEN", message);
  }
}

/**
 * Applies one message: `(state, message) -> { state, effects }`. Pure: no
 * clock, no randomness, no I/O; the input state is never mutated. A message
 * the state does not allow throws `RUN_INVARIANT_BROKEN`, which crashes the
 * actor so its supervisor restarts it from the log.
 */
export function reduce(
  state: RunState | undefined,
  message: RunEnvelope,
): Reduction {
  if (message.type === "RunSubmitted") {
    invariant(state === undefined, "RunSubmitted must be the first record");
    return withNext(submitted(message));
  }
  invariant(state !== undefined, `${message.type} before RunSubmitted`);
  invariant(state.status === "running", `${message.type} after the run ended`);
  const counted = { ...state, records: state.records + 1 };
  switch (message.type) {
    case "StepStarted": {
      const { step, attempt, input } = message.body;
      const next = updateStep(counted, step, (current) => {
        invariant(current.status === "pending", `step ${step} started twice`);
        invariant(
          attempt === current.attempt + 1,
          `step ${step} attempt ${attempt} out of order`,
        );
        return {
          ...current,
          status: "running",
          attempt,
          input,
          started_at: message.at,
          host_calls: [],
        };
      });
      const pin = pinOf(next, step);
      return {
        state: next,
        effects: [{ kind: "RunStep", step, attempt, pin, input, recorded: [] }],
      };
    }
    case "HostCall": {
      const call = message.body;
      const next = updateStep(counted, call.step, (current) => {
        invariant(
          current.status === "running" && current.attempt === call.attempt,
          `host call for step ${call.step} that is not running`,
        );
        invariant(
          call.index === current.host_calls.length,
          `host call ${call.index} of step ${call.step} out of order`,
        );
        return { ...current, host_calls: [...current.host_calls, call] };
      });
      return { state: next, effects: [] };
    }
    case "StepSucceeded": {
      const { step, attempt, output, output_sha256 } = message.body;
      return withNext(updateStep(counted, step, (current) => {
        invariant(
          current.status === "running" && current.attempt === attempt,
          `step ${step} succeeded but is not running`,
        );
        return {
          ...current,
          status: "succeeded",
          output,
          output_sha256,
          finished_at: message.at,
        };
      }));
    }
    case "StepFailed": {
      const { step, attempt, error } = message.body;
      return withNext(updateStep(counted, step, (current) => {
        // A step can fail before it starts, when its params cannot be resolved.
        const startedNow = current.status === "pending" &&
          attempt === current.attempt + 1;
        invariant(
          startedNow ||
            (current.status === "running" && current.attempt === attempt),
          `step ${step} failed but is not running`,
        );
        return {
          ...current,
          status: "failed",
          attempt,
          error,
          finished_at: message.at,
        };
      }));
    }
    case "RunSucceeded":
      return finished({
        ...counted,
        status: "succeeded",
        output: message.body.output,
        finished_at: message.at,
      });
    case "RunFailed":
      return finished({
        ...counted,
        status: "failed",
        error: message.body.error,
        finished_at: message.at,
      });
  }
}

function submitted(
  message: Extract<RunEnvelope, { type: "RunSubmitted" }>,
): RunState {
  const { tenant, plan, pins, abi } = message.body;
  for (const step of plan.steps) {
    invariant(
      pins[step.skill] !== undefined,
      `step ${step.id} has no pinned skill`,
    );
  }
  return {
    run_id: message.run_id,
    tenant,
    status: "running",
    plan,
    pins,
    abi,
    steps: plan.steps.map((step) => ({
      id: step.id,
      status: "pending",
      attempt: 0,
      input: null,
      output: null,
      output_sha256: null,
      error: null,
      started_at: null,
      finished_at: null,
      host_calls: [],
    })),
    submitted_at: message.at,
    finished_at: null,
    output: null,
    error: null,
    records: 1,
  };
}

function finished(state: RunState): Reduction {
  return { state, effects: [{ kind: "FinishRun", status: state.status }] };
}

function updateStep(
  state: RunState,
  id: string,
  change: (step: StepState) => StepState,
): RunState {
  const index = state.steps.findIndex((step) => step.id === id);
  invariant(index >= 0, `unknown step ${id}`);
  const steps = state.steps.slice();
  steps[index] = change(state.steps[index]!);
  return { ...state, steps };
}

function pinOf(state: RunState, stepId: string): SkillPin {
  const step = state.plan.steps.find((candidate) => candidate.id === stepId);
  invariant(step !== undefined, `unknown step ${stepId}`);
  const pin = state.pins[step.skill];
  invariant(pin !== undefined, `step ${stepId} has no pinned skill`);
  return pin;
}

function withNext(state: RunState): Reduction {
  return { state, effects: decideNext(state) };
}

/**
 * The next decision of a run that is waiting for nothing: start the next
 * step, or end the run. Steps run in plan order, one at a time.
 */
export function decideNext(state: RunState): Effect[] {
  if (state.status !== "running") return [];
  if (state.steps.some((step) => step.status === "running")) return [];
  const failed = state.steps.find((step) => step.status === "failed");
  if (failed !== undefined) {
    return [
      append({
        type: "RunFailed",
        body: { step: failed.id, error: failed.error! },
      }),
    ];
  }
  const index = state.steps.findIndex((step) => step.status === "pending");
  if (index < 0) {
    const last = state.steps[state.steps.length - 1]!;
    return [append({ type: "RunSucceeded", body: { output: last.output } })];
  }
  const step = state.steps[index]!;
  const planned = state.plan.steps[index]!;
  const outputs: Record<string, Json> = {};
  for (const done of state.steps) {
    if (done.status === "succeeded") outputs[done.id] = done.output;
  }
  const attempt = step.attempt + 1;
  try {
    const input = resolveTemplates(
      planned.params,
      outputs,
      `/steps/${index}/params`,
    );
    const skill = pinLabel(pinOf(state, step.id));
    return [
      append({
        type: "StepStarted",
        body: { step: step.id, attempt, input, skill },
      }),
    ];
  } catch (error) {
    if (!(error instanceof AosError)) throw error;
    return [
      append({
        type: "StepFailed",
        body: { step: step.id, attempt, error: error.toRecorded() },
      }),
    ];
  }
}

function append(message: RunMessage): Effect {
  return { kind: "AppendMessage", message };
}

/**
 * What a run folded from its log must do to continue after a restart:
 * re-execute running steps (their recorded host calls are served again, so
 * nothing they did is repeated), or take the next decision.
 */
export function resume(state: RunState): Effect[] {
  if (state.status !== "running") {
    return [{ kind: "FinishRun", status: state.status }];
  }
  const running = state.steps.filter((step) => step.status === "running");
  if (running.length === 0) return decideNext(state);
  return running.map((step) => ({
    kind: "RunStep",
    step: step.id,
    attempt: step.attempt,
    pin: pinOf(state, step.id),
    input: step.input,
    recorded: step.host_calls,
  }));
}

/** Folds a whole log into a state (no effects are carried out). */
export function fold(messages: Iterable<RunEnvelope>): RunState | undefined {
  let state: RunState | undefined;
  for (const message of messages) state = reduce(state, message).state;
  return state;
}
