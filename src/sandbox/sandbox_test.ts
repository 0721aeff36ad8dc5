import assert from "node:assert/strict";
import { join } from "node:path";
import type { HostCallPort, StepOutcome } from "../../actors/run_ports.ts";
import type { HostCallBody, SkillPin } from "../../actors/run_messages.ts";
import { SeededRandom, SimulatedClock } from "../deps/mod.ts";
import { PROJECT_ROOT } from "../skills/build.ts";
import { manifestSchema, type SkillManifest } from "../skills/manifest.ts";
import { sha256Hex } from "../store/mod.ts";
import { HostCallJournal, replayPort } from "./host_calls.ts";
import { hostFunctions } from "./host_functions.ts";
import { Sandbox } from "./sandbox.ts";
import type { CallContext } from "@extism/extism";

const FIXTURES = join(PROJECT_ROOT, "tests", "fixtures", "skills");

function module(path: string): Uint8Array {
  return Deno.readFileSync(path);
}

/**
 * A hand-assembled module exporting `run: () -> i32` with the given body
 * (locals count, instructions, `end`), for behaviours no real skill has.
 */
function tinyModule(body: number[]): Uint8Array {
  const header = [0, 97, 115, 109, 1, 0, 0, 0];
  const types = [1, 5, 1, 96, 0, 1, 127];
  const functions = [3, 2, 1, 0];
  const exports = [7, 7, 1, 3, 114, 117, 110, 0, 0];
  const code = [10, body.length + 2, 1, body.length, ...body];
  return new Uint8Array([
    ...header,
    ...types,
    ...functions,
    ...exports,
    ...code,
  ]);
}

// `run` executes `unreachable`.
const TRAPPING = tinyModule([0, 0x00, 0x0b]);
// `run` returns 0 without setting any output.
const SILENT = tinyModule([0, 0x41, 0, 0x0b]);

const MODULES = new Map<string, Uint8Array>();
function pinFor(name: string, bytes: Uint8Array, timeoutMs = 5000): SkillPin {
  const sha256 = sha256Hex(bytes);
  MODULES.set(sha256, bytes);
  return {
    name,
    version: "1.0.0",
    sha256,
    entrypoint: "run",
    timeout_ms: timeoutMs,
  };
}

const nonce = pinFor("nonce", module(join(FIXTURES, "nonce", "nonce.wasm")));
const spin = pinFor("spin", module(join(FIXTURES, "spin", "spin.wasm")), 200);
const transform = pinFor(
  "json_transform",
  module(
    join(PROJECT_ROOT, "skills-wasm", "json_transform", "json_transform.wasm"),
  ),
);

function manifestFor(pin: SkillPin): SkillManifest {
  return manifestSchema.parse({
    name: pin.name,
    version: pin.version,
    input_schema: {},
    output_schema: {},
    timeout_ms: pin.timeout_ms,
  });
}

function recordingPort(
  recorded: HostCallBody[] = [],
): HostCallPort & { persisted: HostCallBody[] } {
  const persisted: HostCallBody[] = [];
  return {
    recorded,
    persisted,
    persist: (call) => Promise.resolve(void persisted.push(call)),
  };
}

async function withSandbox(
  work: (sandbox: Sandbox, clock: SimulatedClock) => Promise<void>,
): Promise<void> {
  const clock = new SimulatedClock(1_800_000_000_000);
  const sandbox = new Sandbox({
    modules: {
      module: (pin) => {
        const bytes = MODULES.get(pin.sha256);
        return Promise.resolve(bytes && { bytes, manifest: manifestFor(pin) });
      },
    },
    clock,
    random: new SeededRandom(1),
  });
  try {
    await work(sandbox, clock);
  } finally {
    await sandbox.close();
  }
}

function run(
  sandbox: Sandbox,
  pin: SkillPin,
  input: unknown,
  hostCalls: HostCallPort,
): Promise<StepOutcome> {
  return sandbox.execute({
    run_id: "r",
    step: "s",
    attempt: 1,
    pin,
    input: input as never,
    hostCalls,
  });
}

function succeeded<T>(outcome: StepOutcome): T {
  assert.equal(outcome.ok, true, JSON.stringify(outcome));
  return (outcome as Extract<StepOutcome, { ok: true }>).output as T;
}

function failed(
  outcome: StepOutcome,
): { code: string; details: Record<string, unknown> } {
  assert.equal(outcome.ok, false, JSON.stringify(outcome));
  return (outcome as Extract<StepOutcome, { ok: false }>).error;
}

