/**
 * Three `aos serve` processes share one PostgreSQL: 300 mixed runs spread
 * over them, one node is killed with SIGKILL mid-way and the database is
 * crashed and restarted once. Every run must end `succeeded` exactly once,
 * every side effect must be applied once by the outside world (which
 * honours `Idempotency-Key`, as effect APIs do), every log must
 * replay, and the API must answer 503 (never 500) while the database is
 * away. The test waits on log lines and answers, never on time.
 */
import assert from "node:assert/strict";
import { idempotencyKey } from "../../src/sandbox/mod.ts";
import {
  type LogRecord,
  openPostgresStore,
  verifyChain,
} from "../../src/store/mod.ts";
import { SkillRegistry } from "../../src/skills/registry.ts";
import { assertLogsReplay } from "../support/replay_check.ts";
import { startTestPostgres } from "../support/postgres.ts";
import type { ServerProcess } from "../support/server_process.ts";
import { TEST_TENANT_KEY, THREE_STEP_PLAN } from "../support/test_node.ts";
import {
  clientRequest,
  startClusterNode,
  startEffectServer,
} from "./_cluster.ts";

const RUNS = 300;
// Long enough that a loaded machine stalling a live node never looks like a
// dead one (a takeover would repeat its in-flight call), short for failover.
const LEASE_MS = 6_000;

function plan(index: number, origin: string): Record<string, unknown> {
  const key = `r${index}`;
  const effect = (step: string) => `${origin}/effect/{{context.key}}/${step}`;
  switch (index % 3) {
    case 0:
      return {
        context: { key },
        steps: [
          {
            id: "call",
            skill: "http_call",
            params: {
              method: "POST",
              url: effect("a"),
              body: { index },
              timeout_ms: 25_000,
            },
          },
          {
            id: "pick",
            skill: "json_transform",
            params: {
              op: "extract",
              input: "{{steps.call.output.body}}",
              path: "$.effect",
            },
          },
        ],
      };
    case 1:
      return { context: { key }, ...THREE_STEP_PLAN };
    default:
      return {
        context: { key },
        steps: [
          {
            id: "s1",
            skill: "http_call",
            params: { url: effect("s1"), timeout_ms: 25_000 },
          },
          {
            id: "s2",
            skill: "http_call",
            params: {
              method: "PUT",
              url: effect("s2"),
              body: "{{steps.s1.output.body.effect}}",
              timeout_ms: 25_000,
            },
          },
        ],
      };
  }
}

/**
 * The `Idempotency-Key` each recorded HTTP call of a log was sent with, by
 * key of the effect server: derived from the call's run, step, attempt and
 * index, as every node derives it.
 */
