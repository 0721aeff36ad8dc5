import assert from "node:assert/strict";
import { AosError } from "../errors/mod.ts";
import { PgDurability } from "./_pg_durability.ts";

Deno.test("PgDurability: a flushed commit makes durable every commit acknowledged before it was sent, not those after", async () => {
  const durability = new PgDurability();
  durability.committed();
  durability.committed();
  const covering = durability.covering();
  durability.committed(); // acknowledged while the flushed one was at the database
  let early = false;
  const first = durability.whenDurable(2).then(() => early = true);
  const third = durability.whenDurable(3);
  durability.flushed(covering);
  await first;
  assert.equal(early, true);
  assert.deepEqual(durability.watermark(), {
    committed: 3,
    durable: 2,
    syncs: 1,
  });
  assert.equal(durability.pending(), true);
  durability.flushed(durability.covering());
  await third;
  assert.equal(durability.pending(), false);
});

Deno.test("PgDurability: a lost connection fails every wait on commits not known durable, now and later", async () => {
  const durability = new PgDurability();
  durability.committed();
  durability.flushed(durability.covering());
  durability.committed();
  const waiting = durability.whenDurable(2);
  durability.lost();
  const conflict = (error: unknown) =>
    error instanceof AosError && error.code === "STORE_SEQUENCE_CONFLICT";
  await assert.rejects(waiting, conflict);
  // A flush after the loss proves nothing about the commits it lost.
  durability.flushed(durability.covering());
  await assert.rejects(durability.whenDurable(2), conflict);
  assert.equal(durability.isLost(2), true);
  // What was durable before stays so, and new commits are tracked afresh.
  await durability.whenDurable(1);
  durability.committed();
  durability.flushed(durability.covering());
  await durability.whenDurable(3);
});
