import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "../../src/store/mod.ts";
import {
  openTestNode,
  requestJson,
  THREE_STEP_PLAN,
} from "../support/test_node.ts";

Deno.test("a store locked by another writer answers 503 STORE_UNAVAILABLE with Retry-After, and accepts once free", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-busy-" });
  const path = join(dataDir, "aos.db");
  const store = SqliteStore.open(path, { busyTimeoutMs: 50 });
  const node = await openTestNode({ dataDir, store });
  const other = new DatabaseSync(path);
  try {
    other.exec("BEGIN IMMEDIATE");
    const refused = await node.app.request("/v1/runs", {
      method: "POST",
      body: JSON.stringify(THREE_STEP_PLAN),
      headers: {
        "content-type": "application/json",
        "idempotency-key": "busy-1",
      },
    });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.equal((await refused.json()).error.code, "STORE_UNAVAILABLE");
    other.exec("ROLLBACK");
    // Nothing was accepted, and the retry with the same key starts the run.
    assert.deepEqual(
      (await requestJson(node, "GET", "/v1/runs")).body.runs,
      [],
    );
    const retried = await node.app.request("/v1/runs", {
      method: "POST",
      body: JSON.stringify(THREE_STEP_PLAN),
      headers: {
        "content-type": "application/json",
        "idempotency-key": "busy-1",
      },
    });
    assert.equal(retried.status, 202);
    const runId = (await retried.json()).run_id;
    const view = await requestJson(
      node,
      "GET",
      `/v1/runs/${runId}?wait_ms=30000`,
    );
    assert.equal(view.body.status, "succeeded");
  } finally {
    other.close();
    await node.close();
  }
});

Deno.test("GET /v1/skills/:name of a skill that is not installed is 404 SKILL_NOT_FOUND", async () => {
  const node = await openTestNode();
  try {
    for (
      const path of [
        "/v1/skills/no_such_skill",
        "/v1/skills/json_transform/9.9.9",
      ]
    ) {
      const answer = await requestJson(node, "GET", path);
      assert.equal(answer.status, 404, path);
      assert.equal(
        (answer.body.error as { code: string }).code,
        "SKILL_NOT_FOUND",
      );
    }
    assert.equal(
      (await requestJson(node, "GET", "/v1/skills/json_transform")).status,
      200,
    );
  } finally {
    await node.close();
  }
});