function expectedKeys(log: LogRecord[]): Map<string, string> {
  const keys = new Map<string, string>();
  for (const record of log) {
    if (record.type !== "HostCall" || record.body.kind !== "http") continue;
    const call = record.body as {
      step: string;
      attempt: number;
      index: number;
      request: { url: string };
    };
    const key = new URL(call.request.url).pathname.replace(/^\/effect\//, "");
    keys.set(
      key,
      idempotencyKey({
        run_id: record.run_id,
        step: call.step,
        attempt: call.attempt,
        index: call.index,
      }),
    );
  }
  return keys;
}

/** The side effects run `index` makes, by key of the effect server. */
function effectsOf(index: number): string[] {
  const key = `r${index}`;
  if (index % 3 === 0) return [`${key}/a`];
  if (index % 3 === 1) return [];
  return [`${key}/s1`, `${key}/s2`];
}

Deno.test("cluster: 3 nodes, 300 runs, kill -9 of a node and a PostgreSQL restart: every run succeeds once, every effect happens once, every log replays", async () => {
  const database = await startTestPostgres({
    local: true,
    durableCommits: true,
  });
  const effects = startEffectServer();
  const statuses = new Map<number, number>();
  const seen = (status: number) =>
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  const nodes: ServerProcess[] = [];
  try {
    for (const id of ["n1", "n2", "n3"]) {
      nodes.push(
        await startClusterNode({
          storeUrl: database.url,
          nodeId: id,
          allowLoopback: `127.0.0.1:${effects.port}`,
          leaseMs: LEASE_MS,
        }),
      );
    }
    const [n1, n2, n3] = nodes as [ServerProcess, ServerProcess, ServerProcess];
    const runIds: string[] = [];
    const submit = async (from: number, to: number, via: ServerProcess[]) => {
      for (let index = from; index < to; index++) {
        const node = via[index % via.length]!;
        const response = await clientRequest(`${node.url}/v1/runs`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(plan(index, effects.origin)),
        }, seen);
        const body = await response.json();
        assert.equal(response.status, 202, JSON.stringify(body));
        runIds[index] = String(body.run_id);
      }
    };

    // A third of the runs over all three nodes, then n3 dies holding runs.
    await submit(0, 100, nodes);
    await n3.waitForCount((line) => line.event === "run_claimed", 10);
    // A node creates the runs it accepts held by itself (it has room for
    // all of these): wait until n3 has said so for each, since its log
    // lines reach this process a little after they are made and a run it
    // accepted last may be the one whose call it has in flight when killed.
    const viaVictim = new Set(
      runIds.filter((_, index) => nodes[index % nodes.length] === n3),
    );
    await n3.waitForCount(
      (line) =>
        line.event === "run_claimed" && viaVictim.has(String(line.run_id)),
      viaVictim.size,
    );
    const heldByVictim = new Set(
      n3.lines.filter((line) => line.event === "run_claimed").map((line) =>
        String(line.run_id)
      ),
    );
    await n3.stop("SIGKILL");

    // More runs, one run's side effect held in flight; then the
    // database crashes: the API says 503, not 500.
    effects.hold("r198/a");
    await submit(100, 200, [n1, n2]);
    await effects.requested("r198/a");
    await database.crash!();
    for (const node of [n1, n2]) {
      const authorization = `Bearer ${TEST_TENANT_KEY}`;
      const read = await fetch(`${node.url}/v1/runs/${runIds[0]}`, {
        headers: { authorization },
      });
      await read.body?.cancel();
      assert.equal(read.status, 503);
      assert.ok(Number(read.headers.get("retry-after")) >= 1);
      const write = await fetch(`${node.url}/v1/runs`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization },
        body: JSON.stringify(plan(0, effects.origin)),
      });
      await write.body?.cancel();
      assert.equal(write.status, 503);
    }
    // Answers arrive while the database is away: the run actors wait for it
    // to record them instead of failing or repeating the call.
    effects.release();
    await Promise.race([
      n1.waitFor((line) => line.event === "store_unavailable_waiting"),
      n2.waitFor((line) => line.event === "store_unavailable_waiting"),
    ]);
    await database.startAgain!();
    await submit(200, RUNS, [n1, n2]);

    // Every run ends; ask the live nodes, whichever one ran it.
    for (const [index, runId] of runIds.entries()) {
      const node = index % 2 === 0 ? n1 : n2;
      const response = await clientRequest(
        `${node.url}/v1/runs/${runId}?wait_ms=60000`,
        {},
        seen,
      );
      const view = await response.json();
      assert.equal(
        view.status,
        "succeeded",
        `${runId}: ${JSON.stringify(view)}`,
      );
    }
    assert.equal(statuses.get(500) ?? 0, 0, "the API answered 500");

    const store = await openPostgresStore(database.url);
    try {
      const logs = await Promise.all(runIds.map((id) => store.readLog(id)));
      for (const log of logs) {
        assert.equal(verifyChain(log), undefined);
        assert.equal(
          log.filter((record) => record.type === "RunSucceeded").length,
          1,
          `${log[0]?.run_id} did not succeed exactly once`,
        );
      }
      // Each effect was applied once, for every run, the killed node's
      // included. Raw deliveries may repeat only where recording cannot
      // help: a request a killed node had sent but not yet recorded is sent
      // again by the node that takes the run over, with the same
      // Idempotency-Key (the one its attempt and host-call index give), so
      // the effect server applies it once.
      let redelivered = 0;
      for (const [index, runId] of runIds.entries()) {
        const sentKeys = expectedKeys(logs[index]!);
        for (const key of effectsOf(index)) {
          assert.equal(
            effects.applied.get(key) ?? 0,
            1,
            `effect ${key} of ${runId} was applied ${
              effects.applied.get(key) ?? 0
            } times`,
          );
          const delivered = effects.keys.get(key) ?? [];
          const expected = sentKeys.get(key);
          assert.ok(expected !== undefined, `${runId} recorded no call ${key}`);
          for (const sent of delivered) {
            assert.equal(sent, expected, `effect ${key} of ${runId}: key`);
          }
          if (delivered.length !== 1) {
            assert.ok(
              heldByVictim.has(runId) && delivered.length === 2,
              `effect ${key} of ${runId} was delivered ${delivered.length} times`,
            );
            redelivered++;
          }
        }
      }
      const taken = nodes.map((node) =>
        node.lines.filter((line) => line.event === "run_claimed").length
      );
      console.log(
        `claims per node ${
          taken.join("/")
        }, effects re-delivered after kill -9: ${redelivered} (each applied once), statuses ${
          JSON.stringify(Object.fromEntries(statuses))
        }`,
      );
      assert.ok(taken.every((count) => count > 0), "a node took no work");
      const registry = await SkillRegistry.open(store, {
        limits: { memoryMbMax: 256, moduleBytesMax: 16 * 1024 * 1024 },
      });
      await assertLogsReplay(registry, logs);
    } finally {
      await store.close();
    }
  } catch (error) {
    for (const node of nodes) {
      console.error(node.url, JSON.stringify(node.lines.slice(-8), null, 1));
    }
    throw error;
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
    await effects.close();
    await database.stop();
  }
});
