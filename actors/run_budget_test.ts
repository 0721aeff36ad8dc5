import assert from "node:assert/strict";
import type { Plan } from "../src/plan/mod.ts";
import type { RunMessage, SkillPin } from "./run_messages.ts";
import {
  type Effect,
  reduce,
  type RunEnvelope,
  type RunState,
} from "./run_reducer.ts";

const PIN: SkillPin = {
  name: "llm_invoke",
  version: "1.0.0",
  sha256: "b".repeat(64),
  entrypoint: "run",
  timeout_ms: 5000,
  cost_estimate_cents: 5,
};

function plan(steps: string[], extra: Partial<Plan> = {}): Plan {
  return {
    ...extra,
    steps: steps.map((id) => ({
      id,
      skill: "llm_invoke",
      params: { id },
      depends_on: [],
    })),
  };
}

/** A ledger run driven the way the shell drives it; `answer` plays the store and the skills. */
class Driver {
  state: RunState;
  readonly log: RunEnvelope[] = [];
  readonly effects: Effect[] = [];
  #time = 1000;

  constructor(
    runPlan: Plan,
    ledger: 0 | 1 | 2 = 1,
    pins: Record<string, SkillPin> = { llm_invoke: PIN },
  ) {
    const first: RunEnvelope = {
      run_id: "r1",
      at: this.#time,
      type: "RunSubmitted",
      body: {
        tenant: "t",
        plan: runPlan,
        pins,
        abi: 1,
        ...(ledger === 0 ? {} : { ledger }),
      },
    };
    this.log.push(first);
    const reduction = reduce(undefined, first);
    this.state = reduction.state;
    this.#follow(reduction.effects);
  }

  #follow(effects: Effect[]): void {
    for (const effect of effects) {
      if (effect.kind === "AppendMessage") this.send(effect.message);
      else this.effects.push(effect);
    }
  }

  send(message: RunMessage): void {
    const envelope = { ...message, run_id: "r1", at: ++this.#time };
    this.log.push(envelope as RunEnvelope);
    const reduction = reduce(this.state, envelope as RunEnvelope);
    this.state = reduction.state;
    this.#follow(reduction.effects);
  }

  types(): string[] {
    return this.log.map((message) => message.type);
  }

  lastEffect(kind: Effect["kind"]): Effect | undefined {
    return this.effects.findLast((effect) => effect.kind === kind);
  }
}

const reserved = (step: string, attempt = 1): RunMessage => ({
  type: "BudgetReserved",
  body: { step, attempt, cents: 5, day: "2026-01-02" },
});

Deno.test("reduce() reserves a ledger step's estimate before starting it, then charges and releases the rest", () => {
  const run = new Driver(plan(["a"]));
  assert.deepEqual(run.types(), ["RunSubmitted"]);
  assert.deepEqual(run.lastEffect("ReserveBudget"), {
    kind: "ReserveBudget",
    step: "a",
    attempt: 1,
    cents: 5,
  });
  run.send(reserved("a"));
  assert.deepEqual(run.types().slice(-2), ["BudgetReserved", "StepStarted"]);
  run.send({
    type: "StepSucceeded",
    body: {
      step: "a",
      attempt: 1,
      output: { cost_cents: 2 },
      output_sha256: "x",
    },
  });
  assert.deepEqual(run.types().slice(-4), [
    "StepSucceeded",
    "BudgetCharged",
    "BudgetReleased",
    "RunSucceeded",
  ]);
  assert.deepEqual(run.log.at(-3)!.body, { step: "a", attempt: 1, cents: 2 });
  assert.deepEqual(run.log.at(-2)!.body, { step: "a", attempt: 1, cents: 3 });
  assert.deepEqual(run.lastEffect("SettleBudget"), {
    kind: "SettleBudget",
    step: "a",
    attempt: 1,
    reserved_cents: 5,
    charged_cents: 2,
  });
  assert.equal(run.state.charged_cents, 2);
});

Deno.test("reduce() refunds a failed attempt and reserves again for its retry", () => {
  const run = new Driver({
    steps: [{
      id: "a",
      skill: "llm_invoke",
      params: {},
      retry: {
        max_attempts: 2,
        backoff_ms: 10,
        multiplier: 1,
        backoff_max_ms: 10,
      },
    }],
  });
  run.send(reserved("a"));
  run.send({
    type: "StepFailed",
    body: {
      step: "a",
      attempt: 1,
      error: {
        code: "SANDBOX_TIMEOUT",
        message: "slow",
        details: {},
        category: "TIMEOUT",
        retryable: true,
      },
    },
  });
  assert.deepEqual(run.types().slice(-3), [
    "StepFailed",
    "BudgetReleased",
    "RetryScheduled",
  ]);
  assert.deepEqual(run.log.at(-2)!.body, { step: "a", attempt: 1, cents: 5 });
  assert.deepEqual(run.lastEffect("SettleBudget"), {
    kind: "SettleBudget",
    step: "a",
    attempt: 1,
    reserved_cents: 5,
    charged_cents: 0,
  });
  run.send({ type: "TimerFired", body: { timer_id: "a#2" } });
  assert.deepEqual(run.lastEffect("ReserveBudget"), {
    kind: "ReserveBudget",
    step: "a",
    attempt: 2,
    cents: 5,
  });
  run.send(reserved("a", 2));
  assert.equal(run.types().at(-1), "StepStarted");
});

