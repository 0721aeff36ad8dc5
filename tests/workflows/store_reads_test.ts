/**
 * The reads a run costs the store when a client submits it and waits for
 * its end over HTTP: the node answers from what it holds whatever it can
 * (the run's tenant and status while it holds the run or just ended it,
 * the request's API key once seen), and the store answers the rest.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { SqliteStore, type Store } from "../../src/store/mod.ts";
import {
  openTestNode,
  requestJson,
  TEST_ADMIN_KEY,
  THREE_STEP_PLAN,
} from "../support/test_node.ts";

/** `store` with a count of the calls of each method. */
function counted(store: Store): { store: Store; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
        return value.apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

Deno.test("a run awaited over HTTP on the node that holds it reads neither its index row nor its log", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "aos-reads-" });
  const { store, calls } = counted(
    SqliteStore.open(join(dataDir, "aos.db")),
  );
  const node = await openTestNode({ dataDir, store });
  try {
    let keyReads = 0;
    for (let round = 0; round < 3; round++) {
      calls.clear();
      const submitted = await requestJson(
        node,
        "POST",
        "/v1/runs",
        THREE_STEP_PLAN,
      );
      assert.equal(submitted.status, 202);
      const view = await requestJson(
        node,
        "GET",
        `/v1/runs/${submitted.body.run_id}?wait_ms=10000`,
      );
      assert.equal(view.body.status, "succeeded");
      assert.equal(calls.get("getRun"), undefined, "index row read");
      assert.equal(calls.get("readLog"), undefined, "log read");
      assert.equal(calls.get("getTenant"), undefined, "tenant read");
      assert.equal(calls.get("countUnfinishedRuns"), undefined, "count read");
      keyReads += calls.get("findApiKey") ?? 0;
    }
    // The key is read again only when its cached entry is older than its
    // maximum age (2 s): six requests, far fewer reads.
    assert.ok(keyReads <= 3, `${keyReads} key reads for 6 requests`);
    // Another tenant's key still finds no such run, held here or not.
    const other = await requestJson(node, "POST", "/v1/tenants", {
      id: "other",
    }, { key: TEST_ADMIN_KEY });
    const otherKey = String(other.body.key);
    const mine = await requestJson(node, "POST", "/v1/runs", THREE_STEP_PLAN);
    const runId = String(mine.body.run_id);
    for (const wait of ["", "?wait_ms=10000"]) {
      const foreign = await requestJson(
        node,
        "GET",
        `/v1/runs/${runId}${wait}`,
        undefined,
        { key: otherKey },
      );
      assert.equal(foreign.status, 404);
      assert.equal(
        (foreign.body.error as { code?: string }).code,
        "RUN_NOT_FOUND",
      );
    }
  } finally {
    await node.close();
  }
});
