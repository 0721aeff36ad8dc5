import assert from "node:assert/strict";
import { newRunId, SeededRandom } from "./random.ts";

Deno.test("newRunId writes the time then each random byte as two hex digits", () => {
  const bytes = [0x00, 0x0f, 0x10, 0x7f, 0x80, 0xab, 0xfe, 0xff];
  const id = newRunId(0x18f3a2b4c5d, { bytes: () => Uint8Array.from(bytes) });
  assert.equal(id, "run_018f3a2b4c5d000f107f80abfeff");
});

Deno.test("newRunId ids sort by their millisecond, whatever the random tail", () => {
  const random = new SeededRandom(7);
  const ids = [1, 2, 255, 256, 4096, 1_764_000_000_000].map((ms) =>
    newRunId(ms + 0.9, random)
  );
  assert.deepEqual([...ids].sort(), ids);
  for (const id of ids) assert.match(id, /^run_[0-9a-f]{28}$/);
});

Deno.test("newRunId is the same for the same seed", () => {
  assert.equal(
    newRunId(1_764_000_000_000, new SeededRandom(42)),
    newRunId(1_764_000_000_000, new SeededRandom(42)),
  );
  assert.notEqual(
    newRunId(1_764_000_000_000, new SeededRandom(42)),
    newRunId(1_764_000_000_000, new SeededRandom(43)),
  );
});
