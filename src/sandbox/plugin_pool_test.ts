import assert from "node:assert/strict";
import { join } from "node:path";
import { AosError } from "../errors/mod.ts";
import { SeededRandom, SimulatedClock } from "../deps/mod.ts";
import { PROJECT_ROOT } from "../skills/build.ts";
import { PluginPool, type PluginPoolOptions } from "./plugin_pool.ts";

const SPIN = Deno.readFileSync(
  join(PROJECT_ROOT, "tests", "fixtures", "skills", "spin", "spin.wasm"),
);

function pool(options: Partial<PluginPoolOptions> = {}): PluginPool {
  return new PluginPool({
    bytes: SPIN,
    timeoutMs: 10_000,
    kernelBytesMax: 1 << 20,
    sizeMax: 1,
    queueMax: 1,
    clock: new SimulatedClock(),
    random: new SeededRandom(3),
    ...options,
  });
}

const isCode = (code: string) => (error: unknown) =>
  error instanceof AosError && error.code === code;

Deno.test("PluginPool reports a worker that dies mid-call and replaces it", async () => {
  const spins = pool();
  try {
    const plugin = await spins.acquire();
    const call = spins.call(
      plugin,
      "run",
      JSON.stringify({ iterations: 1_000_000_000, value: 1 }),
      {},
    );
    await PluginPool.workerOf(plugin)!.terminate();
    await assert.rejects(call, isCode("SANDBOX_WORKER_DIED"));
    await spins.release(plugin, false);
    assert.equal(spins.stats.size, 0);
    const fresh = await spins.acquire();
    const output = await spins.call(
      fresh,
      "run",
      JSON.stringify({ iterations: 1, value: "ok" }),
      {},
    );
    assert.equal(JSON.parse(new TextDecoder().decode(output)).value, "ok");
    await spins.release(fresh, true);
  } finally {
    await spins.close();
  }
});

Deno.test("PluginPool bounds its queue: past it, callers get SANDBOX_BUSY", async () => {
  const spins = pool();
  try {
    const held = await spins.acquire();
    const queued = spins.acquire();
    await assert.rejects(() => spins.acquire(), isCode("SANDBOX_BUSY"));
    assert.deepEqual(spins.stats, { size: 1, busy: 1, queued: 1 });
    await spins.release(held, true);
    const next = await queued;
    assert.equal(
      next,
      held,
      "a released instance goes to the caller that waited",
    );
    await spins.release(next, true);
  } finally {
    await spins.close();
  }
});

Deno.test("PluginPool stops a call at its time limit by terminating the worker", async () => {
  const spins = pool({ timeoutMs: 100 });
  try {
    const plugin = await spins.acquire();
    await assert.rejects(
      () =>
        spins.call(
          plugin,
          "run",
          JSON.stringify({ iterations: 1_000_000_000, value: 1 }),
          {},
        ),
      isCode("SANDBOX_TIMEOUT"),
    );
    await spins.release(plugin, false);
  } finally {
    await spins.close();
  }
});
