import assert from "node:assert/strict";
import { AosError } from "../errors/mod.ts";
import { parseManifest } from "./manifest.ts";
import {
  compileSkillSchemas,
  repeatsUnboundedQuantifier,
  SCHEMA_LIMITS,
  type SchemaIssue,
  type SchemaManifest,
} from "./schema.ts";

const ROOT = new URL("../../", import.meta.url);

function manifestOf(
  input: Record<string, unknown>,
  output: Record<string, unknown> = {},
): SchemaManifest {
  return {
    name: "test_skill",
    version: "1.0.0",
    input_schema: input,
    output_schema: output,
  };
}

const ORDER_SCHEMA = {
  type: "object",
  required: ["customer", "items", "priority"],
  additionalProperties: false,
  properties: {
    customer: {
      type: "object",
      required: ["id"],
      properties: {
        id: { type: "string", minLength: 1 },
        "tier/level": { enum: ["gold", "silver"] },
      },
    },
    items: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        required: ["sku", "quantity"],
        additionalProperties: false,
        properties: {
          sku: { type: "string", pattern: "^[A-Z]{3}-[0-9]+$" },
          quantity: { type: "integer", minimum: 1 },
          tags: { type: "array", items: { type: "string" } },
        },
      },
    },
    priority: { enum: ["low", "normal", "high"] },
    note: { type: ["string", "null"], maxLength: 20 },
  },
};

function issuesOf(error: AosError | undefined): SchemaIssue[] {
  assert.ok(error instanceof AosError, "expected a validation error");
  return error.details.issues as SchemaIssue[];
}

function refusal(manifest: SchemaManifest): AosError {
  try {
    compileSkillSchemas(manifest);
  } catch (error) {
    assert.ok(error instanceof AosError, String(error));
    assert.equal(error.code, "SKILL_MANIFEST_INVALID");
    return error;
  }
  assert.fail("the schema compiled");
}

function nested(levels: number): unknown {
  let value: unknown = {};
  for (let level = 0; level < levels; level++) value = { children: [value] };
  return value;
}

Deno.test("compileSkillSchemas() accepts a valid input and reports nothing", () => {
  const schemas = compileSkillSchemas(manifestOf(ORDER_SCHEMA));
  assert.equal(schemas.skill, "test_skill@1.0.0");
  const order = {
    customer: { id: "c1", "tier/level": "gold" },
    items: [{ sku: "ABC-1", quantity: 2, tags: ["x"] }],
    priority: "high",
    note: null,
  };
  assert.equal(schemas.checkInput(order), undefined);
});

Deno.test("checkInput() names every broken member by JSON pointer", () => {
  const schemas = compileSkillSchemas(manifestOf(ORDER_SCHEMA));
  const error = schemas.checkInput({
    customer: { "tier/level": "bronze" },
    items: [
      { sku: "abc", quantity: 0 },
      { sku: "ABC-2", quantity: 1, tags: ["ok", 7], colour: "red" },
    ],
    priority: "urgent",
    extra: true,
  });
  assert.ok(error !== undefined);
  assert.equal(error.code, "VALIDATION_INPUT_SCHEMA");
  assert.equal(error.category, "VALIDATION");
  assert.equal(error.httpStatus, 422);
  assert.equal(error.retryable, false);
  assert.equal(error.details.schema, "input_schema");
  assert.equal(error.details.skill, "test_skill@1.0.0");
  const found = issuesOf(error).map((issue) =>
    `${issue.keyword} ${issue.pointer}`
  ).sort();
  assert.deepEqual(found, [
    "additionalProperties /extra",
    "additionalProperties /items/1/colour",
    "enum /customer/tier~1level",
    "enum /priority",
    "minimum /items/0/quantity",
    "pattern /items/0/sku",
    "required /customer/id",
    "type /items/1/tags/1",
  ]);
  assert.equal(error.details.issues_total, 8);
  const missing = issuesOf(error).find((issue) => issue.keyword === "required");
  assert.deepEqual(missing, {
    pointer: "/customer/id",
    message: "is required",
    keyword: "required",
  });
  assert.match(error.message, /^test_skill@1\.0\.0: the input does not match/);
  assert.match(error.message, /\(and 7 more\)$/);
});

Deno.test("checkOutput() blames the skill with VALIDATION_OUTPUT_SCHEMA", () => {
  const schemas = compileSkillSchemas(manifestOf({}, {
    type: "object",
    required: ["result"],
    properties: { result: { type: "integer" } },
  }));
  assert.equal(schemas.checkOutput({ result: 3 }), undefined);
  const error = schemas.checkOutput({ result: "3" });
  assert.equal(error?.code, "VALIDATION_OUTPUT_SCHEMA");
  assert.equal(error?.category, "PERMANENT");
  assert.equal(error?.httpStatus, 422);
  assert.equal(error?.retryable, false);
  assert.deepEqual(issuesOf(error), [
    { pointer: "/result", message: "must be integer", keyword: "type" },
  ]);
  assert.deepEqual(issuesOf(schemas.checkOutput([])), [
    { pointer: "", message: "must be object", keyword: "type" },
  ]);
});