Deno.test("Sandbox records each host answer before the guest uses it", async () => {
  await withSandbox(async (sandbox, clock) => {
    const port = recordingPort();
    const outcome = await run(sandbox, nonce, { label: "x", bytes: 4 }, port);
    assert.equal(outcome.ok, true);
    assert.deepEqual(
      port.persisted.map((call) => [call.index, call.kind, call.request]),
      [[0, "now", null], [1, "random", { bytes: 4 }]],
    );
    const output = succeeded<{ now_ms: number; random_hex: string }>(outcome);
    assert.equal(output.now_ms, clock.nowMs());
    assert.equal(output.random_hex, port.persisted[1]!.result);
    assert.equal(port.persisted[0]!.request_sha256, sha256Hex("null"));
  });
});

Deno.test("Sandbox serves recorded answers and records only what is new", async () => {
  await withSandbox(async (sandbox) => {
    const first = recordingPort();
    await run(sandbox, nonce, { label: "x" }, first);
    const partial = recordingPort(first.persisted.slice(0, 1));
    const again = await run(sandbox, nonce, { label: "x" }, partial);
    assert.equal(
      succeeded<{ now_ms: number }>(again).now_ms,
      first.persisted[0]!.result,
    );
    assert.deepEqual(partial.persisted.map((call) => call.index), [1]);
    const full = recordingPort(first.persisted);
    const replayed = await run(sandbox, nonce, { label: "x" }, full);
    assert.deepEqual(full.persisted, []);
    assert.equal(
      succeeded<{ random_hex: string }>(replayed).random_hex,
      first.persisted[1]!.result,
    );
  });
});

Deno.test("Sandbox fails a step whose host calls differ from the log, and replay allows nothing new", async () => {
  await withSandbox(async (sandbox) => {
    const first = recordingPort();
    await run(sandbox, nonce, { label: "x", bytes: 8 }, first);
    const changed = await run(
      sandbox,
      nonce,
      { label: "x", bytes: 9 },
      recordingPort(first.persisted),
    );
    assert.equal(failed(changed).code, "HOST_CALL_MISMATCH");
    const short = await run(
      sandbox,
      nonce,
      { label: "x", bytes: 8 },
      replayPort(first.persisted.slice(0, 1)),
    );
    const error = failed(short);
    assert.equal(error.code, "HOST_CALL_MISMATCH");
    assert.equal(error.details.needs_new_host_call, true);
  });
});

Deno.test("Sandbox maps guest errors, traps, silence and time-outs to catalog codes", async () => {
  await withSandbox(async (sandbox) => {
    const port = recordingPort();
    const guest = await run(sandbox, transform, {
      op: "extract",
      input: {},
      path: "nope",
    }, port);
    assert.equal(failed(guest).code, "ERR_JSON_INVALID_PATH");
    assert.equal(
      failed(await run(sandbox, pinFor("trap", TRAPPING), {}, port)).code,
      "SANDBOX_TRAP",
    );
    assert.equal(
      failed(await run(sandbox, pinFor("silent", SILENT), {}, port)).code,
      "SANDBOX_OUTPUT_INVALID",
    );
    const slow = await run(sandbox, spin, {
      iterations: 1_000_000_000,
      value: 1,
    }, port);
    assert.equal(failed(slow).code, "SANDBOX_TIMEOUT");
    const after = await run(sandbox, spin, {
      iterations: 10,
      value: "still works",
    }, port);
    assert.deepEqual(
      succeeded<{ value: string }>(after).value,
      "still works",
    );
    const missing = { ...transform, sha256: "0".repeat(64) };
    assert.equal(
      failed(await run(sandbox, missing, {}, port)).code,
      "SKILL_MODULE_MISSING",
    );
    const input = await run(sandbox, nonce, { label: 5 }, port);
    assert.equal(failed(input).code, "SKILL_INPUT_INVALID");
  });
});

Deno.test("aos_random refuses a size outside its limits", async () => {
  const functions = hostFunctions({
    clock: new SimulatedClock(),
    random: new SeededRandom(2),
  });
  const state = {
    journal: new HostCallJournal("s", 1, recordingPort()),
    failure: undefined,
  };
  const context = {
    hostContext: () => state,
    store: () => 0n,
  } as unknown as CallContext;
  for (const bytes of [0n, 4097n, -1n]) {
    await assert.rejects(
      () => functions.aos_random!(context, bytes),
      (error: { code?: string }) => error.code === "HOST_CALL_INVALID",
    );
  }
});
