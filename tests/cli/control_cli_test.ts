import assert from "node:assert/strict";
import { join } from "node:path";
import { aos } from "../support/aos_cli.ts";
import { ServerProcess } from "../support/server_process.ts";
import { TEST_TENANT_KEY, THREE_STEP_PLAN } from "../support/test_node.ts";

async function withServer(
  body: (server: ServerProcess, env: Record<string, string>) => Promise<void>,
): Promise<void> {
  const server = await ServerProcess.start({
    dataDir: Deno.makeTempDirSync({ prefix: "aos-cli-control-" }),
  });
  try {
    await body(server, { AOS_URL: server.url, AOS_KEY: TEST_TENANT_KEY });
  } finally {
    await server.stop();
  }
}

async function api(
  server: ServerProcess,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TEST_TENANT_KEY}`,
      "content-type": "application/json",
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

/** Submits `plan` and answers the run once it has ended or paused. */
async function submit(server: ServerProcess, plan: unknown): Promise<string> {
  const created = await api(server, "POST", "/v1/runs", plan);
  assert.equal(created.status, 202, JSON.stringify(created.body));
  return String(created.body.run_id);
}

async function settled(server: ServerProcess, runId: string) {
  return (await api(server, "GET", `/v1/runs/${runId}?wait_ms=30000`)).body;
}

async function signalsOf(server: ServerProcess, runId: string) {
  const { body } = await api(server, "GET", `/v1/runs/${runId}/events`);
  return (body.events as { type: string; body: Record<string, unknown> }[])
    .filter((record) => record.type === "SignalReceived")
    .map((record) => record.body);
}

Deno.test("aos signal sends its JSON payload (inline, from a file or from stdin) to a waiting run", async () => {
  await withServer(async (server, env) => {
    const runId = await submit(server, {
      steps: [
        { id: "first", wait_signal: { name: "go" } },
        { id: "second", wait_signal: { name: "go" } },
        { id: "third", wait_signal: { name: "go" } },
      ],
    });
    const inline = await aos(["signal", runId, "go", '{"ok":true}'], env);
    assert.equal(inline.code, 0, inline.stderr);
    assert.match(
      inline.stdout,
      new RegExp(`^run ${runId} signal go recorded \\(run running\\)$`, "m"),
    );
    const file = join(Deno.makeTempDirSync({ prefix: "aos-signal-" }), "p");
    Deno.writeTextFileSync(file, '[1, "two"]');
    const fromFile = await aos(
      ["signal", runId, "go", "--payload-file", file, "--json"],
      env,
    );
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.deepEqual(JSON.parse(fromFile.stdout), {
      run_id: runId,
      signal: "go",
      status: "running",
      queued: false,
    });
    // A retry with the same key records nothing more.
    for (let attempt = 0; attempt < 2; attempt++) {
      const keyed = await aos(
        [
          "signal",
          runId,
          "go",
          "--payload-file",
          "-",
          "--idempotency-key",
          "k-1",
        ],
        env,
        "null",
      );
      assert.equal(keyed.code, 0, keyed.stderr);
    }
    const view = await settled(server, runId);
    assert.equal(view.status, "succeeded");
    assert.deepEqual(
      (await signalsOf(server, runId)).map((body) => body.payload),
      [{ ok: true }, [1, "two"], null],
    );
  });
});

Deno.test("aos signal refuses a payload that is not JSON before sending anything, and tells an unknown run or a bad name", async () => {
  await withServer(async (server, env) => {
    const runId = await submit(server, {
      steps: [{ id: "gate", wait_signal: { name: "go" } }],
    });
    const bad = await aos(["signal", runId, "go", "{ok: true}"], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /payload is not JSON/);
    const both = await aos(
      ["signal", runId, "go", "1", "--payload-file", "-"],
      env,
      "2",
    );
    assert.equal(both.code, 2);
    const missing = await aos(["signal", runId], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /usage: aos signal/);
    assert.deepEqual(await signalsOf(server, runId), []);

    const unknown = await aos(["signal", "run_0000nothere", "go"], env);
    assert.equal(unknown.code, 3, unknown.stderr);
    const badName = await aos(["signal", runId, "not a name"], env);
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /VALIDATION_QUERY_INVALID/);
    assert.deepEqual(await signalsOf(server, runId), []);
    assert.equal((await aos(["cancel", runId], env)).code, 0);
  });
});

Deno.test("aos resume resumes a paused run, and refuses one that is not paused", async () => {
  await withServer(async (server, env) => {
    // The wait times out at once and, with on_exhausted: pause, pauses the
    // run; resumed, the step gets a fresh attempt (which times out again).
    const runId = await submit(server, {
      steps: [{
        id: "approve",
        wait_signal: { name: "ok", timeout_ms: 1 },
        on_exhausted: "pause",
      }],
    });
    assert.equal((await settled(server, runId)).status, "paused");
    const cents = await aos(
      ["resume", runId, "--budget-cents", "ten"],
      env,
    );
    assert.equal(cents.code, 2);
    assert.match(cents.stderr, /--budget-cents must be a whole number/);
    const params = await aos(["resume", runId, "--params", "{"], env);
    assert.equal(params.code, 2);
    assert.match(params.stderr, /--params is not JSON/);

    const resumed = await aos(
      ["resume", runId, "--budget-cents", "500"],
      env,
    );
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(resumed.stdout.trim(), `run ${runId} running`);
    const { body } = await api(server, "GET", `/v1/runs/${runId}/events`);
    const records = body.events as { type: string; body: unknown }[];
    assert.deepEqual(
      records.filter((record) => record.type === "RunResumed")
        .map((record) => record.body),
      [{ budget_cents: 500 }],
    );
    assert.equal((await aos(["cancel", runId], env)).code, 0);

    const waiting = await submit(server, {
      steps: [{ id: "gate", wait_signal: { name: "go" } }],
    });
    const refused = await aos(["resume", waiting], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /RUN_NOT_PAUSED/);
    assert.equal((await aos(["resume", "run_0000nothere"], env)).code, 3);
    assert.equal((await aos(["cancel", waiting], env)).code, 0);
  });
});

Deno.test("aos fork starts a run from a step of another, with overrides, and tells a step never reached", async () => {
  await withServer(async (server, env) => {
    const parent = await submit(server, THREE_STEP_PLAN);
    assert.equal((await settled(server, parent)).status, "succeeded");
    const overrides = JSON.stringify({
      omit: {
        params: {
          op: "omit",
          input: "{{steps.pick.output.result.customer}}",
          keys: ["name"],
        },
      },
    });
    const forked = await aos(
      ["fork", parent, "--from-step", "omit", "--overrides", overrides],
      env,
    );
    assert.equal(forked.code, 0, forked.stderr);
    const match = new RegExp(
      `^run (run_\\S+) forked from ${parent} at omit \\(its first \\d+ records copied\\)$`,
      "m",
    ).exec(forked.stdout);
    assert.ok(match !== null, forked.stdout);
    const fork = await settled(server, match[1]!);
    assert.equal(fork.status, "succeeded");
    assert.deepEqual(
      (fork.output as { result: unknown }).result,
      { tier: "gold" },
    );

    const usage = await aos(["fork", parent], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--from-step is required/);
    const badJson = await aos(
      ["fork", parent, "--from-step", "omit", "--overrides", "{"],
      env,
    );
    assert.equal(badJson.code, 2);
    const waiting = await submit(server, {
      steps: [
        { id: "gate", wait_signal: { name: "go" } },
        { id: "after", wait_signal: { name: "go" } },
      ],
    });
    const unreached = await aos(
      ["fork", waiting, "--from-step", "after"],
      env,
    );
    assert.equal(unreached.code, 1);
    assert.match(unreached.stderr, /RUN_FORK_STEP_NOT_REACHED/);
    assert.equal((await aos(["cancel", waiting], env)).code, 0);
  });
});
