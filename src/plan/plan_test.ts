import assert from "node:assert/strict";
import { AosError } from "../errors/mod.ts";
import { checkPlan, planSchema } from "./plan.ts";
import { resolveTemplates, templateReferences } from "./template.ts";

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof AosError) return error.code;
    throw error;
  }
  return "none";
}

Deno.test("checkPlan() refuses duplicate ids and references to missing or later steps", () => {
  const table: [string, unknown, string][] = [
    ["fine", {
      steps: [{ id: "a", skill: "s" }, {
        id: "b",
        skill: "s",
        params: { x: "{{steps.a.output.y}}" },
      }],
    }, "none"],
    ["duplicate id", {
      steps: [{ id: "a", skill: "s" }, { id: "a", skill: "s" }],
    }, "PLAN_DUPLICATE_STEP_ID"],
    ["missing step", {
      steps: [{ id: "a", skill: "s", params: { x: "{{steps.zz.output}}" } }],
    }, "PLAN_UNKNOWN_REFERENCE"],
    ["later step", {
      steps: [{ id: "a", skill: "s", params: { x: ["{{steps.b.output}}"] } }, {
        id: "b",
        skill: "s",
      }],
    }, "PLAN_UNKNOWN_REFERENCE"],
    ["self", {
      steps: [{ id: "a", skill: "s", params: { x: "{{steps.a.output}}" } }],
    }, "PLAN_UNKNOWN_REFERENCE"],
    ["malformed", {
      steps: [{ id: "a", skill: "s", params: { x: "{{ctx.q}}" } }],
    }, "PLAN_TEMPLATE_INVALID"],
  ];
  for (const [name, body, code] of table) {
    assert.equal(codeOf(() => checkPlan(planSchema.parse(body))), code, name);
  }
});

Deno.test("planSchema refuses unknown fields, bad ids and empty plans", () => {
  for (
    const body of [
      { steps: [] },
      { steps: [{ id: "a", skill: "s", extra: 1 }] },
      { steps: [{ id: "1a", skill: "s" }] },
      { steps: [{ id: "a", skill: "Bad Skill" }] },
      { steps: [{ id: "a", skill: "s" }], other: true },
    ]
  ) {
    assert.equal(
      planSchema.safeParse(body).success,
      false,
      JSON.stringify(body),
    );
  }
});

Deno.test("resolveTemplates() walks nested paths and reports the missing part", () => {
  const outputs = {
    outputs: { fetch: { body: { items: [{ name: "first" }], "odd key": 3 } } },
    context: {},
  };
  assert.equal(
    resolveTemplates("{{steps.fetch.output.body.items[0].name}}", outputs),
    "first",
  );
  assert.equal(
    resolveTemplates('{{ steps.fetch.output.body["odd key"] }}', outputs),
    3,
  );
  assert.equal(
    resolveTemplates("n={{steps.fetch.output.body.items[0].name}}!", outputs),
    "n=first!",
  );
  assert.deepEqual(
    resolveTemplates({ a: ["{{steps.fetch.output.body.items}}"] }, outputs),
    {
      a: [[{ name: "first" }]],
    },
  );
  assert.throws(
    () =>
      resolveTemplates(
        { deep: "{{steps.fetch.output.body.items[3]}}" },
        outputs,
      ),
    (error: unknown) =>
      error instanceof AosError &&
      error.code === "PLAN_TEMPLATE_PATH_MISSING" &&
      error.details.pointer === "/deep" &&
      error.details.resolved === "steps.fetch.output.body.items",
  );
});

Deno.test("resolveTemplates() keeps __proto__ a plain key", () => {
  const resolved = resolveTemplates(
    JSON.parse('{"__proto__": {"polluted": true}}'),
    { outputs: {}, context: {} },
  ) as Record<string, unknown>;
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(resolved), Object.prototype);
  assert.deepEqual(Object.keys(resolved), ["__proto__"]);
});

Deno.test("secret references are not templates: they reach the skill unresolved", () => {
  const params = {
    headers: { authorization: "Bearer {{secret:API_KEY}}" },
    whole: "{{secret:API_KEY}}",
  };
  assert.equal(
    codeOf(() =>
      checkPlan(planSchema.parse({ steps: [{ id: "a", skill: "s", params }] }))
    ),
    "none",
  );
  assert.deepEqual(
    resolveTemplates(params, { outputs: {}, context: {} }),
    params,
  );
});

Deno.test("resolveTemplates() reads the plan's context, and plan defaults apply to steps that give none", () => {
  const scope = {
    outputs: {},
    context: { customer: { name: "Ada", tags: ["vip"] } },
  };
  assert.equal(resolveTemplates("{{context.customer.name}}", scope), "Ada");
  assert.equal(
    resolveTemplates("hi {{context.customer.tags[0]}}", scope),
    "hi vip",
  );
  assert.equal(
    codeOf(() => resolveTemplates("{{context.missing}}", scope)),
    "PLAN_TEMPLATE_PATH_MISSING",
  );
  const plan = planSchema.parse({
    defaults: { on_error: "continue", retry: { max_attempts: 2 } },
    steps: [{ id: "a", skill: "s" }],
  });
  assert.equal(plan.defaults?.on_error, "continue");
  assert.equal(plan.defaults?.retry?.backoff_ms, 1_000);
});

Deno.test("resolveTemplates() copies only what holds a reference, and points at it through escaped keys", () => {
  const scope = {
    outputs: { a: { list: [1, 2] } },
    context: { who: "x" },
  };
  // Parsed, so "__proto__" is an own key as in a submitted plan.
  const params = JSON.parse(
    '{"untouched":{"keep":{"deep":["plain",1,null]}},' +
      '"a/b~c":[{"__proto__":"{{steps.a.output.list}}"},"hi {{context.who}}"]}',
  );
  const text = JSON.stringify(params);
  const resolved = resolveTemplates(params, scope, "/steps/0/params") as Record<
    string,
    unknown
  >;
  assert.equal(
    resolved.untouched,
    params.untouched,
    "no reference: not copied",
  );
  assert.equal(
    JSON.stringify(resolved),
    '{"untouched":{"keep":{"deep":["plain",1,null]}},' +
      '"a/b~c":[{"__proto__":[1,2]},"hi x"]}',
  );
  const item = (resolved["a/b~c"] as Record<string, unknown>[])[0]!;
  assert.equal(Object.getPrototypeOf(item), Object.prototype);
  assert.equal(JSON.stringify(params), text, "the params are not changed");
  assert.throws(
    () =>
      resolveTemplates(params, { outputs: {}, context: {} }, "/steps/0/params"),
    (error: unknown) =>
      error instanceof AosError &&
      error.code === "PLAN_TEMPLATE_PATH_MISSING" &&
      error.details.pointer === "/steps/0/params/a~1b~0c/0/__proto__",
  );
  assert.deepEqual(
    templateReferences(params, "/p").map((reference) => reference.pointer),
    ["/p/a~1b~0c/0/__proto__", "/p/a~1b~0c/1"],
  );
});
