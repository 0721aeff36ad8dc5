import assert from "node:assert/strict";
import { AosError } from "../errors/mod.ts";
import { SimulatedClock } from "../deps/mod.ts";
import { compileWat } from "../../tests/support/hostile_modules.ts";
import { spinPool } from "../../tests/support/spin_pool.ts";
import { HostCallJournal } from "./host_calls.ts";
import type { PluginInstance } from "./_plugin_instance.ts";
import { PluginPool, workedEnough } from "./plugin_pool.ts";

const pool = spinPool;

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

// Reports, as one digit, whether var "k" was set when the call began (1) and
// whether it is readable right after setting it (2).
const VARIABLES_WAT = `(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (func $byte (param $value i32) (result i64) (local $block i64)
    (local.set $block (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $block) (local.get $value))
    (local.get $block))
  (func (export "run") (result i32) (local $digit i32)
    (if (i64.ne (call $var_get (call $byte (i32.const 107))) (i64.const 0))
      (then (local.set $digit (i32.const 1))))
    (call $var_set (call $byte (i32.const 107)) (call $byte (i32.const 120)))
    (if (i64.ne (call $var_get (call $byte (i32.const 107))) (i64.const 0))
      (then (local.set $digit (i32.add (local.get $digit) (i32.const 2)))))
    (call $output_set (call $byte (i32.add (i32.const 48) (local.get $digit))) (i64.const 1))
    (i32.const 0)))`;

Deno.test("PluginPool gives every call fresh Extism vars: they last one call", async () => {
  const variables = pool({ bytes: await compileWat(VARIABLES_WAT) });
  try {
    const instance = await variables.acquire();
    for (let call = 0; call < 3; call++) {
      const output = await variables.call(instance, "run", "", {});
      assert.equal(new TextDecoder().decode(output), "2", `call ${call}`);
    }
    await variables.release(instance, true);
  } finally {
    await variables.close();
  }
});

const AOS_NOW_WAT = `(module
  (import "extism:host/user" "aos_now" (func $aos_now (result i64)))
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (drop (call $aos_now))
    (i32.const 0)))`;

Deno.test("PluginPool stops a call at its time limit while the guest waits for a host answer", async () => {
  const waiting = pool({
    bytes: await compileWat(AOS_NOW_WAT),
    timeoutMs: 200,
  });
  let persisted!: () => void;
  const persisting = new Promise<void>((resolve) => persisted = resolve);
  // The journal never makes the answer durable, so the guest never gets it.
  const state = {
    journal: new HostCallJournal("s", 1, {
      recorded: [],
      persist: () => {
        persisted();
        return new Promise<void>(() => {});
      },
    }),
    failure: undefined,
  };
  try {
    const instance = await waiting.acquire();
    const call = waiting.call(instance, "run", "", state);
    await persisting;
    await assert.rejects(call, isCode("SANDBOX_TIMEOUT"));
    await waiting.release(instance, false);
    assert.deepEqual(waiting.stats, { size: 0, busy: 0, queued: 0 });
  } finally {
    await waiting.close();
  }
});

Deno.test("PluginPool closes an instance left idle for idleMs, and starts one again when called", async () => {
  const clock = new SimulatedClock();
  const spins = pool({ clock, idleMs: 1_000, sizeMax: 2 });
  const exited = (instance: PluginInstance) =>
    new Promise<void>((resolve) =>
      (PluginPool.workerOf(instance) as unknown as {
        once(event: "exit", listener: () => void): void;
      }).once("exit", resolve)
    );
  const echo = async (instance: PluginInstance, value: string) => {
    const output = await spins.call(
      instance,
      "run",
      JSON.stringify({ iterations: 1, value }),
      {},
    );
    assert.equal(JSON.parse(new TextDecoder().decode(output)).value, value);
  };
  try {
    const first = await spins.acquire();
    const second = await spins.acquire();
    await echo(first, "a");
    await echo(second, "b");
    const firstExited = exited(first);
    const secondExited = exited(second);
    await spins.release(first, true);
    clock.advance(600);
    await spins.release(second, true);
    clock.advance(399);
    assert.equal(spins.stats.size, 2, "nothing is idle for 1 s yet");

    // The first has now been idle for 1 s, the second for 400 ms.
    clock.advance(1);
    await firstExited;
    assert.deepEqual(spins.stats, { size: 1, busy: 0, queued: 0 });
    assert.equal(second.exited, false);

    clock.advance(600);
    await secondExited;
    assert.deepEqual(spins.stats, { size: 0, busy: 0, queued: 0 });

    // The next call starts an instance again; one in use is never closed.
    const third = await spins.acquire();
    clock.advance(10_000);
    await echo(third, "c");
    assert.equal(third.exited, false);
    await spins.release(third, true);
    assert.deepEqual(spins.stats, { size: 1, busy: 0, queued: 0 });
  } finally {
    await spins.close();
  }
});

