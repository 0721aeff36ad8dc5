import assert from "node:assert/strict";
import { AosError } from "../src/errors/mod.ts";
import { SeededRandom } from "../src/deps/mod.ts";
import type { Plan } from "../src/plan/mod.ts";
import type { RunMessage, SkillPin } from "./run_messages.ts";
import {
  type Effect,
  fold,
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
};

function submitted(plan: Plan): RunEnvelope {
  return {
    run_id: "r1",
    at: 1000,
    type: "RunSubmitted",
    body: { tenant: "t", plan, pins: { json_transform: PIN }, abi: 1 },
  };
}

const twoSteps: Plan = {
  steps: [
    {
      id: "a",
      skill: "json_transform",
      params: { op: "extract", input: { x: 1 }, path: "$.x" },
    },
    {
      id: "b",
      skill: "json_transform",
      params: {
        value: "{{steps.a.output.result}}",
        text: "x={{steps.a.output.result}}",
      },
    },
  ],
};

function at(message: RunMessage, time: number): RunEnvelope {
  return { ...message, run_id: "r1", at: time } as RunEnvelope;
}

/** Drives a run the way the shell does: appends decisions, answers steps with `outcome`. */
function drive(
  plan: Plan,
  outcome: (step: string) => RunMessage,
): RunEnvelope[] {
  const log: RunEnvelope[] = [submitted(plan)];
  let { state, effects } = reduce(undefined, log[0]!);
  let time = 1000;
  const queue: Effect[] = [...effects];
  while (queue.length > 0) {
    const effect = queue.shift()!;
    let message: RunMessage | undefined;
    if (effect.kind === "AppendMessage") message = effect.message;
    if (effect.kind === "RunStep") message = outcome(effect.step);
    if (message === undefined) continue;
    const envelope = at(message, ++time);
    log.push(envelope);
    ({ state, effects } = reduce(state, envelope));
    queue.push(...effects);
  }
  assert.ok(state.status !== "running");
  return log;
}

Deno.test("reduce() starts the first step right after submission", () => {
  const { state, effects } = reduce(undefined, submitted(twoSteps));
  assert.equal(state.status, "running");
  assert.deepEqual(effects, [{
    kind: "AppendMessage",
    message: {
      type: "StepStarted",
      body: {
        step: "a",
        attempt: 1,
        input: { op: "extract", input: { x: 1 }, path: "$.x" },
        skill: `json_transform@1.0.0#${PIN.sha256}`,
      },
    },
  }]);
});

Deno.test("reduce() resolves templates from earlier outputs, keeping JSON types", () => {
  const log = drive(twoSteps, (step) => ({
    type: "StepSucceeded",
    body: {
      step,
      attempt: 1,
      output: { result: step === "a" ? [1, { y: "z" }] : "done" },
      output_sha256: "s",
    },
  }));
  const startedB = log.find((entry) =>
    entry.type === "StepStarted" && entry.body.step === "b"
  )!;
  assert.deepEqual((startedB.body as { input: unknown }).input, {
    value: [1, { y: "z" }],
    text: 'x=[1,{"y":"z"}]',
  });
  const state = fold(log)!;
  assert.equal(state.status, "succeeded");
  assert.deepEqual(state.output, { result: "done" });
  assert.equal(state.steps[1]!.started_at! - state.steps[0]!.finished_at!, 1);
});

Deno.test("reduce() fails the run when a step fails", () => {
  const error = new AosError("ERR_JSON_PATH_NOT_FOUND", "no x").toRecorded();
  const log = drive(
    twoSteps,
    (step) => ({ type: "StepFailed", body: { step, attempt: 1, error } }),
  );
  const state = fold(log)!;
  assert.equal(state.status, "failed");
  assert.equal(state.error?.code, "ERR_JSON_PATH_NOT_FOUND");
  assert.equal(state.steps[1]!.status, "pending");
  assert.deepEqual(log.map((entry) => entry.type), [
    "RunSubmitted",
    "StepStarted",
    "StepFailed",
    "RunFailed",
  ]);
});

Deno.test("reduce() fails a step whose template path is missing, without running it", () => {
  const log = drive(twoSteps, (step) => ({
    type: "StepSucceeded",
    body: { step, attempt: 1, output: { other: true }, output_sha256: "s" },
  }));
  assert.deepEqual(log.map((entry) => entry.type), [
    "RunSubmitted",
    "StepStarted",
    "StepSucceeded",
    "StepFailed",
    "RunFailed",
  ]);
  const state = fold(log)!;
  assert.equal(state.error?.code, "PLAN_TEMPLATE_PATH_MISSING");
  assert.equal(state.error?.details.pointer, "/steps/1/params/value");
});

