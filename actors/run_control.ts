import { AosError } from "../src/errors/mod.ts";
import type { Json } from "../src/store/mod.ts";
import type { RunMessage, TimedMessage } from "./run_messages.ts";
import {
  invariant,
  onExhaustedOf,
  planStep,
  type RunState,
  type StepState,
} from "./run_state.ts";

/**
 * The reducer's part for run control: signals, pause and resume, log size
 * limits. Pure like the rest of the reducer; `reduce` dispatches here.
 */
export type ControlMessage = Extract<
  TimedMessage & { run_id: string },
  {
    type:
      | "SignalReceived"
      | "SignalAwaited"
      | "SignalDelivered"
      | "RunPaused"
      | "RunResumed"
      | "LogSizeWarning"
      | "LogSizeExceeded";
  }
>;

/** Effects control messages ask of the shell. */
export type ControlEffect =
  | { kind: "StartTimer"; timer_id: string; due_at: number }
  | { kind: "CancelTimer"; timer_id: string };

/** True for the message types `applyControl` handles. */
export function isControlMessage(
  message: TimedMessage,
): message is ControlMessage & TimedMessage {
  return CONTROL_TYPES.has(message.type);
}

const CONTROL_TYPES = new Set<RunMessage["type"]>([
  "SignalReceived",
  "SignalAwaited",
  "SignalDelivered",
  "RunPaused",
  "RunResumed",
  "LogSizeWarning",
  "LogSizeExceeded",
]);

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

/** Applies a control message. `records` is already counted for it. */
export function applyControl(
  state: RunState,
  message: ControlMessage,
): { state: RunState; effects: ControlEffect[] } {
  switch (message.type) {
    case "SignalReceived": {
      // Its seq is the position of this record: records were counted first.
      const signal = {
        seq: state.records - 1,
        name: message.body.name,
        payload: message.body.payload,
        at: message.at,
      };
      const request = message.body.request;
      return {
        state: {
          ...state,
          signals: [...state.signals, signal],
          ...(request === undefined
            ? {}
            : { signal_requests: [...state.signal_requests, request] }),
        },
        effects: [],
      };
    }
    case "SignalAwaited": {
      const { step: id, timer_id, due_at } = message.body;
      const next = updateStep(state, id, (step) => {
        invariant(
          step.status === "pending" || step.status === "ready",
          `step ${id} waits for a signal from ${step.status}`,
        );
        return {
          ...step,
          status: "waiting",
          attempt: step.attempt + 1,
          error: null,
          started_at: step.started_at ?? message.at,
          attempt_started_at: message.at,
          timer: timer_id === undefined || due_at === undefined
            ? null
            : { timer_id, due_at },
        };
      });
      return {
        state: next,
        effects: timer_id === undefined || due_at === undefined
          ? []
          : [{ kind: "StartTimer", timer_id, due_at }],
      };
    }
    case "SignalDelivered":
      return delivered(state, message);
    case "RunPaused":
      invariant(state.status === "running", "a paused run pauses again");
      return {
        state: {
          ...state,
          status: "paused",
          pause: { step: message.body.step, error: message.body.error },
        },
        effects: [],
      };
    case "RunResumed":
      return { state: resumed(state, message), effects: [] };
    case "LogSizeWarning":
      return { state: { ...state, log_warned: true }, effects: [] };
    case "LogSizeExceeded": {
      const size = message.body;
      const error = new AosError(
        "RUN_LOG_TOO_LARGE",
        `the run's log would hold ${size.records} records, ${size.bytes} bytes; the limit is ${size.records_max} records, ${size.bytes_max} bytes`,
        { details: { ...size } },
      );
      return {
        state: { ...state, log_error: error.toRecorded() },
        effects: [],
      };
    }
  }
}

