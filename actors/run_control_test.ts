import assert from "node:assert/strict";
import { AosError } from "../src/errors/mod.ts";
import type { Plan } from "../src/plan/mod.ts";
import type { RunMessage, SkillPin } from "./run_messages.ts";
import {
  type Effect,
  reduce,
  resume,
  type RunEnvelope,
  type RunState,
} from "./run_reducer.ts";

const PIN: SkillPin = {
  name: "json_transform",
  version: "1.0.0",
  sha256: "a".repeat(64),
  entrypoint: "run",
  timeout_ms: 5000,
  cost_estimate_cents: 5,
};

/** A run driven the way the shell drives it: decisions are applied at once. */
class Driver {
  state: RunState;
  log: RunEnvelope[] = [];
  effects: Effect[] = [];
  time = 1000;

  constructor(plan: Plan) {
    const first: RunEnvelope = {
      run_id: "r1",
      at: this.time,
      type: "RunSubmitted",
      body: { tenant: "t", plan, pins: { json_transform: PIN }, abi: 1 },
    };
    this.log.push(first);
    const reduction = reduce(undefined, first);
    this.state = reduction.state;
    this.#follow(reduction.effects);
  }

  /** Sends `message`; returns the types of the records it and its decisions made. */
  send(message: RunMessage, at = this.time + 1): string[] {
    this.time = Math.max(this.time, at);
    const from = this.log.length;
    this.#apply(message);
    return this.log.slice(from).map((record) => record.type);
  }

  #apply(message: RunMessage): void {
    const envelope = { ...message, run_id: "r1", at: this.time } as RunEnvelope;
    this.log.push(envelope);
    const reduction = reduce(this.state, envelope);
    this.state = reduction.state;
    this.#follow(reduction.effects);
  }

  #follow(effects: Effect[]): void {
    for (const effect of effects) {
      if (effect.kind === "AppendMessage") this.#apply(effect.message);
      else this.effects.push(effect);
    }
  }

  last(type: string): { type: string; body: Record<string, unknown> } {
    const found = this.log.findLast((record) => record.type === type);
    assert.ok(found !== undefined, `no ${type} in the log`);
    return found as unknown as { type: string; body: Record<string, unknown> };
  }

  step(id: string) {
    return this.state.steps.find((step) => step.id === id)!;
  }
}

const waitPlan = (timeoutMs?: number): Plan => ({
  steps: [
    {
      id: "first",
      params: {},
      wait_signal: {
        name: "go",
        ...(timeoutMs === undefined ? {} : { timeout_ms: timeoutMs }),
      },
    },
    {
      id: "second",
      params: {},
      wait_signal: { name: "approve" },
    },
  ],
});

function failure(code: "HTTP_TIMEOUT" | "PLAN_TEMPLATE_PATH_MISSING") {
  return new AosError(code, "it broke").toRecorded();
}

Deno.test("reduce() keeps signals that arrive before their wait, in order, and hands them out oldest first", () => {
  const run = new Driver({
    steps: [
      { id: "gate", params: {}, wait_signal: { name: "go" } },
      { id: "one", params: {}, wait_signal: { name: "approve" } },
      { id: "two", params: {}, wait_signal: { name: "approve" } },
    ],
  });
  assert.equal(run.last("SignalAwaited").body.step, "gate");
  assert.deepEqual(
    run.send({
      type: "SignalReceived",
      body: { name: "approve", payload: { n: 1 } },
    }),
    ["SignalReceived"],
  );
  run.send({
    type: "SignalReceived",
    body: { name: "approve", payload: { n: 2 } },
  });
  assert.deepEqual(run.state.signals.map((signal) => signal.payload), [
    { n: 1 },
    { n: 2 },
  ]);
  assert.deepEqual(
    run.send({ type: "SignalReceived", body: { name: "go", payload: null } }),
    [
      "SignalReceived",
      "SignalDelivered",
      "SignalDelivered",
      "SignalDelivered",
      "RunSucceeded",
    ],
  );
  assert.deepEqual(run.step("one").output, {
    name: "approve",
    payload: { n: 1 },
  });
  assert.deepEqual(run.step("two").output, {
    name: "approve",
    payload: { n: 2 },
  });
  assert.deepEqual(run.state.signals, []);
  assert.equal(run.state.status, "succeeded");
});

