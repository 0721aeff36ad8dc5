import assert from "node:assert/strict";
import { join } from "node:path";
import { SeededRandom } from "../deps/mod.ts";
import { firstDifference, firstSubsetMismatch } from "./_json_compare.ts";
import { PROJECT_ROOT } from "./build.ts";
import {
  ContractError,
  contractTestCasesPassed,
  parseContract,
  runContract,
  type SkillContract,
} from "./contract.ts";
import {
  manifestSchema,
  parseManifest,
  type SkillManifest,
} from "./manifest.ts";
import { compileWat } from "../../tests/support/hostile_modules.ts";

function skillFolder(
  dir: string,
): { bytes: Uint8Array; manifest: SkillManifest } {
  const path = join(PROJECT_ROOT, dir);
  const manifest = parseManifest(
    Deno.readTextFileSync(join(path, "manifest.yaml")),
  );
  return {
    bytes: Deno.readFileSync(join(path, `${manifest.name}.wasm`)),
    manifest,
  };
}

/**
 * The module with an input_schema that accepts anything, so the skill's own
 * checks answer bad params (the host would refuse them first with
 * VALIDATION_INPUT_SCHEMA).
 */
function ownChecks(
  module: { bytes: Uint8Array; manifest: SkillManifest },
): { bytes: Uint8Array; manifest: SkillManifest } {
  return { ...module, manifest: { ...module.manifest, input_schema: {} } };
}

const nonce = ownChecks(skillFolder("tests/fixtures/skills/nonce"));
const transform = ownChecks(skillFolder("skills-wasm/json_transform"));

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const NONCE_CONTRACT = `
skill: nonce
version: 1.0.0
summary: Asks the host for the time, then for random bytes.
determinism: recorded
failure_modes:
  - code: SKILL_INPUT_INVALID
    when: label is not a string, or bytes is not an integer from 1 to 64
test_cases:
  - name: default host answers
    input: { label: a }
    expect:
      output: { label: a, now_ms: 1700000000000, random_hex: "${
  hex(new SeededRandom(1).bytes(8))
}" }
  - name: host answers set by the case
    input: { label: b, bytes: 4 }
    host: { now_ms: 42, random_seed: 7 }
    expect:
      output: { label: b, now_ms: 42, random_hex: "${
  hex(new SeededRandom(7).bytes(4))
}" }
  - name: the seed restarts for every case
    input: { label: c, bytes: 4 }
    host: { random_seed: 7 }
    expect:
      output_subset: { random_hex: "${hex(new SeededRandom(7).bytes(4))}" }
  - name: a label that is not a string is refused
    input: { label: 3 }
    expect:
      error:
        code: SKILL_INPUT_INVALID
        details_subset: { field: label }
`;

Deno.test("runContract() passes a contract the skill keeps, with fresh host answers per case", async () => {
  const results = await runContract(parseContract(NONCE_CONTRACT), nonce);
  assert.deepEqual(
    results.map(({ name, pass, reason }) => ({ name, pass, reason })),
    [
      {
        name: "default host answers",
        pass: true,
        reason: "output equals the expected value",
      },
      {
        name: "host answers set by the case",
        pass: true,
        reason: "output equals the expected value",
      },
      {
        name: "the seed restarts for every case",
        pass: true,
        reason: "output contains the expected value",
      },
      {
        name: "a label that is not a string is refused",
        pass: true,
        reason: "failed with SKILL_INPUT_INVALID as expected",
      },
    ],
  );
  assert.ok(contractTestCasesPassed(results));
  assert.deepEqual(results[1]!.hostCalls.map((call) => call.kind), [
    "now",
    "random",
  ]);
  assert.deepEqual(results[3]!.hostCalls, []);
});

Deno.test("runContract() fails a case whose expected output was edited, naming the member", async () => {
  const contract = parseContract(NONCE_CONTRACT);
  const mutated: SkillContract = structuredClone(contract);
  const expect = mutated.test_cases[1]!.expect as {
    output: { now_ms: number };
  };
  expect.output.now_ms = 43;
  const results = await runContract(mutated, nonce);
  assert.equal(contractTestCasesPassed(results), false);
  assert.deepEqual(results.map((result) => result.pass), [
    true,
    false,
    true,
    true,
  ]);
  assert.equal(
    results[1]!.reason,
    "output differs at $.now_ms: expected 43, got 42",
  );
  // The original, unedited, still passes: the failure is the edit's.
  assert.ok(contractTestCasesPassed(await runContract(contract, nonce)));
});

