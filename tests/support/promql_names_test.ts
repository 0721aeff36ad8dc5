import assert from "node:assert/strict";
import { isExported, metricNames } from "./promql_names.ts";

Deno.test("metricNames() finds selected metrics and nothing else", () => {
  const cases: [string, string[]][] = [
    ["up", ["up"]],
    ['up{job="aos"} == 0', ["up"]],
    [
      'histogram_quantile(0.95, sum by (le, route) (rate(nova_http_request_duration_seconds_bucket{route!~"/v1/runs/:id.*",instance=~"$instance"}[$__rate_interval]))) > 0.5',
      ["nova_http_request_duration_seconds_bucket"],
    ],
    [
      "sum(rate(a_total[10m])) / sum(rate(b_total[10m])) > 0.2\nand sum(increase(b_total[10m])) >= 10",
      ["a_total", "b_total"],
    ],
    [
      "sum by (model) (rate(cost_total[5m])) / ignoring(model) group_left sum (rate(attempts_total{skill='llm_invoke'}[5m]))",
      ["attempts_total", "cost_total"],
    ],
    ["process_resident_memory_bytes > 4e9", ["process_resident_memory_bytes"]],
    ['{__name__="nova_runs_total", status="failed"}', ["nova_runs_total"]],
    ["rate(x[5m] offset 1h) * 3600 and bool on (instance) y", ["x", "y"]],
    ["clamp_min(sum without (le) (z_count), 1)", ["z_count"]],
  ];
  for (const [expr, names] of cases) {
    assert.deepEqual(metricNames(expr), names, expr);
  }
});

Deno.test("isExported() accepts a histogram's series and refuses unknown names", () => {
  const families = new Map([
    ["nova_run_duration_seconds", "histogram"],
    ["nova_runs_total", "counter"],
    ["rpc_seconds", "summary"],
  ]);
  for (
    const name of [
      "nova_run_duration_seconds_bucket",
      "nova_run_duration_seconds_sum",
      "nova_run_duration_seconds_count",
      "nova_runs_total",
      "rpc_seconds_count",
    ]
  ) assert.ok(isExported(name, families), name);
  for (
    const name of [
      "nova_runs",
      "nova_runs_total_count",
      "rpc_seconds_bucket",
      "nova_nope_total",
    ]
  ) assert.ok(!isExported(name, families), name);
});
