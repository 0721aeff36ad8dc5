/**
 * A run's own continuations (a reservation's answer, a step's outcome) are
 * appended without waiting for the disk; nothing outside the process may
 * depend on them before they are durable. These tests count the syncs a
 * run waits for, look at the store's durable watermark from an HTTP server
 * a step calls, and check every record observers hear of, on SQLite and on
 * PostgreSQL.
 */
import assert from "node:assert/strict";
import type { AosNode } from "../../src/node/mod.ts";
import type { LogRecord, Store } from "../../src/store/mod.ts";
import { withAppendHooks } from "../support/append_hooks.ts";
import { startServer } from "../support/http_servers.ts";
import { storeFlavours } from "../support/store_flavours.ts";
import {
  openTestNode,
  requestJson,
  TEST_TENANT_KEY,
  THREE_STEP_PLAN,
} from "../support/test_node.ts";

/**
 * The store, with the commit count each appended record was committed at
 * (the watermark right after its append resolved): a record is on disk once
 * `durability().durable` has reached that count.
 */
function trackingStore(store: Store) {
  const commitOf = new Map<string, number>();
  const wrapped = withAppendHooks(store, {
    after(records) {
      const committed = store.durability().committed;
      for (const record of records) {
        commitOf.set(`${record.run_id}#${record.seq}`, committed);
      }
    },
  });
  return {
    store: wrapped,
    /** True when `record` is on disk now (records made by createRun always are). */
    durable(record: { run_id: string; seq: number }): boolean {
      const commit = commitOf.get(`${record.run_id}#${record.seq}`);
      return commit === undefined ||
        store.durability().durable >= commit;
    },
  };
}

// Claims and lease renewals are durable writes with syncs of their own:
// kept out of the measured window.
const QUIET = {
  ownership: {
    nodeId: "local",
    leaseMs: 600_000,
    pollMs: 600_000,
    runsMax: 256,
  },
};

/** A fresh store of each kind: a SQLite file, a PostgreSQL database. */
const { flavours: FLAVOURS, stop: stopPostgres } = storeFlavours();

async function nodeFor(
  flavour: (typeof FLAVOURS)[number],
  config: Record<string, unknown> = {},
): Promise<{ node: AosNode; durable: (record: LogRecord) => boolean }> {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-durable-" });
  const tracked = trackingStore(await flavour.open(dataDir));
  const node = await openTestNode({
    dataDir,
    store: tracked.store,
    config: { ...QUIET, ...config },
  });
  return { node, durable: tracked.durable };
}

