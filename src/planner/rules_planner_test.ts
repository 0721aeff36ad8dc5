import assert from "node:assert/strict";
import { AosError } from "../errors/mod.ts";
import { checkPlan } from "../plan/mod.ts";
import { planFromAnswer } from "./llm_planner.ts";
import { planWithRules } from "./rules_planner.ts";

Deno.test("planWithRules() maps each goal form to steps, deterministically", () => {
  const fetch = planWithRules(
    "fetch https://api.example.com/items and extract $.items[0]",
  );
  assert.deepEqual(fetch.steps.map((step) => [step.id, step.skill]), [[
    "fetch",
    "http_call",
  ], ["extract", "json_transform"]]);
  assert.equal(fetch.steps[1]!.params.input, "{{steps.fetch.output.body}}");
  assert.deepEqual(
    planWithRules("fetch https://api.example.com/items and extract $.items[0]"),
    fetch,
  );
  const extract = planWithRules('extract $.a from {"a": [1, 2]}');
  assert.deepEqual(extract.steps[0]!.params, {
    op: "extract",
    input: { a: [1, 2] },
    path: "$.a",
  });
  assert.equal(planWithRules("wait 2 hours").steps[0]!.sleep_ms, 7_200_000);
});

Deno.test("planWithRules() chains goals with then, renaming steps and their references", () => {
  const plan = planWithRules(
    "fetch https://a.example/x and extract $.y then wait 5 seconds then fetch https://b.example/z",
  );
  assert.deepEqual(plan.steps.map((step) => step.id), [
    "p1_fetch",
    "p1_extract",
    "p2_p1_wait",
    "p2_p2_fetch",
  ]);
  assert.equal(
    plan.steps[1]!.params.input,
    "{{steps.p1_fetch.output.body}}",
  );
  assert.deepEqual(plan.steps.map((step) => step.depends_on), [
    [],
    ["p1_fetch"],
    ["p1_extract"],
    ["p2_p1_wait"],
  ]);
  checkPlan(plan);
});

Deno.test("planWithRules() refuses a goal it does not understand, listing the forms it knows", () => {
  assert.throws(() => planWithRules("make me a sandwich"), (error: unknown) => {
    return error instanceof AosError && error.code === "PLANNER_NO_PLAN" &&
      Array.isArray(error.details.forms);
  });
});

Deno.test("planFromAnswer() reads a plan from bare JSON, fenced JSON or JSON inside prose", () => {
  const plan = { steps: [{ id: "a", skill: "s" }] };
  for (
    const answer of [
      JSON.stringify(plan),
      "```json\n" + JSON.stringify(plan) + "\n```",
      `Here you go: ${JSON.stringify(plan)} Enjoy.`,
    ]
  ) {
    assert.deepEqual(planFromAnswer(answer), plan);
  }
  assert.throws(
    () => planFromAnswer("no plan here"),
    (error: unknown) =>
      error instanceof AosError && error.code === "PLANNER_INVALID_PLAN",
  );
});
