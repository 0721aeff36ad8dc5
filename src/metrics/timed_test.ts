import assert from "node:assert/strict";
import { timed } from "./timed.ts";

class Counter {
  #count = 0;
  readonly label = "counter";
  add(by: number): number {
    this.#count += by;
    return this.#count;
  }
  async addLater(by: number): Promise<number> {
    await Promise.resolve();
    return this.add(by);
  }
  fail(): never {
    throw new Error("refused");
  }
  get count(): number {
    return this.#count;
  }
}

Deno.test("timed() reports listed calls, sync, async and throwing, and passes the rest through", async () => {
  const seen: string[] = [];
  const counter = timed(
    new Counter(),
    ["add", "addLater", "fail"],
    (method, seconds) => {
      assert.ok(seconds >= 0);
      seen.push(method);
    },
  );
  assert.equal(counter.add(2), 2);
  assert.equal(await counter.addLater(3), 5);
  assert.throws(() => counter.fail(), /refused/);
  // Private fields work through the view; the inner add() is not the view's.
  assert.equal(counter.count, 5);
  assert.equal(counter.label, "counter");
  assert.ok(counter instanceof Counter);
  assert.deepEqual(seen, ["add", "addLater", "fail"]);
  assert.equal(counter.add, counter.add);
});
