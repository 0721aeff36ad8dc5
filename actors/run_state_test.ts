import assert from "node:assert/strict";
import {
  DEFAULT_RETRY,
  NO_RETRY,
  type Plan,
  type PlanStep,
  type RetryPolicy,
} from "../src/plan/mod.ts";
import type { SkillPin } from "./run_messages.ts";
import { fold } from "./run_reducer.ts";
import { retryPolicyOf } from "./run_state.ts";

const policy = (max_attempts: number): RetryPolicy => ({
  max_attempts,
  backoff_ms: 10,
  multiplier: 2,
  backoff_max_ms: 60_000,
});

const pin = (retry?: RetryPolicy): SkillPin => ({
  name: "acme.skill",
  version: "1.0.0",
  sha256: "a".repeat(64),
  entrypoint: "run",
  timeout_ms: 5000,
  ...(retry === undefined ? {} : { retry }),
});

Deno.test("retryPolicyOf() takes the step's policy, then the plan's default, then the pinned manifest's, then on_error's", () => {
  const MANIFEST = policy(4);
  const cases: {
    name: string;
    step: Partial<PlanStep>;
    defaults?: Plan["defaults"];
    pinned?: RetryPolicy;
    expected: RetryPolicy;
  }[] = [
    {
      name: "the step's own",
      step: { retry: policy(2) },
      defaults: { retry: policy(3) },
      pinned: MANIFEST,
      expected: policy(2),
    },
    {
      name: "the plan's default",
      step: {},
      defaults: { retry: policy(3) },
      pinned: MANIFEST,
      expected: policy(3),
    },
    { name: "the manifest's", step: {}, pinned: MANIFEST, expected: MANIFEST },
    {
      name: "the manifest's over on_error: retry's default",
      step: { on_error: "retry" },
      pinned: MANIFEST,
      expected: MANIFEST,
    },
    {
      name: "on_error: retry's default",
      step: { on_error: "retry" },
      expected: DEFAULT_RETRY,
    },
    { name: "none", step: {}, expected: NO_RETRY },
  ];
  for (const { name, step, defaults, pinned, expected } of cases) {
    const plan: Plan = {
      steps: [{ id: "s", skill: "acme.skill", params: {}, ...step }],
      ...(defaults === undefined ? {} : { defaults }),
    };
    const state = fold([{
      run_id: "r1",
      at: 1000,
      type: "RunSubmitted",
      body: {
        tenant: "t",
        plan,
        pins: { "acme.skill": pin(pinned) },
        abi: 1,
      },
    }])!;
    assert.deepEqual(retryPolicyOf(state, plan.steps[0]!), expected, name);
  }
});
