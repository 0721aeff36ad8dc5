import assert from "node:assert/strict";
import {
  openTestNode,
  requestJson,
  THREE_STEP_PLAN,
} from "../../tests/support/test_node.ts";
import { verifyChain } from "../store/mod.ts";

Deno.test("POST /v1/runs runs a 3-step plan to success and GET shows its outputs", async () => {
  const node = await openTestNode();
  try {
    const submitted = await requestJson(
      node,
      "POST",
      "/v1/runs",
      THREE_STEP_PLAN,
    );
    assert.equal(submitted.status, 202);
    const runId = String(submitted.body.run_id);
    assert.equal(submitted.headers.get("location"), `/v1/runs/${runId}`);
    const view = await requestJson(
      node,
      "GET",
      `/v1/runs/${runId}?wait_ms=30000`,
    );
    assert.equal(view.status, 200);
    assert.equal(view.body.status, "succeeded");
    const output = view.body.output as { result: unknown; result_hash: string };
    assert.deepEqual(output.result, { name: "Ada" });
    assert.match(output.result_hash, /^[0-9a-f]{64}$/);
    const steps = view.body.steps as {
      id: string;
      status: string;
      output: unknown;
    }[];
    assert.deepEqual(steps.map((step) => [step.id, step.status]), [
      ["extract", "succeeded"],
      ["pick", "succeeded"],
      ["omit", "succeeded"],
    ]);
    assert.deepEqual((steps[1]!.output as { result: unknown }).result, {
      customer: { name: "Ada", tier: "gold" },
      id: 7,
    });
    const events = await requestJson(node, "GET", `/v1/runs/${runId}/events`);
    const records = events.body.events as Parameters<typeof verifyChain>[0];
    assert.equal(verifyChain(records), undefined);
    assert.equal(events.body.digest, records[records.length - 1]!.hash);
    assert.equal(view.body.digest, events.body.digest);
    const metrics = await (await node.app.request("/metrics")).text();
    assert.match(metrics, /nova_runs_total\{status="succeeded"\} 1/);
    assert.match(
      metrics,
      /nova_skill_attempts_total\{skill="json_transform",outcome="succeeded"\} 3/,
    );
    assert.match(
      metrics,
      /nova_skill_duration_seconds_count\{skill="json_transform",version="1.1.0"\} 3/,
    );
  } finally {
    await node.close();
  }
});

Deno.test("a failing skill fails the run with the skill's catalog code", async () => {
  const node = await openTestNode();
  try {
    const plan = {
      steps: [{
        id: "x",
        skill: "json_transform",
        params: { op: "extract", input: { a: 1 }, path: "$.b" },
      }],
    };
    const { body } = await requestJson(node, "POST", "/v1/runs", plan);
    const view = await requestJson(
      node,
      "GET",
      `/v1/runs/${body.run_id}?wait_ms=30000`,
    );
    assert.equal(view.body.status, "failed");
    const error = view.body.error as {
      code: string;
      category: string;
      details: Record<string, unknown>;
    };
    assert.equal(error.code, "ERR_JSON_PATH_NOT_FOUND");
    assert.equal(error.category, "PERMANENT");
    const metrics = await (await node.app.request("/metrics")).text();
    assert.match(
      metrics,
      /nova_runs_failed_total\{code="ERR_JSON_PATH_NOT_FOUND"\} 1/,
    );
  } finally {
    await node.close();
  }
});

