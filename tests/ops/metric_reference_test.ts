import assert from "node:assert/strict";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import { exportedFamilies } from "../support/metrics_text.ts";
import { alertGroups, dashboards } from "../support/ops_files.ts";
import { isExported, metricNames } from "../support/promql_names.ts";
import { ServerProcess } from "../support/server_process.ts";

// Series Prometheus makes itself for every target; no server exports them.
const SCRAPE_SERIES = new Set(["up"]);

// The list: the server must export every one of these families.
const REQUIRED = [
  "nova_runs_total",
  "nova_runs_failed_total",
  "nova_run_duration_seconds",
  "nova_skill_duration_seconds",
  "nova_skill_attempts_total",
  "nova_budget_exceeded_total",
  "nova_tenant_daily_spend_cents",
  "nova_llm_cost_cents_total",
  "nova_llm_tokens_total",
  "nova_determinism_violations_total",
  "nova_golden_file_mismatches_total",
  "nova_replay_tests_total",
  "nova_registry_operation_seconds",
  "nova_worker_pool_size",
  "nova_worker_pool_busy",
  "nova_worker_pool_queue_depth",
  "nova_unhandled_exceptions_total",
  "nova_db_pool_available",
  "nova_store_append_seconds",
  "nova_store_syncs_total",
  "nova_sandbox_limit_breaches_total",
  "nova_http_requests_total",
  "nova_http_request_duration_seconds",
  "process_cpu_seconds_total",
  "process_resident_memory_bytes",
];

const DASHBOARD_TITLES = [
  "AOS — LLM spend",
  "AOS — determinism and replay",
  "AOS — overview",
  "AOS — sandbox and workers",
];

function allExpressions(): { where: string; expr: string }[] {
  return [
    ...alertGroups().flatMap((group) =>
      group.rules.map((rule) => ({
        where: `alert ${rule.alert}`,
        expr: rule.expr,
      }))
    ),
    ...dashboards().flatMap((dashboard) =>
      dashboard.expressions.map(({ panel, expr }) => ({
        where: `${dashboard.file} "${panel}"`,
        expr,
      }))
    ),
  ];
}

/** Runs a workload on a real server (one run fails a step) and returns its exposition. */
async function scrapeAfterWorkload(): Promise<string> {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-metric-ref-" });
  const server = await ServerProcess.start({ dataDir });
  try {
    const plans = [
      {
        steps: [{
          id: "ok",
          skill: "json_transform",
          params: { op: "extract", input: { a: 1 }, path: "$.a" },
        }],
      },
      {
        steps: [{
          id: "bad",
          skill: "json_transform",
          params: { op: "extract", input: { a: 1 }, path: "$.missing" },
        }],
      },
      {
        steps: [{
          id: "ask",
          skill: "llm_invoke",
          params: { adapter: "stub", model: "gpt-4o-mini", prompt: "hi" },
        }],
      },
    ];
    const statuses: string[] = [];
    for (const plan of plans) {
      const submitted = await server.request("POST", "/v1/runs", plan);
      assert.equal(submitted.status, 202);
      const view = await server.request(
        "GET",
        `/v1/runs/${submitted.body.run_id}?wait_ms=60000`,
      );
      statuses.push(String(view.body.status));
    }
    assert.deepEqual(statuses, ["succeeded", "failed", "succeeded"]);
    const response = await fetch(`${server.url}/metrics`);
    assert.equal(response.status, 200);
    return await response.text();
  } finally {
    await server.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("every metric the dashboards and alerts use is exported by a server that ran a workload", async () => {
  const families = exportedFamilies(await scrapeAfterWorkload());
  for (const name of REQUIRED) {
    assert.ok(families.has(name), `the server does not export ${name}`);
  }
  const missing: string[] = [];
  const expressions = allExpressions();
  for (const { where, expr } of expressions) {
    const names = metricNames(expr);
    assert.ok(names.length > 0, `${where} selects no metric: ${expr}`);
    for (const name of names) {
      if (!SCRAPE_SERIES.has(name) && !isExported(name, families)) {
        missing.push(`${where}: ${name}`);
      }
    }
  }
  assert.deepEqual(missing, [], "references to metrics the server lacks");
  // The check is not vacuous: a misspelt name would be caught.
  assert.ok(!isExported("nova_run_total", families));
});

Deno.test("the four dashboards are Grafana JSON with unique uids and valid PromQL", async () => {
  const boards = dashboards();
  assert.deepEqual(boards.map((board) => board.title).sort(), DASHBOARD_TITLES);
  assert.equal(new Set(boards.map((board) => board.uid)).size, boards.length);
  for (const board of boards) assert.ok(board.expressions.length >= 5);
  const promtool = await which("promtool");
  if (promtool === undefined) {
    console.warn("promtool is not installed: dashboard PromQL not parsed");
    return;
  }
  // promtool parses every expression when it checks a rules file.
  const rules = {
    groups: [{
      name: "dashboards",
      rules: boards.flatMap((board) => board.expressions).map((
        { expr },
        index,
      ) => ({
        record: `dashboard:expr_${index}`,
        expr: expr.replaceAll("$__rate_interval", "5m"),
      })),
    }],
  };
  const dir = Deno.makeTempDirSync({ prefix: "aos-dashboards-" });
  try {
    const file = join(dir, "dashboards.yml");
    Deno.writeTextFileSync(file, toYaml(rules));
    const output = await new Deno.Command(promtool, {
      args: ["check", "rules", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(
      output.code,
      0,
      new TextDecoder().decode(output.stdout) +
        new TextDecoder().decode(output.stderr),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function which(command: string): Promise<string | undefined> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    const path = join(dir, command);
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}
