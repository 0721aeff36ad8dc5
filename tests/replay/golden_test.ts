import assert from "node:assert/strict";
import { join } from "node:path";
import { parseLogLines, replayLog } from "../../src/replay/mod.ts";
import type { Sandbox } from "../../src/sandbox/mod.ts";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import { recordToLine } from "../../src/store/mod.ts";
import {
  GOLDEN,
  golden,
  reseal,
  skillModules,
  withReplaySandbox,
} from "./_kit.ts";

async function withSandbox<T>(
  work: (sandbox: Sandbox) => Promise<T>,
): Promise<T> {
  return await withReplaySandbox(skillModules(), work);
}

Deno.test("every golden log replays byte-identically", async () => {
  const names = [...Deno.readDirSync(GOLDEN)].filter((entry) =>
    entry.name.endsWith(".jsonl")
  );
  assert.ok(names.length >= 2);
  await withSandbox(async (sandbox) => {
    for (const entry of names) {
      const records = golden(entry.name.replace(/\.jsonl$/, ""));
      const report = await replayLog(records, sandbox);
      assert.equal(
        report.verdict,
        "identical",
        `${entry.name}: ${JSON.stringify(report.divergence)}`,
      );
      assert.equal(report.digest, records[records.length - 1]!.hash);
    }
  });
  const hostCalls = golden("host_calls").filter((record) =>
    record.type === "HostCall"
  );
  assert.deepEqual(hostCalls.map((record) => record.body.kind), [
    "now",
    "random",
  ]);
});

Deno.test("replay fails, naming the record, when one byte of a recorded output is edited", async () => {
  const lines = Deno.readTextFileSync(
    join(GOLDEN, "three_step_transform.jsonl"),
  ).trim().split("\n");
  const index = lines.findIndex((line) =>
    line.includes('"type":"StepSucceeded"') && line.includes('"Ada"')
  );
  lines[index] = lines[index]!.replace('"Ada"', '"Adb"');
  const dir = Deno.makeTempDirSync({ prefix: "aos-golden-" });
  Deno.writeTextFileSync(join(dir, "edited.jsonl"), lines.join("\n") + "\n");
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "replay", dir],
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(result.stdout);
  assert.equal(result.code, 1, text);
  assert.match(
    text,
    new RegExp(`diverged at record ${index} \\(StepSucceeded\\): chain_broken`),
  );
  assert.match(text, /expected: "[0-9a-f]{64}"/);
});

Deno.test("replay re-executes skills: a forged output with valid hashes is caught with expected and actual", async () => {
  const records = golden("three_step_transform");
  const index = records.findIndex((record) => record.type === "StepSucceeded");
  const edited = records.map((record) => structuredClone(record));
  (edited[index]!.body.output as { result: { order_id?: number } }).result = {
    order_id: 8,
  };
  const forged = reseal(edited, index);
  const report = await withSandbox((sandbox) => replayLog(forged, sandbox));
  assert.equal(report.verdict, "diverged");
  assert.equal(report.divergence?.index, index);
  assert.equal(report.divergence?.class, "output_changed");
  assert.equal(report.divergence?.step, "extract");
  assert.match(
    String(report.divergence?.skill),
    /^json_transform@1\.1\.0#[0-9a-f]{64}$/,
  );
  assert.deepEqual(
    (report.divergence?.expected as { output: { result: unknown } }).output
      .result,
    { order_id: 8 },
  );
  assert.deepEqual(
    (report.divergence?.actual as { output: unknown }).output,
    records[index]!.body.output,
  );
});

Deno.test("replay serves recorded host answers: an edited answer changes the re-executed output", async () => {
  const records = golden("host_calls");
  const index = records.findIndex((record) =>
    record.type === "HostCall" && record.body.kind === "now"
  );
  const edited = records.map((record) => structuredClone(record));
  edited[index]!.body.result = 1;
  const report = await withSandbox((sandbox) =>
    replayLog(reseal(edited, index), sandbox)
  );
  assert.equal(report.divergence?.class, "output_changed");
  assert.equal(report.divergence?.step, "stamp");
  assert.equal(
    (report.divergence?.actual as { output: { now_ms: number } }).output.now_ms,
    1,
  );
});

Deno.test("replay catches a changed decision: a log that skips a step", async () => {
  const records = golden("three_step_transform");
  const started = records.findIndex((record) =>
    record.type === "StepStarted" && record.body.step === "pick"
  );
  const edited = records.map((record) => structuredClone(record));
  (edited[started]!.body.input as { keys: string[] }).keys = ["id"];
  const report = await withSandbox((sandbox) =>
    replayLog(reseal(edited, started), sandbox)
  );
  assert.equal(report.divergence?.index, started);
  assert.equal(report.divergence?.class, "plan_changed");
});

Deno.test("replay needs the pinned module: another build of the skill is not silently used", async () => {
  const records = golden("three_step_transform").map((record) =>
    structuredClone(record)
  );
  const pins = records[0]!.body.pins as Record<string, { sha256: string }>;
  const original = pins.json_transform!.sha256;
  pins.json_transform!.sha256 = "f".repeat(64);
  for (const record of records) {
    if (record.type === "StepStarted") {
      record.body.skill = String(record.body.skill).replace(
        original,
        "f".repeat(64),
      );
    }
  }
  const forged = reseal(records, 0);
  const text = forged.map(recordToLine).join("\n");
  const report = await withSandbox((sandbox) =>
    replayLog(parseLogLines(text, "forged"), sandbox)
  );
  assert.equal(report.verdict, "diverged");
  assert.equal(report.divergence?.class, "skill_bytes_changed");
  assert.equal(
    report.divergence?.index,
    forged.findIndex((record) => record.type === "StepStarted"),
  );
  assert.deepEqual(report.divergence?.diff, [
    { path: "/sha256", op: "changed", expected: "f".repeat(64), actual: null },
  ]);
});
