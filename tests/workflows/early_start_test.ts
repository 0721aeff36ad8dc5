/**
 * A step whose skill can make nothing leave the process starts while the
 * batch holding its StepStarted is still being appended; its outcome is
 * recorded only after that batch, and not at all when the batch is refused
 * or fails. A step that calls out still starts only after its batch. On
 * SQLite and on PostgreSQL.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type {
  StepExecution,
  StepExecutor,
  StepOutcome,
} from "../../actors/run_ports.ts";
import type { AosNode } from "../../src/node/mod.ts";
import type { LogRecord } from "../../src/store/mod.ts";
import { type AppendHooks, withAppendHooks } from "../support/append_hooks.ts";
import { startServer } from "../support/http_servers.ts";
import { storeFlavours } from "../support/store_flavours.ts";
import { assertLogsReplay } from "../support/replay_check.ts";
import {
  FIXTURE_SKILLS,
  openTestNode,
  requestJson,
  submitAndWait,
  TEST_ADMIN_KEY,
} from "../support/test_node.ts";

/** Executions the node's sandbox ran, each with how it ended. */
class WatchedExecutor implements StepExecutor {
  readonly calls: { execution: StepExecution; done: Promise<StepOutcome> }[] =
    [];
  readonly #inner: StepExecutor;

  constructor(inner: StepExecutor) {
    this.#inner = inner;
  }

  /**
   * Set: each execution first passes its barrier (as a call leaving the
   * process would) and reports what the store held when it passed.
   */
  barrierFirst: ((execution: StepExecution) => Promise<void>) | undefined;

