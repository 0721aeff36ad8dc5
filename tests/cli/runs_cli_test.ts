import assert from "node:assert/strict";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import {
  emptyHead,
  headAfter,
  type LogRecord,
  sealRecord,
} from "../../src/store/mod.ts";
import { aos, CliProcess } from "../support/aos_cli.ts";
import { ServerProcess } from "../support/server_process.ts";
import { TEST_TENANT_KEY, THREE_STEP_PLAN } from "../support/test_node.ts";

const SLEEPING_PLAN = { steps: [{ id: "nap", sleep_ms: 3_600_000 }] };

function planFile(plan: unknown, name = "plan.yaml"): string {
  const path = join(Deno.makeTempDirSync({ prefix: "aos-plan-" }), name);
  Deno.writeTextFileSync(
    path,
    name.endsWith(".json") ? JSON.stringify(plan) : toYaml(plan),
  );
  return path;
}

async function withServer(
  body: (server: ServerProcess, env: Record<string, string>) => Promise<void>,
  args: string[] = [],
): Promise<void> {
  const server = await ServerProcess.start({
    dataDir: Deno.makeTempDirSync({ prefix: "aos-cli-runs-" }),
    args,
  });
  try {
    await body(server, { AOS_URL: server.url, AOS_KEY: TEST_TENANT_KEY });
  } finally {
    await server.stop();
  }
}

Deno.test("aos run --wait, status, events, runs and export drive a run end to end", async () => {
  await withServer(async (_server, env) => {
    const ran = await aos(["run", planFile(THREE_STEP_PLAN), "--wait"], env);
    assert.equal(ran.code, 0, ran.stderr);
    // The progress line, then the run's steps as a table.
    assert.match(
      ran.stderr,
      /run_\S+ {2}succeeded {2}3\/3 steps done {2}\d+\.\ds/,
    );
    const runId = /^run\s+(run_\S+)$/m.exec(ran.stdout)?.[1];
    assert.ok(runId !== undefined, ran.stdout);
    assert.match(ran.stdout, /^status\s+succeeded$/m);
    assert.match(
      ran.stdout,
      /^STEP\s+STATUS\s+SKILL\s+ATTEMPTS\s+MS\s+RESULT$/m,
    );
    assert.match(ran.stdout, /^omit\s+succeeded\s+json_transform@1\.1\.0/m);

    const status = await aos(["status", runId, "--json"], env);
    assert.equal(status.code, 0, status.stderr);
    const view = JSON.parse(status.stdout);
    assert.equal(view.status, "succeeded");
    assert.deepEqual(view.output.result, { name: "Ada" });

    const events = await aos(["events", runId], env);
    assert.equal(events.code, 0, events.stderr);
    const rows = events.stdout.trim().split("\n");
    assert.match(rows[0]!, /^SEQ\s+AT\s+TYPE\s+DETAIL$/);
    assert.match(rows[1]!, /^0\s+\S+Z\s+RunSubmitted/);
    assert.match(rows[rows.length - 1]!, /RunSucceeded/);
    const jsonEvents = await aos(["events", runId, "--json"], env);
    const records = jsonEvents.stdout.trim().split("\n").map((line) =>
      JSON.parse(line)
    );
    assert.equal(records.length, rows.length - 1);
    assert.equal(records[records.length - 1].hash, view.digest);

    const listed = await aos(["runs", "--skill", "json_transform"], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      /^RUN\s+STATUS\s+CREATED\s+UPDATED\s+RECORDS$/m,
    );
    assert.match(listed.stdout, new RegExp(`^${runId}\\s+succeeded`, "m"));
    const none = await aos(["runs", "--skill", "nonce", "--json"], env);
    assert.deepEqual(JSON.parse(none.stdout).runs, []);

    const exported = await aos(["export", runId], env);
    assert.equal(exported.code, 0, exported.stderr);
    const file = join(
      Deno.makeTempDirSync({ prefix: "aos-export-" }),
      "run.jsonl",
    );
    Deno.writeTextFileSync(file, exported.stdout);
    assert.equal(exported.stdout.trim().split("\n").length, records.length);
    const replayed = await aos(["replay", file]);
    assert.equal(replayed.code, 0, replayed.stdout + replayed.stderr);
    assert.match(replayed.stdout, /1 identical, 0 diverged/);
  });
});

