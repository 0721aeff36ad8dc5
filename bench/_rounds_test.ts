import assert from "node:assert/strict";
import { combineRounds, parseRounds } from "./_rounds.ts";
import type { BenchResult } from "./_report.ts";

function round(figures: Record<string, number>): BenchResult {
  return {
    scenario: "runs",
    figures,
    targets: {
      runs_per_s: { op: ">=", value: 2000 },
      failed_runs: { op: "<=", value: 0 },
      parked_sampled_ok: { op: ">=", value: 1 },
    },
    notes: "32 lanes",
  };
}

Deno.test("combineRounds() reports each figure's median and its spread", () => {
  const combined = combineRounds([
    round({ runs_per_s: 1100, p50_ms: 2.6, failed_runs: 0 }),
    round({ runs_per_s: 950, p50_ms: 2.5, failed_runs: 0 }),
    round({ runs_per_s: 1200, p50_ms: 2.9, failed_runs: 0 }),
  ]);
  assert.deepEqual(combined.figures, {
    runs_per_s: 1100,
    p50_ms: 2.6,
    failed_runs: 0,
  });
  assert.deepEqual(combined.spread, {
    runs_per_s: [950, 1200],
    p50_ms: [2.5, 2.9],
    failed_runs: [0, 0],
  });
  assert.equal(combined.rounds, 3);
  assert.match(combined.notes!, /^32 lanes; figures are the median of 3/);
  assert.deepEqual(combined.targets, round({}).targets);
});

Deno.test("combineRounds() takes the mean of the middle two for an even count, and skips rounds without a figure", () => {
  const combined = combineRounds([
    round({ runs_per_s: 1000, only_some: 5 }),
    round({ runs_per_s: 1300 }),
    round({ runs_per_s: 1100, only_some: 9 }),
    round({ runs_per_s: 1200, only_some: NaN }),
  ]);
  assert.equal(combined.figures.runs_per_s, 1150);
  assert.equal(combined.figures.only_some, 7);
  assert.deepEqual(combined.spread?.only_some, [5, 9]);
});

Deno.test("combineRounds() keeps the worst round of a figure that says the system broke", () => {
  const combined = combineRounds([
    round({ failed_runs: 0, parked_sampled_ok: 1 }),
    round({ failed_runs: 3, parked_sampled_ok: 0 }),
    round({ failed_runs: 0, parked_sampled_ok: 1 }),
  ], { worstOf: ["failed_runs", "parked_sampled_ok"] });
  assert.equal(combined.figures.failed_runs, 3);
  assert.equal(combined.figures.parked_sampled_ok, 0);
});

Deno.test("combineRounds() returns one round as it is", () => {
  const only = round({ runs_per_s: 1000 });
  assert.equal(combineRounds([only]), only);
  assert.throws(() => combineRounds([]), /no rounds/);
});

Deno.test("parseRounds() takes a whole number from 1 to 20", () => {
  assert.equal(parseRounds(undefined), 1);
  assert.equal(parseRounds("3"), 3);
  assert.equal(parseRounds("20"), 20);
  for (const bad of ["0", "21", "2.5", "-1", "three", ""]) {
    assert.equal(parseRounds(bad), undefined, bad);
  }
});
