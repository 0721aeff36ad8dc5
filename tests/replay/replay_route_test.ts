import assert from "node:assert/strict";
import {
  openTestNode,
  requestJson,
  THREE_STEP_PLAN,
} from "../support/test_node.ts";
import { buildVariant } from "./_skill_variant.ts";

async function finishedRun(
  node: Awaited<ReturnType<typeof openTestNode>>,
  plan: unknown,
): Promise<string> {
  const submitted = await requestJson(node, "POST", "/v1/runs", plan);
  assert.equal(submitted.status, 202);
  const runId = String(submitted.body.run_id);
  const view = await requestJson(
    node,
    "GET",
    `/v1/runs/${runId}?wait_ms=30000`,
  );
  assert.equal(view.body.status, "succeeded");
  return runId;
}

function metricValue(text: string, line: string): number {
  const found = text.split("\n").find((entry) => entry.startsWith(line + " "));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}

Deno.test("POST /v1/runs/:id/replay replays a stored run and returns the report without appending to it", async () => {
  const node = await openTestNode();
  try {
    const runId = await finishedRun(node, THREE_STEP_PLAN);
    const before = await node.store.readLog(runId);
    const attempts = metricValue(
      (await node.metrics.exposition()).text,
      'nova_skill_attempts_total{skill="json_transform",outcome="succeeded"}',
    );
    const { status, body } = await requestJson(
      node,
      "POST",
      `/v1/runs/${runId}/replay`,
    );
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.verdict, "identical");
    assert.equal(body.divergence, null);
    assert.equal(body.run_id, runId);
    assert.equal(body.run_status, "succeeded");
    assert.equal(body.records, before.length);
    assert.equal(body.digest, before[before.length - 1]!.hash);
    const after = await node.store.readLog(runId);
    assert.deepEqual(after, before);
    const metrics = (await node.metrics.exposition()).text;
    assert.equal(
      metricValue(metrics, 'nova_replay_tests_total{status="identical"}'),
      1,
    );
    assert.equal(
      metricValue(
        metrics,
        'nova_skill_attempts_total{skill="json_transform",outcome="succeeded"}',
      ),
      attempts,
      "replayed steps are not live attempts",
    );
  } finally {
    await node.close();
  }
});

Deno.test("POST /v1/runs/:id/replay refuses unknown runs and bad bodies with catalog codes", async () => {
  const node = await openTestNode();
  try {
    const missing = await requestJson(node, "POST", "/v1/runs/run_nope/replay");
    assert.equal(missing.status, 404);
    assert.equal(
      (missing.body.error as { code: string }).code,
      "RUN_NOT_FOUND",
    );
    const runId = await finishedRun(node, THREE_STEP_PLAN);
    const bad = await requestJson(node, "POST", `/v1/runs/${runId}/replay`, {
      skill: "json_transform",
    });
    assert.equal(bad.status, 400);
    assert.equal(
      (bad.body.error as { code: string }).code,
      "VALIDATION_BODY_INVALID",
    );
    const unknown = await requestJson(
      node,
      "POST",
      `/v1/runs/${runId}/replay`,
      { skill: "json_transform@9.9.9" },
    );
    assert.equal(unknown.status, 404);
    assert.equal(
      (unknown.body.error as { code: string }).code,
      "SKILL_NOT_FOUND",
    );
  } finally {
    await node.close();
  }
});

Deno.test("POST /v1/runs/:id/replay with an installed candidate version reports the divergence and counts it", async () => {
  const variant = await buildVariant("tests/fixtures/skills/nonce", {
    source: [[
      '.setString("random_hex", toHex(random))',
      '.setString("random_hex", toHex(random) + "00")',
    ]],
    version: "1.0.1",
  });
  const node = await openTestNode();
  try {
    const runId = await finishedRun(node, {
      steps: [{ id: "stamp", skill: "nonce", params: { label: "x" } }],
    });
    await node.registry.installDir(variant.dir, { installedAt: 0 });
    const before = await node.store.readLog(runId);
    const { status, body } = await requestJson(
      node,
      "POST",
      `/v1/runs/${runId}/replay`,
      { skill: "nonce@1.0.1" },
    );
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.verdict, "diverged");
    assert.equal(body.candidate, `nonce@1.0.1#${variant.sha256}`);
    const divergence = body.divergence as {
      class: string;
      index: number;
      diff: { path: string }[];
    };
    assert.equal(divergence.class, "output_changed");
    assert.equal(before[divergence.index]!.type, "StepSucceeded");
    assert.deepEqual(divergence.diff.map((entry) => entry.path), [
      "/output/random_hex",
      "/output_sha256",
    ]);
    assert.deepEqual(await node.store.readLog(runId), before);
    const metrics = (await node.metrics.exposition()).text;
    assert.equal(
      metricValue(metrics, 'nova_replay_tests_total{status="diverged"}'),
      1,
    );
    assert.equal(
      metricValue(
        metrics,
        'nova_determinism_violations_total{skill="nonce",violation_type="output_changed"}',
      ),
      1,
    );
  } finally {
    await node.close();
    await variant.remove();
  }
});
