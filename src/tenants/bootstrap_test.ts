import assert from "node:assert/strict";
import { join } from "node:path";
import { SeededRandom } from "../deps/mod.ts";
import { sha256Hex, SqliteStore } from "../store/mod.ts";
import { openTestNode, requestJson } from "../../tests/support/test_node.ts";
import { bootstrapKeys } from "./bootstrap.ts";

function freshStore(): SqliteStore {
  const dir = Deno.makeTempDirSync({ prefix: "aos-bootstrap-" });
  return SqliteStore.open(join(dir, "aos.db"), { synchronous: "NORMAL" });
}

Deno.test("bootstrapKeys() seeds the given keys into an empty store only", async () => {
  const store = freshStore();
  try {
    const adminKey = "bootstrap-admin-key-0123456789";
    const tenantKey = "bootstrap-tenant-key-0123456789";
    const random = new SeededRandom(1);
    const first = await bootstrapKeys(store, {
      adminKey,
      tenantKey,
      random,
      nowMs: 5,
    });
    assert.deepEqual(first, { seeded: true, generated: false });
    assert.equal((await store.findApiKey(sha256Hex(adminKey)))?.role, "admin");
    const tenant = await store.findApiKey(sha256Hex(tenantKey));
    assert.equal(tenant?.tenant, "default");
    const again = await bootstrapKeys(store, {
      adminKey: "another-admin-key-0123456789",
      random,
      nowMs: 6,
    });
    assert.deepEqual(again, { seeded: false });
    assert.equal(
      await store.findApiKey(sha256Hex("another-admin-key-0123456789")),
      undefined,
    );
  } finally {
    await store.close();
  }
});

Deno.test("bootstrapKeys() makes fresh development keys when none are given", async () => {
  const store = freshStore();
  try {
    const result = await bootstrapKeys(store, {
      random: new SeededRandom(2),
      nowMs: 5,
    });
    assert.ok(result.seeded && result.generated);
    assert.match(result.tenantKey, /^aos_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(result.adminKey, result.tenantKey);
    assert.equal(
      (await store.findApiKey(sha256Hex(result.tenantKey)))?.tenant,
      "default",
    );
  } finally {
    await store.close();
  }
});

Deno.test({
  name:
    "the embedded default shows a working development key on its first start only",
  // Test nodes on PostgreSQL (AOS_TEST_STORE=postgres) are not the embedded default.
  ignore: Deno.env.get("AOS_TEST_STORE") === "postgres",
}, async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-devkey-" });
  const first = await openTestNode({ dataDir, config: { bootstrap: {} } });
  let tenantKey: string;
  try {
    const shown = first.logger.lines.find((line) =>
      line.event === "development_keys"
    );
    assert.ok(shown, "no development key was shown");
    tenantKey = String(shown.tenant_key);
    const answer = await requestJson(first, "GET", "/v1/runs", undefined, {
      key: tenantKey,
    });
    assert.equal(answer.status, 200);
    const admin = await requestJson(first, "GET", "/v1/tenants", undefined, {
      key: String(shown.admin_key),
    });
    assert.equal(admin.status, 200);
  } finally {
    await first.close();
  }
  const second = await openTestNode({ dataDir, config: { bootstrap: {} } });
  try {
    assert.ok(
      !second.logger.lines.some((line) => line.event === "development_keys"),
    );
    const answer = await requestJson(second, "GET", "/v1/runs", undefined, {
      key: tenantKey,
    });
    assert.equal(answer.status, 200, "the first start's key still works");
  } finally {
    await second.close();
  }
});
