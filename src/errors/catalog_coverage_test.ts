import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { parse as parseYaml } from "yaml";
import { ERROR_CODES } from "./mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

// Test code: `*_test.ts` files and the store conformance suite, which every
// store's test file runs.
function isTestFile(name: string): boolean {
  return name.endsWith("_test.ts") || /^_?store_contract.*\.ts$/.test(name);
}

// A code only constructed in a test (`new AosError("X", …)`, a fake error
// answer handed to the code under test) proves nothing about the code under
// test producing it; only an expected code counts.
const CONSTRUCTED =
  /(?:new AosError\(|AosError\.fromJSON\(|toAosError\([^,()]*,)\s*$/;

// The regular expression literal of an `assert.match(…)`.
const ASSERTED_PATTERN = /assert\.match\(\s*[^;]*?,\s*\/((?:\\.|[^/\n])+)\//g;

/** Where each expected code appears in test code: file paths. */
function codesExpectedByTests(): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const note = (code: string, where: string) => {
    found.set(code, (found.get(code) ?? new Set()).add(where));
  };
  const codes = new Set<string>(ERROR_CODES);
  const literal = /(["'`])([A-Z][A-Z0-9_]*[A-Z0-9])\1/g;
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      const path = join(dir, entry.name);
      if (
        entry.isDirectory &&
        !["node_modules", "data", ".git", "fixtures", "golden"].includes(
          entry.name,
        )
      ) walk(path);
      if (!entry.isFile || !isTestFile(entry.name)) continue;
      if (path === new URL(import.meta.url).pathname) continue;
      const text = Deno.readTextFileSync(path);
      for (const match of text.matchAll(literal)) {
        const code = match[2]!;
        if (!codes.has(code)) continue;
        const before = text.slice(Math.max(0, match.index - 80), match.index);
        if (CONSTRUCTED.test(before)) continue;
        note(code, relative(ROOT, path));
      }
      // Output checked against a pattern: `assert.match(stderr, /CODE: …/)`.
      for (const match of text.matchAll(ASSERTED_PATTERN)) {
        for (const word of match[1]!.matchAll(/[A-Z][A-Z0-9_]*[A-Z0-9]/g)) {
          if (codes.has(word[0])) note(word[0], relative(ROOT, path));
        }
      }
    }
  };
  for (const dir of ["actors", "src", "tests", "bench"]) walk(join(ROOT, dir));
  // Skill contracts: the contract tests run every case, and a case that
  // expects an error fails unless the skill reports exactly that code.
  for (const entry of Deno.readDirSync(join(ROOT, "contracts"))) {
    if (!entry.name.endsWith(".yaml") || entry.name === "errors.yaml") continue;
    const contract = parseYaml(
      Deno.readTextFileSync(join(ROOT, "contracts", entry.name)),
    ) as { test_cases?: { expect?: { error?: { code?: string } } }[] };
    for (const testCase of contract.test_cases ?? []) {
      const code = testCase.expect?.error?.code;
      if (code !== undefined) note(code, `contracts/${entry.name}`);
    }
  }
  return found;
}

Deno.test("every catalog code is expected by at least one test", () => {
  const expected = codesExpectedByTests();
  const missing = ERROR_CODES.filter((code) => !expected.has(code));
  assert.deepEqual(
    missing,
    [],
    `catalog codes that no test expects (add a test that makes the code under test report each): ${
      missing.join(", ")
    }`,
  );
});

Deno.test("the coverage scan counts expected codes, not constructed ones", () => {
  assert.ok(CONSTRUCTED.test("    new AosError("));
  assert.ok(CONSTRUCTED.test("toAosError(error, "));
  assert.ok(!CONSTRUCTED.test("assert.equal(error.code, "));
  assert.ok(!CONSTRUCTED.test("isCode("));
  assert.deepEqual(
    [..."assert.match(result.stderr, /^REPLAY_DIVERGED: 1 of 2/m);"
      .matchAll(ASSERTED_PATTERN)].map((match) => match[1]),
    ["^REPLAY_DIVERGED: 1 of 2"],
  );
  const expected = codesExpectedByTests();
  // Expected through a contract case only.
  assert.ok(
    expected.get("ERR_JSON_INVALID_PATH")?.has("contracts/json_transform.yaml"),
  );
  // The store conformance suite counts as test code.
  assert.ok(
    expected.get("STORE_SEQUENCE_CONFLICT")?.has("src/store/store_contract.ts"),
  );
});
