import assert from "node:assert/strict";
import { join } from "node:path";
import type { AosNode } from "../node/mod.ts";
import { queryRows } from "../../tests/support/postgres.ts";
import {
  openTestNode,
  postgresUrlOf,
  requestJson,
  TEST_ADMIN_KEY,
  THREE_STEP_PLAN,
} from "../../tests/support/test_node.ts";

const SLOW_PLAN = {
  steps: [{
    id: "long",
    skill: "spin",
    params: { iterations: 1_000_000_000, value: 1 },
  }],
};

async function createTenant(
  node: AosNode,
  id: string,
): Promise<{ key: string; key_id: string }> {
  const created = await requestJson(node, "POST", "/v1/tenants", { id }, {
    key: TEST_ADMIN_KEY,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return {
    key: String(created.body.key),
    key_id: String(created.body.key_id),
  };
}

function code(answer: { body: Record<string, unknown> }): unknown {
  return (answer.body.error as { code?: string } | undefined)?.code;
}

Deno.test("a tenant cannot see, list, follow, cancel, signal, resume, fork or replay another tenant's run: 404, as for a run that does not exist", async () => {
  const node = await openTestNode();
  try {
    const alice = await createTenant(node, "alice");
    const bob = await createTenant(node, "bob");
    const submitted = await requestJson(
      node,
      "POST",
      "/v1/runs",
      SLOW_PLAN,
      { key: alice.key },
    );
    assert.equal(submitted.status, 202);
    const runId = String(submitted.body.run_id);
    // The run is under way (its actor holds it) before anyone probes it.
    await node.runtime.waitForRecord(
      runId,
      (record) => record.type === "StepStarted",
    );
    const probes = [
      ["GET", `/v1/runs/${runId}`],
      ["GET", `/v1/runs/${runId}?wait_ms=60000`],
      ["GET", `/v1/runs/${runId}/events`],
      ["GET", `/v1/runs/${runId}/events?follow=1`],
      ["POST", `/v1/runs/${runId}/cancel`],
      ["POST", `/v1/runs/${runId}/replay`],
      ["POST", `/v1/runs/${runId}/signals/approve`],
      ["POST", `/v1/runs/${runId}/resume`],
      ["POST", `/v1/runs/${runId}/fork`],
    ] as const;
    for (const [method, path] of probes) {
      const foreign = await requestJson(node, method, path, undefined, {
        key: bob.key,
      });
      const missing = await requestJson(
        node,
        method,
        path.replace(runId, "run_00000000000000000000000000"),
        undefined,
        { key: bob.key },
      );
      assert.equal(foreign.status, 404, `${method} ${path}`);
      assert.equal(code(foreign), "RUN_NOT_FOUND");
      assert.equal(missing.status, 404);
      assert.deepEqual(
        Object.keys(foreign.body.error as object).sort(),
        Object.keys(missing.body.error as object).sort(),
        "a foreign run must look like a missing one",
      );
    }
    const bobs = await requestJson(node, "GET", "/v1/runs", undefined, {
      key: bob.key,
    });
    assert.deepEqual(bobs.body.runs, []);
    const defaults = await requestJson(node, "GET", "/v1/runs");
    assert.deepEqual(defaults.body.runs, []);
    const alices = await requestJson(node, "GET", "/v1/runs", undefined, {
      key: alice.key,
    });
    assert.deepEqual(
      (alices.body.runs as { run_id: string }[]).map((run) => run.run_id),
      [runId],
    );
    // Bob's cancel, signal, resume and fork changed nothing; Alice's own cancel works.
    assert.equal((await node.store.getRun(runId))?.status, "running");
    const touched = (await node.store.readLog(runId)).filter((record) =>
      ["SignalReceived", "RunResumed", "RunCancelled"].includes(record.type)
    );
    assert.deepEqual(touched, []);
    const cancelled = await requestJson(
      node,
      "POST",
      `/v1/runs/${runId}/cancel`,
      undefined,
      { key: alice.key },
    );
    assert.equal(cancelled.status, 202);
    assert.equal(cancelled.body.status, "cancelled");
  } finally {
    await node.close();
  }
});

Deno.test("an Idempotency-Key belongs to the tenant that used it: another tenant's request with the same key starts its own run", async () => {
  const node = await openTestNode();
  try {
    const alice = await createTenant(node, "alice");
    const bob = await createTenant(node, "bob");
    const submit = async (key: string) => {
      const response = await node.app.request("/v1/runs", {
        method: "POST",
        body: JSON.stringify(THREE_STEP_PLAN),
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": "application/json",
          "idempotency-key": "same-key",
        },
      });
      assert.equal(response.status, 202);
      return {
        runId: String((await response.json()).run_id),
        replayed: response.headers.get("idempotent-replayed"),
      };
    };
    const first = await submit(alice.key);
    const other = await submit(bob.key);
    const again = await submit(alice.key);
    assert.notEqual(other.runId, first.runId);
    assert.equal(other.replayed, null);
    assert.equal(again.runId, first.runId);
    assert.equal(again.replayed, "true");
    assert.equal((await node.store.getRun(other.runId))?.tenant, "bob");
    for (const runId of [first.runId, other.runId]) {
      await node.runtime.waitForEnd(runId, 30_000);
    }
  } finally {
    await node.close();
  }
});

Deno.test("every /v1 route but the error catalog needs a working key of the right kind", async () => {
  const node = await openTestNode();
  try {
    const none = await requestJson(node, "GET", "/v1/runs", undefined, {
      key: null,
    });
    assert.deepEqual([none.status, code(none)], [401, "AUTH_KEY_MISSING"]);
    const wrong = await requestJson(node, "GET", "/v1/skills", undefined, {
      key: "aos_not_a_key",
    });
    assert.deepEqual([wrong.status, code(wrong)], [401, "AUTH_KEY_INVALID"]);
    const unknownRoute = await requestJson(
      node,
      "GET",
      "/v1/nothing",
      undefined,
      {
        key: null,
      },
    );
    assert.equal(
      unknownRoute.status,
      401,
      "routes are not probed without a key",
    );
    const catalog = await requestJson(node, "GET", "/v1/errors", undefined, {
      key: null,
    });
    assert.equal(catalog.status, 200);
    const tenantOnAdmin = await requestJson(node, "POST", "/v1/tenants", {
      id: "x",
    });
    assert.deepEqual(
      [tenantOnAdmin.status, code(tenantOnAdmin)],
      [403, "AUTH_FORBIDDEN"],
    );
    const adminOnRuns = await requestJson(node, "GET", "/v1/runs", undefined, {
      key: TEST_ADMIN_KEY,
    });
    assert.deepEqual(
      [adminOnRuns.status, code(adminOnRuns)],
      [403, "AUTH_FORBIDDEN"],
    );
    const skills = await requestJson(node, "GET", "/v1/skills");
    assert.equal(skills.status, 200);
    for (const probe of ["/healthz", "/readyz", "/metrics"]) {
      assert.equal((await node.app.request(probe)).status, 200, probe);
    }
    assert.equal((await node.store.listTenants()).length, 1);
  } finally {
    await node.close();
  }
});

Deno.test("revoked and rotated keys stop working at once; keys are listed without secrets", async () => {
  const node = await openTestNode();
  try {
    const admin = { key: TEST_ADMIN_KEY };
    const carol = await createTenant(node, "carol");
    const spare = await requestJson(
      node,
      "POST",
      "/v1/tenants/carol/keys",
      undefined,
      admin,
    );
    assert.equal(spare.status, 201);
    const spareKey = String(spare.body.key);
    const works = (key: string) =>
      requestJson(node, "GET", "/v1/tenants/me/budget", undefined, { key })
        .then((answer) => answer.status);
    assert.equal(await works(carol.key), 200);
    assert.equal(await works(spareKey), 200);
    const revoked = await requestJson(
      node,
      "POST",
      `/v1/tenants/carol/keys/${carol.key_id}/revoke`,
      undefined,
      admin,
    );
    assert.equal(revoked.status, 200);
    assert.equal(await works(carol.key), 401);
    assert.equal(await works(spareKey), 200);
    const rotated = await requestJson(
      node,
      "POST",
      "/v1/tenants/carol/rotate",
      undefined,
      admin,
    );
    assert.equal(rotated.status, 201);
    assert.equal(await works(spareKey), 401);
    assert.equal(await works(String(rotated.body.key)), 200);
    const listed = await requestJson(
      node,
      "GET",
      "/v1/tenants/carol/keys",
      undefined,
      admin,
    );
    const keys = listed.body.keys as Record<string, unknown>[];
    assert.equal(keys.length, 3);
    assert.deepEqual(keys.map((key) => key.revoked_at === null), [
      false,
      false,
      true,
    ]);
    assert.ok(keys.every((key) => !("sha256" in key) && !("key" in key)));
    // Only digests are stored: no key text is anywhere in the database.
    const stored = await storedText(node.dataDir);
    for (const key of [carol.key, spareKey, String(rotated.body.key)]) {
      assert.ok(!stored.includes(key), "the store holds a key");
    }
    const stranger = await requestJson(
      node,
      "POST",
      `/v1/tenants/carol/keys/key_0000/revoke`,
      undefined,
      admin,
    );
    assert.deepEqual([stranger.status, code(stranger)], [
      404,
      "API_KEY_NOT_FOUND",
    ]);
    const nobody = await requestJson(
      node,
      "GET",
      "/v1/tenants/nobody/keys",
      undefined,
      admin,
    );
    assert.deepEqual([nobody.status, code(nobody)], [404, "TENANT_NOT_FOUND"]);
    const twice = await requestJson(node, "POST", "/v1/tenants", {
      id: "carol",
    }, admin);
    assert.deepEqual([twice.status, code(twice)], [409, "TENANT_EXISTS"]);
    for (const id of ["me", "Upper", "", "a/b"]) {
      const bad = await requestJson(node, "POST", "/v1/tenants", { id }, admin);
      assert.deepEqual([bad.status, code(bad)], [
        400,
        "VALIDATION_BODY_INVALID",
      ]);
    }
    const tenants = await requestJson(
      node,
      "GET",
      "/v1/tenants",
      undefined,
      admin,
    );
    assert.deepEqual(
      (tenants.body.tenants as { id: string }[]).map((tenant) => tenant.id),
      ["carol", "default"],
    );
  } finally {
    await node.close();
  }
});

Deno.test("GET /v1/tenants/me/budget shows the tenant's day: its own limit, or the node's default", async () => {
  const node = await openTestNode({ config: { tenantDailyBudgetCents: 700 } });
  try {
    const created = await requestJson(node, "POST", "/v1/tenants", {
      id: "dave",
      daily_budget_cents: 250,
    }, { key: TEST_ADMIN_KEY });
    const dave = await requestJson(
      node,
      "GET",
      "/v1/tenants/me/budget",
      undefined,
      { key: String(created.body.key) },
    );
    assert.equal(dave.body.tenant, "dave");
    assert.equal(dave.body.limit_cents, 250);
    assert.equal(dave.body.spent_cents, 0);
    assert.equal(dave.body.reserved_cents, 0);
    assert.match(String(dave.body.day), /^\d{4}-\d{2}-\d{2}$/);
    const fallback = await requestJson(node, "GET", "/v1/tenants/me/budget");
    assert.equal(fallback.body.tenant, "default");
    assert.equal(fallback.body.limit_cents, 700);
  } finally {
    await node.close();
  }
});

/**
 * Everything the node's store holds, as text: the SQLite files, or on
 * PostgreSQL every row of every table.
 */
async function storedText(dataDir: string): Promise<string> {
  const url = postgresUrlOf(dataDir);
  if (url === undefined) {
    return ["aos.db", "aos.db-wal"].map((name) =>
      new TextDecoder("latin1").decode(
        Deno.readFileSync(join(dataDir, name)),
      )
    ).join("\n");
  }
  const database = await url;
  const tables = await queryRows(
    database,
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
  );
  const texts: string[] = [];
  for (const { table_name } of tables) {
    const rows = await queryRows(
      database,
      `SELECT row_to_json(t)::text AS row FROM "${table_name}" t`,
    );
    texts.push(...rows.map((row) => String(row.row)));
  }
  assert.ok(texts.length > 0);
  return texts.join("\n");
}