Deno.test("reduce() refuses messages its state does not allow", () => {
  const { state } = reduce(undefined, submitted(twoSteps));
  const cases: RunMessage[] = [
    {
      type: "StepSucceeded",
      body: { step: "a", attempt: 1, output: null, output_sha256: "s" },
    },
    {
      type: "StepStarted",
      body: { step: "a", attempt: 2, input: null, skill: "x" },
    },
    {
      type: "StepStarted",
      body: { step: "zzz", attempt: 1, input: null, skill: "x" },
    },
    {
      type: "HostCall",
      body: {
        step: "a",
        attempt: 1,
        index: 0,
        kind: "now",
        request: null,
        request_sha256: "",
        result: 1,
      },
    },
  ];
  for (const message of cases) {
    assert.throws(() => reduce(state, at(message, 2)), (error: unknown) => {
      return error instanceof AosError && error.code === "RUN_INVARIANT_BROKEN";
    }, message.type);
  }
  assert.throws(() => reduce(state, submitted(twoSteps)), /first record/);
  assert.throws(
    () => reduce(undefined, at(cases[0]!, 1)),
    /before RunSubmitted/,
  );
});

Deno.test("reduce() refuses anything after the run ended", () => {
  const log = drive(twoSteps, (step) => ({
    type: "StepSucceeded",
    body: { step, attempt: 1, output: { result: 1 }, output_sha256: "s" },
  }));
  const state = fold(log)!;
  assert.throws(
    () =>
      reduce(
        state,
        at({
          type: "RunSucceeded",
          body: { output: null },
        }, 99),
      ),
    /after the run ended/,
  );
});

Deno.test("resume() re-runs a running step with the host calls it recorded", () => {
  const log = [
    submitted(twoSteps),
    at({
      type: "StepStarted",
      body: { step: "a", attempt: 1, input: { q: 1 }, skill: "s" },
    }, 2),
    at({
      type: "HostCall",
      body: {
        step: "a",
        attempt: 1,
        index: 0,
        kind: "now",
        request: null,
        request_sha256: "h",
        result: 42,
      },
    }, 3),
  ];
  const state = fold(log)!;
  const [effect] = resume(state);
  assert.equal(effect?.kind, "RunStep");
  assert.deepEqual(
    (effect as Extract<Effect, { kind: "RunStep" }>).recorded.map((call) =>
      call.result
    ),
    [42],
  );
  assert.deepEqual(resume(fold(log.slice(0, 1))!)[0]?.kind, "AppendMessage");
});

Deno.test("reduce() is pure: it never mutates its input and repeats itself exactly", () => {
  const random = new SeededRandom(7);
  for (let trial = 0; trial < 50; trial++) {
    const steps = 1 + (random.bytes(1)[0]! % 6);
    const plan: Plan = {
      steps: Array.from({ length: steps }, (_, index) => ({
        id: `s${index}`,
        skill: "json_transform",
        params: index === 0
          ? { n: index }
          : { previous: `{{steps.s${index - 1}.output.v}}` },
      })),
    };
    const failAt = random.bytes(1)[0]! % (steps + 2);
    const outcome = (step: string): RunMessage =>
      step === `s${failAt}`
        ? {
          type: "StepFailed",
          body: {
            step,
            attempt: 1,
            error: new AosError("SKILL_ERROR", "boom").toRecorded(),
          },
        }
        : {
          type: "StepSucceeded",
          body: { step, attempt: 1, output: { v: step }, output_sha256: "s" },
        };
    const log = drive(plan, outcome);
    let state: RunState | undefined;
    for (const message of log) {
      const frozen = state === undefined ? undefined : structuredClone(state);
      const first = reduce(state, message);
      const second = reduce(state, message);
      assert.deepEqual(
        first,
        second,
        `trial ${trial}: reduce() is not repeatable`,
      );
      assert.deepEqual(
        state,
        frozen,
        `trial ${trial}: reduce() mutated its input`,
      );
      state = first.state;
    }
    assert.equal(
      state!.status,
      failAt < steps ? "failed" : "succeeded",
      `trial ${trial}`,
    );
  }
});