Deno.test("reduce() fails a wait_signal step with SIGNAL_WAIT_TIMEOUT when its timer fires first", () => {
  const run = new Driver(waitPlan(60_000));
  const awaited = run.last("SignalAwaited");
  assert.deepEqual(awaited.body, {
    step: "first",
    name: "go",
    timer_id: "first#signal",
    due_at: 1000 + 60_000,
  });
  assert.deepEqual(run.effects.at(-1), {
    kind: "StartTimer",
    timer_id: "first#signal",
    due_at: 61_000,
  });
  assert.deepEqual(
    run.send(
      { type: "TimerFired", body: { timer_id: "first#signal" } },
      61_000,
    ),
    ["TimerFired", "RunFailed"],
  );
  assert.equal(run.state.status, "failed");
  assert.equal(run.state.error?.code, "SIGNAL_WAIT_TIMEOUT");
  assert.equal(run.state.error?.details.signal, "go");
});

Deno.test("reduce() cancels a wait's timer when its signal comes, and ignores the timer if it fires anyway", () => {
  const run = new Driver(waitPlan(60_000));
  run.send({ type: "SignalReceived", body: { name: "go", payload: 1 } });
  assert.deepEqual(run.effects.at(-1), {
    kind: "CancelTimer",
    timer_id: "first#signal",
  });
  assert.equal(run.step("first").status, "succeeded");
  assert.equal(run.step("second").status, "waiting");
  const before = run.state;
  assert.deepEqual(
    run.send({ type: "TimerFired", body: { timer_id: "first#signal" } }),
    ["TimerFired"],
  );
  assert.deepEqual(run.state.steps, before.steps);
  // Any other stray timer is still a broken invariant.
  assert.throws(
    () => run.send({ type: "TimerFired", body: { timer_id: "x#2" } }),
    /not pending/,
  );
});

const pausingPlan: Plan = {
  steps: [
    {
      id: "a",
      skill: "json_transform",
      params: { op: "extract", input: { x: 1 }, path: "$.y" },
      retry: {
        max_attempts: 2,
        backoff_ms: 100,
        multiplier: 2,
        backoff_max_ms: 1000,
      },
      on_exhausted: "pause",
    },
    {
      id: "b",
      skill: "json_transform",
      params: { value: "{{steps.a.output.result}}" },
    },
  ],
};

Deno.test("reduce() pauses the run when a step with on_exhausted: pause runs out of retries, and resumes it with new params", () => {
  const run = new Driver(pausingPlan);
  const error = failure("HTTP_TIMEOUT");
  assert.ok(error.retryable);
  run.send({ type: "StepFailed", body: { step: "a", attempt: 1, error } });
  assert.equal(run.last("RetryScheduled").body.due_at, run.time + 100);
  run.send({ type: "TimerFired", body: { timer_id: "a#2" } });
  assert.deepEqual(
    run.send({ type: "StepFailed", body: { step: "a", attempt: 2, error } }),
    ["StepFailed", "RunPaused"],
  );
  assert.equal(run.state.status, "paused");
  assert.deepEqual(run.state.pause, { step: "a", error });
  assert.deepEqual(run.last("RunPaused").body, { step: "a", error });
  // Nothing is decided while paused.
  assert.deepEqual(
    run.send({ type: "SignalReceived", body: { name: "x", payload: 1 } }),
    ["SignalReceived"],
  );
  const params = { op: "extract", input: { x: 1 }, path: "$.x" };
  assert.deepEqual(
    run.send({ type: "RunResumed", body: { params } }),
    ["RunResumed", "StepStarted"],
  );
  const started = run.last("StepStarted");
  assert.deepEqual(started.body, {
    step: "a",
    attempt: 3,
    input: params,
    skill: `json_transform@1.0.0#${"a".repeat(64)}`,
  });
  assert.equal(run.state.status, "running");
  // The resumed step has a fresh set of attempts: its first failure retries.
  run.send({ type: "StepFailed", body: { step: "a", attempt: 3, error } });
  assert.equal(run.last("RetryScheduled").body.attempt, 4);
  assert.equal(run.last("RetryScheduled").body.due_at, run.time + 100);
});

