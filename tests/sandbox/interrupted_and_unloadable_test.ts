import assert from "node:assert/strict";
import { join } from "node:path";
import type { StepOutcome } from "../../actors/run_ports.ts";
import type { SkillPin } from "../../actors/run_messages.ts";
import { SeededRandom, SimulatedClock } from "../../src/deps/mod.ts";
import { Sandbox } from "../../src/sandbox/mod.ts";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import { manifestSchema } from "../../src/skills/manifest.ts";
import { sha256Hex } from "../../src/store/mod.ts";

const SPIN = Deno.readFileSync(
  join(PROJECT_ROOT, "tests", "fixtures", "skills", "spin", "spin.wasm"),
);
const PIN: SkillPin = {
  name: "spin",
  version: "1.0.0",
  sha256: sha256Hex(SPIN),
  entrypoint: "run",
  timeout_ms: 60_000,
};
const MANIFEST = manifestSchema.parse({
  name: "spin",
  version: "1.0.0",
  input_schema: {},
  output_schema: {},
  timeout_ms: 60_000,
});

function execute(
  sandbox: Sandbox,
  signal?: AbortSignal,
): Promise<StepOutcome> {
  return sandbox.execute({
    run_id: "r",
    step: "s",
    attempt: 1,
    pin: PIN,
    input: { iterations: 1_000_000_000, value: 1 },
    hostCalls: { recorded: [], persist: () => Promise.resolve() },
    ...(signal === undefined ? {} : { signal }),
  });
}

function codeOf(outcome: StepOutcome): string | undefined {
  return outcome.ok ? undefined : outcome.error.code;
}

Deno.test("Sandbox.execute() reports RUN_CANCELLED when the run no longer wants the step", async () => {
  const sandbox = new Sandbox({
    modules: {
      module: () => Promise.resolve({ bytes: SPIN, manifest: MANIFEST }),
    },
    clock: new SimulatedClock(),
    random: new SeededRandom(1),
  });
  try {
    const controller = new AbortController();
    controller.abort();
    const outcome = await execute(sandbox, controller.signal);
    assert.equal(codeOf(outcome), "RUN_CANCELLED");
    // The interrupted worker is replaced: the next call runs normally.
    const next = await sandbox.execute({
      run_id: "r",
      step: "t",
      attempt: 1,
      pin: PIN,
      input: { iterations: 10, value: 7 },
      hostCalls: { recorded: [], persist: () => Promise.resolve() },
    });
    assert.ok(next.ok, JSON.stringify(next));
    assert.equal((next.output as { value: number }).value, 7);
  } finally {
    await sandbox.close();
  }
});

Deno.test("Sandbox.execute() reports SANDBOX_LOAD_FAILED when the module cannot be read, and loads it once it can", async () => {
  let failing = true;
  const sandbox = new Sandbox({
    modules: {
      module: () =>
        failing
          ? Promise.reject(new Error("disk I/O error reading the module"))
          : Promise.resolve({ bytes: SPIN, manifest: MANIFEST }),
    },
    clock: new SimulatedClock(),
    random: new SeededRandom(1),
  });
  try {
    const outcome = await execute(sandbox);
    assert.equal(codeOf(outcome), "SANDBOX_LOAD_FAILED");
    assert.match(
      outcome.ok ? "" : outcome.error.message,
      /disk I\/O error/,
    );
    failing = false;
    const loaded = await sandbox.execute({
      run_id: "r",
      step: "s",
      attempt: 2,
      pin: PIN,
      input: { iterations: 10, value: 3 },
      hostCalls: { recorded: [], persist: () => Promise.resolve() },
    });
    assert.ok(loaded.ok, JSON.stringify(loaded));
  } finally {
    await sandbox.close();
  }
});