function delivered(
  state: RunState,
  message: Extract<ControlMessage, { type: "SignalDelivered" }>,
): { state: RunState; effects: ControlEffect[] } {
  const { step: id, signal_seq } = message.body;
  const signal = state.signals.find((candidate) =>
    candidate.seq === signal_seq
  );
  invariant(signal !== undefined, `signal ${signal_seq} is not pending`);
  const wait = planStep(state, id).wait_signal;
  invariant(
    wait !== undefined && wait.name === signal.name,
    `step ${id} does not wait for signal ${signal.name}`,
  );
  let timer: string | null = null;
  const next = updateStep(state, id, (step) => {
    invariant(
      step.status === "waiting" || step.status === "pending" ||
        step.status === "ready",
      `signal delivered to step ${id} in ${step.status}`,
    );
    timer = step.timer?.timer_id ?? null;
    const output: Json = { name: signal.name, payload: signal.payload };
    return {
      ...step,
      status: "succeeded",
      attempt: step.status === "waiting" ? step.attempt : step.attempt + 1,
      output,
      error: null,
      timer: null,
      started_at: step.started_at ?? message.at,
      finished_at: message.at,
    };
  });
  return {
    state: {
      ...next,
      signals: state.signals.filter((candidate) => candidate !== signal),
    },
    effects: timer === null ? [] : [{ kind: "CancelTimer", timer_id: timer }],
  };
}

/**
 * A resume: every paused step gets a fresh set of attempts; `params`
 * replace the named (or first paused) step's params and `budget_cents` the
 * plan's budget, in the state's copy of the plan, so the change is part of
 * the log. Resuming a run that is no longer paused (two resumes raced) does
 * nothing.
 */
function resumed(
  state: RunState,
  message: Extract<ControlMessage, { type: "RunResumed" }>,
): RunState {
  if (state.status !== "paused") return state;
  const { params, budget_cents } = message.body;
  const target = message.body.step ?? state.pause?.step ?? null;
  let plan = state.plan;
  if (params !== undefined) {
    invariant(target !== null, "new params without a step to give them to");
    planStep(state, target);
    plan = {
      ...plan,
      steps: plan.steps.map((step) =>
        step.id === target ? { ...step, params } : step
      ),
    };
  }
  if (budget_cents !== undefined) plan = { ...plan, budget_cents };
  const steps = state.steps.map((step) =>
    step.status === "paused"
      ? {
        ...step,
        status: "ready" as const,
        attempt_base: step.attempt,
        timer: null,
      }
      : step
  );
  // A budget refusal is cleared too: the run asks again (the tenant's day
  // may have room now, or \`budget_cents\` raised the run's own budget).
  return {
    ...state,
    status: "running",
    pause: null,
    budget_error: null,
    plan,
    steps,
  };
}

/** The status of a step that failed for good: `paused` when its plan says so. */
export function exhaustedStatus(
  state: RunState,
  id: string,
): "failed" | "paused" {
  return onExhaustedOf(planStep(state, id)) === "pause" ? "paused" : "failed";
}

/**
 * A `wait_signal` step's timer fired before its signal came: the step has
 * failed for good with SIGNAL_WAIT_TIMEOUT. A late timer of a wait that
 * already ended (its signal won the race) changes nothing.
 */
export function signalTimeout(
  state: RunState,
  timerId: string,
  at: number,
): RunState | undefined {
  const owner = state.steps.find((step) => step.timer?.timer_id === timerId);
  if (owner === undefined) {
    return timerId.endsWith(SIGNAL_TIMER_SUFFIX) ? state : undefined;
  }
  if (owner.status !== "waiting") return undefined;
  const wait = planStep(state, owner.id).wait_signal;
  invariant(wait !== undefined, `step ${owner.id} waits without wait_signal`);
  const error = new AosError(
    "SIGNAL_WAIT_TIMEOUT",
    `step ${owner.id} waited ${wait.timeout_ms} ms for signal ${wait.name}`,
    {
      details: {
        step: owner.id,
        signal: wait.name,
        timeout_ms: wait.timeout_ms ?? null,
      },
    },
  );
  return updateStep(state, owner.id, (step) => ({
    ...step,
    status: exhaustedStatus(state, step.id),
    timer: null,
    error: error.toRecorded(),
    finished_at: at,
  }));
}

/** Timer ids of signal waits end with this. */
export const SIGNAL_TIMER_SUFFIX = "#signal";