Deno.test("PluginPool with growAfterMs hands a released instance to a waiting caller rather than starting another", async () => {
  const spins = pool({ sizeMax: 2, queueMax: 10, growAfterMs: 60_000 });
  try {
    const first = await spins.acquire();
    const waiting = spins.acquire();
    assert.deepEqual(spins.stats, { size: 1, busy: 1, queued: 1 });
    await spins.release(first, true);
    assert.equal(await waiting, first);
    assert.equal(spins.stats.size, 1);
    await spins.release(first, true);
  } finally {
    await spins.close();
  }
});

Deno.test("PluginPool with growAfterMs starts another instance once callers waited two windows of that long on a working instance", async () => {
  const growAfterMs = 40;
  const spins = pool({ sizeMax: 2, queueMax: 10, growAfterMs });
  try {
    const first = await spins.acquire();
    const long = spins.call(
      first,
      "run",
      JSON.stringify({ iterations: 1_000_000_000, value: 1 }),
      {},
    );
    // The first is on a call that lasts seconds: a new instance serves this,
    // once the first was busy through two windows, not one.
    const asked = spins.acquire();
    // Timers fire in the order of their deadlines: this one after the first
    // window's end, and before the second's.
    await new Promise((resolve) => setTimeout(resolve, 1.5 * growAfterMs));
    assert.equal(spins.stats.size, 1, "one busy window does not grow it");
    const second = await asked;
    assert.notEqual(second, first);
    assert.deepEqual(spins.stats, { size: 2, busy: 2, queued: 0 });
    const output = await spins.call(
      second,
      "run",
      JSON.stringify({ iterations: 1, value: "grown" }),
      {},
    );
    assert.equal(JSON.parse(new TextDecoder().decode(output)).value, "grown");
    await spins.release(second, true);
    await PluginPool.workerOf(first).terminate();
    await assert.rejects(long, isCode("SANDBOX_WORKER_DIED"));
    await spins.release(first, false);
  } finally {
    await spins.close();
  }
});

Deno.test("PluginPool grows only for time a worker ran or waited on the host, not time it waited for a core", () => {
  const window = (busyUs: number, waitedUs: number | undefined) =>
    workedEnough(100_000, {
      busyBeforeUs: 1_000_000,
      busyAfterUs: 1_000_000 + busyUs,
      waitedUs,
    });
  // A 100 ms window: 60 ms in calls is enough on an idle machine ...
  assert.equal(window(60_000, 0), true);
  // ... but not when its thread waited 30 ms of them for a core: a second
  // worker would wait for the same cores.
  assert.equal(window(60_000, 30_000), false);
  assert.equal(window(90_000, 30_000), true);
  // Where the kernel does not say, the calls' time alone decides.
  assert.equal(window(60_000, undefined), true);
  assert.equal(window(40_000, undefined), false);
});

Deno.test("PluginPool reads the busy counter modulo 2^32, and a step back as no time in calls", () => {
  const window = (busyBeforeUs: number, busyAfterUs: number) =>
    workedEnough(100_000, { busyBeforeUs, busyAfterUs, waitedUs: 0 });
  // Across the counter's wrap: 51 ms in calls of a 100 ms window.
  assert.equal(window(2 ** 32 - 1_000, 50_000), true);
  // A call under way at the window's start counted from its hand-over;
  // the worker's own count of it, once it ended, was 3 ms less.
  assert.equal(window(10_000, 7_000), false);
});

Deno.test({
  name: "PluginInstance reads how long its worker thread waited for a core",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const spins = pool();
    try {
      const instance = await spins.acquire();
      const before = instance.waitedUs();
      assert.equal(typeof before, "number");
      assert.ok(before! >= 0);
      await spins.call(
        instance,
        "run",
        JSON.stringify({ iterations: 1_000, value: 1 }),
        {},
      );
      const after = instance.waitedUs();
      assert.ok(after! >= before!, `${after} >= ${before}`);
      await spins.release(instance, true);
    } finally {
      await spins.close();
    }
  },
});