Deno.test("aos run --follow prints records as they come; aos cancel ends the run", async () => {
  await withServer(async (_server, env) => {
    const follow = new CliProcess(
      ["run", planFile(SLEEPING_PLAN, "sleep.json"), "--follow", "--json"],
      env,
    );
    try {
      const timer = JSON.parse(
        await follow.waitForLine("stdout", /"type":"TimerScheduled"/),
      );
      const runId = String(timer.run_id);
      const cancelled = await aos(["cancel", runId, "--reason", "enough"], env);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.equal(cancelled.stdout.trim(), `run ${runId} cancelled`);
      const result = await follow.finished();
      assert.equal(result.code, 1, "a cancelled run is not a success");
      const types = result.stdout.trim().split("\n").map((line) =>
        JSON.parse(line).type
      );
      assert.deepEqual(types.slice(0, 2), ["RunSubmitted", "TimerScheduled"]);
      assert.equal(types[types.length - 1], "RunCancelled");
      assert.match(
        result.stderr,
        new RegExp(`${runId} {2}\\d+ records {2}last RunCancelled`),
      );
      const again = await aos(["cancel", runId], env);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /RUN_ALREADY_FINISHED/);
    } finally {
      await follow.kill();
    }
  });
});

/** `nova_http_requests_total` of `route` (every status), from the server's metrics. */
async function requestsOf(url: string, route: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`nova_http_requests_total{route="${route}",`)) {
      total += Number(line.split(" ").pop());
    }
  }
  return total;
}

Deno.test("aos run --wait has a short run done in one request: the submission waits for it", async () => {
  await withServer(async (server, env) => {
    const submitsBefore = await requestsOf(server.url, "/v1/runs");
    const viewsBefore = await requestsOf(server.url, "/v1/runs/:id");
    const ran = await aos(
      ["run", planFile(THREE_STEP_PLAN), "--wait", "--json"],
      env,
    );
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(JSON.parse(ran.stdout).status, "succeeded");
    assert.match(ran.stderr, /run_\S+ {2}succeeded {2}3\/3 steps done/);
    assert.equal(await requestsOf(server.url, "/v1/runs") - submitsBefore, 1);
    assert.equal(await requestsOf(server.url, "/v1/runs/:id"), viewsBefore);
    // A run that outlasts the first slice is followed by long polls.
    const sleeping = new CliProcess(
      ["run", planFile(SLEEPING_PLAN), "--wait"],
      env,
    );
    try {
      await sleeping.waitForLine("stderr", /run_\S+ {2}running/);
      assert.ok(await requestsOf(server.url, "/v1/runs/:id") > viewsBefore);
    } finally {
      await sleeping.kill();
    }
  });
});

Deno.test("aos run retries a full node with the same Idempotency-Key and starts the run once", async () => {
  await withServer(async (server, env) => {
    const blocker = await aos(["run", planFile(SLEEPING_PLAN)], env);
    assert.equal(blocker.code, 0, blocker.stderr);
    const blockerId = blocker.stdout.trim();
    const waiting = new CliProcess(
      ["run", planFile(THREE_STEP_PLAN), "--wait", "--json"],
      env,
    );
    try {
      await waiting.waitForLine("stderr", /RUN_QUEUE_FULL; retrying in 1s/);
      assert.equal((await aos(["cancel", blockerId], env)).code, 0);
      const result = await waiting.finished();
      assert.equal(result.code, 0, result.stderr);
      const view = JSON.parse(result.stdout);
      assert.equal(view.status, "succeeded");
      const runs = (await server.request("GET", "/v1/runs")).body.runs as {
        run_id: string;
      }[];
      assert.deepEqual(
        runs.map((run) => run.run_id).sort(),
        [blockerId, view.run_id].sort(),
      );
    } finally {
      await waiting.kill();
    }
  }, ["--runs-active-max", "1"]);
});

