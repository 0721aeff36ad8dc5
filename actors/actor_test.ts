import assert from "node:assert/strict";
import { Actor, ActorStoppedError } from "./actor.ts";
import { Mailbox } from "./mailbox.ts";

Deno.test("Mailbox hands items out in order and refuses past its capacity", async () => {
  const mailbox = new Mailbox<number>(2);
  mailbox.post(1);
  mailbox.post(2);
  assert.throws(() => mailbox.post(3), RangeError);
  assert.equal(await mailbox.take(), 1);
  assert.equal(await mailbox.take(), 2);
  const waiting = mailbox.take();
  mailbox.post(4);
  assert.equal(await waiting, 4);
  assert.deepEqual(mailbox.close(), []);
  assert.equal(mailbox.post(5), false);
  assert.equal(await mailbox.take(), undefined);
});

Deno.test("Actor handles one message at a time, in order", async () => {
  const seen: string[] = [];
  let inside = 0;
  const actor = new Actor<string, string>("a", {
    async receive(message) {
      inside++;
      assert.equal(inside, 1, "two messages were handled at once");
      await Promise.resolve();
      seen.push(message);
      inside--;
      return message.toUpperCase();
    },
  });
  const replies = await Promise.all(
    ["x", "y", "z"].map((message) => actor.ask(message)),
  );
  assert.deepEqual(replies, ["X", "Y", "Z"]);
  assert.deepEqual(seen, ["x", "y", "z"]);
  actor.stop();
  assert.deepEqual(await actor.exit, { reason: "stopped" });
  await assert.rejects(() => actor.ask("late"), ActorStoppedError);
});

Deno.test("Actor crashes on a thrown error and refuses what was queued", async () => {
  const actor = new Actor<number, number>("c", {
    receive(message) {
      if (message === 2) return Promise.reject(new Error("bad message"));
      return Promise.resolve(message);
    },
  });
  const results = await Promise.allSettled([
    actor.ask(1),
    actor.ask(2),
    actor.ask(3),
  ]);
  assert.equal(results[0]!.status, "fulfilled");
  assert.match(
    String((results[1] as PromiseRejectedResult).reason),
    /bad message/,
  );
  assert.ok(
    (results[2] as PromiseRejectedResult).reason instanceof ActorStoppedError,
  );
  const exit = await actor.exit;
  assert.equal(exit.reason, "crashed");
});
