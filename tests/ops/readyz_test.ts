import assert from "node:assert/strict";
import { join } from "node:path";
import { openTestNode, requestJson } from "../support/test_node.ts";

Deno.test("/readyz is 503 while the store's file is gone and 200 again once it is back", async () => {
  const node = await openTestNode();
  const file = join(node.dataDir, "aos.db");
  const aside = join(node.dataDir, "moved-away.db");
  try {
    const ready = await requestJson(node, "GET", "/readyz");
    assert.equal(ready.status, 200);
    assert.equal(ready.body.status, "ready");
    assert.equal(ready.body.store, true);
    assert.ok(Number(ready.body.skills) > 0);

    await Deno.rename(file, aside);
    const gone = await requestJson(node, "GET", "/readyz");
    assert.equal(gone.status, 503);
    assert.deepEqual(
      { status: gone.body.status, store: gone.body.store },
      { status: "not_ready", store: false },
    );
    // Liveness is not readiness: the process itself is fine.
    assert.equal((await requestJson(node, "GET", "/healthz")).status, 200);

    await Deno.rename(aside, file);
    assert.equal((await requestJson(node, "GET", "/readyz")).status, 200);
  } finally {
    await node.close();
  }
});

Deno.test("/readyz is 503 once the store is closed", async () => {
  const node = await openTestNode();
  try {
    await node.store.close();
    const closed = await requestJson(node, "GET", "/readyz");
    assert.equal(closed.status, 503);
    assert.equal(closed.body.store, false);
  } finally {
    await node.close();
  }
});
