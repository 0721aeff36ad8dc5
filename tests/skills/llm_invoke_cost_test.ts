// What llm_invoke charges: the price table of contracts/llm_invoke.yaml (US
// cents per million tokens), the exact cost rounded up to whole cents, for
// token counts a provider (the fake one on 127.0.0.1) reports; and what the
// run is charged for it.
import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import type { LogRecord } from "../../src/store/mod.ts";
import {
  type ScriptedAnswer,
  startFakeLlmServer,
} from "../support/fake_llm_server.ts";
import { openTestNode, requestJson } from "../support/test_node.ts";

interface Case {
  adapter: "openai" | "anthropic";
  model: string;
  inputTokens: number;
  outputTokens: number;
  /** ceil((input × input price + output × output price) / 10^6) */
  cents: number;
}

const CASES: Case[] = [
  // gpt-4o-mini: 15 cents per million input tokens, 60 per million output.
  {
    adapter: "openai",
    model: "gpt-4o-mini",
    inputTokens: 0,
    outputTokens: 0,
    cents: 0,
  },
  // 15 / 10^6 of a cent is still a cent: any fraction rounds up.
  {
    adapter: "openai",
    model: "gpt-4o-mini",
    inputTokens: 1,
    outputTokens: 0,
    cents: 1,
  },
  {
    adapter: "openai",
    model: "gpt-4o-mini",
    inputTokens: 1_000_000,
    outputTokens: 0,
    cents: 15,
  },
  {
    adapter: "openai",
    model: "gpt-4o-mini",
    inputTokens: 1_000_001,
    outputTokens: 0,
    cents: 16,
  },
  {
    adapter: "openai",
    model: "gpt-4o-mini",
    inputTokens: 0,
    outputTokens: 1_000_000,
    cents: 60,
  },
  // gpt-4o: 250 and 1000. 4000 × 250 is exactly one cent; one output token more is two.
  {
    adapter: "openai",
    model: "gpt-4o",
    inputTokens: 4_000,
    outputTokens: 0,
    cents: 1,
  },
  {
    adapter: "openai",
    model: "gpt-4o",
    inputTokens: 4_000,
    outputTokens: 1,
    cents: 2,
  },
  // claude-3-haiku: 25 and 125; 40000 × 25 + 8000 × 125 = 2 × 10^6.
  {
    adapter: "anthropic",
    model: "claude-3-haiku-20240307",
    inputTokens: 40_000,
    outputTokens: 8_000,
    cents: 2,
  },
  // claude-opus-4: 1500 and 7500; 1234 × 1500 + 567 × 7500 = 6 103 500.
  {
    adapter: "anthropic",
    model: "claude-opus-4-20250514",
    inputTokens: 1_234,
    outputTokens: 567,
    cents: 7,
  },
];

Deno.test("llm_invoke charges the price table's cost rounded up to whole cents, and the run is charged exactly that", async () => {
  await using fake = startFakeLlmServer();
  const node = await openTestNode({
    config: {
      http: {
        ...DEFAULT_CONFIG.http,
        loopbackAllowlist: [{ host: "127.0.0.1", port: fake.port }],
      },
      secrets: { OPENAI_API_KEY: "sk-cost", ANTHROPIC_API_KEY: "sk-ant-cost" },
    },
  });
  try {
    fake.enqueue(...CASES.map((item): ScriptedAnswer => ({
      kind: "reply",
      content: "priced",
      inputTokens: item.inputTokens,
      outputTokens: item.outputTokens,
    })));
    // One step after another (each depends on the one before), so the
    // answers meet the requests in order.
    const submitted = await requestJson(node, "POST", "/v1/runs", {
      steps: CASES.map((item, index) => ({
        id: `call${index}`,
        skill: "llm_invoke",
        params: {
          adapter: item.adapter,
          base_url: fake.origin,
          model: item.model,
          prompt: "price me",
        },
      })),
    });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const runId = String(submitted.body.run_id);
    const view = (await requestJson(
      node,
      "GET",
      `/v1/runs/${runId}?wait_ms=60000`,
    )).body;
    assert.equal(view.status, "succeeded", JSON.stringify(view));
    const outputs = (view.steps as { output: Record<string, unknown> }[])
      .map((step) => step.output);
    const expected = CASES.map((item) => ({
      model: item.model,
      input_tokens: item.inputTokens,
      output_tokens: item.outputTokens,
      cost_cents: item.cents,
    }));
    assert.deepEqual(
      outputs.map((output) => ({
        model: output.model,
        input_tokens: output.input_tokens,
        output_tokens: output.output_tokens,
        cost_cents: output.cost_cents,
      })),
      expected,
    );
    // What the run spent is what each call cost, step by step.
    const records: LogRecord[] = await node.store.readLog(runId);
    const charged = new Map<string, number>();
    for (const record of records) {
      if (record.type !== "BudgetCharged") continue;
      const body = record.body as { step: string; cents: number };
      charged.set(body.step, (charged.get(body.step) ?? 0) + body.cents);
    }
    assert.deepEqual(
      CASES.map((_, index) => charged.get(`call${index}`) ?? 0),
      CASES.map((item) => item.cents),
    );
  } finally {
    await node.close();
  }
});

Deno.test("llm_invoke refuses a model without a price before calling anyone, and charges nothing", async () => {
  await using fake = startFakeLlmServer();
  const node = await openTestNode({
    config: {
      http: {
        ...DEFAULT_CONFIG.http,
        loopbackAllowlist: [{ host: "127.0.0.1", port: fake.port }],
      },
      secrets: { OPENAI_API_KEY: "sk-cost" },
    },
  });
  try {
    const submitted = await requestJson(node, "POST", "/v1/runs", {
      steps: [{
        id: "unpriced",
        skill: "llm_invoke",
        params: {
          adapter: "openai",
          base_url: fake.origin,
          model: "gpt-4o-2024-08-06",
          prompt: "hi",
        },
      }],
    });
    const runId = String(submitted.body.run_id);
    const view = (await requestJson(
      node,
      "GET",
      `/v1/runs/${runId}?wait_ms=30000`,
    )).body;
    assert.equal(view.status, "failed");
    assert.equal(view.code, "ERR_LLM_INVALID_MODEL");
    const error = (view.steps as {
      error: { details: { model: string; known_models: string[] } };
    }[])[0]!.error;
    assert.equal(error.details.model, "gpt-4o-2024-08-06");
    assert.ok(error.details.known_models.includes("gpt-4o"));
    assert.equal(fake.requests.length, 0, "the provider was called");
    const records = await node.store.readLog(runId);
    assert.ok(
      !records.some((record) => record.type === "BudgetCharged"),
      "an unpriced call was charged",
    );
  } finally {
    await node.close();
  }
});