for (const flavour of FLAVOURS) {
  Deno.test(`${flavour.name}: a pure three-step run waits for two syncs (its creation and its end), not seven`, async () => {
    const { node } = await nodeFor(flavour);
    try {
      // A first run warms the skill pool; the second is measured.
      for (const measured of [false, true]) {
        const before = node.store.durability().syncs;
        const submitted = await requestJson(
          node,
          "POST",
          "/v1/runs",
          THREE_STEP_PLAN,
        );
        assert.equal(submitted.status, 202);
        const runId = String(submitted.body.run_id);
        const view = await requestJson(
          node,
          "GET",
          `/v1/runs/${runId}?wait_ms=30000`,
        );
        assert.equal(view.body.status, "succeeded");
        if (!measured) continue;
        const syncs = node.store.durability().syncs - before;
        assert.equal(syncs, 2, `the run waited for ${syncs} syncs`);
        const log = await node.store.readLog(runId);
        // Free steps hold no budget: submission, three starts and outcomes, the end.
        assert.equal(log.length, 8, log.map((r) => r.type).join(","));
      }
    } finally {
      await node.close();
    }
  });

  Deno.test(`${flavour.name}: an HTTP step's request leaves only once its StepStarted and everything before it are on disk`, async () => {
    const holder: { node?: AosNode } = {};
    let seen:
      | { watermark: { committed: number; durable: number }; log: LogRecord[] }
      | undefined;
    let runId = "";
    await using upstream = startServer(async (request) => {
      await request.body?.cancel();
      // The store's durable watermark as the request arrives: every commit
      // made so far (the step's StepStarted among them) is on disk.
      const watermark = holder.node!.store.durability();
      seen = { watermark, log: await holder.node!.store.readLog(runId) };
      return Response.json({ ok: true });
    });
    const opened = await nodeFor(flavour, {
      http: {
        loopbackAllowlist: [{ host: "127.0.0.1", port: upstream.port }],
        bodyBytesMax: 1024 * 1024,
        externalEnabled: false,
      },
    });
    const node = holder.node = opened.node;
    try {
      const submitted = await requestJson(node, "POST", "/v1/runs", {
        steps: [
          {
            id: "shape",
            skill: "json_transform",
            params: { op: "pick", input: { a: 1, b: 2 }, keys: ["a"] },
          },
          {
            id: "call",
            skill: "http_call",
            params: {
              method: "POST",
              url: `${upstream.origin}/effect`,
              body: "{{steps.shape.output.result}}",
            },
          },
        ],
      });
      assert.equal(submitted.status, 202);
      runId = String(submitted.body.run_id);
      const view = await requestJson(
        node,
        "GET",
        `/v1/runs/${runId}?wait_ms=30000`,
      );
      assert.equal(view.body.status, "succeeded", JSON.stringify(view.body));
      assert.ok(seen !== undefined, "the request arrived");
      const started = seen.log.find((record) =>
        record.type === "StepStarted" && record.body.step === "call"
      );
      assert.ok(started !== undefined, "StepStarted is in the log");
      assert.equal(
        seen.watermark.durable,
        seen.watermark.committed,
        `commits not on disk when the request arrived: ${
          JSON.stringify(seen.watermark)
        }`,
      );
    } finally {
      await node.close();
    }
  });

  Deno.test(`${flavour.name}: observers (record watchers, an event stream, a waiting client) hear only of records on disk`, async () => {
    const { node, durable } = await nodeFor(flavour);
    try {
      const submitted = await requestJson(node, "POST", "/v1/runs", {
        steps: [
          ...THREE_STEP_PLAN.steps,
          {
            // Long enough that the records before it would stay committed
            // and unsynced while it runs, if observers did not ask for a sync.
            id: "slow",
            skill: "spin",
            params: { iterations: 30_000_000, value: 1 },
          },
        ],
      });
      assert.equal(submitted.status, 202);
      const runId = String(submitted.body.run_id);
      const early: string[] = [];
      const check = (where: string, record: LogRecord) => {
        if (!durable(record)) {
          early.push(`${where}: ${record.seq} ${record.type}`);
        }
      };
      const unwatch = node.runtime.watchRecords(
        runId,
        (record) => check("watcher", record),
      );
      const response = await node.app.request(
        `/v1/runs/${runId}/events?follow=1`,
        { headers: { authorization: `Bearer ${TEST_TENANT_KEY}` } },
      );
      const reader = response.body!.pipeThrough(new TextDecoderStream())
        .getReader();
      let text = "";
      let streamed = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
        const blocks = text.split("\n\n");
        text = blocks.pop()!;
        for (const block of blocks) {
          const data = block.split("\n").find((line) =>
            line.startsWith("data: ")
          );
          if (!block.includes("event: record") || data === undefined) continue;
          check("stream", JSON.parse(data.slice(6)) as LogRecord);
          streamed++;
        }
      }
      unwatch();
      const view = await requestJson(
        node,
        "GET",
        `/v1/runs/${runId}?wait_ms=30000`,
      );
      assert.equal(view.body.status, "succeeded");
      const log = await node.store.readLog(runId);
      assert.equal(streamed, log.length, "the stream sent every record");
      assert.deepEqual(early, [], "records heard of before they were on disk");
    } finally {
      await node.close();
    }
  });
}

Deno.test("durable-before-observed tests: stop the test database", async () => {
  await stopPostgres();
});
