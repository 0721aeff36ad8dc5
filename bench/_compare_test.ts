import assert from "node:assert/strict";
import { compareDocuments, directionOf } from "./_compare.ts";
import type { BenchDocument } from "./_report.ts";

function document(
  figures: Record<string, number>,
  extra: Partial<BenchDocument> = {},
): BenchDocument {
  return {
    scenario: "s",
    figures,
    targets: {},
    verdicts: {},
    machine: {},
    measured_at: "2026-01-01T00:00:00.000Z",
    ...extra,
  };
}

Deno.test("directionOf() follows the stated direction, then the target, then the unit", () => {
  const stated = document({}, {
    directions: { a: "higher" },
    targets: { a: { op: "<=", value: 1 }, b: { op: ">=", value: 1 } },
  });
  assert.equal(directionOf(stated, "a"), "higher");
  assert.equal(directionOf(stated, "b"), "higher");
  assert.equal(directionOf(stated, "runs_per_s"), "higher");
  assert.equal(directionOf(stated, "p50_ms"), "lower");
});

Deno.test("compareDocuments() flags figures more than 15% worse in their direction", () => {
  const baseline = document({ runs_per_s: 1000, p50_ms: 2, rss_mb: 100 });
  const current = document({ runs_per_s: 840, p50_ms: 2.2, rss_mb: 50 });
  const regressions = compareDocuments(baseline, current);
  assert.deepEqual(regressions.map((r) => r.figure), ["runs_per_s"]);
  assert.equal(Math.round(regressions[0]!.worse * 100), 16);
  assert.deepEqual(
    compareDocuments(baseline, document({ runs_per_s: 851, p50_ms: 2.3 })),
    [],
  );
  assert.deepEqual(
    compareDocuments(baseline, document({ p50_ms: 2.4 })).map((r) => r.figure),
    ["p50_ms"],
  );
});

Deno.test("compareDocuments() flags a figure from zero only when its target is now missed", () => {
  const baseline = document({ diverged: 0, idle_ms: 0 });
  const current = document({ diverged: 2, idle_ms: 0.5 }, {
    targets: { diverged: { op: "<=", value: 0 } },
    verdicts: { diverged: "missed" },
  });
  assert.deepEqual(compareDocuments(baseline, current).map((r) => r.figure), [
    "diverged",
  ]);
});
