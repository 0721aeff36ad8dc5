/**
 * Two nodes sharing one PostgreSQL: the back-pressure bound
 * (`AOS_RUNS_ACTIVE_MAX`) is the store's count of unfinished runs, so it
 * holds across nodes, and what a node caches about API keys does not
 * outlive a revocation made on another node.
 */
import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { PostgresStore } from "../../src/store/mod.ts";
import { startTestPostgres } from "../support/postgres.ts";
import {
  openTestNode,
  requestJson,
  TEST_ADMIN_KEY,
} from "../support/test_node.ts";

const NAP = { steps: [{ id: "nap", sleep_ms: 3_600_000 }] };

async function openNodes(url: string, config: { runsActiveMax?: number }) {
  const open = async (nodeId: string) =>
    await openTestNode({
      store: await PostgresStore.open(url),
      config: {
        ...config,
        ownership: { ...DEFAULT_CONFIG.ownership, nodeId, pollMs: 100 },
      },
    });
  const first = await open("one");
  return [first, await open("two")] as const;
}

Deno.test("the back-pressure bound holds across two nodes sharing PostgreSQL", async () => {
  await using database = await startTestPostgres();
  const [one, two] = await openNodes(database.url, { runsActiveMax: 3 });
  try {
    // One at a time, alternating nodes: exactly the bound is accepted.
    const answers = [];
    for (let index = 0; index < 6; index++) {
      const answer = await requestJson(
        index % 2 === 0 ? one : two,
        "POST",
        "/v1/runs",
        NAP,
      );
      answers.push(answer);
    }
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [202, 202, 202, 429, 429, 429],
    );
    for (const refused of answers.slice(3)) {
      const error = refused.body.error as {
        code: string;
        details: { limit: number; unfinished: number };
      };
      assert.equal(error.code, "RUN_QUEUE_FULL");
      assert.equal(error.details.limit, 3);
      assert.equal(error.details.unfinished, 3);
    }
    assert.equal(await one.store.countUnfinishedRuns(), 3);
    // A run ended on one node frees a slot for the other.
    const ended = String(answers[0]!.body.run_id);
    const cancel = await requestJson(one, "POST", `/v1/runs/${ended}/cancel`);
    assert.equal(cancel.status, 202);
    assert.equal((await requestJson(two, "POST", "/v1/runs", NAP)).status, 202);
    assert.equal((await requestJson(one, "POST", "/v1/runs", NAP)).status, 429);
  } finally {
    await one.close();
    await two.close();
  }
});

Deno.test("a key revoked or rotated on one node stops working on the other as soon as the news arrives", async () => {
  await using database = await startTestPostgres();
  const [one, two] = await openNodes(database.url, {});
  try {
    const created = await requestJson(one, "POST", "/v1/tenants", {
      id: "acme",
    }, { key: TEST_ADMIN_KEY });
    const key = String(created.body.key);
    const keyId = String(created.body.key_id);
    const list = (node: typeof one, withKey: string) =>
      requestJson(node, "GET", "/v1/runs", undefined, { key: withKey });
    // Both nodes have the key cached.
    assert.equal((await list(one, key)).status, 200);
    assert.equal((await list(two, key)).status, 200);
    // Whatever `two` hears of revocations, it has cleared its cache by then.
    const heard = () =>
      new Promise<void>((resolve) => {
        const stop = two.store.onApiKeysRevoked(() => {
          stop();
          resolve();
        });
      });
    let news = heard();
    const revoked = await requestJson(
      one,
      "POST",
      `/v1/tenants/acme/keys/${keyId}/revoke`,
      undefined,
      { key: TEST_ADMIN_KEY },
    );
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal((await list(one, key)).status, 401, "at once where revoked");
    await news;
    assert.equal((await list(two, key)).status, 401, "on the other node");

    // Rotation: the tenant's other keys stop working everywhere.
    const issued = await requestJson(
      one,
      "POST",
      "/v1/tenants/acme/keys",
      undefined,
      { key: TEST_ADMIN_KEY },
    );
    const second = String(issued.body.key);
    assert.equal((await list(two, second)).status, 200);
    news = heard();
    const rotated = await requestJson(
      one,
      "POST",
      "/v1/tenants/acme/rotate",
      undefined,
      { key: TEST_ADMIN_KEY },
    );
    assert.equal(rotated.status, 201, JSON.stringify(rotated.body));
    await news;
    assert.equal((await list(two, second)).status, 401);
    assert.equal((await list(two, String(rotated.body.key))).status, 200);
  } finally {
    await one.close();
    await two.close();
  }
});
