// A skill manifest's `retry` is the default of its steps: pinned with the
// module at submission, overridden by a step's own policy or the plan's
// default, and replayed from the pin.
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import type { LogRecord } from "../../src/store/mod.ts";
import { startServer } from "../support/http_servers.ts";
import { assertLogsReplay } from "../support/replay_check.ts";
import {
  openTestNode,
  requestJson,
  TEST_ADMIN_KEY,
} from "../support/test_node.ts";

const HTTP_CALL = join(PROJECT_ROOT, "skills-wasm", "http_call");

function base64(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

Deno.test("a manifest's retry policy applies to steps without one, and a step's or the plan's own overrides it", async (t) => {
  // Each path fails with 503 twice, then answers.
  const seen = new Map<string, number>();
  await using api = startServer((request) => {
    const path = new URL(request.url).pathname;
    const count = (seen.get(path) ?? 0) + 1;
    seen.set(path, count);
    return count <= 2
      ? new Response("busy", { status: 503 })
      : Response.json({ path, attempts: count });
  });
  const node = await openTestNode({
    config: {
      http: {
        ...DEFAULT_CONFIG.http,
        loopbackAllowlist: [{ host: "127.0.0.1", port: api.port }],
      },
    },
  });
  const run = async (
    id: string,
    plan: Record<string, unknown>,
  ): Promise<{ view: Record<string, unknown>; records: LogRecord[] }> => {
    const submitted = await requestJson(node, "POST", "/v1/runs", plan);
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const runId = String(submitted.body.run_id);
    const view = (await requestJson(
      node,
      "GET",
      `/v1/runs/${runId}?wait_ms=30000`,
    )).body;
    assert.ok(seen.has(`/${id}`), `run ${id} never reached the server`);
    return { view, records: await node.store.readLog(runId) };
  };
  const attempts = (records: LogRecord[]) =>
    records.filter((record) => record.type === "StepStarted").length;
  const logs: LogRecord[][] = [];
  try {
    const manifest = parseYaml(
      await Deno.readTextFile(join(HTTP_CALL, "manifest.yaml")),
    ) as Record<string, unknown>;
    const installed = await requestJson(node, "POST", "/v1/skills", {
      manifest: {
        ...manifest,
        name: "acme.patient_http",
        version: "1.0.0",
        retry: { max_attempts: 3, backoff_ms: 5 },
      },
      module_base64: base64(
        await Deno.readFile(join(HTTP_CALL, "http_call.wasm")),
      ),
    }, { key: TEST_ADMIN_KEY });
    assert.equal(installed.status, 201, JSON.stringify(installed.body));
    const step = (id: string, extra: Record<string, unknown> = {}) => ({
      id,
      skill: "acme.patient_http",
      params: { url: `${api.origin}/${id}` },
      ...extra,
    });

    await t.step(
      "a step without a policy retries by the manifest's, which the run pins",
      async () => {
        const { view, records } = await run("manifest", {
          steps: [step("manifest")],
        });
        logs.push(records);
        assert.equal(view.status, "succeeded", JSON.stringify(view));
        assert.equal(attempts(records), 3);
        const failures = records.filter((record) =>
          record.type === "StepFailed"
        ).map((record) =>
          (record.body as { error: { code: string } }).error.code
        );
        assert.deepEqual(failures, ["ERR_HTTP_5XX", "ERR_HTTP_5XX"]);
        // The delays are the manifest's: 5 ms after the first failure, then
        // 5 × 2 after the second.
        let failedAt = 0;
        const delays: number[] = [];
        for (const record of records) {
          if (record.type === "StepFailed") failedAt = record.at;
          if (record.type === "RetryScheduled") {
            delays.push((record.body as { due_at: number }).due_at - failedAt);
          }
        }
        assert.deepEqual(delays, [5, 10]);
        const pins = (records[0]!.body as {
          pins: Record<string, Record<string, unknown>>;
        }).pins;
        assert.deepEqual(pins["acme.patient_http"]!.retry, {
          max_attempts: 3,
          backoff_ms: 5,
          multiplier: 2,
          backoff_max_ms: 60_000,
        });
      },
    );

    await t.step("a step's own policy overrides the manifest's", async () => {
      const { view, records } = await run("step", {
        steps: [step("step", { retry: { max_attempts: 1 } })],
      });
      logs.push(records);
      assert.equal(view.status, "failed", JSON.stringify(view));
      assert.equal(view.code, "ERR_HTTP_5XX");
      assert.equal(attempts(records), 1);
    });

    await t.step(
      "a plan's default policy overrides the manifest's",
      async () => {
        const { view, records } = await run("plan", {
          steps: [step("plan")],
          defaults: { retry: { max_attempts: 2, backoff_ms: 5 } },
        });
        logs.push(records);
        assert.equal(view.status, "failed", JSON.stringify(view));
        assert.equal(attempts(records), 2);
      },
    );

    await t.step(
      "a skill without a manifest policy is not retried, and its pin has none",
      async () => {
        const { view, records } = await run("builtin", {
          steps: [{
            id: "builtin",
            skill: "http_call",
            params: { url: `${api.origin}/builtin` },
          }],
        });
        logs.push(records);
        assert.equal(view.status, "failed", JSON.stringify(view));
        assert.equal(attempts(records), 1);
        const pins = (records[0]!.body as {
          pins: Record<string, Record<string, unknown>>;
        }).pins;
        assert.equal(pins["http_call"]!.retry, undefined);
      },
    );

    await t.step("the runs replay from their pins", async () => {
      await assertLogsReplay(node.registry, logs);
    });
  } finally {
    await node.close();
  }
});
