/**
 * Records the golden logs in this folder from real runs: an in-process node
 * with the built-in and fixture skills runs each plan below, and its log is
 * written as `<name>.jsonl`. Run it after a deliberate change to a skill or
 * to the record format, then review the diff:
 *
 *   deno run -A tests/golden/record_golden.ts
 */
import { join } from "node:path";
import { recordToLine } from "../../src/store/mod.ts";
import { openTestNode, requestJson, THREE_STEP_PLAN } from "../support/test_node.ts";

/** The golden runs: name → plan. */
export const GOLDEN_PLANS: Record<string, unknown> = {
  three_step_transform: THREE_STEP_PLAN,
  host_calls: {
    steps: [
      { id: "work", skill: "spin", params: { iterations: 1000, value: { ticket: "A-17" } } },
      { id: "stamp", skill: "nonce", params: { label: "{{steps.work.output.value.ticket}}", bytes: 16 } },
      { id: "shape", skill: "json_transform", params: { op: "omit", input: "{{steps.stamp.output}}", keys: ["label"] } },
    ],
  },
  failed_step: {
    steps: [
      { id: "find", skill: "json_transform", params: { op: "extract", input: { a: [1, 2] }, path: "$.a[5]" } },
      { id: "never", skill: "json_transform", params: { op: "pick", input: "{{steps.find.output.result}}", keys: ["x"] } },
    ],
  },
};

if (import.meta.main) {
  const node = await openTestNode();
  try {
    for (const [name, plan] of Object.entries(GOLDEN_PLANS)) {
      const { status, body } = await requestJson(node, "POST", "/v1/runs", plan);
      if (status !== 202) throw new Error(`${name}: ${JSON.stringify(body)}`);
      const view = await requestJson(node, "GET", `/v1/runs/${body.run_id}?wait_ms=60000`);
      const records = await node.store.readLog(String(body.run_id));
      const file = join(new URL(".", import.meta.url).pathname, `${name}.jsonl`);
      await Deno.writeTextFile(file, records.map(recordToLine).join("\n") + "\n");
      console.log(`${name}: ${view.body.status}, ${records.length} records → ${file}`);
    }
  } finally {
    await node.close();
  }
}
