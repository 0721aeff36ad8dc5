/**
 * One test per divergence class, each built for real: a skill edited and
 * rebuilt with the project's compiler, host calls reordered, a plan changed.
 * Each checks the report's class, record index and diff.
 */
import assert from "node:assert/strict";
import {
  candidatePin,
  type Divergence,
  dryRunLog,
  type DryRunReport,
  replayLog,
} from "../../src/replay/mod.ts";
import { canonicalJson, type Json, sha256Hex } from "../../src/store/mod.ts";
import { golden, reseal, skillModules, withReplaySandbox } from "./_kit.ts";
import { buildVariant, type VariantEdit } from "./_skill_variant.ts";

const NONCE = "tests/fixtures/skills/nonce";
const NOW_THEN_RANDOM =
  "const now = nowMs();\n  const random = randomBytes(count);";

// host_calls.jsonl: 3 StepStarted stamp (nonce), 4 HostCall now,
// 5 HostCall random, 6 StepSucceeded stamp.
const records = golden("host_calls");
const STAMP_STARTED = 3;
const NOW_CALL = 4;
const RANDOM_CALL = 5;
const STAMP_DONE = 6;
const recordedNow = records[NOW_CALL]!.body;
const recordedRandom = records[RANDOM_CALL]!.body;

/** The host_calls run, dry-run against nonce edited as `edit` (version 1.0.1). */
async function dryRunNonce(edit: VariantEdit["source"]): Promise<DryRunReport> {
  const variant = await buildVariant(NONCE, { source: edit, version: "1.0.1" });
  try {
    const modules = skillModules({ extra: [variant.dir] });
    const module = await modules.find("nonce", "1.0.1");
    const pin = candidatePin(module!, sha256Hex(module!.bytes));
    assert.equal(pin.sha256, variant.sha256);
    return await withReplaySandbox(
      modules,
      (sandbox) => dryRunLog(records, sandbox, { candidate: pin }),
    );
  } finally {
    await variant.remove();
  }
}

function callOf(body: Record<string, Json>, position: number): Json {
  return {
    index: position,
    kind: body.kind!,
    request: body.request!,
    request_sha256: body.request_sha256!,
  };
}

function assertDivergence(
  found: Divergence | null,
  expected: Partial<Divergence>,
): Divergence {
  assert.ok(found !== null, "a divergence is reported");
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual(found[key as keyof Divergence], value, key);
  }
  return found;
}

Deno.test("replay reports skill_bytes_changed when the skill is edited and rebuilt under its pinned version", async () => {
  const variant = await buildVariant(NONCE, {
    source: [["const BYTES_DEFAULT = 8;", "const BYTES_DEFAULT = 9;"]],
  });
  try {
    const modules = skillModules({ without: ["nonce"], extra: [variant.dir] });
    const report = await withReplaySandbox(
      modules,
      (sandbox) => replayLog(records, sandbox, { catalog: modules }),
    );
    const pinned = String(records[STAMP_STARTED]!.body.skill).split("#")[1]!;
    assert.notEqual(variant.sha256, pinned);
    assertDivergence(report.divergence, {
      class: "skill_bytes_changed",
      index: STAMP_STARTED,
      type: "StepStarted",
      step: "stamp",
      skill: `nonce@1.0.0#${pinned}`,
      host_call: null,
      diff: [
        {
          path: "/sha256",
          op: "changed",
          expected: pinned,
          actual: variant.sha256,
        },
      ],
    });
  } finally {
    await variant.remove();
  }
});

Deno.test("replay reports host_call_order_changed when the log's host calls are reordered", async () => {
  const edited = records.map((record) => structuredClone(record));
  edited[NOW_CALL] = { ...edited[RANDOM_CALL]!, body: { ...recordedRandom } };
  edited[RANDOM_CALL] = { ...records[NOW_CALL]!, body: { ...recordedNow } };
  edited[NOW_CALL]!.body.index = 0;
  edited[RANDOM_CALL]!.body.index = 1;
  const report = await withReplaySandbox(
    skillModules(),
    (sandbox) => replayLog(reseal(edited, NOW_CALL), sandbox),
  );
  const found = assertDivergence(report.divergence, {
    class: "host_call_order_changed",
    index: NOW_CALL,
    type: "HostCall",
    step: "stamp",
    attempt: 1,
    host_call: {
      index: 0,
      kind: "random",
      change: "reordered",
      needs_new_host_call: false,
    },
    expected: callOf(recordedRandom, 0),
    actual: callOf(recordedNow, 0),
  });
  assert.deepEqual(found.diff.map((difference) => difference.path), [
    "/kind",
    "/request",
    "/request_sha256",
  ]);
});