Deno.test("checkInput() keeps 20 issues, short messages, and never the value", () => {
  const secret = "s3cr3t-".repeat(1000);
  const schemas = compileSkillSchemas(manifestOf({
    type: "array",
    items: { type: "integer", minimum: 0 },
  }));
  const error = schemas.checkInput(Array.from({ length: 50 }, () => secret));
  const issues = issuesOf(error);
  assert.equal(issues.length, SCHEMA_LIMITS.issuesMax);
  assert.equal(error?.details.issues_total, 50);
  assert.equal(issues[19]?.pointer, "/19");
  assert.ok(!JSON.stringify(error).includes("s3cr3t"));
  const long = compileSkillSchemas(manifestOf({
    type: "string",
    pattern: `^${"x".repeat(500)}$`,
  })).checkInput("y");
  assert.ok(issuesOf(long)[0]!.message.length <= SCHEMA_LIMITS.messageCharsMax);
});

Deno.test("compileSkillSchemas() refuses what is not JSON Schema with SKILL_MANIFEST_INVALID", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["a misspelt type", { type: "objekt" }, /type must be equal to one of/],
    [
      "properties that are not a map",
      { properties: 5 },
      /properties must be object/,
    ],
    [
      "an unknown keyword",
      { type: "object", colour: "red" },
      /unknown keyword: "colour"/,
    ],
    ["then without if", { type: "object", then: {} }, /"then" without "if"/],
    [
      "a bad regular expression",
      { type: "string", pattern: "(" },
      /Invalid regular expression/,
    ],
    [
      "another draft",
      { $schema: "http://json-schema.org/draft-07/schema#" },
      /draft-07/,
    ],
    [
      "a dangling local $ref",
      { $ref: "#/$defs/missing" },
      /can't resolve reference/,
    ],
  ];
  for (const [name, schema, reason] of cases) {
    const error = refusal(manifestOf({}, schema));
    assert.equal(error.details.schema, "output_schema", name);
    assert.match(String(error.details.reason), reason, name);
    assert.match(error.message, /^test_skill@1\.0\.0: output_schema /, name);
    assert.equal(error.category, "VALIDATION");
    assert.equal(error.httpStatus, 400);
  }
});

Deno.test("compileSkillSchemas() refuses references that are not local", () => {
  for (
    const schema of [
      { $ref: "https://example.com/order.json" },
      { $ref: "https://json-schema.org/draft/2020-12/schema" },
      { $ref: "order.json#/x" },
      { type: "object", properties: { a: { items: { $ref: "//evil/x" } } } },
      { $defs: { a: { $dynamicRef: "https://example.com/x" } } },
    ]
  ) {
    const error = refusal(manifestOf(schema));
    assert.equal(error.details.schema, "input_schema");
    assert.match(String(error.details.reason), /is not local/);
  }
  const local = compileSkillSchemas(manifestOf({
    $defs: {
      node: { type: "object", properties: { next: { $ref: "#/$defs/node" } } },
    },
    $ref: "#/$defs/node",
    type: "object",
    properties: {
      sample: { const: { $ref: "https://data.example/not-a-ref" } },
    },
  }));
  assert.deepEqual(issuesOf(local.checkInput({ next: { next: 3 } })), [
    { pointer: "/next/next", message: "must be object", keyword: "type" },
  ]);
});

Deno.test("compileSkillSchemas() keeps each skill's $id to itself", () => {
  const first = compileSkillSchemas(
    manifestOf({ $id: "https://x/a", type: "string" }),
  );
  const second = compileSkillSchemas(
    manifestOf({ $id: "https://x/a", type: "integer" }),
  );
  assert.equal(first.checkInput("a"), undefined);
  assert.equal(second.checkInput(1), undefined);
  assert.ok(second.checkInput("a") !== undefined);
});

Deno.test("compileSkillSchemas() treats format as an annotation", () => {
  const schemas = compileSkillSchemas(
    manifestOf({ type: "string", format: "email" }),
  );
  assert.equal(schemas.checkInput("not an address"), undefined);
});

Deno.test("compileSkillSchemas() refuses schemas past the size and depth limits", () => {
  const big = refusal(
    manifestOf({ description: "x".repeat(SCHEMA_LIMITS.bytesMax) }),
  );
  assert.match(
    String(big.details.reason),
    /bytes of JSON; the limit is 262144/,
  );
  let deep: Record<string, unknown> = { type: "string" };
  for (let level = 0; level < 70; level++) deep = { not: deep };
  assert.match(
    String(refusal(manifestOf(deep)).details.reason),
    /nest deeper than 64/,
  );
  const cyclic: Record<string, unknown> = { type: "object" };
  cyclic.properties = { self: cyclic };
  assert.match(String(refusal(manifestOf(cyclic)).details.reason), /cyclic/);
});