  execute(execution: StepExecution): Promise<StepOutcome> {
    const barrierFirst = this.barrierFirst;
    const done = barrierFirst === undefined
      ? this.#inner.execute(execution)
      : barrierFirst(execution).then(() => this.#inner.execute(execution));
    this.calls.push({ execution, done });
    return done;
  }

  staysInProcess(pin: StepExecution["pin"]): boolean {
    return this.#inner.staysInProcess?.(pin) === true;
  }

  /** The latest execution of `step` in `runId`. */
  latest(runId: string, step: string) {
    return this.calls.findLast((call) =>
      call.execution.run_id === runId && call.execution.step === step
    );
  }
}

/**
 * Called with each append before it reaches the store: it may wait, or
 * throw in the store's place.
 */
type BeforeAppend = NonNullable<AppendHooks["before"]>;

const { flavours: FLAVOURS, stop: stopPostgres } = storeFlavours();

async function nodeFor(
  flavour: (typeof FLAVOURS)[number],
  config: Record<string, unknown> = {},
): Promise<{
  node: AosNode & { logger: { lines: { event: string }[] } };
  executor: WatchedExecutor;
  before: { hook?: BeforeAppend | undefined };
}> {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-early-" });
  const before: { hook?: BeforeAppend | undefined } = {};
  let executor: WatchedExecutor | undefined;
  const node = await openTestNode({
    dataDir,
    store: withAppendHooks(await flavour.open(dataDir), {
      before: (records) => before.hook?.(records),
    }),
    config: { extraSkillDirs: [join(FIXTURE_SKILLS, "priced")], ...config },
    supervisor: { backoffBaseMs: 1 },
    executor: (sandbox) => executor = new WatchedExecutor(sandbox),
  });
  return { node, executor: executor!, before };
}

/** The StepStarted of `step` among `records`, if any. */
function startOf(records: readonly LogRecord[], step: string) {
  return records.find((record) =>
    record.type === "StepStarted" && record.body.step === step
  );
}

const CHAIN = [
  {
    id: "first",
    skill: "json_transform",
    params: { op: "pick", input: { a: 1, b: 2 }, keys: ["a"] },
  },
  {
    id: "second",
    skill: "json_transform",
    params: {
      op: "merge",
      input: "{{steps.first.output.result}}",
      with: { c: 3 },
    },
  },
];

for (const flavour of FLAVOURS) {
  Deno.test(`${flavour.name}: a pure step runs while its StepStarted is appended, its outcome is recorded after it, and an HTTP step starts only after its batch`, async () => {
    await using upstream = startServer(async (request) => {
      await request.body?.cancel();
      return Response.json({ ok: true });
    });
    const { node, executor, before } = await nodeFor(flavour, {
      http: {
        loopbackAllowlist: [{ host: "127.0.0.1", port: upstream.port }],
        bodyBytesMax: 1024 * 1024,
        externalEnabled: false,
      },
    });
    try {
      // A first run loads json_transform's module: until then the sandbox
      // cannot say its calls stay in the process, and steps start after.
      const warm = await submitAndWait(node, { steps: CHAIN });
      assert.equal(warm.view.status, "succeeded");

      const seen: string[] = [];
      before.hook = async (records) => {
        for (const record of records) {
          if (record.type !== "StepStarted") continue;
          const step = String(record.body.step);
          const call = executor.latest(record.run_id, step);
          if (step === "call") {
            seen.push(
              `call: ${call === undefined ? "not started" : "started"}`,
            );
            continue;
          }
          if (call === undefined) {
            seen.push(`${step}: not started`);
            continue;
          }
          // The step's whole call ends before its StepStarted is appended,
          // and what it produced is not in the log yet.
          const outcome = await call.done;
          const log = await node.store.readLog(record.run_id);
          const recorded = log.some((other) =>
            other.type === "StepSucceeded" && other.body.step === step
          );
          seen.push(
            `${step}: ${outcome.ok ? "ran" : "failed"} before its append${
              recorded ? ", outcome already recorded" : ""
            }`,
          );
        }
      };
      const { runId, view: ended } = await submitAndWait(node, {
        steps: [
          ...CHAIN,
          {
            id: "call",
            skill: "http_call",
            params: {
              method: "POST",
              url: `${upstream.origin}/effect`,
              body: "{{steps.second.output.result}}",
            },
          },
        ],
      });
      before.hook = undefined;
      assert.equal(ended.status, "succeeded", JSON.stringify(ended));
      // The first step's StepStarted is written with the run (it starts
      // with its creation, no append of its own); the second's is appended
      // while its call runs.
      assert.deepEqual(seen, [
        "second: ran before its append",
        "call: not started",
      ]);
      const log = await node.store.readLog(runId);
      assert.equal(startOf(log, "first")?.seq, 1);
      // Every outcome comes after its StepStarted in the log.
      for (const step of ["first", "second", "call"]) {
        const started = startOf(log, step);
        const succeeded = log.find((record) =>
          record.type === "StepSucceeded" && record.body.step === step
        );
        assert.ok(started !== undefined && succeeded !== undefined, step);
        assert.ok(started.seq < succeeded.seq, step);
      }
      await assertLogsReplay(node.registry, [log]);
    } finally {
      await node.close();
    }
  });

  Deno.test(`${flavour.name}: a barrier asked by a step started early passes only once its StepStarted is appended and on disk`, async () => {
    const { node, executor } = await nodeFor(flavour);
    try {
      const warm = await submitAndWait(node, { steps: CHAIN });
      assert.equal(warm.view.status, "succeeded");
      // The sandbox never lets such a skill reach a barrier; this checks
      // the actor's side should one ever be asked for.
      const seen: string[] = [];
      executor.barrierFirst = async (execution) => {
        await execution.hostCalls.barrier?.();
        const log = await node.store.readLog(execution.run_id);
        const { committed, durable } = node.store.durability();
        seen.push(
          `${execution.step}: ${
            startOf(log, execution.step) === undefined
              ? "StepStarted missing"
              : "StepStarted in the log"
          }, ${committed === durable ? "durable" : "not durable"}`,
        );
      };
      const { view: ended } = await submitAndWait(node, { steps: CHAIN });
      executor.barrierFirst = undefined;
      assert.equal(ended.status, "succeeded", JSON.stringify(ended));
      assert.deepEqual(seen, [
        "first: StepStarted in the log, durable",
        "second: StepStarted in the log, durable",
      ]);
    } finally {
      await node.close();
    }
  });

  Deno.test(`${flavour.name}: a step started early whose batch is refused its reservation is never recorded, whichever append refuses it`, async () => {
    const { node, executor, before } = await nodeFor(flavour);
    try {
      // Loads priced's module (the default tenant has no daily limit).
      const warm = await submitAndWait(node, {
        steps: [{ id: "w", skill: "priced", params: { label: "w" } }],
      });
      assert.equal(warm.view.status, "succeeded");
      // A priced step reserves 3 cents. With 2 cents the first step's own
      // reservation is refused; with 3 the second's, folded onto the
      // first's outcome.
      for (
        const [tenant, cents, refused] of [["two", 2, "a"], [
          "three",
          3,
          "b",
        ]] as const
      ) {
        const created = await requestJson(node, "POST", "/v1/tenants", {
          id: tenant,
          daily_budget_cents: cents,
        }, { key: TEST_ADMIN_KEY });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const key = String(created.body.key);
        const seen: string[] = [];
        before.hook = async (records) => {
          const started = startOf(records, refused);
          if (started === undefined) return;
          const call = executor.latest(started.run_id, refused);
          if (call === undefined) {
            seen.push("not started early");
            return;
          }
          // The outcome is ready before the store refuses the batch.
          const outcome = await call.done;
          seen.push(outcome.ok ? "ran" : "failed");
        };
        // Paused rather than ended by the refusal, the run's actor stays on
        // and would take a late outcome; the cancel queued after it ends the
        // run once the actor has handled everything before it.
        const submitted = await requestJson(node, "POST", "/v1/runs", {
          on_budget_exhausted: "pause",
          steps: [
            { id: "a", skill: "priced", params: { label: "a" } },
            {
              id: "b",
              skill: "priced",
              params: { label: "{{steps.a.output.label}}" },
            },
          ],
        }, { key });
        assert.equal(submitted.status, 202);
        const runId = String(submitted.body.run_id);
        await node.runtime.waitForRecord(
          runId,
          (record) => record.type === "RunPaused",
        );
        before.hook = undefined;
        const cancelled = await requestJson(
          node,
          "POST",
          `/v1/runs/${runId}/cancel`,
          undefined,
          { key },
        );
        assert.equal(cancelled.status, 202, JSON.stringify(cancelled.body));
        await node.runtime.waitForRecord(
          runId,
          (record) => record.type === "RunCancelled",
        );
        assert.deepEqual(seen, ["ran"], tenant);
        const log = await node.store.readLog(runId);
        const ofStep = log.filter((record) =>
          record.body.step === refused &&
          (record.type.startsWith("Step") || record.type === "BudgetRefused")
        ).map((record) => record.type);
        assert.deepEqual(ofStep, ["BudgetRefused"], tenant);
        await assertLogsReplay(node.registry, [log]);
      }
      const crashes = node.logger.lines.filter((line) =>
        line.event === "actor_restarting" || line.event === "step_outcome_lost"
      );
      assert.deepEqual(crashes, []);
    } finally {
      await node.close();
    }
  });

  Deno.test(`${flavour.name}: when the append of a step started early fails, the actor restarts and runs the step again, recording one outcome`, async () => {
    const { node, executor, before } = await nodeFor(flavour);
    try {
      const warm = await submitAndWait(node, { steps: CHAIN });
      assert.equal(warm.view.status, "succeeded");
      let failed = 0;
      before.hook = async (records) => {
        const started = startOf(records, "second");
        if (started === undefined || failed > 0) return;
        const call = executor.latest(started.run_id, "second");
        assert.ok(call !== undefined, "the step started early");
        await call.done;
        failed++;
        throw new Error("the disk is gone");
      };
      const { runId, view: ended } = await submitAndWait(node, {
        steps: CHAIN,
      });
      before.hook = undefined;
      assert.equal(ended.status, "succeeded", JSON.stringify(ended));
      assert.equal(failed, 1);
      const runs = executor.calls.filter((call) =>
        call.execution.run_id === runId && call.execution.step === "second"
      );
      assert.equal(runs.length, 2, "run once early, once after the restart");
      const log = await node.store.readLog(runId);
      const ofStep = log.filter((record) =>
        record.body.step === "second" && record.type.startsWith("Step")
      ).map((record) => record.type);
      assert.deepEqual(ofStep, ["StepStarted", "StepSucceeded"]);
      assert.equal(
        node.logger.lines.filter((line) => line.event === "actor_restarting")
          .length,
        1,
      );
      await assertLogsReplay(node.registry, [log]);
    } finally {
      await node.close();
    }
  });
}

Deno.test("early-start tests: stop the test database", async () => {
  await stopPostgres();
});
