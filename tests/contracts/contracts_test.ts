import assert from "node:assert/strict";
import { join } from "node:path";
import { GuardedHttpClient } from "../../src/sandbox/mod.ts";
import { findSkillDirs, PROJECT_ROOT } from "../../src/skills/build.ts";
import {
  type CaseResult,
  readContract,
  runContract,
  type SkillContract,
} from "../../src/skills/contract.ts";
import {
  parseManifest,
  type SkillManifest,
} from "../../src/skills/manifest.ts";

const CONTRACTS = join(PROJECT_ROOT, "contracts");

function builtIn(name: string): { bytes: Uint8Array; manifest: SkillManifest } {
  const dir = join(PROJECT_ROOT, "skills-wasm", name);
  const manifest = parseManifest(
    Deno.readTextFileSync(join(dir, "manifest.yaml")),
  );
  return {
    bytes: Deno.readFileSync(join(dir, `${manifest.name}.wasm`)),
    manifest,
  };
}

function failures(results: CaseResult[]): string[] {
  return results.filter((result) => !result.pass).map((result) =>
    `${result.name}: ${result.reason}`
  );
}

const skills = findSkillDirs(PROJECT_ROOT, { fixtures: false }).map((dir) =>
  dir.split("/").pop()!
);

Deno.test("every built-in skill has a contract with test cases and failure modes", () => {
  for (const skill of skills) {
    const text = Deno.readTextFileSync(join(CONTRACTS, `${skill}.yaml`));
    assert.ok(text.includes("test_cases"), `${skill}: no test cases`);
  }
});

for (const skill of skills) {
  Deno.test(`contracts/${skill}.yaml: every test case holds against the built module`, async () => {
    const contract = await readContract(join(CONTRACTS, `${skill}.yaml`));
    assert.ok(contract.test_cases.length > 0);
    // A bare host, as the embedded default is: no services, external calls off.
    const http = {
      client: new GuardedHttpClient({ externalEnabled: false }),
      secrets: {},
    };
    const results = await runContract(contract, builtIn(skill), { http });
    assert.deepEqual(failures(results), []);
  });
}

Deno.test("the contract runner fails a skill whose behaviour differs from an expected output", async () => {
  const contract = await readContract(join(CONTRACTS, "json_transform.yaml"));
  const index = contract.test_cases.findIndex((testCase) =>
    "output" in testCase.expect
  );
  assert.ok(index >= 0, "json_transform's contract has an exact-output case");
  const changed: SkillContract = structuredClone(contract);
  const expect = changed.test_cases[index]!.expect as { output: unknown };
  expect.output = { result: "something else" };
  const results = await runContract(changed, builtIn("json_transform"));
  assert.equal(results[index]!.pass, false);
  assert.match(results[index]!.reason, /differs/);
  assert.equal(failures(results).length, 1);
});
