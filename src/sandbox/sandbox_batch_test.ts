import assert from "node:assert/strict";
import { join } from "node:path";
import type {
  HostCallPort,
  StepExecution,
  StepOutcome,
} from "../../actors/run_ports.ts";
import type { HostCallBody, SkillPin } from "../../actors/run_messages.ts";
import { SeededRandom, SimulatedClock } from "../deps/mod.ts";
import { PROJECT_ROOT } from "../skills/build.ts";
import { manifestSchema } from "../skills/manifest.ts";
import { sha256Hex } from "../store/mod.ts";
import { PluginPool } from "./plugin_pool.ts";
import { Sandbox } from "./sandbox.ts";

const FIXTURES = join(PROJECT_ROOT, "tests", "fixtures", "skills");
const MODULES = new Map<string, Uint8Array>();

function pinOf(name: string, path: string, timeoutMs = 5000): SkillPin {
  const bytes = Deno.readFileSync(path);
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

const transform = pinOf(
  "json_transform",
  join(PROJECT_ROOT, "skills-wasm", "json_transform", "json_transform.wasm"),
);
const nonce = pinOf("nonce", join(FIXTURES, "nonce", "nonce.wasm"));
const spin = pinOf("spin", join(FIXTURES, "spin", "spin.wasm"), 200);

function port(recorded: HostCallBody[] = []): HostCallPort & {
  persisted: HostCallBody[];
} {
  const persisted: HostCallBody[] = [];
  return {
    recorded,
    persisted,
    persist: (call) => Promise.resolve(void persisted.push(call)),
  };
}

function execution(
  pin: SkillPin,
  input: unknown,
  hostCalls: HostCallPort = port(),
  step = "s",
): StepExecution {
  return {
    run_id: "r",
    step,
    attempt: 1,
    pin,
    input: input as never,
    hostCalls,
  };
}

// Counts the batches handed to workers, and their calls.
const handed: number[] = [];
const callBatch = PluginPool.prototype.callBatch;
PluginPool.prototype.callBatch = function (
  instance,
  entrypoint,
  inputs,
  ...rest
) {
  handed.push(inputs.length);
  return callBatch.call(this, instance, entrypoint, inputs, ...rest);
};

async function withSandbox(
  work: (sandbox: Sandbox) => Promise<void>,
): Promise<void> {
  handed.length = 0;
  const sandbox = new Sandbox({
    modules: {
      module: (pin) => {
        const bytes = MODULES.get(pin.sha256);
        return Promise.resolve(
          bytes && {
            bytes,
            manifest: manifestSchema.parse({
              name: pin.name,
              version: pin.version,
              input_schema: pin.name === "json_transform"
                ? { type: "object", required: ["op"] }
                : {},
              output_schema: {},
              timeout_ms: pin.timeout_ms,
            }),
          },
        );
      },
    },
    clock: new SimulatedClock(1_800_000_000_000),
    random: new SeededRandom(1),
  });
  try {
    await work(sandbox);
  } finally {
    await sandbox.close();
  }
}

const extract = (value: unknown, path = "$.a") => ({
  op: "extract",
  input: { a: value },
  path,
});

Deno.test("executeBatch gives each execution the outcome execute gives it, in order, whatever fails among them", async () => {
  await withSandbox(async (sandbox) => {
    const executions = [
      execution(transform, extract(1)),
      execution(transform, extract("two")),
      // A guest error stops the worker's batch: it and the rest run alone.
      execution(transform, extract(3, "nope")),
      execution(transform, extract([4])),
      // Refused before any call.
      execution(transform, { input: {}, path: "$" }),
      execution(transform, extract({ five: 5 })),
      execution({ ...transform, sha256: "0".repeat(64) }, extract(6)),
      execution(spin, { iterations: 10, value: "seven" }),
      execution(transform, extract(8)),
    ];
    const batched = await sandbox.executeBatch(executions);
    // The seven of json_transform's pool that pass their input check.
    assert.deepEqual(handed, [6]);
    const alone: StepOutcome[] = [];
    for (const each of executions) alone.push(await sandbox.execute(each));
    assert.deepEqual(batched, alone);
    assert.deepEqual(
      batched.map((outcome) =>
        outcome.ok
          ? (outcome.output as { result?: unknown }).result ?? outcome.output
          : outcome.error.code
      ),
      [
        1,
        "two",
        "ERR_JSON_INVALID_PATH",
        [4],
        "VALIDATION_INPUT_SCHEMA",
        { five: 5 },
        "SKILL_MODULE_MISSING",
        { value: "seven", checksum: 83661426 },
        8,
      ],
    );
  });
});

Deno.test("executeBatch answers each call's host calls with that call's own journal", async () => {
  await withSandbox(async (sandbox) => {
    const ports = [port(), port(), port()];
    const outcomes = await sandbox.executeBatch(
      ports.map((each, index) =>
        execution(nonce, { label: `n${index}`, bytes: 4 + index }, each)
      ),
    );
    assert.deepEqual(handed, [3]);
    outcomes.forEach((outcome, index) => {
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      const { output } = outcome as unknown as {
        output: { label: string; random_hex: string };
      };
      assert.equal(output.label, `n${index}`);
      const persisted = ports[index]!.persisted;
      assert.deepEqual(persisted.map((call) => call.kind), ["now", "random"]);
      assert.equal(output.random_hex, persisted[1]!.result);
      assert.equal((output.random_hex as string).length, 2 * (4 + index));
    });
  });
});

Deno.test("executeBatch stops a looping call at its own time limit and runs the others", async () => {
  await withSandbox(async (sandbox) => {
    const outcomes = await sandbox.executeBatch([
      execution(spin, { iterations: 10, value: 1 }),
      execution(spin, { iterations: 1_000_000_000, value: 2 }),
      execution(spin, { iterations: 10, value: 3 }),
    ]);
    assert.deepEqual(
      outcomes.map((outcome) =>
        outcome.ok ? outcome.output : outcome.error.code
      ),
      [
        { value: 1, checksum: 83661426 },
        "SANDBOX_TIMEOUT",
        { value: 3, checksum: 83661426 },
      ],
    );
    assert.deepEqual(handed, [3]);
  });
});
