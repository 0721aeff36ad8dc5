import assert from "node:assert/strict";
import { fakeLog } from "../src/store/store_contract.ts";
import { RecordWatchers } from "./record_watchers.ts";

Deno.test("RecordWatchers tells a record only to its run's listeners, until each stops", () => {
  const watchers = new RecordWatchers();
  const [a0, a1] = fakeLog("run_a", 1);
  const [b0] = fakeLog("run_b", 0);
  const heard: string[] = [];
  const listener = (record: { run_id: string; seq: number }) =>
    heard.push(`${record.run_id}#${record.seq}`);
  assert.equal(watchers.watched("run_a"), false);
  const first = watchers.watch("run_a", listener);
  // The same function twice: two watches, each stopped on its own.
  const second = watchers.watch("run_a", listener);
  assert.equal(watchers.watched("run_a"), true);
  assert.equal(watchers.watched("run_b"), false);
  watchers.tell(a0!);
  watchers.tell(b0!);
  assert.deepEqual(heard, ["run_a#0", "run_a#0"]);
  first();
  first();
  watchers.tell(a1!);
  assert.deepEqual(heard, ["run_a#0", "run_a#0", "run_a#1"]);
  assert.equal(watchers.watched("run_a"), true);
  second();
  assert.equal(watchers.watched("run_a"), false);
  watchers.tell(a1!);
  assert.equal(heard.length, 3);
});