Deno.test("reduce() resumes nothing on a run that is not paused, and a paused run can be cancelled", () => {
  const run = new Driver(pausingPlan);
  const error = failure("PLAN_TEMPLATE_PATH_MISSING");
  assert.deepEqual(run.send({ type: "RunResumed", body: {} }), ["RunResumed"]);
  assert.equal(run.state.status, "running");
  run.send({ type: "StepFailed", body: { step: "a", attempt: 1, error } });
  assert.equal(run.state.status, "paused");
  assert.deepEqual(
    run.send({ type: "CancelRequested", body: { reason: "enough" } }),
    ["CancelRequested", "RunCancelled"],
  );
  assert.equal(run.state.status, "cancelled");
});

Deno.test("reduce() pauses instead of failing on an exhausted budget when the plan says so, and resumes with a larger one", () => {
  const run = new Driver({
    budget_cents: 4,
    on_budget_exhausted: "pause",
    steps: [{
      id: "a",
      skill: "json_transform",
      params: { op: "extract", input: { x: 1 }, path: "$.x" },
    }],
  });
  const paused = run.last("RunPaused");
  assert.equal(paused.body.step, "a");
  assert.equal(
    (paused.body.error as { code: string }).code,
    "BUDGET_EXCEEDED",
  );
  assert.equal(run.state.status, "paused");
  // Resuming without more budget pauses again at once.
  assert.deepEqual(run.send({ type: "RunResumed", body: {} }), [
    "RunResumed",
    "RunPaused",
  ]);
  assert.deepEqual(
    run.send({ type: "RunResumed", body: { budget_cents: 10 } }),
    ["RunResumed", "StepStarted"],
  );
  assert.equal(run.state.plan.budget_cents, 10);
});

Deno.test("reduce() fails the run with RUN_LOG_TOO_LARGE on LogSizeExceeded, paused or not, and only notes a warning", () => {
  const size = { records: 12, bytes: 900, records_max: 10, bytes_max: 800 };
  const run = new Driver(pausingPlan);
  assert.deepEqual(run.send({ type: "LogSizeWarning", body: size }), [
    "LogSizeWarning",
  ]);
  assert.equal(run.state.log_warned, true);
  run.send({
    type: "StepFailed",
    body: {
      step: "a",
      attempt: 1,
      error: failure("PLAN_TEMPLATE_PATH_MISSING"),
    },
  });
  assert.equal(run.state.status, "paused");
  assert.deepEqual(run.send({ type: "LogSizeExceeded", body: size }), [
    "LogSizeExceeded",
    "RunFailed",
  ]);
  assert.equal(run.state.status, "failed");
  assert.equal(run.state.error?.code, "RUN_LOG_TOO_LARGE");
  assert.deepEqual(run.state.error?.details, size);
});

Deno.test("resume() re-arms a waiting step's timer and keeps a paused run paused", () => {
  const run = new Driver(waitPlan(5_000));
  const effects = resume(run.state);
  assert.deepEqual(effects, [{
    kind: "StartTimer",
    timer_id: "first#signal",
    due_at: 6_000,
  }]);
  const paused = new Driver(pausingPlan);
  paused.send({
    type: "StepFailed",
    body: {
      step: "a",
      attempt: 1,
      error: failure("PLAN_TEMPLATE_PATH_MISSING"),
    },
  });
  assert.deepEqual(resume(paused.state), []);
});