Deno.test("aos exit codes tell usage, not found, failure and an unreachable server apart", async () => {
  await withServer(async (_server, env) => {
    const missing = await aos(["status", "run_0000nothere"], env);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /RUN_NOT_FOUND/);
    assert.equal((await aos(["events", "run_0000nothere"], env)).code, 3);
    assert.equal((await aos(["export", "run_0000nothere"], env)).code, 3);
    assert.equal((await aos(["cancel", "run_0000nothere"], env)).code, 3);
    assert.equal((await aos(["status"], env)).code, 2);
    assert.equal((await aos(["status", "a", "b"], env)).code, 2);
    assert.equal((await aos(["run"], env)).code, 2);
    assert.equal((await aos(["run", "/nonexistent/plan.yaml"], env)).code, 2);
    assert.equal((await aos(["events", "x", "--from-seq", "-1"], env)).code, 2);
    assert.equal((await aos(["runs", "--colour", "red"], env)).code, 2);
    assert.equal((await aos(["frobnicate"], env)).code, 2);
    const refused = await aos([
      "run",
      planFile({ steps: [{ id: "a", skill: "no_such_skill" }] }),
    ], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /PLAN_UNKNOWN_SKILL/);
    const badQuery = await aos(["runs", "--status", "sleeping"], env);
    assert.equal(badQuery.code, 1);
    assert.match(badQuery.stderr, /VALIDATION_QUERY_INVALID.*\/status/);
    const failed = await aos(
      [
        "run",
        "-",
        "--wait",
      ],
      env,
      JSON.stringify({
        steps: [{
          id: "x",
          skill: "json_transform",
          params: { op: "extract", input: { a: 1 }, path: "$.b" },
        }],
      }),
    );
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /^status\s+failed\s+ERR_JSON_PATH_NOT_FOUND/m);
  });
  const unreachable = await aos(["status", "run_x"], {
    AOS_URL: "http://127.0.0.1:9",
  });
  assert.equal(unreachable.code, 4);
});

Deno.test("aos sends AOS_KEY as Authorization: Bearer", async () => {
  const seen: (string | null)[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, (request) => {
    seen.push(request.headers.get("authorization"));
    return Response.json({
      error: { code: "RUN_NOT_FOUND", message: "no", details: {} },
    }, { status: 404 });
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    const answer = await aos(["status", "run_1"], {
      AOS_URL: url,
      AOS_KEY: "tenant-key-123",
    });
    assert.equal(answer.code, 3);
    const flag = await aos(["status", "run_1", "--url", url, "--key", "k2"], {
      AOS_KEY: "ignored",
    });
    assert.equal(flag.code, 3);
    assert.deepEqual(seen, ["Bearer tenant-key-123", "Bearer k2"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("aos export refuses a log whose hash chain is broken with STORE_CHAIN_BROKEN and writes nothing", async () => {
  const records: LogRecord[] = [];
  let head = emptyHead("run_tampered");
  for (const type of ["RunSubmitted", "Note", "Note"]) {
    const record = sealRecord(head, { type, body: {}, at: 1 });
    records.push(record);
    head = headAfter(record);
  }
  // Someone edited a record without being able to re-seal the chain.
  records[1] = { ...records[1]!, body: { edited: true } };
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, () =>
    Response.json({
      run_id: "run_tampered",
      digest: head.last_hash,
      events: records,
    }));
  try {
    const exported = await aos(["export", "run_tampered"], {
      AOS_URL: `http://127.0.0.1:${server.addr.port}`,
    });
    assert.equal(exported.code, 1);
    assert.equal(exported.stdout, "");
    assert.match(
      exported.stderr,
      /^STORE_CHAIN_BROKEN: the log of run_tampered the server sent is broken at record 1 \(its hash does not match\)/,
    );
  } finally {
    await server.shutdown();
  }
});
