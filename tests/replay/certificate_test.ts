import assert from "node:assert/strict";
import { join } from "node:path";
import { readCertificate } from "../../src/replay/mod.ts";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import {
  canonicalJson,
  type Json,
  recordToLine,
  sha256Hex,
} from "../../src/store/mod.ts";
import { golden, goldenNames, reseal } from "./_kit.ts";

async function aosReplay(...args: string[]) {
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
}

/** Rewrites a certificate's content and, when `rehash`, its own hash. */
function tamper(
  path: string,
  change: (certificate: Record<string, Json>) => void,
  rehash: boolean,
): void {
  const certificate = JSON.parse(Deno.readTextFileSync(path));
  change(certificate);
  if (rehash) {
    const { sha256: _old, ...body } = certificate;
    certificate.sha256 = sha256Hex(canonicalJson(body));
  }
  Deno.writeTextFileSync(path, JSON.stringify(certificate, null, 2));
}

Deno.test("aos replay --certificate writes a reproducible, self-hashed certificate that --verify re-checks", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "aos-certificate-" });
  const first = join(dir, "first.json");
  const second = join(dir, "second.json");
  const metricsPath = join(dir, "replay.prom");
  const written = await aosReplay(
    "--certificate",
    first,
    "--metrics",
    metricsPath,
  );
  assert.equal(written.code, 0, written.stdout + written.stderr);
  const metrics = Deno.readTextFileSync(metricsPath);
  assert.ok(
    metrics.includes(
      `nova_replay_tests_total{status="identical"} ${goldenNames().length}`,
    ),
    metrics,
  );
  assert.ok(metrics.includes("nova_golden_file_mismatches_total 0"));
  assert.match(
    written.stderr,
    new RegExp(`certificate [0-9a-f]{64} written to ${first}`),
  );
  assert.equal((await aosReplay("--certificate", second)).code, 0);
  const text = Deno.readTextFileSync(first);
  assert.equal(Deno.readTextFileSync(second), text, "same logs, same bytes");

  const { certificate, problems } = readCertificate(text);
  assert.deepEqual(problems, []);
  assert.equal(certificate?.host_abi, 1);
  assert.equal(certificate?.verdict, "identical");
  assert.equal(certificate?.logs.length, goldenNames().length);
  for (const [position, name] of goldenNames().entries()) {
    const records = golden(name);
    assert.deepEqual(certificate?.logs[position], {
      source: `tests/golden/${name}.jsonl`,
      run_id: records[0]!.run_id,
      records: records.length,
      digest: records[records.length - 1]!.hash,
      verdict: "identical",
      class: null,
      index: null,
    });
  }
  const pins = (golden("host_calls")[0]!.body.pins ?? {}) as Record<
    string,
    { name: string; version: string; sha256: string }
  >;
  for (const pin of Object.values(pins)) {
    assert.ok(
      certificate?.skills.includes(`${pin.name}@${pin.version}#${pin.sha256}`),
    );
  }

  const verified = await aosReplay("--verify", first);
  assert.equal(verified.code, 0, verified.stdout);
  assert.match(
    verified.stdout,
    new RegExp(`holds: ${goldenNames().length} logs identical`),
  );

  tamper(first, (body) => {
    (body.logs as { digest: string }[])[0]!.digest = "0".repeat(64);
  }, false);
  const unhashed = await aosReplay("--verify", first);
  assert.equal(unhashed.code, 1);
  assert.match(unhashed.stdout, /its content hashes to [0-9a-f]{64}/);

  tamper(first, () => {}, true);
  const rehashed = await aosReplay("--verify", first);
  assert.equal(rehashed.code, 1);
  assert.match(
    rehashed.stdout,
    /tests\/golden\/failed_step\.jsonl: digest was 0{64}, is now [0-9a-f]{64}/,
  );
});

Deno.test("aos replay prints a divergence for the terminal and as JSON, with class, index and diff", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "aos-replay-human-" });
  const records = golden("three_step_transform");
  const edited = records.map((record) => structuredClone(record));
  const plan = edited[0]!.body.plan as {
    steps: { id: string; params: { keys?: string[] } }[];
  };
  plan.steps.find((step) => step.id === "pick")!.params.keys = ["id"];
  const forged = reseal(edited, 0);
  Deno.writeTextFileSync(
    join(dir, "edited.jsonl"),
    forged.map(recordToLine).join("\n") + "\n",
  );
  const index = records.findIndex((record) =>
    record.type === "StepStarted" && record.body.step === "pick"
  );
  const text = await aosReplay(dir);
  assert.equal(text.code, 1);
  const expected = [
    `diverged at record ${index} (StepStarted): plan_changed`,
    "     the run decides StepStarted with other content than the log records",
    "     diff (expected → actual):",
    '       ~ /body/input/keys/0: "customer" → "id"',
    '       - /body/input/keys/1: "id"',
    "0 identical, 1 diverged",
  ];
  for (const line of expected) assert.ok(text.stdout.includes(line), line);
  const json = await aosReplay(dir, "--json");
  assert.equal(json.code, 1);
  const report = JSON.parse(json.stdout.trim());
  assert.equal(report.verdict, "diverged");
  assert.equal(report.divergence.class, "plan_changed");
  assert.equal(report.divergence.index, index);
  assert.equal(report.divergence.step, "pick");
  assert.deepEqual(report.divergence.diff[1], {
    path: "/body/input/keys/1",
    op: "removed",
    expected: "id",
  });
});