Deno.test("bad submissions are refused with 400 and a specific code, and nothing is stored", async () => {
  const node = await openTestNode();
  try {
    const table: [string, unknown, string, string?][] = [
      ["non-JSON body", "{not json", "VALIDATION_JSON_MALFORMED"],
      [
        "wrong shape",
        { steps: [{ id: "a", skill: 5 }] },
        "VALIDATION_BODY_INVALID",
        "/steps/0/skill",
      ],
      ["unknown field", {
        steps: [{ id: "a", skill: "json_transform" }],
        surprise: 1,
      }, "VALIDATION_BODY_INVALID"],
      [
        "unknown skill",
        { steps: [{ id: "a", skill: "no_such_skill" }] },
        "PLAN_UNKNOWN_SKILL",
        "/steps/0/skill",
      ],
      ["unknown version", {
        steps: [{ id: "a", skill: "json_transform@9.9.9" }],
      }, "PLAN_UNKNOWN_SKILL"],
      [
        "duplicate id",
        {
          steps: [{ id: "a", skill: "json_transform" }, {
            id: "a",
            skill: "json_transform",
          }],
        },
        "PLAN_DUPLICATE_STEP_ID",
        "/steps/1/id",
      ],
      [
        "missing step",
        {
          steps: [{
            id: "a",
            skill: "json_transform",
            params: { input: "{{steps.ghost.output.x}}" },
          }],
        },
        "PLAN_UNKNOWN_REFERENCE",
        "/steps/0/params/input",
      ],
      ["bad template", {
        steps: [{
          id: "a",
          skill: "json_transform",
          params: { x: "{{steps}}" },
        }],
      }, "PLAN_TEMPLATE_INVALID"],
    ];
    for (const [name, body, code, pointer] of table) {
      const response = await requestJson(node, "POST", "/v1/runs", body);
      assert.equal(response.status, 400, name);
      const error = response.body.error as {
        code: string;
        details: { pointer?: string; issues?: { pointer: string }[] };
      };
      assert.equal(error.code, code, name);
      if (pointer !== undefined) {
        const pointers = [
          error.details.pointer,
          ...(error.details.issues ?? []).map((issue) => issue.pointer),
        ];
        assert.ok(
          pointers.includes(pointer),
          `${name}: ${JSON.stringify(error.details)}`,
        );
      }
    }
    const list = await requestJson(node, "GET", "/v1/runs");
    assert.deepEqual(list.body.runs, []);
  } finally {
    await node.close();
  }
});

Deno.test("unknown runs and routes are 404 with their codes; probes answer", async () => {
  const node = await openTestNode();
  try {
    assert.equal(
      (await requestJson(node, "GET", "/v1/runs/run_nope")).body.error !==
        undefined,
      true,
    );
    const missingRun = await requestJson(
      node,
      "GET",
      "/v1/runs/run_nope/events",
    );
    assert.equal(missingRun.status, 404);
    assert.equal(
      (missingRun.body.error as { code: string }).code,
      "RUN_NOT_FOUND",
    );
    const missingRoute = await requestJson(node, "GET", "/v2/anything");
    assert.equal(missingRoute.status, 404);
    assert.equal(
      (missingRoute.body.error as { code: string }).code,
      "ROUTE_NOT_FOUND",
    );
    assert.equal(
      (await requestJson(node, "GET", "/healthz")).body.status,
      "ok",
    );
    const ready = await requestJson(node, "GET", "/readyz");
    assert.equal(ready.status, 200);
    assert.equal(ready.body.store, true);
    const errors = await requestJson(node, "GET", "/v1/errors");
    assert.ok(
      (errors.body.errors as { code: string }[]).some((entry) =>
        entry.code === "PLAN_UNKNOWN_SKILL"
      ),
    );
    const badQuery = await requestJson(node, "GET", "/v1/runs?limit=0");
    assert.equal(
      (badQuery.body.error as { code: string }).code,
      "VALIDATION_QUERY_INVALID",
    );
  } finally {
    await node.close();
  }
});

Deno.test("GET /v1/runs pages through runs newest first", async () => {
  const node = await openTestNode();
  try {
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) {
      const plan = {
        steps: [{
          id: "a",
          skill: "json_transform",
          params: { op: "pick", input: { n: index }, keys: ["n"] },
        }],
      };
      const { body } = await requestJson(node, "POST", "/v1/runs", plan);
      ids.push(String(body.run_id));
      await requestJson(node, "GET", `/v1/runs/${body.run_id}?wait_ms=30000`);
    }
    const first = await requestJson(node, "GET", "/v1/runs?limit=2");
    const second = await requestJson(
      node,
      "GET",
      `/v1/runs?limit=2&cursor=${first.body.next_cursor}`,
    );
    const seen = [
      ...first.body.runs as { run_id: string }[],
      ...second.body.runs as { run_id: string }[],
    ];
    assert.deepEqual(seen.map((run) => run.run_id), [...ids].reverse());
    assert.equal(second.body.next_cursor, null);
    const succeeded = await requestJson(
      node,
      "GET",
      "/v1/runs?status=succeeded",
    );
    assert.equal((succeeded.body.runs as unknown[]).length, 3);
  } finally {
    await node.close();
  }
});
