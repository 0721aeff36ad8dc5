/**
 * A node paused past its lease (SIGSTOP) loses the run to another node; when
 * it resumes (SIGCONT) the store refuses its append, it drops the run
 * without writing, and the run finishes once, on the other node.
 *
 * To have an append pending at the pause whatever the node does first on
 * resuming, the test stalls the node's append inside PostgreSQL (it holds a
 * lock on the records table), pauses the node, and ends the stalled
 * transaction's connection: on resuming, the node finds its append failed
 * for want of a connection and retries it, fenced by the old epoch.
 */
import assert from "node:assert/strict";
import pgUntyped from "pg";
import { openPostgresStore, verifyChain } from "../../src/store/mod.ts";
import { startTestPostgres } from "../support/postgres.ts";
import type { ServerProcess } from "../support/server_process.ts";
import { startClusterNode, startEffectServer } from "./_cluster.ts";

const LEASE_MS = 1_500;

// pg ships no types (see tests/support/postgres.ts).
const pg = pgUntyped as {
  Client: new (config: { connectionString: string }) => {
    on(event: "error", listener: (error: Error) => void): void;
    connect(): Promise<void>;
    query(text: string): Promise<{ rows: Record<string, unknown>[] }>;
    end(): Promise<void>;
  };
};

/** Resolves once some backend of the nodes' pools waits for a lock. */
async function appendStalled(url: string) {
  // Its own connection, each poll its own transaction: PostgreSQL reads
  // pg_stat_activity once per transaction, so polled inside the admin's open
  // one it would show the same rows forever.
  const watcher = new pg.Client({ connectionString: url });
  watcher.on("error", () => {});
  await watcher.connect();
  try {
    for (;;) {
      const { rows } = await watcher.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'aos' AND datname = current_database() AND wait_event_type = 'Lock'",
      );
      if (Number(rows[0]?.n) > 0) return;
      // Polling the server's own view: there is no event to wait on.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await watcher.end();
  }
}

Deno.test("fencing: a node paused past its lease is refused by the store on resuming and drops the run", async () => {
  const database = await startTestPostgres();
  const effects = startEffectServer();
  const nodes: ServerProcess[] = [];
  const start = async (nodeId: string) => {
    const node = await startClusterNode({
      storeUrl: database.url,
      nodeId,
      allowLoopback: `127.0.0.1:${effects.port}`,
      leaseMs: LEASE_MS,
    });
    nodes.push(node);
    return node;
  };
  try {
    const paused = await start("paused");
    effects.hold();
    const submitted = await paused.request("POST", "/v1/runs", {
      steps: [
        {
          id: "s1",
          skill: "http_call",
          params: { url: `${effects.origin}/effect/fence/s1` },
        },
        {
          id: "s2",
          skill: "http_call",
          params: { url: `${effects.origin}/effect/fence/s2` },
        },
      ],
    });
    assert.equal(submitted.status, 202);
    const runId = String(submitted.body.run_id);
    // The paused node is inside step s1, waiting for the server's answer.
    await effects.requested("fence/s1");
    const admin = new pg.Client({ connectionString: database.url });
    admin.on("error", () => {});
    await admin.connect();
    try {
      await admin.query("BEGIN");
      await admin.query("LOCK TABLE records IN EXCLUSIVE MODE");
      effects.release();
      // The answer arrives; recording it waits for the lock.
      await appendStalled(database.url);
      paused.signal("SIGSTOP");
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'aos' AND datname = current_database()",
      );
      await admin.query("COMMIT");
    } finally {
      await admin.end();
    }
    const successor = await start("successor");
    const claim = await successor.waitFor((line) =>
      line.event === "run_claimed" && line.run_id === runId
    );
    assert.equal(claim.epoch, 2);
    await successor.waitFor((line) =>
      line.event === "run_finished" && line.run_id === runId
    );
    paused.signal("SIGCONT");
    const refused = await paused.waitFor((line) =>
      line.event === "append_refused" && line.run_id === runId
    );
    assert.equal(refused.code, "STORE_LEASE_LOST");
    assert.equal(refused.epoch, 1);
    const lost = await paused.waitFor((line) =>
      line.event === "lease_lost" && line.run_id === runId
    );
    assert.equal(lost.epoch, 1);
    console.log(`the resumed node learnt of the loss by: ${lost.reason}`);

    const store = await openPostgresStore(database.url);
    try {
      const log = await store.readLog(runId);
      assert.equal(verifyChain(log), undefined);
      assert.equal(log.filter((r) => r.type === "RunSucceeded").length, 1);
      assert.equal((await store.getRun(runId))?.status, "succeeded");
      // Nothing the paused node did after resuming reached the log.
      const after = await paused.request("GET", `/v1/runs/${runId}`);
      assert.equal(after.body.status, "succeeded");
      assert.deepEqual(await store.readLog(runId), log);
    } finally {
      await store.close();
    }
    assert.equal(
      paused.lines.filter((line) =>
        line.event === "run_finished" && line.run_id === runId
      ).length,
      0,
      "the paused node finished a run it no longer held",
    );
  } finally {
    for (const node of nodes) node.signal("SIGCONT");
    await Promise.all(nodes.map((node) => node.stop()));
    await effects.close();
    await database.stop();
  }
});
