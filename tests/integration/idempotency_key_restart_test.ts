/**
 * The one side effect recording cannot deduplicate: a request a node sent
 * but had not recorded when it died. The server holds the first request's
 * answer until `aos serve` is killed with SIGKILL, so the kill falls between
 * send and record on every run of the test; the restarted node re-executes
 * the same attempt and must send the same `Idempotency-Key`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { idempotencyKey } from "../../src/sandbox/mod.ts";
import { type LogRecord, SqliteStore } from "../../src/store/mod.ts";
import { startServer } from "../support/http_servers.ts";
import { ServerProcess } from "../support/server_process.ts";
import { FIXTURE_SKILLS } from "../support/test_node.ts";

function plan(origin: string) {
  return {
    steps: [
      {
        id: "charge",
        skill: "http_call",
        params: { method: "POST", url: `${origin}/charge`, body: { cents: 5 } },
      },
      {
        id: "order",
        skill: "http_call",
        params: {
          method: "POST",
          url: `${origin}/order`,
          headers: { "Idempotency-Key": "order-7" },
          body: { charge: "{{steps.charge.output.body.id}}" },
        },
      },
      {
        id: "notify",
        skill: "fetcher",
        params: {
          mode: "extism",
          request: { method: "POST", url: `${origin}/notify`, body: "done" },
        },
      },
    ],
  };
}

/** The position of `step`'s one HTTP call in the log. */
function httpCallOf(log: LogRecord[], step: string) {
  const calls = log.filter((record) =>
    record.type === "HostCall" && record.body.step === step &&
    record.body.kind === "http"
  );
  assert.equal(calls.length, 1, `${step} recorded ${calls.length} HTTP calls`);
  const body = calls[0]!.body as {
    attempt: number;
    index: number;
    request: { headers: Record<string, string> };
  };
  return body;
}

Deno.test("kill -9 between an HTTP call's send and its record: the restarted node re-sends it with the same Idempotency-Key, which the log never holds", async () => {
  const keys = new Map<string, (string | null)[]>();
  let arrived: () => void = () => {};
  const chargeArrived = new Promise<void>((resolve) => arrived = resolve);
  let unblock: () => void = () => {};
  const killed = new Promise<void>((resolve) => unblock = resolve);
  await using upstream = startServer(async (request) => {
    const path = new URL(request.url).pathname.slice(1);
    await request.body?.cancel();
    const seen = keys.get(path) ?? [];
    seen.push(request.headers.get("idempotency-key"));
    keys.set(path, seen);
    if (path === "charge" && seen.length === 1) {
      arrived();
      // No answer until the node that sent this is dead.
      await killed;
    }
    return Response.json({ id: `${path}-1` });
  });
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-idempotency-" });
  const args = [
    "--http-allow-loopback",
    `127.0.0.1:${upstream.port}`,
    "--skills-dir",
    join(FIXTURE_SKILLS, "fetcher"),
  ];
  const first = await ServerProcess.start({ dataDir, args });
  let runId: string;
  try {
    const submitted = await first.request(
      "POST",
      "/v1/runs",
      plan(upstream.origin),
    );
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    runId = String(submitted.body.run_id);
    await chargeArrived;
  } finally {
    await first.stop("SIGKILL");
    unblock();
  }

  const store = SqliteStore.open(join(dataDir, "aos.db"));
  const before = await store.readLog(runId);
  await store.close();
  assert.ok(
    !before.some((record) =>
      record.type === "HostCall" && record.body.kind === "http"
    ),
    "the charge was recorded before the kill",
  );

  const second = await ServerProcess.start({ dataDir, args });
  let log: LogRecord[];
  try {
    const view = await second.request("GET", `/v1/runs/${runId}?wait_ms=60000`);
    assert.equal(view.body.status, "succeeded", JSON.stringify(view.body));
    const events = await second.request("GET", `/v1/runs/${runId}/events`);
    log = events.body.events as LogRecord[];
  } finally {
    await second.stop("SIGTERM");
  }

  const charge = httpCallOf(log, "charge");
  const chargeKey = idempotencyKey({
    run_id: runId,
    step: "charge",
    attempt: charge.attempt,
    index: charge.index,
  });
  // Sent twice (once by each process), with one key: one effect.
  assert.deepEqual(keys.get("charge"), [chargeKey, chargeKey]);
  assert.equal(
    log.filter((record) =>
      record.type === "StepStarted" && record.body.step === "charge"
    ).length,
    1,
    "the restart re-executed the same attempt",
  );
  // A key the step set is its own; the Extism http_request path gets one too.
  assert.deepEqual(keys.get("order"), ["order-7"]);
  const notify = httpCallOf(log, "notify");
  assert.deepEqual(keys.get("notify"), [
    idempotencyKey({
      run_id: runId,
      step: "notify",
      attempt: notify.attempt,
      index: notify.index,
    }),
  ]);
  // Live only: the log holds the requests as the skills made them.
  for (const step of ["charge", "notify"]) {
    const names = Object.keys(httpCallOf(log, step).request.headers ?? {});
    assert.ok(
      !names.some((name) => name.toLowerCase() === "idempotency-key"),
      `${step}'s recorded request holds ${names}`,
    );
  }
  assert.doesNotMatch(JSON.stringify(log), /aos1-[0-9a-f]{64}/);

  const replay = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "main.ts",
      "replay",
      "--store",
      join(dataDir, "aos.db"),
      "--runs",
      runId,
      "--json",
    ],
    cwd: new URL("../../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.equal(
    replay.code,
    0,
    decoder.decode(replay.stdout) + decoder.decode(replay.stderr),
  );
  const reports = decoder.decode(replay.stdout).trim().split("\n")
    .map((line) => JSON.parse(line))
    .filter((report) => String(report.source).startsWith("store:"));
  assert.equal(reports.length, 1, JSON.stringify(reports));
  assert.equal(reports[0].run_id, runId);
  assert.equal(reports[0].verdict, "identical", JSON.stringify(reports[0]));
});
