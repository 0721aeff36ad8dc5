import assert from "node:assert/strict";
import { Metrics } from "../metrics/mod.ts";
import { divergence } from "./divergence.ts";
import { countReplay, replayMetricsText } from "./replay_metrics.ts";

Deno.test("countReplay() counts verdicts, violations by skill and class, and golden mismatches, and nothing live", async () => {
  const metrics = new Metrics({ defaultMetrics: false });
  countReplay(metrics, { verdict: "identical", divergence: null }, {
    golden: true,
  });
  const found = divergence({
    class: "output_changed",
    index: 6,
    type: "StepSucceeded",
    step: "stamp",
    skill: `nonce@1.0.0#${"a".repeat(64)}`,
    message: "step stamp gives another outcome",
    expected: 1,
    actual: 2,
  });
  countReplay(metrics, { verdict: "diverged", divergence: found }, {
    golden: true,
  });
  countReplay(metrics, {
    verdict: "diverged",
    divergence: { ...found, class: "chain_broken", skill: null },
  });
  const text = await replayMetricsText(metrics);
  for (
    const line of [
      'nova_replay_tests_total{status="identical"} 1',
      'nova_replay_tests_total{status="diverged"} 2',
      'nova_determinism_violations_total{skill="nonce",violation_type="output_changed"} 1',
      'nova_determinism_violations_total{skill="none",violation_type="chain_broken"} 1',
      "nova_golden_file_mismatches_total 1",
    ]
  ) assert.ok(text.includes(line), line);
  assert.ok(!text.includes("nova_skill_attempts_total"));
  const live = await metrics.exposition();
  assert.match(live.text, /# TYPE nova_skill_attempts_total counter\n\n/);
});
