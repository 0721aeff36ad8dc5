import assert from "node:assert/strict";
import { manifestSchema } from "../../src/skills/manifest.ts";
import {
  hostileModule,
  MALFORMED_MODULES,
} from "../support/hostile_modules.ts";
import {
  openTestNode,
  requestJson,
  THREE_STEP_PLAN,
} from "../support/test_node.ts";

type Case = {
  module: Parameters<typeof hostileModule>[0] | "malformed";
  params: Record<string, unknown>;
  code: string;
  manifest?: Record<string, unknown>;
};

// Each hostile module, what it tries, and the code its step must fail with.
const CASES: Record<string, Case> = {
  infinite_loop: {
    module: "infinite_loop",
    params: {},
    code: "SANDBOX_TIMEOUT",
    manifest: { timeout_ms: 300 },
  },
  start_loop: {
    module: "start_loop",
    params: {},
    code: "MODULE_START_FORBIDDEN",
  },
  memory_bomb: {
    module: "memory_bomb",
    params: {},
    code: "SANDBOX_MEMORY_LIMIT",
    manifest: { memory_mb: 1 },
  },
  huge_output: {
    module: "huge_output",
    params: { bytes: 67_108_864 },
    code: "SANDBOX_OUTPUT_TOO_LARGE",
  },
  stack_overflow: {
    module: "stack_overflow",
    params: {},
    code: "SANDBOX_TRAP",
  },
  unreachable: { module: "unreachable", params: {}, code: "SANDBOX_TRAP" },
  malformed: { module: "malformed", params: {}, code: "MODULE_INVALID" },
  wasi_import: {
    module: "wasi_import",
    params: {},
    code: "MODULE_IMPORT_FORBIDDEN",
  },
  unknown_import: {
    module: "unknown_import",
    params: {},
    code: "MODULE_IMPORT_FORBIDDEN",
  },
  random_too_big: {
    module: "bad_host_pointers",
    params: { mode: 0 },
    code: "HOST_CALL_INVALID",
  },
  load_out_of_range: {
    module: "bad_host_pointers",
    params: { mode: 1 },
    code: "SANDBOX_TRAP",
  },
  output_length_too_long: {
    module: "bad_host_pointers",
    params: { mode: 2 },
    code: "SANDBOX_TRAP",
  },
  output_missing_block: {
    module: "bad_host_pointers",
    params: { mode: 3 },
    code: "SANDBOX_TRAP",
  },
  store_missing_block: {
    module: "bad_host_pointers",
    params: { mode: 4 },
    code: "SANDBOX_OUTPUT_INVALID",
  },
  input_load_out_of_range: {
    module: "bad_host_pointers",
    params: { mode: 5 },
    code: "SANDBOX_TRAP",
  },
  not_json: { module: "not_json", params: {}, code: "SANDBOX_OUTPUT_INVALID" },
  deep_json: {
    module: "deep_json",
    params: {},
    code: "SANDBOX_OUTPUT_TOO_DEEP",
  },
  declares_huge_memory: {
    module: "declares_huge_memory",
    params: {},
    code: "MODULE_MEMORY_TOO_LARGE",
  },
  no_entrypoint: {
    module: "no_entrypoint",
    params: {},
    code: "MODULE_ENTRYPOINT_MISSING",
  },
};

async function moduleBytes(name: Case["module"]): Promise<Uint8Array> {
  if (name !== "malformed") return await hostileModule(name);
  return MALFORMED_MODULES.truncated_header!.bytes;
}

Deno.test("hostile modules fail their own step with a catalog code; the node and healthy runs carry on", async () => {
  const node = await openTestNode();
  try {
    const rssBeforeBytes = Deno.memoryUsage().rss;
    for (const [name, hostile] of Object.entries(CASES)) {
      const manifest = manifestSchema.parse({
        name: `hostile_${name}`,
        version: "1.0.0",
        input_schema: {},
        output_schema: {},
        timeout_ms: 5_000,
        ...hostile.manifest,
      });
      await node.registry.registerUnchecked(
        manifest,
        await moduleBytes(hostile.module),
        0,
      );
    }
    const submitted = await Promise.all(
      Object.entries(CASES).map(async ([name, hostile]) => {
        const plan = {
          steps: [{
            id: "attack",
            skill: `hostile_${name}`,
            params: hostile.params,
          }],
        };
        const attack = await requestJson(node, "POST", "/v1/runs", plan);
        const healthy = await requestJson(
          node,
          "POST",
          "/v1/runs",
          THREE_STEP_PLAN,
        );
        assert.equal(attack.status, 202, name);
        return {
          name,
          code: hostile.code,
          attack: String(attack.body.run_id),
          healthy: String(healthy.body.run_id),
        };
      }),
    );
    for (const run of submitted) {
      const attack = await requestJson(
        node,
        "GET",
        `/v1/runs/${run.attack}?wait_ms=60000`,
      );
      assert.equal(attack.body.status, "failed", run.name);
      assert.equal(
        (attack.body.error as { code: string }).code,
        run.code,
        `${run.name}: ${JSON.stringify(attack.body.error)}`,
      );
      const healthy = await requestJson(
        node,
        "GET",
        `/v1/runs/${run.healthy}?wait_ms=60000`,
      );
      assert.equal(
        healthy.body.status,
        "succeeded",
        `healthy run beside ${run.name}`,
      );
    }
    const growthMiB = (Deno.memoryUsage().rss - rssBeforeBytes) / 2 ** 20;
    // Workers that trapped or timed out were replaced; nothing the attacks allocated is kept.
    assert.ok(growthMiB < 400, `RSS grew by ${growthMiB.toFixed(0)} MiB`);
    const health = await requestJson(node, "GET", "/healthz");
    assert.equal(health.status, 200);
  } finally {
    await node.close();
  }
});
