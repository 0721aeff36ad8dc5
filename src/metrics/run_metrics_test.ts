import assert from "node:assert/strict";
import { Metrics } from "./metrics.ts";
import { observeRun, observeStep } from "./run_metrics.ts";

async function values(metrics: Metrics): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    for (const value of metric.values) {
      const labels = Object.entries(value.labels ?? {})
        .map(([key, label]) => `${key}=${label}`).sort().join(",");
      const name = (value as { metricName?: string }).metricName ??
        metric.name;
      found.set(`${name}{${labels}}`, value.value);
    }
  }
  return found;
}

const step = (code: string, details: Record<string, unknown> = {}) => ({
  skill: "fetcher",
  version: "1.0.0",
  seconds: 0.01,
  outcome: { ok: false as const, code, details },
});

Deno.test("observeStep() classes a live host-call mismatch like a replay divergence", async () => {
  const metrics = new Metrics({ defaultMetrics: false });
  observeStep(
    metrics,
    step("HOST_CALL_MISMATCH", {
      expected: { kind: "http" },
      actual: { kind: "now" },
    }),
  );
  observeStep(
    metrics,
    step("HOST_CALL_MISMATCH", {
      expected: { kind: "http" },
      actual: { kind: "http" },
    }),
  );
  const found = await values(metrics);
  const key = (type: string) =>
    `nova_determinism_violations_total{skill=fetcher,violation_type=${type}}`;
  assert.equal(found.get(key("host_call_order_changed")), 1);
  assert.equal(found.get(key("host_call_request_changed")), 1);
});

Deno.test("observeStep() counts limit breaches by kind and nothing for other failures", async () => {
  const metrics = new Metrics({ defaultMetrics: false });
  for (
    const code of [
      "SANDBOX_MEMORY_LIMIT",
      "HTTP_ADDRESS_FORBIDDEN",
      "HTTP_HOST_NOT_ALLOWED",
      "SKILL_ERROR",
    ]
  ) observeStep(metrics, step(code));
  const found = await values(metrics);
  const breaches = [...found].filter(([key, value]) =>
    key.startsWith("nova_sandbox_limit_breaches_total") && value > 0
  );
  assert.deepEqual(Object.fromEntries(breaches), {
    "nova_sandbox_limit_breaches_total{kind=memory}": 1,
    "nova_sandbox_limit_breaches_total{kind=network_policy}": 2,
  });
  assert.equal(
    found.get("nova_skill_attempts_total{outcome=failed,skill=fetcher}"),
    4,
  );
});

Deno.test("observeStep() reads model usage from llm_invoke outputs only", async () => {
  const metrics = new Metrics({ defaultMetrics: false });
  const usage = {
    adapter: "openai",
    model: "gpt-4o",
    cost_cents: 3,
    input_tokens: 10,
    output_tokens: 20,
  };
  for (const skill of ["llm_invoke", "my_llm"]) {
    observeStep(metrics, {
      skill,
      version: "1.0.0",
      seconds: null,
      outcome: { ok: true, output: usage },
    });
  }
  const found = await values(metrics);
  assert.equal(
    found.get("nova_llm_cost_cents_total{model=gpt-4o,provider=openai}"),
    3,
  );
  assert.equal(
    found.get(
      "nova_llm_tokens_total{model=gpt-4o,provider=openai,type=output}",
    ),
    20,
  );
});

Deno.test("observeRun() counts a budget failure once and other failures by code only", async () => {
  const metrics = new Metrics({ defaultMetrics: false });
  observeRun(metrics, {
    status: "failed",
    code: "BUDGET_EXCEEDED",
    seconds: 1,
  });
  observeRun(metrics, { status: "failed", code: "SKILL_ERROR", seconds: 1 });
  observeRun(metrics, { status: "succeeded", code: null, seconds: null });
  const found = await values(metrics);
  assert.equal(found.get("nova_budget_exceeded_total{}"), 1);
  assert.equal(found.get("nova_runs_total{status=failed}"), 2);
  assert.equal(found.get("nova_runs_total{status=succeeded}"), 1);
  assert.equal(
    found.get("nova_runs_failed_total{code=BUDGET_EXCEEDED}"),
    1,
  );
  assert.equal(found.get("nova_run_duration_seconds_count{}"), 2);
});
