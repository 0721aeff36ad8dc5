/**
 * The upgrade dry-run over the committed golden logs: an unchanged build
 * says identical for all; a behaviour-changing build names exactly the runs
 * it affects; the logs are never changed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { candidatePin, dryRunLog } from "../../src/replay/mod.ts";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import { sha256Hex } from "../../src/store/mod.ts";
import {
  GOLDEN,
  golden,
  goldenNames,
  skillModules,
  withReplaySandbox,
} from "./_kit.ts";
import { buildVariant, type VariantEdit } from "./_skill_variant.ts";

const JSON_TRANSFORM = "skills-wasm/json_transform";

/** Every golden log's bytes, to check that nothing wrote to them. */
function goldenBytes(): Map<string, string> {
  return new Map(
    goldenNames().map((name) => [
      name,
      Deno.readTextFileSync(join(GOLDEN, `${name}.jsonl`)),
    ]),
  );
}

/** Golden log name → dry-run verdict under json_transform built with `edit`. */
async function dryRunGolden(
  edit: VariantEdit,
): Promise<Map<string, string>> {
  const variant = await buildVariant(JSON_TRANSFORM, edit);
  try {
    const modules = skillModules({ extra: [variant.dir] });
    const module = await modules.find("json_transform", variant.version);
    const pin = candidatePin(module!, sha256Hex(module!.bytes));
    return await withReplaySandbox(modules, async (sandbox) => {
      const verdicts = new Map<string, string>();
      for (const name of goldenNames()) {
        const report = await dryRunLog(golden(name), sandbox, {
          candidate: pin,
        });
        verdicts.set(
          name,
          report.divergence === null
            ? report.verdict
            : `${report.verdict}:${report.divergence.class}`,
        );
      }
      return verdicts;
    });
  } finally {
    await variant.remove();
  }
}

Deno.test("dry-run of an unchanged json_transform build over the golden logs says identical for all", async () => {
  const before = goldenBytes();
  const verdicts = await dryRunGolden({ source: [], version: "1.2.0" });
  assert.ok(verdicts.size >= 9);
  for (const [name, verdict] of verdicts) {
    assert.equal(verdict, "identical", name);
  }
  assert.deepEqual(goldenBytes(), before);
});

Deno.test("dry-run of a json_transform build whose omit keeps the keys names exactly the runs that omit", async () => {
  const before = goldenBytes();
  const verdicts = await dryRunGolden({
    source: [[
      'pickOrOmit(op == "pick", params, input)',
      'pickOrOmit(op == "pick" || op == "omit", params, input)',
    ]],
    version: "1.2.0",
  });
  // The affected runs, found independently: those that ran an omit.
  const omitting = goldenNames().filter((name) =>
    golden(name).some((record) =>
      record.type === "StepStarted" &&
      String(record.body.skill).startsWith("json_transform@") &&
      (record.body.input as { op?: string }).op === "omit"
    )
  );
  assert.deepEqual(omitting, ["host_calls", "three_step_transform"]);
  for (const [name, verdict] of verdicts) {
    assert.equal(
      verdict,
      omitting.includes(name) ? "diverged:output_changed" : "identical",
      name,
    );
  }
  assert.deepEqual(goldenBytes(), before);
});

Deno.test("aos replay --skill dry-runs the golden logs against a skills folder and names the affected runs", async () => {
  const variant = await buildVariant(JSON_TRANSFORM, {
    source: [[
      'pickOrOmit(op == "pick", params, input)',
      'pickOrOmit(op == "pick" || op == "omit", params, input)',
    ]],
    version: "1.3.0",
  });
  try {
    const run = async (...args: string[]) => {
      const result = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "main.ts", "replay", ...args],
        cwd: PROJECT_ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      return {
        code: result.code,
        stdout: new TextDecoder().decode(result.stdout),
        stderr: new TextDecoder().decode(result.stderr),
      };
    };
    const all = await run(
      "--skill",
      "json_transform@1.3.0",
      "--skills-dir",
      variant.dir,
      "--json",
    );
    assert.equal(all.code, 1, all.stderr);
    const lines = all.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.equal(lines.length, goldenNames().length);
    const diverged = lines.filter((line) => line.verdict !== "identical")
      .map((line) => String(line.source).replace(/^.*\/|\.jsonl$/g, ""))
      .sort();
    assert.deepEqual(diverged, ["host_calls", "three_step_transform"]);
    for (const line of lines) {
      assert.equal(line.candidate, `json_transform@1.3.0#${variant.sha256}`);
    }
    const runId = golden("m4_mixed")[0]!.run_id;
    const one = await run(
      "--skill",
      "json_transform@1.3.0",
      "--skills-dir",
      variant.dir,
      "--runs",
      runId,
    );
    assert.equal(one.code, 0, one.stdout + one.stderr);
    assert.match(
      one.stdout,
      new RegExp(`ok   tests/golden/m4_mixed.jsonl  run ${runId}`),
    );
    assert.match(
      one.stdout,
      /json_transform@1\.3\.0: 1 identical, 0 diverged, 0 need a new host call/,
    );
    const missing = await run("--skill", "json_transform@7.0.0");
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /no built skill json_transform@7\.0\.0/);
  } finally {
    await variant.remove();
  }
});