Deno.test("reduce() ends a run the tenant's day refuses with BUDGET_EXCEEDED, releasing what other steps hold", () => {
  const run = new Driver(plan(["a", "b"], { concurrency: 2 }));
  // b does not depend on a: both want to start.
  run.send(reserved("a"));
  assert.equal(run.types().at(-1), "StepStarted");
  run.send({
    type: "BudgetRefused",
    body: {
      step: "b",
      attempt: 1,
      cents: 5,
      scope: "tenant_day",
      day: "2026-01-02",
      limit_cents: 8,
      spent_cents: 0,
      reserved_cents: 5,
    },
  });
  assert.deepEqual(run.types().slice(-3), [
    "BudgetRefused",
    "BudgetReleased",
    "RunFailed",
  ]);
  assert.equal(run.state.status, "failed");
  assert.equal(run.state.error?.code, "BUDGET_EXCEEDED");
  assert.equal(run.state.error?.details.scope, "tenant_day");
  assert.ok(run.effects.some((effect) => effect.kind === "CancelSteps"));
});

Deno.test("reduce() pauses a run with on_budget_exhausted: pause on a tenant-day refusal; a running step keeps and settles its reservation; a resume asks again", () => {
  const run = new Driver(
    plan(["a", "b"], { concurrency: 2, on_budget_exhausted: "pause" }),
  );
  run.send(reserved("a"));
  const refusal: RunMessage = {
    type: "BudgetRefused",
    body: {
      step: "b",
      attempt: 1,
      cents: 5,
      scope: "tenant_day",
      day: "2026-01-02",
      limit_cents: 8,
      spent_cents: 0,
      reserved_cents: 5,
    },
  };
  run.send(refusal);
  assert.deepEqual(run.types().slice(-2), ["BudgetRefused", "RunPaused"]);
  assert.equal(run.state.status, "paused");
  assert.equal(run.state.pause?.step, "b");
  assert.equal(run.state.pause?.error.code, "BUDGET_EXCEEDED");
  assert.ok(!run.effects.some((effect) => effect.kind === "CancelSteps"));
  // a still runs while paused: it keeps its reservation and is charged.
  assert.equal(run.state.steps[0]!.reservation?.cents, 5);
  run.send({
    type: "StepSucceeded",
    body: {
      step: "a",
      attempt: 1,
      output: { cost_cents: 4 },
      output_sha256: "x",
    },
  });
  assert.deepEqual(run.types().slice(-3), [
    "StepSucceeded",
    "BudgetCharged",
    "BudgetReleased",
  ]);
  assert.equal(run.state.status, "paused");
  assert.equal(run.state.charged_cents, 4);
  const asked = run.effects.length;
  run.send({ type: "RunResumed", body: {} });
  assert.equal(run.state.status, "running");
  assert.equal(run.state.budget_error, null);
  assert.deepEqual(run.effects.slice(asked), [{
    kind: "ReserveBudget",
    step: "b",
    attempt: 1,
    cents: 5,
  }]);
  run.send(reserved("b"));
  run.send({
    type: "StepSucceeded",
    body: {
      step: "b",
      attempt: 1,
      output: { cost_cents: 5 },
      output_sha256: "y",
    },
  });
  assert.equal(run.state.status, "succeeded");
  assert.equal(run.state.charged_cents, 9);
});

Deno.test("reduce() checks a ledger run's own budget before reserving", () => {
  const run = new Driver(plan(["a", "b"], { budget_cents: 6, concurrency: 2 }));
  run.send(reserved("a"));
  // b would need 5 more of the 1 cent a's reservation leaves.
  assert.deepEqual(run.types().slice(-4), [
    "StepStarted",
    "BudgetRefused",
    "BudgetReleased",
    "RunFailed",
  ]);
  assert.deepEqual(run.log.at(-3)!.body, {
    step: "b",
    attempt: 1,
    cents: 5,
    scope: "run",
    limit_cents: 6,
    spent_cents: 0,
    reserved_cents: 5,
  });
  assert.equal(run.state.error?.code, "BUDGET_EXCEEDED");
  assert.equal(run.state.error?.details.scope, "run");
  assert.equal(run.state.error?.details.reserved_cents, 5);
});

Deno.test("reduce() keeps a run without a ledger as it was: no budget effects or records", () => {
  const run = new Driver(plan(["a"]), 0);
  assert.deepEqual(run.types(), ["RunSubmitted", "StepStarted"]);
  assert.equal(run.lastEffect("ReserveBudget"), undefined);
  assert.throws(() => run.send(reserved("a")), /without a ledger/);
});