Deno.test("compileSkillSchemas() refuses patterns that can backtrack exponentially", () => {
  for (
    const pattern of ["^(a+)+$", "(\\w+\\s?)*$", "^(.*,){20}x", "((ab)*c)+"]
  ) {
    const error = refusal(manifestOf({ type: "string", pattern }));
    assert.match(String(error.details.reason), /unbounded quantifier/, pattern);
  }
  const keyed = refusal(manifestOf({
    type: "object",
    patternProperties: { "^(x+)+$": {} },
  }));
  assert.match(String(keyed.details.reason), /unbounded quantifier/);
});

Deno.test("repeatsUnboundedQuantifier() flags star height above one only", () => {
  const cases: [string, boolean][] = [
    ["^(a+)+$", true],
    ["(a*)*", true],
    ["(?:a|b+){2,}", true],
    ["((a+))?b*(c+)+", true],
    ["(a+?)+?", true],
    ["^([0-9a-f]{2}){1,64}$", false],
    ["^[A-Z]{3}-[0-9]+$", false],
    ["(a+)?", false],
    ["(a+)b+", false],
    ["[(+]+", false],
    ["\\(a+\\)+", false],
    ["\\p{L}+(\\d{3})*", false],
    ["(a{1,3})*", false],
  ];
  for (const [pattern, expected] of cases) {
    assert.equal(repeatsUnboundedQuantifier(pattern), expected, pattern);
  }
});

Deno.test("checkInput() reports a value nested 10,000 levels deep instead of crashing", () => {
  const tree = compileSkillSchemas(manifestOf({
    type: "object",
    properties: { children: { type: "array", items: { $ref: "#" } } },
  }));
  const tooDeep: SchemaIssue = {
    pointer: "",
    message: "nests too deeply to check (or the schema recurses without end)",
    keyword: "depth",
  };
  assert.equal(tree.checkInput(nested(50)), undefined);
  // Whether 10,000 levels fit depends on the stack size: either answer is
  // fine, a throw is not. 200,000 levels never fit.
  const tenThousand = tree.checkInput(nested(10_000));
  if (tenThousand !== undefined) {
    assert.deepEqual(issuesOf(tenThousand), [tooDeep]);
  }
  const error = tree.checkInput(nested(200_000));
  assert.equal(error?.code, "VALIDATION_INPUT_SCHEMA");
  assert.deepEqual(issuesOf(error), [tooDeep]);
  assert.equal(error?.details.issues_total, 1);
  const flat = compileSkillSchemas(manifestOf({
    type: "object",
    properties: { children: { type: "array" } },
  }));
  assert.equal(flat.checkInput(nested(10_000)), undefined);
  const endless = compileSkillSchemas(manifestOf({}, { $ref: "#" }));
  assert.equal(issuesOf(endless.checkOutput(1))[0]?.keyword, "depth");
});

Deno.test("compileSkillSchemas() returns the cached checks for the same name, version and schemas", () => {
  const manifest = manifestOf({ type: "object", properties: { a: {} } });
  const first = compileSkillSchemas(manifest);
  assert.equal(compileSkillSchemas(manifest), first);
  assert.equal(compileSkillSchemas(structuredClone(manifest)), first);
  const reordered = manifestOf({ properties: { a: {} }, type: "object" });
  assert.equal(compileSkillSchemas(reordered), first);
  assert.notEqual(
    compileSkillSchemas({ ...manifest, version: "1.0.1" }),
    first,
  );
  assert.notEqual(
    compileSkillSchemas(manifestOf({ type: "object", properties: { b: {} } })),
    first,
  );
});

Deno.test("compileSkillSchemas() compiles every built-in and fixture manifest", async () => {
  const dirs = ["skills-wasm/", "tests/fixtures/skills/"];
  let compiled = 0;
  for (const dir of dirs) {
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = new URL(`${dir}${entry.name}/manifest.yaml`, ROOT);
      let text: string;
      try {
        text = await Deno.readTextFile(path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) continue;
        throw error;
      }
      compileSkillSchemas(parseManifest(text));
      compiled++;
    }
  }
  assert.ok(compiled >= 4, `only ${compiled} manifests found`);
});

Deno.test("json_transform's conditional requirements are enforced", async () => {
  const manifest = parseManifest(
    await Deno.readTextFile(
      new URL("skills-wasm/json_transform/manifest.yaml", ROOT),
    ),
  );
  const schemas = compileSkillSchemas(manifest);
  assert.equal(
    schemas.checkInput({ op: "extract", input: {}, path: "$.a" }),
    undefined,
  );
  const pointers = issuesOf(schemas.checkInput({ op: "pick", input: {} }))
    .map((issue) => `${issue.keyword} ${issue.pointer}`);
  assert.deepEqual(pointers, ["required /keys", "if "]);
});