Deno.test("runContract() fails on the wrong error code, error details, or an error where output was expected", async () => {
  const contract = parseContract(`
skill: json_transform
version: 1.1.0
summary: Reshapes JSON.
determinism: pure
failure_modes:
  - { code: ERR_JSON_PATH_NOT_FOUND, when: the path does not exist }
  - { code: ERR_JSON_UNKNOWN_OP, when: op is unknown }
test_cases:
  - name: wrong code
    input: { op: extract, input: {}, path: "$.x" }
    expect: { error: { code: ERR_JSON_UNKNOWN_OP } }
  - name: wrong details
    input: { op: extract, input: {}, path: "$.x" }
    expect: { error: { code: ERR_JSON_PATH_NOT_FOUND, details_subset: { path: "$.y" } } }
  - name: error instead of output
    input: { op: extract, input: {}, path: "$.x" }
    expect: { output_subset: { result: 1 } }
  - name: output instead of error
    input: { op: extract, input: { x: [1, 2] }, path: "$.x" }
    expect: { error: { code: ERR_JSON_PATH_NOT_FOUND } }
  - name: array items are compared one by one
    input: { op: extract, input: { x: [1, { y: 2 }] }, path: "$.x" }
    expect: { output_subset: { result: [1, { y: 3 }] } }
`);
  const reasons = (await runContract(contract, transform)).map((result) => {
    assert.equal(result.pass, false, result.name);
    return result.reason;
  });
  assert.match(
    reasons[0]!,
    /^expected error ERR_JSON_UNKNOWN_OP, got ERR_JSON_PATH_NOT_FOUND: /,
  );
  assert.equal(
    reasons[1],
    'error details differ at $.path: expected "$.y", got "$.x"',
  );
  assert.match(
    reasons[2]!,
    /^expected output, but the skill failed with ERR_JSON_PATH_NOT_FOUND: /,
  );
  assert.match(
    reasons[3]!,
    /^expected error ERR_JSON_PATH_NOT_FOUND, but the skill returned \{"result":\[1,2\],"result_hash":"[0-9a-f]{64}"\}$/,
  );
  assert.equal(
    reasons[4],
    "output differs at $.result[1].y: expected 3, got 2",
  );
});

Deno.test("runContract() fails a pure contract whose skill asks the host for time or randomness", async () => {
  const contract = parseContract(
    NONCE_CONTRACT.replace("determinism: recorded", "determinism: pure"),
  );
  const results = await runContract(contract, nonce);
  assert.equal(
    results[0]!.reason,
    "the contract says determinism: pure, but the skill made host calls (now, random)",
  );
  assert.equal(results[3]!.pass, true); // refused before asking the host
});

Deno.test("runContract() refuses a contract written for another skill or version", async () => {
  for (
    const edit of [
      ["skill: nonce", "skill: other"],
      ["version: 1.0.0", "version: 1.0.1"],
    ]
  ) {
    const contract = parseContract(NONCE_CONTRACT.replace(edit[0]!, edit[1]!));
    await assert.rejects(
      () => runContract(contract, nonce),
      (error: unknown) => {
        assert.ok(error instanceof ContractError);
        assert.match(error.message, /but the manifest is nonce@1\.0\.0/);
        return true;
      },
    );
  }
});

Deno.test("runContract() matches a skill's own error code, which the host reports as SKILL_ERROR", async () => {
  const error = '{"code":"ERR_MY_OWN","details":{"n":1},"message":"mine"}';
  const bytes = await compileWat(`(module
    (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
    (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
    (import "extism:host/env" "error_set" (func $error_set (param i64)))
    (memory (export "memory") 1)
    (data (i32.const 0) "${error.replaceAll('"', '\\"')}")
    (func (export "run") (result i32)
      (local $block i64) (local $i i32)
      (local.set $block (call $alloc (i64.const ${error.length})))
      (block $done
        (loop $copy
          (br_if $done (i32.ge_u (local.get $i) (i32.const ${error.length})))
          (call $store_u8
            (i64.add (local.get $block) (i64.extend_i32_u (local.get $i)))
            (i32.load8_u (local.get $i)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $copy)))
      (call $error_set (local.get $block))
      (i32.const 1)))`);
  const manifest = manifestSchema.parse({
    name: "own_code",
    version: "0.1.0",
    input_schema: {},
    output_schema: {},
  });
  const contract = (code: string) =>
    parseContract(`
skill: own_code
version: 0.1.0
summary: Always fails with its own code.
determinism: pure
failure_modes: [{ code: ${code}, when: always }]
test_cases:
  - name: fails
    input: {}
    expect: { error: { code: ${code}, details_subset: { n: 1 } } }
`);
  const [own] = await runContract(contract("ERR_MY_OWN"), { bytes, manifest });
  assert.equal(own!.reason, "failed with ERR_MY_OWN as expected");
  assert.ok(!own!.outcome.ok && own!.outcome.error.code === "SKILL_ERROR");
  const [other] = await runContract(contract("ERR_OTHER"), {
    bytes,
    manifest,
  });
  assert.equal(
    other!.reason,
    "expected error ERR_OTHER, got SKILL_ERROR (reported ERR_MY_OWN): mine",
  );
});

