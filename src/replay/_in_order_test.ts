import assert from "node:assert/strict";
import { inOrder } from "./_in_order.ts";

async function* items(count: number): AsyncGenerator<number> {
  for (let item = 0; item < count; item++) yield item;
}

/** Yields `turns` times to other promise work. */
async function yieldTurns(turns: number): Promise<void> {
  for (let turn = 0; turn < turns; turn++) await Promise.resolve();
}

Deno.test("inOrder() keeps at most its concurrency in flight and reports in the source's order", async () => {
  let inFlight = 0;
  let most = 0;
  const finished: number[] = [];
  const reported: string[] = [];
  await inOrder(
    items(7),
    3,
    async (item) => {
      inFlight++;
      most = Math.max(most, inFlight);
      // Later items take fewer turns: they finish before earlier ones.
      await yieldTurns(10 * (7 - item));
      inFlight--;
      finished.push(item);
      return `r${item}`;
    },
    (item, result) => reported.push(`${item}:${result}`),
  );
  assert.deepEqual(reported, [0, 1, 2, 3, 4, 5, 6].map((n) => `${n}:r${n}`));
  assert.equal(most, 3);
  assert.notDeepEqual(finished, [0, 1, 2, 3, 4, 5, 6]);
});

Deno.test("inOrder() rejects with the first failure in order, after the results before it", async () => {
  const reported: number[] = [];
  await assert.rejects(
    () =>
      inOrder(
        items(5),
        2,
        (item) =>
          item === 2
            ? Promise.reject(new Error("log 2 failed"))
            : Promise.resolve(item),
        (item) => reported.push(item),
      ),
    /log 2 failed/,
  );
  assert.deepEqual(reported, [0, 1]);
});