Deno.test("dry-run reports host_call_order_changed (reordered) for a build that asks for random bytes before the time", async () => {
  const report = await dryRunNonce([[
    NOW_THEN_RANDOM,
    "const random = randomBytes(count);\n  const now = nowMs();",
  ]]);
  assert.equal(report.verdict, "diverged");
  assert.equal(report.uses_skill, true);
  const found = assertDivergence(report.divergence, {
    class: "host_call_order_changed",
    index: NOW_CALL,
    host_call: {
      index: 0,
      kind: "now",
      change: "reordered",
      needs_new_host_call: false,
    },
    expected: callOf(recordedNow, 0),
    actual: callOf(recordedRandom, 0),
  });
  assert.match(String(found.skill), /^nonce@1\.0\.1#[0-9a-f]{64}$/);
  assert.deepEqual(found.diff[0], {
    path: "/kind",
    op: "changed",
    expected: "now",
    actual: "random",
  });
});

Deno.test("dry-run reports host_call_order_changed (removed) for a build that no longer reads the clock", async () => {
  const report = await dryRunNonce([[
    "const now = nowMs();",
    `const now: i64 = ${recordedNow.result};`,
  ]]);
  assert.equal(report.verdict, "diverged");
  assertDivergence(report.divergence, {
    class: "host_call_order_changed",
    index: NOW_CALL,
    host_call: {
      index: 0,
      kind: "now",
      change: "removed",
      needs_new_host_call: false,
    },
    expected: callOf(recordedNow, 0),
  });
});

Deno.test("dry-run reports host_call_request_changed for a build that asks for one more random byte", async () => {
  const report = await dryRunNonce([[
    "randomBytes(count)",
    "randomBytes(count + 1)",
  ]]);
  assert.equal(report.verdict, "diverged");
  const found = assertDivergence(report.divergence, {
    class: "host_call_request_changed",
    index: RANDOM_CALL,
    type: "HostCall",
    host_call: {
      index: 1,
      kind: "random",
      change: "request",
      needs_new_host_call: false,
    },
  });
  assert.deepEqual(found.diff, [
    { path: "/request/bytes", op: "changed", expected: 16, actual: 17 },
    {
      path: "/request_sha256",
      op: "changed",
      expected: recordedRandom.request_sha256!,
      actual: sha256Hex(canonicalJson({ bytes: 17 })),
    },
  ]);
});

Deno.test("dry-run says needs_new_host_call for a build that reads the clock once more", async () => {
  const report = await dryRunNonce([[
    NOW_THEN_RANDOM,
    `${NOW_THEN_RANDOM}\n  if (nowMs() < 0) return invalidParams("now", "after 1970");`,
  ]]);
  assert.equal(report.verdict, "needs_new_host_call");
  const found = assertDivergence(report.divergence, {
    class: "host_call_order_changed",
    index: STAMP_DONE,
    type: "StepSucceeded",
    host_call: {
      index: 2,
      kind: "now",
      change: "added",
      needs_new_host_call: true,
    },
    expected: null,
  });
  assert.deepEqual(found.diff, [{
    path: "",
    op: "changed",
    expected: null,
    actual: found.actual,
  }]);
  assert.equal((found.actual as { kind: string }).kind, "now");
});

Deno.test("dry-run reports output_changed for a build whose output differs", async () => {
  const report = await dryRunNonce([[
    '.setString("random_hex", toHex(random))',
    '.setString("random_hex", toHex(random) + "00")',
  ]]);
  assert.equal(report.verdict, "diverged");
  const recorded = records[STAMP_DONE]!.body;
  const hex = `${(recorded.output as { random_hex: string }).random_hex}00`;
  const found = assertDivergence(report.divergence, {
    class: "output_changed",
    index: STAMP_DONE,
    type: "StepSucceeded",
    step: "stamp",
    host_call: null,
  });
  assert.deepEqual(found.diff.map((difference) => difference.path), [
    "/output/random_hex",
    "/output_sha256",
  ]);
  assert.deepEqual(found.diff[0], {
    path: "/output/random_hex",
    op: "changed",
    expected: (recorded.output as { random_hex: string }).random_hex,
    actual: hex,
  });
});

Deno.test("replay reports plan_changed when the submitted plan is changed", async () => {
  const original = golden("three_step_transform");
  const edited = original.map((record) => structuredClone(record));
  const plan = edited[0]!.body.plan as {
    steps: { id: string; params: { keys?: string[] } }[];
  };
  plan.steps.find((step) => step.id === "pick")!.params.keys = ["id"];
  const started = original.findIndex((record) =>
    record.type === "StepStarted" && record.body.step === "pick"
  );
  const report = await withReplaySandbox(
    skillModules(),
    (sandbox) => replayLog(reseal(edited, 0), sandbox),
  );
  assertDivergence(report.divergence, {
    class: "plan_changed",
    index: started,
    type: "StepStarted",
    step: "pick",
    diff: [
      {
        path: "/body/input/keys/0",
        op: "changed",
        expected: "customer",
        actual: "id",
      },
      { path: "/body/input/keys/1", op: "removed", expected: "id" },
    ],
  });
});
