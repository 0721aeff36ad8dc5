import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import { recordFromLine, recordToLine } from "../../src/store/mod.ts";
import { aos } from "../support/aos_cli.ts";

Deno.test("aos replay fails with REPLAY_DIVERGED when a log no longer matches its re-execution", async () => {
  const golden = Deno.readTextFileSync(
    join(PROJECT_ROOT, "tests", "golden", "three_step_transform.jsonl"),
  );
  const records = golden.trim().split("\n").map((line, index) =>
    recordFromLine(line, `line ${index + 1}`)
  );
  const dir = Deno.makeTempDirSync({ prefix: "aos-replay-" });
  const intact = join(dir, "intact.jsonl");
  Deno.writeTextFileSync(intact, golden);
  // The last record claims a different digest than its content has.
  const last = records[records.length - 1]!;
  records[records.length - 1] = { ...last, hash: "0".repeat(64) };
  const edited = join(dir, "edited.jsonl");
  Deno.writeTextFileSync(
    edited,
    records.map((record) => recordToLine(record) + "\n").join(""),
  );
  const ok = await aos(["replay", intact]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.doesNotMatch(ok.stderr, /REPLAY_DIVERGED/);
  const diverged = await aos(["replay", intact, edited]);
  assert.equal(diverged.code, 1);
  assert.match(diverged.stdout, /1 identical, 1 diverged/);
  assert.match(
    diverged.stderr,
    /^REPLAY_DIVERGED: 1 of 2 logs diverged from their re-execution$/m,
  );
});

Deno.test("aos replay certifies several logs at once and reports them in the order given; a bad --concurrency is a usage error", async () => {
  const goldenDir = join(PROJECT_ROOT, "tests", "golden");
  const names = [
    "three_step_transform",
    "host_calls",
    "failed_step",
    "ledger2_free_steps",
  ];
  const paths = names.map((name) => join(goldenDir, `${name}.jsonl`));
  const reportsOf = (stdout: string) =>
    stdout.trim().split("\n").map((line) => JSON.parse(line).source);
  const one = await aos(["replay", "--json", "--concurrency", "1", ...paths]);
  const four = await aos(["replay", "--json", "--concurrency", "4", ...paths]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(four.code, 0, four.stderr);
  assert.deepEqual(
    reportsOf(four.stdout),
    names.map((name) => `tests/golden/${name}.jsonl`),
  );
  assert.equal(four.stdout, one.stdout);
  for (const wrong of ["0", "257", "two"]) {
    const refused = await aos(["replay", "--concurrency", wrong]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--concurrency wants a whole number/);
  }
});