Deno.test("reduce() refuses budget records out of order", () => {
  const run = new Driver({
    steps: [
      { id: "a", skill: "llm_invoke", params: {} },
      { id: "b", skill: "llm_invoke", params: {} },
    ],
  });
  assert.throws(() => run.send(reserved("b")), /cannot start/);
  assert.throws(
    () =>
      run.send({
        type: "BudgetReserved",
        body: { step: "a", attempt: 1, cents: 4, day: "2026-01-02" },
      }),
    /not its estimate/,
  );
  assert.throws(
    () =>
      run.send({
        type: "BudgetCharged",
        body: { step: "a", attempt: 1, cents: 1 },
      }),
    /out of order/,
  );
});

/** llm_invoke's pin without an estimate: its attempts reserve nothing in ledger 2. */
const { cost_estimate_cents: _estimate, ...FREE_PIN } = PIN;

const succeeded = (step: string, output: Record<string, number> = {}) =>
  ({
    type: "StepSucceeded",
    body: { step, attempt: 1, output, output_sha256: "x" },
  }) as RunMessage;

Deno.test("reduce() in ledger 2 reserves an estimate as ledger 1 does", () => {
  const run = new Driver(plan(["a"]), 2);
  assert.equal(run.lastEffect("ReserveBudget")?.kind, "ReserveBudget");
  run.send(reserved("a"));
  run.send(succeeded("a", { cost_cents: 2 }));
  assert.deepEqual(run.types(), [
    "RunSubmitted",
    "BudgetReserved",
    "StepStarted",
    "StepSucceeded",
    "BudgetCharged",
    "BudgetReleased",
    "RunSucceeded",
  ]);
  assert.equal(run.state.charged_cents, 2);
});

Deno.test("reduce() in ledger 2 starts a step without an estimate at once, and a free run records no budget", () => {
  const run = new Driver(plan(["a", "b"]), 2, { llm_invoke: FREE_PIN });
  assert.deepEqual(run.types(), ["RunSubmitted", "StepStarted", "StepStarted"]);
  run.send(succeeded("a"));
  run.send(succeeded("b", { cost_cents: 0 }));
  assert.deepEqual(run.types().slice(3), [
    "StepSucceeded",
    "StepSucceeded",
    "RunSucceeded",
  ]);
  assert.deepEqual(run.effects.filter((effect) => effect.kind !== "RunStep"), [
    { kind: "FinishRun", status: "succeeded" },
  ]);
  assert.equal(run.state.charged_cents, 0);
});

Deno.test("reduce() in ledger 2 charges what a step without an estimate reports, on the day it ended, against the run's budget", () => {
  const run = new Driver(
    {
      budget_cents: 3,
      steps: [
        { id: "a", skill: "llm_invoke", params: {} },
        { id: "b", skill: "llm_invoke", params: {}, depends_on: ["a"] },
      ],
    },
    2,
    { llm_invoke: FREE_PIN },
  );
  run.send(succeeded("a", { cost_cents: 4 }));
  assert.deepEqual(run.types().slice(2), [
    "StepSucceeded",
    "BudgetCharged",
    "RunFailed",
  ]);
  const ended = run.log[2]!;
  const day = new Date(ended.at).toISOString().slice(0, 10);
  assert.deepEqual(run.log[3]!.body, {
    step: "a",
    attempt: 1,
    cents: 4,
    day,
  });
  assert.deepEqual(run.lastEffect("BookCharge"), {
    kind: "BookCharge",
    step: "a",
    attempt: 1,
    cents: 4,
    day,
  });
  assert.equal(run.state.charged_cents, 4);
  // The charge is the run's spending: past its budget, b (free) never starts.
  assert.equal(run.state.status, "failed");
  assert.equal(run.state.error?.code, "BUDGET_EXCEEDED");
  assert.equal(run.state.error?.details.spent_cents, 4);
});

Deno.test("reduce() in ledger 2 refuses a reservation of nothing and an unreserved charge it does not owe", () => {
  const run = new Driver(plan(["a"]), 2, { llm_invoke: FREE_PIN });
  assert.throws(
    () =>
      run.send({
        type: "BudgetReserved",
        body: { step: "a", attempt: 1, cents: 0, day: "2026-01-02" },
      }),
    /reserved nothing/,
  );
  const charge = (cents: number): RunMessage => ({
    type: "BudgetCharged",
    body: { step: "a", attempt: 1, cents, day: "2026-01-02" },
  });
  // Not before the attempt succeeded, nor other than what it reported.
  assert.throws(() => run.send(charge(1)), /out of order/);
  const paid = new Driver(plan(["a"]), 2, { llm_invoke: FREE_PIN });
  const before = paid.state;
  assert.throws(() =>
    reduce(before, {
      run_id: "r1",
      at: 2000,
      ...charge(0),
    } as RunEnvelope), /out of order/);
});
