import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type LogRecord,
  SqliteStore,
  type Store,
} from "../../src/store/mod.ts";
import { openTestNode, requestJson } from "../support/test_node.ts";

/**
 * A real SQLite store whose appends of step outcomes fail while `failures`
 * is above zero: the run actor's shell throws, which is a crash, not a
 * skill failure.
 */
function flakyStore(path: string, failures: { left: number }): Store {
  const store = SqliteStore.open(path);
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === "append") {
        return (
          records: readonly LogRecord[],
          options?: { status?: never },
        ) => {
          if (
            failures.left > 0 &&
            records.some((record) => record.type === "StepSucceeded")
          ) {
            failures.left--;
            return Promise.reject(new Error("disk on fire"));
          }
          return target.append(records, options);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const PLAN = {
  steps: [{
    id: "only",
    skill: "json_transform",
    params: { op: "pick", input: { a: 1 }, keys: ["a"] },
  }],
};

Deno.test("a crashed run actor restarts from its log and the run completes", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "aos-supervise-" });
  const failures = { left: 2 };
  const node = await openTestNode({
    dataDir: dir,
    store: flakyStore(join(dir, "aos.db"), failures),
    supervisor: { backoffBaseMs: 1, backoffMaxMs: 2, restartsMax: 5 },
  });
  try {
    const { body } = await requestJson(node, "POST", "/v1/runs", PLAN);
    const view =
      (await requestJson(node, "GET", `/v1/runs/${body.run_id}?wait_ms=30000`))
        .body;
    assert.equal(view.status, "succeeded");
    assert.equal(failures.left, 0);
    const restarts = node.logger.lines.filter((line) =>
      line.event === "actor_restarting"
    );
    assert.equal(restarts.length, 2);
  } finally {
    await node.close();
  }
});

Deno.test("an actor that keeps crashing fails its run with SUPERVISOR_GAVE_UP and the stack in the log", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "aos-supervise-" });
  const node = await openTestNode({
    dataDir: dir,
    store: flakyStore(join(dir, "aos.db"), { left: 1_000 }),
    supervisor: {
      backoffBaseMs: 1,
      backoffMaxMs: 2,
      restartsMax: 3,
      windowMs: 60_000,
    },
  });
  try {
    const { body } = await requestJson(node, "POST", "/v1/runs", PLAN);
    const view =
      (await requestJson(node, "GET", `/v1/runs/${body.run_id}?wait_ms=30000`))
        .body;
    assert.equal(view.status, "failed");
    assert.equal(view.code, "SUPERVISOR_GAVE_UP");
    const events =
      (await requestJson(node, "GET", `/v1/runs/${body.run_id}/events`)).body
        .events as LogRecord[];
    const last = events[events.length - 1]!;
    assert.equal(last.type, "RunFailed");
    assert.match(
      String((last.body.error as { details: { stack: string } }).details.stack),
      /disk on fire/,
    );
  } finally {
    await node.close();
  }
});
