import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import { SqliteStore } from "../../src/store/mod.ts";
import { openTestNode, requestJson } from "../support/test_node.ts";
import { buildVariant } from "./_skill_variant.ts";

async function aosReplay(...args: string[]) {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "replay", ...args],
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(result.stdout);
  return {
    code: result.code,
    text: stdout + new TextDecoder().decode(result.stderr),
  };
}

Deno.test("aos replay --store replays, dry-runs against a registry version and certifies a node's runs without changing them", async () => {
  const variant = await buildVariant("tests/fixtures/skills/nonce", {
    source: [[
      '.setString("random_hex", toHex(random))',
      '.setString("random_hex", toHex(random) + "00")',
    ]],
    version: "1.0.1",
  });
  const node = await openTestNode();
  const database = join(node.dataDir, "aos.db");
  let runId: string;
  try {
    const submitted = await requestJson(node, "POST", "/v1/runs", {
      steps: [{ id: "stamp", skill: "nonce", params: { label: "x" } }],
    });
    runId = String(submitted.body.run_id);
    const view = await requestJson(
      node,
      "GET",
      `/v1/runs/${runId}?wait_ms=30000`,
    );
    assert.equal(view.body.status, "succeeded");
    await node.registry.installDir(variant.dir, { installedAt: 0 });
  } finally {
    await node.close();
    await variant.remove();
  }
  const digestOf = async () => {
    const store = SqliteStore.open(database);
    try {
      return (await store.getRun(runId))?.digest;
    } finally {
      await store.close();
    }
  };
  const digest = await digestOf();

  const replayed = await aosReplay("--store", database, "--runs", runId);
  assert.equal(replayed.code, 0, replayed.text);
  assert.match(replayed.text, new RegExp(`ok   store:${runId}  run ${runId}`));
  assert.match(replayed.text, /1 identical, 0 diverged/);

  const dryRun = await aosReplay(
    "--store",
    database,
    "--runs",
    runId,
    "--skill",
    "nonce@1.0.1",
  );
  assert.equal(dryRun.code, 1, dryRun.text);
  assert.match(
    dryRun.text,
    new RegExp(
      `FAIL store:${runId}  run ${runId}  diverged at record \\d+ \\(StepSucceeded\\): output_changed`,
    ),
  );
  assert.match(
    dryRun.text,
    /~ \/output\/random_hex: "[0-9a-f]{16}" → "[0-9a-f]{18}"/,
  );
  assert.match(dryRun.text, /nonce@1\.0\.1: 0 identical, 1 diverged/);

  const certificate = join(Deno.makeTempDirSync(), "certificate.json");
  const certified = await aosReplay(
    "--store",
    database,
    "--runs",
    runId,
    "--certificate",
    certificate,
  );
  assert.equal(certified.code, 0, certified.text);
  const named = JSON.parse(Deno.readTextFileSync(certificate));
  assert.equal(named.logs[0].source, `store:${runId}`);
  assert.equal(named.logs[0].digest, digest);
  const verified = await aosReplay(
    "--verify",
    certificate,
    "--store",
    database,
  );
  assert.equal(verified.code, 0, verified.text);
  const withoutStore = await aosReplay("--verify", certificate);
  assert.equal(withoutStore.code, 1);
  assert.match(withoutStore.text, new RegExp(`store:${runId}: not found`));

  assert.equal(await digestOf(), digest, "the run's log is unchanged");
});
