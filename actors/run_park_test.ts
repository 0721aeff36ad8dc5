import assert from "node:assert/strict";
import { AosError } from "../src/errors/mod.ts";
import type { Plan } from "../src/plan/mod.ts";
import type { RunMessage, SkillPin } from "./run_messages.ts";
import { parkedWake } from "./run_park.ts";
import { reduce, type RunEnvelope, type RunState } from "./run_reducer.ts";

const PIN: SkillPin = {
  name: "json_transform",
  version: "1.0.0",
  sha256: "a".repeat(64),
  entrypoint: "run",
  timeout_ms: 5000,
  cost_estimate_cents: 5,
};

/** Folds `messages` after a RunSubmitted of `plan`, applying decisions at once. */
function stateAfter(plan: Plan, messages: RunMessage[]): RunState {
  let state: RunState | undefined;
  let at = 1000;
  const apply = (message: RunMessage) => {
    const envelope = { ...message, run_id: "r1", at: at++ } as RunEnvelope;
    const reduction = reduce(state, envelope);
    state = reduction.state;
    for (const effect of reduction.effects) {
      if (effect.kind === "AppendMessage") apply(effect.message);
    }
  };
  apply({
    type: "RunSubmitted",
    body: { tenant: "t", plan, pins: { json_transform: PIN }, abi: 1 },
  } as RunMessage);
  for (const message of messages) apply(message);
  return state!;
}

const transform = {
  skill: "json_transform",
  params: { op: "extract", input: { x: 1 }, path: "$.x" },
};
const timeout = new AosError("HTTP_TIMEOUT", "slow").toRecorded();

Deno.test("parkedWake() parks a run waiting on a signal with no wake time, and one with a timeout at the timeout", () => {
  const open = stateAfter({
    steps: [{ id: "gate", params: {}, wait_signal: { name: "go" } }],
  }, []);
  assert.deepEqual(parkedWake(open), { wake_at: null });
  const timed = stateAfter({
    steps: [{
      id: "gate",
      params: {},
      wait_signal: { name: "go", timeout_ms: 60_000 },
    }],
  }, []);
  const due = timed.steps[0]!.timer!.due_at;
  assert.deepEqual(parkedWake(timed), { wake_at: due });
});

Deno.test("parkedWake() parks a sleep and a retry backoff at their timer, a paused run with none, and never a run with work in flight", () => {
  const sleeping = stateAfter({
    steps: [{ id: "nap", params: {}, sleep_ms: 5_000 }],
  }, []);
  assert.deepEqual(parkedWake(sleeping), {
    wake_at: sleeping.steps[0]!.timer!.due_at,
  });
  const flaky = {
    id: "a",
    ...transform,
    retry: {
      max_attempts: 3,
      backoff_ms: 100,
      multiplier: 2,
      backoff_max_ms: 1000,
    },
    on_exhausted: "pause" as const,
  };
  const running = stateAfter({ steps: [flaky] }, []);
  assert.equal(running.steps[0]!.status, "running");
  assert.equal(parkedWake(running), undefined);
  const backoff = stateAfter({ steps: [flaky] }, [
    { type: "StepFailed", body: { step: "a", attempt: 1, error: timeout } },
  ]);
  assert.equal(backoff.steps[0]!.status, "retry_wait");
  assert.deepEqual(parkedWake(backoff), {
    wake_at: backoff.steps[0]!.timer!.due_at,
  });
  const paused = stateAfter({ steps: [flaky] }, [
    { type: "StepFailed", body: { step: "a", attempt: 1, error: timeout } },
    { type: "TimerFired", body: { timer_id: "a#2" } },
    { type: "StepFailed", body: { step: "a", attempt: 2, error: timeout } },
    { type: "TimerFired", body: { timer_id: "a#3" } },
    { type: "StepFailed", body: { step: "a", attempt: 3, error: timeout } },
  ]);
  assert.equal(paused.status, "paused");
  assert.deepEqual(parkedWake(paused), { wake_at: null });
  const cancelling = stateAfter({ steps: [flaky] }, [
    { type: "StepFailed", body: { step: "a", attempt: 1, error: timeout } },
    { type: "CancelRequested", body: { reason: "stop" } },
  ]);
  assert.equal(parkedWake(cancelling), undefined);
  const done = stateAfter({ steps: [{ id: "a", ...transform }] }, [{
    type: "StepSucceeded",
    body: { step: "a", attempt: 1, output: { result: 1 }, output_sha256: "x" },
  }]);
  assert.equal(done.status, "succeeded");
  assert.equal(parkedWake(done), undefined);
});