Deno.test("parseContract() accepts the example of docs/contracts.md", () => {
  const doc = Deno.readTextFileSync(join(PROJECT_ROOT, "docs", "contracts.md"));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(yaml !== undefined, "docs/contracts.md has a yaml example");
  const contract = parseContract(yaml);
  assert.equal(contract.skill, "json_transform");
  assert.equal(contract.test_cases.length, 3);
  assert.deepEqual(contract.test_cases[2]!.host, {
    now_ms: 1700000000000,
    random_seed: 7,
  });
});

Deno.test("parseContract() names the field of every problem", () => {
  const base = `skill: s
version: 1.0.0
summary: s
determinism: pure
failure_modes: [{ code: SKILL_ERROR, when: always }]
`;
  const cases: [string, string[]][] = [
    ["skill: [", ["not valid YAML: "]],
    [
      "version: 1.0\ntest_cases: []\n",
      [
        "skill: required (a string)",
        'version: a string such as "1.0.0" (quote it)',
        "summary: required (a string)",
        "determinism: Invalid option",
        "test_cases: at least one test case",
      ],
    ],
    [
      base + "test_cases:\n  - name: a\n    expect: { output: 1 }\n",
      ["test_cases[0].input: required"],
    ],
    [
      base + "test_cases:\n  - { name: a, input: 1, expect: {} }\n",
      ["test_cases[0].expect: exactly one of output, output_subset or error (got none)"],
    ],
    [
      base +
      "test_cases:\n  - { name: a, input: 1, expect: { output: 1, error: { code: SKILL_ERROR } } }\n",
      ["test_cases[0].expect: exactly one of output, output_subset or error (got output, error)"],
    ],
    [
      base +
      "test_cases:\n  - { name: a, input: .inf, expect: { output: 1 } }\n",
      ["test_cases[0].input: not JSON"],
    ],
    [
      base +
      "test_cases:\n  - { name: a, input: 1, expect: { error: { code: SKILL_ABORTED } } }\n",
      ["test_cases[0].expect.error.code: SKILL_ABORTED is not listed in failure_modes"],
    ],
    [
      base +
      "test_cases:\n  - { name: a, input: 1, expect: { output: 1 } }\n  - { name: a, input: 2, expect: { output: 2 } }\n",
      ['test_cases[1].name: "a" is used by an earlier case'],
    ],
    [
      base +
      "extra: 1\ntest_cases:\n  - { name: a, input: 1, host: { now: 1 }, expect: { output: 1 } }\n",
      [
        "test_cases[0].host: Unrecognized key",
        '(the document): Unrecognized key: "extra"',
      ],
    ],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseContract(text, "c.yaml"), (error: unknown) => {
      assert.ok(error instanceof ContractError, text);
      assert.match(error.message, /^c\.yaml: invalid contract:/);
      assert.equal(error.issues.length, expected.length, error.message);
      expected.forEach((prefix, index) =>
        assert.ok(
          error.issues[index]!.startsWith(prefix),
          `${error.issues[index]} should start with ${prefix}`,
        )
      );
      return true;
    });
  }
});

Deno.test("firstDifference() and firstSubsetMismatch() point at the first differing member", () => {
  assert.equal(
    firstDifference({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }),
    undefined,
  );
  assert.deepEqual(firstDifference({ a: 1, b: 2 }, { b: 3, a: 1 }), {
    path: "$.b",
    expected: 2,
    actual: 3,
  });
  assert.deepEqual(firstDifference({ a: 1 }, { a: 1, "odd key": 2 }), {
    path: '$["odd key"]',
    expected: undefined,
    actual: 2,
  });
  assert.deepEqual(firstDifference([1, 2], [1, 2, 3]), {
    path: "$[2]",
    expected: undefined,
    actual: 3,
  });
  assert.deepEqual(firstDifference({ a: [1] }, { a: { 0: 1 } }), {
    path: "$.a",
    expected: [1],
    actual: { 0: 1 },
  });
  assert.equal(
    firstSubsetMismatch({ a: { b: 1 } }, { a: { b: 1, c: 2 }, d: 3 }),
    undefined,
  );
  assert.deepEqual(firstSubsetMismatch({ a: { c: 2 } }, { a: { b: 1 } }), {
    path: "$.a.c",
    expected: 2,
    actual: undefined,
  });
  assert.deepEqual(firstSubsetMismatch([{ a: 1 }], [{ a: 1 }, 2]), {
    path: "$[1]",
    expected: undefined,
    actual: 2,
  });
  assert.deepEqual(firstSubsetMismatch({ a: null }, {}), {
    path: "$.a",
    expected: null,
    actual: undefined,
  });
});
